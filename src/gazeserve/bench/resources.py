"""The server's CPU and memory over a load test.

Local server (loopback, its pid from `/metrics.json` `system.pid` alive here): psutil on that
process and its children. Otherwise the standard process metrics of its Prometheus exposition
(`process_cpu_seconds_total`, `process_resident_memory_bytes`), scraped at the same interval.
CPU is in percent of one core (200 = two cores busy).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_PROM_LINE = re.compile(r"^(process_cpu_seconds_total|process_resident_memory_bytes)"
                        r"(?:\{[^}]*\})?\s+([0-9.eE+-]+)\s*$", re.MULTILINE)

Probe = Callable[[], Awaitable[tuple[float, float] | None]]
"""Returns (cpu seconds so far, resident bytes) or None when the figures are unavailable."""


@dataclass
class ResourceTrace:
    source: str
    """"psutil" (local pid), "prometheus" (the server's /metrics), or "unavailable"."""
    pid: int | None = None
    trace: list[tuple[float, float, float]] = field(default_factory=list)
    """(seconds since start, CPU % over the last interval, RSS in MiB)."""
    cpu_seconds: float | None = None
    wall_s: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        cpu = [c for _, c, _ in self.trace[1:]]
        rss = [r for _, _, r in self.trace]
        mean = (100.0 * self.cpu_seconds / self.wall_s
                if self.cpu_seconds is not None and self.wall_s else None)
        return {
            "source": self.source, "pid": self.pid, "reason": self.reason,
            "cpu_percent_mean": _round(mean), "cpu_percent_max": _round(max(cpu, default=None)),
            "rss_mib_start": _round(rss[0] if rss else None),
            "rss_mib_max": _round(max(rss, default=None)),
            "rss_mib_end": _round(rss[-1] if rss else None),
            "trace": [[round(t, 3), round(c, 1), round(r, 1)] for t, c, r in self.trace],
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


async def server_pid(client: httpx.AsyncClient) -> int | None:
    """`system.pid` of `/metrics.json`, if the server reports it."""
    try:
        response = await client.get("/metrics.json")
        pid = response.json().get("system", {}).get("pid")
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def psutil_probe(pid: int) -> Probe | None:
    """A probe of a local process and its children, or None if it is not visible here."""
    try:
        import psutil
    except ImportError:
        return None
    try:
        process = psutil.Process(pid)
    except psutil.Error:
        return None

    async def probe() -> tuple[float, float] | None:
        try:
            procs = [process, *process.children(recursive=True)]
            cpu = rss = 0.0
            for p in procs:
                with contextlib.suppress(psutil.Error):
                    times = p.cpu_times()
                    cpu += times.user + times.system
                    rss += p.memory_info().rss
        except psutil.Error:
            return None
        return cpu, rss

    return probe


def prometheus_probe(client: httpx.AsyncClient) -> Probe:
    async def probe() -> tuple[float, float] | None:
        try:
            text = (await client.get("/metrics")).text
        except httpx.HTTPError:
            return None
        found = {name: float(value) for name, value in _PROM_LINE.findall(text)}
        if len(found) < 2:
            return None
        return found["process_cpu_seconds_total"], found["process_resident_memory_bytes"]

    return probe


class ResourceSampler:
    """Samples a probe every `interval_s` from `start()` until `stop()`."""

    def __init__(self, client: httpx.AsyncClient, url: str, interval_s: float = 0.25) -> None:
        self._client = client
        self._url = url
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.result = ResourceTrace("unavailable")

    async def start(self) -> None:
        pid = await server_pid(self._client)
        probe: Probe | None = None
        local = urlsplit(self._url).hostname in LOOPBACK_HOSTS
        if pid is not None and local:
            probe = psutil_probe(pid)
            self.result = ResourceTrace("psutil", pid)
        if probe is None:
            probe = prometheus_probe(self._client)
            self.result = ResourceTrace("prometheus", pid)
        first = await probe()
        if first is None:
            self.result = ResourceTrace("unavailable", pid, reason="no local pid and no "
                                        "process_* metrics in /metrics")
            return
        self._task = asyncio.create_task(self._run(probe, first))

    async def _run(self, probe: Probe, first: tuple[float, float]) -> None:
        start = previous_t = time.monotonic()
        start_cpu, previous_cpu = first[0], first[0]
        self.result.trace.append((0.0, 0.0, first[1] / 2**20))
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval_s)
            sample = await probe()
            now = time.monotonic()
            if sample is not None:
                cpu, rss = sample
                dt = now - previous_t
                percent = 100.0 * (cpu - previous_cpu) / dt if dt > 0 else 0.0
                self.result.trace.append((now - start, percent, rss / 2**20))
                self.result.cpu_seconds = cpu - start_cpu
                self.result.wall_s = now - start
                previous_t, previous_cpu = now, cpu
            if self._stop.is_set():
                return

    async def stop(self) -> ResourceTrace:
        self._stop.set()
        if self._task is not None:
            await self._task
        return self.result
