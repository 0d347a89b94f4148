"""Child processes that serve HTTP (our server, MediaPipe's, Prometheus): wait until one answers,
stop it. Used by the benchmarks and the end-to-end tests."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx

READY_TIMEOUT_S = 60.0


class ServerStartError(RuntimeError):
    """A server exited, or did not answer, before it was ready."""


def wait_until_ready(proc: subprocess.Popen[bytes], url: str, *, path: str = "/readyz",
                     headers: dict[str, str] | None = None,
                     timeout_s: float = READY_TIMEOUT_S,
                     last_output: Callable[[], str] = lambda: "") -> None:
    """Polls `url + path` until it answers 200; fails early when the process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = last_output()
            raise ServerStartError(f"{url}: the process exited with {proc.returncode} before it "
                                   f"was ready{': ' + tail if tail else ''}")
        try:
            if httpx.get(f"{url}{path}", headers=headers, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise ServerStartError(f"{url} not ready after {timeout_s:.0f} s")


def stop(proc: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited after `timeout_s`."""
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
