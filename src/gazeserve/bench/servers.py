"""Servers a load test starts itself, on a free loopback port: our own (`gazeserve serve`) and
the FastAPI + MediaPipe baseline (`mediapipe_service.py` in the MediaPipe venv).

The baseline needs fastapi and uvicorn in the MediaPipe venv: `ensure_mediapipe_service_env`
adds them (pinned, keeping numpy<2) to the venv of `gazeserve.reference.env`, once, and records
that in its own marker so the reference environment's marker and pins stay untouched.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from gazeserve.subprocesses import ServerStartError, stop, wait_until_ready

SERVICE = Path(__file__).with_name("mediapipe_service.py")
SERVICE_PINS: tuple[str, ...] = (
    # The versions gazeserve's own venv was measured with, so both services run the same
    # web stack. [standard]: uvloop, httptools and websockets, which uvicorn then selects.
    "fastapi==0.165.0",
    "uvicorn[standard]==0.54.0",
    # Installing the above must not upgrade MediaPipe's numpy 1.x.
    "numpy<2",
)
_MARKER = ".gazeserve-bench-service.json"
_IMPORT_CHECK = "import fastapi, uvicorn, websockets, uvloop, httptools"
READY_TIMEOUT_S = 120.0
"""The MediaPipe service imports jax on start: slower to come up than ours."""


def ensure_mediapipe_service_env(venv_dir: Path | None = None) -> Path:
    """The MediaPipe venv's python, with `SERVICE_PINS` installed in it (minutes the first time).

    Raises:
        ReferenceEnvError: the MediaPipe venv could not be made ready.
        ServerStartError: the extra packages could not be installed.
    """
    from gazeserve.reference.env import ensure_mediapipe_env

    python = ensure_mediapipe_env(venv_dir)
    marker = python.parent.parent / _MARKER
    try:
        ready = json.loads(marker.read_text()).get("pins") == list(SERVICE_PINS)
    except (OSError, ValueError, AttributeError):
        ready = False
    if ready and _imports(python):
        return python
    proc = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check",
                           "--no-input", "--only-binary=:all:", *SERVICE_PINS],
                          capture_output=True, text=True, check=False, timeout=1800)
    if proc.returncode != 0 or not _imports(python):
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ServerStartError(f"could not add fastapi and uvicorn to {python}: {tail}")
    marker.write_text(json.dumps({"pins": list(SERVICE_PINS)}, indent=1) + "\n")
    return python


def _imports(python: Path) -> bool:
    proc = subprocess.run([str(python), "-I", "-c", _IMPORT_CHECK], capture_output=True,
                          check=False, timeout=120)
    return proc.returncode == 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(cmd: list[str], url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    # The server's output goes to an unnamed temporary file: a pipe nobody reads would fill and
    # block it. Only its last line is read, when it fails to start.
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_ready(proc, url, log)
            yield url
        finally:
            stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: IO[bytes]) -> None:
    def last_line() -> str:
        log.seek(0)
        return (log.read().decode(errors="replace").strip().splitlines() or ["no output"])[-1]

    wait_until_ready(proc, url, timeout_s=READY_TIMEOUT_S, last_output=last_line)


@contextmanager
def mediapipe_service(venv_dir: Path | None = None) -> Iterator[str]:
    """The FastAPI + MediaPipe baseline on a free loopback port; yields its base URL."""
    python = ensure_mediapipe_service_env(venv_dir)
    port = free_port()
    with _serving([str(python), "-I", str(SERVICE), "--port", str(port)],
                  f"http://127.0.0.1:{port}") as url:
        yield url


@contextmanager
def local_gazeserve(extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """`gazeserve serve` (this interpreter) on a free loopback port; yields its base URL.

    Settings come from the environment as usual (MAX_WORKERS, MAX_QUEUE_SIZE, ...)."""
    port = free_port()
    env = {**os.environ, "GAZE_HOST": "127.0.0.1", "GAZE_PORT": str(port), **(extra_env or {})}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with _serving([sys.executable, "-m", "gazeserve", "serve"], f"http://127.0.0.1:{port}",
                  env) as url:
        yield url
