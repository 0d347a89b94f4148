"""A real gazeserve server in a subprocess on loopback, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gazeserve.subprocesses import stop, wait_until_ready


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                   log_path: Path | None = None) -> Iterator[str]:
    """Starts `gazeserve serve` on a free loopback port; yields its base URL once ready."""
    port = free_port()
    full_env = {**os.environ, "GAZE_HOST": "127.0.0.1", "GAZE_PORT": str(port), **(env or {})}
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "gazeserve", "serve", *args], env=full_env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(proc, url)
        yield url
    finally:
        stop(proc)
        if log_path:
            log.close()  # type: ignore[union-attr]
