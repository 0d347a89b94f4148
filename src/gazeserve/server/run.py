"""Starting the service under uvicorn, in one process or several (`--workers N`)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from gazeserve.config import Settings

log = logging.getLogger("gazeserve.server")

APP_FACTORY = "gazeserve.server.app:app_from_env"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def export_settings(settings: Settings) -> None:
    """Writes the settings to the environment, where worker processes read them again."""
    for name, value in settings.model_dump(exclude_none=True).items():
        os.environ[name.upper()] = str(value.value if hasattr(value, "value") else value)


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
        timeout_keep_alive=5,
        timeout_graceful_shutdown=10,
    )
