"""Starting the service under uvicorn, in one process or several (`--workers N`)."""

from __future__ import annotations

import ipaddress
import logging
import os
import tempfile
from pathlib import Path

from pydantic import SecretStr

from gazeserve.config import Settings

log = logging.getLogger("gazeserve.server")

APP_FACTORY = "gazeserve.server.app:app_from_env"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def export_settings(settings: Settings) -> None:
    """Writes the settings to the environment, where worker processes read them again."""
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        os.environ[name.upper()] = str(value.value if hasattr(value, "value") else value)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# uvicorn's limits on one HTTP request's head (h11; httptools/llhttp has its own 80 KiB cap).
MAX_INCOMPLETE_EVENT_BYTES = 16 * 1024
SHUTDOWN_MARGIN_S = 5.0
"""uvicorn's own graceful shutdown after the drain: requests still finishing, lifespan."""


def run_server(settings: Settings, processes: int = 1) -> None:
    """Runs uvicorn (uvloop, httptools) until interrupted; blocks."""
    import uvicorn

    from gazeserve.observability import prepare_multiprocess_dir

    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    export_settings(settings)
    if processes > 1:
        # Each process writes its metrics here; /metrics in any process sums them all.
        directory = os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="gazeserve-prom-")
        os.environ[MULTIPROC_ENV] = directory
        prepare_multiprocess_dir(Path(directory))
    logging.basicConfig(level=settings.gaze_log_level.value.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not settings.api_keys and not is_loopback(settings.gaze_host):
        log.warning("GAZE_HOST=%s: the service is reachable from other machines without API "
                    "keys; set GAZE_API_KEYS (see SECURITY.md), or bind to 127.0.0.1",
                    settings.gaze_host)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=settings.gaze_host,
        port=settings.gaze_port,
        workers=processes,
        loop="uvloop",
        http="httptools",
        log_level=settings.gaze_log_level.value,
        # Room above the frame limit so an oversize frame gets an error message, not a close.
        ws_max_size=2 * settings.gaze_max_body_bytes,
        # Frames are JPEG/PNG/WebP, which deflate cannot shrink: compressing the socket only
        # costs CPU per frame (measured: under a 10x overload it halved what the server shed).
        ws_per_message_deflate=False,
        timeout_keep_alive=settings.gaze_keep_alive_s,
        timeout_graceful_shutdown=round(settings.gaze_shutdown_drain_s + SHUTDOWN_MARGIN_S),
        h11_max_incomplete_event_size=MAX_INCOMPLETE_EVENT_BYTES,
        limit_concurrency=settings.gaze_max_connections,
    )
