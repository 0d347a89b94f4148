"""Support for the hardening tests: a server process the test can signal and measure, its
test-only runtime counts, and small real frames."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np

from gazeserve.subprocesses import stop, wait_until_ready
from tests.e2e.server import free_port

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
DEBUG_ENV = {"GAZE_DEBUG_ENDPOINTS": "true"}


@dataclass
class ServerProcess:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path | None

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/v1/stream"

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def runtime(self, collect: bool = False) -> dict[str, Any]:
        """`GET /debug/runtime` (the server must run with `DEBUG_ENV`)."""
        r = httpx.get(f"{self.url}/debug/runtime", params={"collect": collect}, timeout=10)
        r.raise_for_status()
        counts: dict[str, Any] = r.json()
        return counts

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""


@contextmanager
def server_process(env: dict[str, str] | None = None, args: tuple[str, ...] = (),
                   log_path: Path | None = None, cwd: Path | None = None,
                   base_env: dict[str, str] | None = None,
                   ready_headers: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """`gazeserve serve` on a free loopback port, like `running_server`, with its process.

    `ready_headers`: sent with the readiness polls (a key, when `/readyz` is not public).
    """
    port = free_port()
    full_env = {**(os.environ if base_env is None else base_env), "GAZE_HOST": "127.0.0.1",
                "GAZE_PORT": str(port), **(env or {})}
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "gazeserve", "serve", *args], env=full_env,
                            stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    server = ServerProcess(f"http://127.0.0.1:{port}", proc, log_path)
    try:
        wait_until_ready(proc, server.url, headers=ready_headers)
        yield server
    finally:
        stop(proc)
        if log_path:
            log.close()  # type: ignore[union-attr]



def rss_mb(pid: int) -> float:
    """Resident memory of a process, MiB (Linux `/proc/<pid>/statm`)."""
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE_BYTES / 2**20


def small_jpeg(rgb: np.ndarray, width: int = 320, quality: int = 80) -> bytes:
    """A real frame scaled down: cheaper to send at high rates, still a face to track."""
    height = round(rgb.shape[0] * width / rgb.shape[1])
    small = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


def tiny_jpeg() -> bytes:
    """An 8 x 8 grey JPEG: decodes in microseconds, no face; for request-count tests."""
    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), 128, np.uint8))
    assert ok
    return buf.tobytes()


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q)) if values else float("nan")
