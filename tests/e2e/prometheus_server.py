"""A real Prometheus (Debian's `prometheus` package) on loopback, for end-to-end tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml

from gazeserve.subprocesses import stop, wait_until_ready
from tests.e2e.server import free_port

READY_TIMEOUT_S = 30.0
T = TypeVar("T")


@contextmanager
def running_prometheus(config: dict[str, Any], workdir: Path) -> Iterator[str]:
    """Starts Prometheus with `config` and storage under `workdir`; yields its base URL."""
    exe = shutil.which("prometheus")
    assert exe, "prometheus missing: `make setup-test` installs Debian's prometheus package"
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(workdir / "prometheus.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [exe, f"--config.file={config_path}", f"--storage.tsdb.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
         "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(proc, url, path="/-/ready", timeout_s=READY_TIMEOUT_S,
                         last_output=(workdir / "prometheus.log").read_text)
        yield url
    finally:
        stop(proc)
        log.close()


def query(url: str, expr: str) -> list[dict[str, Any]]:
    """The instant vector (or scalar, as one sample) of `expr`; raises on a query error."""
    response = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    if body.get("status") != "success":
        raise AssertionError(f"{expr}: {body.get('errorType')}: {body.get('error')}")
    data = body["data"]
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    result: list[dict[str, Any]] = data["result"]
    return result


def value(url: str, expr: str) -> float | None:
    """The value of a one-sample query, or None when it returns nothing."""
    result = query(url, expr)
    if not result:
        return None
    assert len(result) == 1, f"{expr}: {len(result)} series"
    return float(result[0]["value"][1])


def poll(fn: Callable[[], T | None], timeout_s: float, what: str,
         interval_s: float = 0.25) -> T:
    """Calls `fn` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = fn()
        if result is not None and result is not False:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout_s} s")
        time.sleep(interval_s)
