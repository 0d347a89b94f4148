"""`gazeserve loadtest`: a running service under load, over HTTP or WebSocket.

HTTP: `concurrent` clients POST the frames (JPEG) to `/v1/gaze` until `requests` answers came
back. WebSocket: `streams` connections to `/v1/stream`, each sending its share of the frames in
video order; with `fps` 0 a stream sends its next frame when the previous one is answered
(closed loop: the round trip), else at that rate whatever the answers (the server may drop
superseded frames; drops are counted by reason). Latency is measured on the client with
`perf_counter`, from sending a request or frame to its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from gazeserve.bench.resources import ResourceSampler, ResourceTrace
from gazeserve.bench.stats import LatencySummary, ratio, summarize

SCHEMA = "gazeserve.loadtest.v1"
DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class LoadOptions:
    """One load test. Validated when built."""

    url: str = DEFAULT_URL
    requests: int = 1000
    """HTTP requests, or WebSocket frames over all streams."""
    concurrent: int = 10
    """HTTP clients in flight at once."""
    websocket: bool = False
    streams: int = 1
    fps: float = 0.0
    """Frames per second per WebSocket stream; 0 sends each frame when the last is answered."""
    timeout_s: float = 10.0
    warmup: int = 10
    """Requests (or frames) sent first, untimed, on a connection of their own."""
    source: Path | None = None
    source_limit: int | None = None
    jpeg_quality: int = 80

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be http(s)://host[:port], got {self.url!r}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        for name in ("requests", "concurrent", "streams"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.fps < 0 or self.timeout_s <= 0:
            raise ValueError("fps must be >= 0 and timeout_s > 0")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be 1-100, got {self.jpeg_quality}")

    @property
    def mode(self) -> str:
        return "websocket" if self.websocket else "http"


@dataclass
class LoadRun:
    """What one load test against one server measured."""

    target: str
    url: str
    mode: str
    sent: int = 0
    ok: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    """By kind: `timeout`, `transport:<exception>`, `http_<status>:<code>`, `ws_dropped:<reason>`,
    `ws_error:<code>`."""
    wall_s: float = 0.0
    samples: list[tuple[float, float]] = field(default_factory=list)
    """(seconds of load on this target, latency ms) of each successful answer."""
    breakdown_ms: dict[str, list[float]] = field(default_factory=dict)
    """What the server says of each answer, when it says it: `pipeline` (its `timings_ms.total`:
    decode to geometry), and over WebSocket `server` (arrival to result) and `queue_wait`."""
    server: ResourceTrace | None = None
    server_metrics: dict[str, Any] | None = None
    """The server's `/metrics.json` after the run, when it has one."""

    @property
    def latency(self) -> LatencySummary:
        return summarize([ms for _, ms in self.samples])

    def extend(self, later: LoadRun) -> None:
        """Adds a later part of the same load test (a round), its times shifted after ours."""
        offset = self.wall_s
        self.sent += later.sent
        self.ok += later.ok
        self.errors.update(later.errors)
        self.samples += [(t + offset, ms) for t, ms in later.samples]
        self.wall_s += later.wall_s
        for name, values in later.breakdown_ms.items():
            self.breakdown_ms.setdefault(name, []).extend(values)
        if later.server_metrics is not None:
            self.server_metrics = later.server_metrics
        if self.server is None or later.server is None or later.server.source != \
                self.server.source:
            self.server = self.server or later.server
            return
        mine, theirs = self.server, later.server
        # A part's first sample is its starting point (no interval, 0 % CPU): not a sample.
        mine.trace += [(t + offset, cpu, rss) for t, cpu, rss in theirs.trace[1:]]
        if theirs.cpu_seconds is not None and theirs.wall_s is not None:
            mine.cpu_seconds = (mine.cpu_seconds or 0.0) + theirs.cpu_seconds
            mine.wall_s = (mine.wall_s or 0.0) + theirs.wall_s

    def note(self, payload: dict[str, Any]) -> None:
        """Keeps the server's own timing of one answer."""
        timings = payload.get("timings_ms")
        figures = {"pipeline": timings.get("total") if isinstance(timings, dict) else None,
                   "server": payload.get("server_ms"), "queue_wait": payload.get("wait_ms")}
        for name, value in figures.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.breakdown_ms.setdefault(name, []).append(float(value))

    def to_dict(self) -> dict[str, Any]:
        timeouts = self.errors.get("timeout", 0)
        return {
            "target": self.target, "url": self.url, "mode": self.mode, "sent": self.sent,
            "ok": self.ok, "failed": sum(self.errors.values()), "timeouts": timeouts,
            "error_rate": round(sum(self.errors.values()) / self.sent, 4) if self.sent else 0.0,
            "timeout_rate": round(timeouts / self.sent, 4) if self.sent else 0.0,
            "errors_by_kind": dict(sorted(self.errors.items())),
            "wall_s": round(self.wall_s, 3),
            "rps": round(self.ok / self.wall_s, 2) if self.wall_s else 0.0,
            "latency_ms": self.latency.to_dict(),
            "server_breakdown_ms": {k: summarize(v).to_dict()
                                    for k, v in sorted(self.breakdown_ms.items())},
            "server": self.server.to_dict() if self.server else None,
            "server_queue": (self.server_metrics or {}).get("queue"),
            "samples": [[round(t, 4), round(ms, 3)] for t, ms in self.samples],
        }


def encode_frames(options: LoadOptions) -> list[bytes]:
    """The source's frames as JPEG bytes (in memory), in order."""
    import cv2

    from gazeserve.bench.frames import load_frames

    frames = load_frames(options.source, options.source_limit)
    out = []
    for rgb in frames.frames:
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, options.jpeg_quality])
        if not ok:
            raise RuntimeError("OpenCV could not encode a frame as JPEG")
        out.append(buf.tobytes())
    return out


async def run_load(options: LoadOptions, jpegs: Sequence[bytes], target: str = "ours",
                   url: str | None = None,
                   on_answer: Callable[[], None] | None = None) -> LoadRun:
    """One load test against `url` (default `options.url`)."""
    import httpx

    from gazeserve.bench.frames import frame_order

    base = (url or options.url).rstrip("/")
    run = LoadRun(target, base, options.mode)
    advance = on_answer or (lambda: None)
    order = frame_order(len(jpegs), options.requests)
    limits = httpx.Limits(max_connections=options.concurrent + 2,
                          max_keepalive_connections=options.concurrent + 2)
    async with httpx.AsyncClient(base_url=base, timeout=options.timeout_s,
                                 limits=limits) as client:
        if options.warmup:
            warm = LoadRun(target, base, options.mode)
            warm_order = frame_order(len(jpegs), options.warmup)
            if options.websocket:
                await _ws_stream(options, ws_url(base), jpegs, warm_order, warm, 0.0,
                                 lambda: None)
            else:
                await _http(options, client, jpegs, warm_order, warm, 0.0, lambda: None)
        sampler = ResourceSampler(client, base)
        await sampler.start()
        start = time.perf_counter()
        if options.websocket:
            await _websocket(options, base, jpegs, order, run, start, advance)
        else:
            await _http(options, client, jpegs, order, run, start, advance)
        run.wall_s = time.perf_counter() - start
        run.server = await sampler.stop()
        try:
            metrics = (await client.get("/metrics.json")).json()
            run.server_metrics = metrics if isinstance(metrics, dict) else None
        except (httpx.HTTPError, ValueError):
            run.server_metrics = None
    return run


async def _http(options: LoadOptions, client: Any, jpegs: Sequence[bytes], order: list[int],
                run: LoadRun, start: float, advance: Callable[[], None]) -> None:
    import httpx

    counter = itertools.count()
    headers = {"content-type": "image/jpeg"}

    async def client_loop() -> None:
        while (i := next(counter)) < len(order):
            sent = time.perf_counter()
            run.sent += 1
            try:
                response = await client.post("/v1/gaze", content=jpegs[order[i]],
                                             headers=headers)
            except httpx.TimeoutException:
                run.errors["timeout"] += 1
            except httpx.TransportError as exc:
                run.errors[f"transport:{type(exc).__name__}"] += 1
            else:
                done = time.perf_counter()
                if response.status_code == 200:
                    run.ok += 1
                    run.samples.append((done - start, (done - sent) * 1000))
                    with contextlib.suppress(orjson.JSONDecodeError, AttributeError):
                        run.note(orjson.loads(response.content))
                else:
                    run.errors[f"http_{response.status_code}:{_error_code(response.content)}"] \
                        += 1
            advance()

    await asyncio.gather(*(client_loop() for _ in range(options.concurrent)))


def _error_code(body: bytes) -> str:
    try:
        payload = orjson.loads(body)
        return str(payload["error"]["code"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return "unknown"


def ws_url(base: str) -> str:
    parts = urlsplit(base)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/v1/stream", "", ""))


async def _websocket(options: LoadOptions, base: str, jpegs: Sequence[bytes], order: list[int],
                     run: LoadRun, start: float, advance: Callable[[], None]) -> None:
    share = [len(order) // options.streams + (i < len(order) % options.streams)
             for i in range(options.streams)]
    await asyncio.gather(*(_ws_stream(options, ws_url(base), jpegs, order[:n], run, start,
                                      advance) for n in share if n))


async def _ws_stream(options: LoadOptions, url: str, jpegs: Sequence[bytes], order: list[int],
                     run: LoadRun, start: float, advance: Callable[[], None]) -> None:
    """One connection: frames in order, each announced by a `frame` control message."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import WebSocketException

    pending: dict[int, float] = {}
    interval_ms = 1000.0 / 30.0
    try:
        async with connect(url, max_size=None, open_timeout=options.timeout_s) as ws:
            async def send(i: int) -> None:
                meta = {"type": "frame", "frame_id": i, "timestamp_ms": i * interval_ms}
                await ws.send(orjson.dumps(meta).decode())
                pending[i] = time.perf_counter()
                run.sent += 1
                await ws.send(jpegs[order[i]])

            async def receive_until(done: Callable[[], bool], deadline_s: float) -> None:
                while not done():
                    remaining = deadline_s - time.perf_counter()
                    if remaining <= 0:
                        return
                    try:
                        message = await asyncio.wait_for(ws.recv(), remaining)
                    except TimeoutError:
                        return
                    _on_message(message, pending, run, start, advance)

            def answered(frame_id: int) -> Callable[[], bool]:
                return lambda: frame_id not in pending

            if options.fps == 0:
                for i in range(len(order)):
                    await send(i)
                    await receive_until(answered(i), time.perf_counter() + options.timeout_s)
                    if i in pending:  # timed out: the connection is no longer usable
                        break
            else:
                await _open_loop(ws, options, len(order), send, pending, run, start, advance)
    except (OSError, WebSocketException, TimeoutError) as exc:
        run.errors[f"transport:{type(exc).__name__}"] += 1
    for _ in pending:
        run.errors["timeout"] += 1
        advance()


async def _open_loop(ws: Any, options: LoadOptions, count: int,
                     send: Callable[[int], Awaitable[None]], pending: dict[int, float],
                     run: LoadRun, start: float, advance: Callable[[], None]) -> None:
    """Sends `count` frames at `options.fps` while receiving; then waits up to the timeout for
    the answers still pending. Receiving polls in short slices (cancelling `recv()` loses no
    message), so nothing here waits on a cancellation."""
    period = 1.0 / options.fps

    async def send_all() -> None:
        first = time.perf_counter()
        for i in range(count):
            await asyncio.sleep(max(0.0, first + i * period - time.perf_counter()))
            await send(i)

    sender = asyncio.create_task(send_all())
    deadline: float | None = None
    try:
        while pending or not sender.done():
            if sender.done():
                sender.result()  # a failed send raises here
                deadline = deadline or time.perf_counter() + options.timeout_s
                if time.perf_counter() > deadline:
                    return
            try:
                message = await asyncio.wait_for(ws.recv(), _POLL_S)
            except TimeoutError:
                continue
            _on_message(message, pending, run, start, advance)
    finally:
        if not sender.done():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender


_POLL_S = 0.05


def _on_message(message: str | bytes, pending: dict[int, float], run: LoadRun, start: float,
                advance: Callable[[], None]) -> None:
    now = time.perf_counter()
    try:
        payload = orjson.loads(message)
    except orjson.JSONDecodeError:
        run.errors["ws_invalid_message"] += 1
        return
    kind = payload.get("type") if isinstance(payload, dict) else None
    if kind == "result":
        sent = pending.pop(payload.get("frame_id"), None)
        if sent is not None:
            run.ok += 1
            run.samples.append((now - start, (now - sent) * 1000))
            run.note(payload)
            advance()
    elif kind == "dropped":
        for frame_id in payload.get("frame_ids", []):
            if pending.pop(frame_id, None) is not None:
                run.errors[f"ws_dropped:{payload.get('reason', 'unknown')}"] += 1
                advance()
    elif kind == "error":
        run.errors[f"ws_error:{payload.get('error', {}).get('code', 'unknown')}"] += 1
        if pending.pop(payload.get("frame_id"), None) is not None:
            advance()


@dataclass
class LoadReport:
    options: LoadOptions
    frames_unique: int
    runs: list[LoadRun]
    created_utc: str = ""
    rounds: int = 1
    """Parts per target, the targets alternating (see `gazeserve loadtest --rounds`)."""
    machine: dict[str, Any] = field(default_factory=dict)

    def comparison(self) -> dict[str, Any] | None:
        """ours / MediaPipe's service, when both ran: p50 ratio and the 0.6 target."""
        if len(self.runs) < 2:
            return None
        ours, theirs = self.runs[0].latency, self.runs[1].latency
        p50 = ratio(ours.p50, theirs.p50)
        rps_ours = self.runs[0].ok / self.runs[0].wall_s if self.runs[0].wall_s else 0.0
        rps_theirs = self.runs[1].ok / self.runs[1].wall_s if self.runs[1].wall_s else 0.0
        rps = ratio(rps_ours, rps_theirs)
        # The target is about the round trip: one frame in flight per stream (closed loop).
        closed_loop = self.options.websocket and self.options.fps == 0
        limit = WS_ROUNDTRIP_TARGET if closed_loop else None
        return {
            "ours": self.runs[0].target, "theirs": self.runs[1].target,
            "latency_p50_ratio": None if p50 is None else round(p50, 4),
            "rps_ratio": None if rps is None else round(rps, 4),
            "target": None if limit is None else {
                "description": "WebSocket round trip p50 <= 0.6 x FastAPI + MediaPipe service",
                "limit": limit, "met": p50 is not None and p50 <= limit},
        }

    def to_dict(self) -> dict[str, Any]:
        o = self.options
        return {
            "schema": SCHEMA, "created_utc": self.created_utc, "machine": self.machine,
            "options": {"url": o.url, "mode": o.mode, "requests": o.requests,
                        "concurrent": o.concurrent, "streams": o.streams, "fps": o.fps,
                        "timeout_s": o.timeout_s, "warmup": o.warmup,
                        "jpeg_quality": o.jpeg_quality,
                        "frames_unique": self.frames_unique, "rounds": self.rounds},
            "runs": [r.to_dict() for r in self.runs],
            "comparison": self.comparison(),
        }


WS_ROUNDTRIP_TARGET = 0.6


def render(report: LoadReport, console: Any) -> None:
    from rich.table import Table

    o = report.options
    what = (f"{o.requests} frames over {o.streams} WebSocket stream(s) at "
            f"{'closed loop' if o.fps == 0 else f'{o.fps:g} fps'}" if o.websocket
            else f"{o.requests} HTTP requests, {o.concurrent} concurrent")
    table = Table(title=f"gazeserve loadtest: {what}", title_justify="left")
    for column in ("target", "ok", "RPS", "mean", "p50", "p95", "p99", "max", "errors",
                   "timeouts", "server CPU % mean/max", "server RSS MiB start/max"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for run in report.runs:
        d = run.to_dict()
        lat = d["latency_ms"]
        server = d["server"] or {}
        cpu = (f"{server.get('cpu_percent_mean')}/{server.get('cpu_percent_max')}"
               if server.get("cpu_percent_mean") is not None else "n/a")
        rss = (f"{server.get('rss_mib_start')}/{server.get('rss_mib_max')}"
               if server.get("rss_mib_start") is not None else "n/a")
        table.add_row(f"{run.target} ({run.url})", f"{d['ok']}/{d['sent']}", f"{d['rps']:.1f}",
                      *(f"{lat[k]:.2f}" for k in ("mean", "p50", "p95", "p99", "max")),
                      str(d["failed"]), str(d["timeouts"]), cpu, rss)
    console.print(table)
    for run in report.runs:
        if run.errors:
            kinds = ", ".join(f"{k}: {v}" for k, v in sorted(run.errors.items()))
            console.print(f"{run.target} errors by kind: {kinds}")
    comparison = report.comparison()
    if comparison:
        line = (f"ours / MediaPipe service: p50 latency {comparison['latency_p50_ratio']}x, "
                f"RPS {comparison['rps_ratio']}x")
        target = comparison["target"]
        if target:
            met = "[green]met[/]" if target["met"] else "[red]not met[/]"
            line += f"; target p50 <= {target['limit']}x: {met}"
        console.print(line)
