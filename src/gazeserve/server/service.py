"""The service's core object: the engine behind the frame queue, shared by HTTP and WebSocket.

Built once in the app's lifespan from the settings; routes only translate between the wire and
`GazeService.analyze`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from functools import partial
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gazeserve.config import BatchingMode, Settings, recommended_workers
from gazeserve.models import ModelStore
from gazeserve.models.derived import DerivedState, derived_statuses
from gazeserve.models.manifest import Precision
from gazeserve.observability.metrics import Metrics
from gazeserve.pipeline import EngineOptions, GazeEngine
from gazeserve.results import AttentionState, GazeResult
from gazeserve.runtime import RuntimeKind
from gazeserve.runtime.providers import (
    available_providers,
    choose_providers,
    has_accelerator,
    parse_providers,
)
from gazeserve.runtime.selection import resolve_engine
from gazeserve.scheduling.frame_queue import DropReason, FrameDropped, FrameQueue, QueueOptions
from gazeserve.scheduling.workers import InferenceWorkers
from gazeserve.server.faults import FaultInjector
from gazeserve.server.landmarks import DegenerateLandmarksError
from gazeserve.server.security import AccessPolicy
from gazeserve.streams import StreamRegistry, StreamState

log = logging.getLogger("gazeserve.service")

DRAIN_POLL_S = 0.02


class Connection(Protocol):
    """A WebSocket session as the service sees it when it shuts down."""

    @property
    def idle(self) -> bool:
        """No frame of this connection is waiting or being processed."""

    async def close_going_away(self) -> None:
        """Closes the connection with 1001 (going away)."""


class GazeService:
    """Engine, queue, workers, streams and metrics of one server process."""

    def __init__(self, settings: Settings, metrics: Metrics,
                 access: AccessPolicy | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.started_at = time.time()
        self.runtime = _runtime_for(settings)
        providers = tuple(parse_providers(settings.gaze_providers))
        self.engine = GazeEngine.create(EngineOptions(
            model_dir=settings.gaze_model_dir, runtime=self.runtime,
            use_quantized=settings.use_quantized_model, providers=providers,
            max_pixels=settings.gaze_max_pixels,
            max_batch=max_batch_for(settings, self.runtime, providers, available_providers()),
            batch_wait_ms=settings.gaze_batch_wait_ms),
            batch_listener=lambda model, crops: metrics.observe_batch(model.value, crops))
        _log_batching(settings, self.engine)
        self.faults = FaultInjector(metrics) if settings.gaze_fault_injection else None
        if self.faults is not None:
            log.warning("GAZE_FAULT_INJECTION is on: frames with a fault marker fail on purpose; "
                        "for tests only")
        self.queue = FrameQueue(QueueOptions(
            max_queue_size=settings.max_queue_size, drop_old_frames=settings.drop_old_frames,
            max_frame_age_ms=settings.max_frame_age_ms), listener=self.faults or metrics)
        self.workers = InferenceWorkers(self.queue, settings.max_workers)
        self.streams = StreamRegistry(settings.gaze_stream_ttl_s, settings.gaze_max_streams)
        self.access = access or AccessPolicy.from_settings(settings)
        self.connections: set[Connection] = set()
        """Open WebSocket sessions (they add and remove themselves)."""
        self.ready = False
        self.draining = False
        """Shutting down: frames are refused, readiness fails, in-flight frames finish."""

    async def start(self) -> None:
        self.engine.warm_up()
        self.workers.start()
        self.metrics.set_inference_workers(self.settings.max_workers)
        self.metrics.set_queue_capacity(self.settings.max_queue_size)
        self.ready = True
        log.info("ready: engine=%s workers=%d queue=%d max_frame_age_ms=%.0f",
                 self.runtime.value, self.settings.max_workers, self.settings.max_queue_size,
                 self.settings.max_frame_age_ms)

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        self.ready = False
        await self.workers.stop(drain_timeout_s)
        self.engine.close()

    @property
    def idle(self) -> bool:
        """Nothing waits or runs: no frame in the queue or a worker, none in a connection."""
        stats = self.queue.stats()
        return (stats.depth == 0 and stats.in_flight == 0
                and all(c.idle for c in list(self.connections)))

    async def drain(self, timeout_s: float) -> None:
        """Graceful shutdown, before the server closes connections: refuse new frames and fail
        readiness, let frames in flight finish (up to `timeout_s`), close WebSockets with 1001."""
        self.draining = True
        self.ready = False
        log.info("draining: %d WebSocket connection(s), up to %.1f s for frames in flight",
                 len(self.connections), timeout_s)
        deadline = time.monotonic() + timeout_s
        while not self.idle and time.monotonic() < deadline:
            await asyncio.sleep(DRAIN_POLL_S)
        if not self.idle:
            log.warning("drain deadline reached with frames still in flight")
        await asyncio.gather(*(c.close_going_away() for c in list(self.connections)),
                             return_exceptions=True)

    def stream(self, stream_id: str | None) -> StreamState | None:
        if stream_id is None:
            return None
        state = self.streams.get(stream_id)
        self.metrics.set_active_streams(len(self.streams))
        return state

    async def analyze(self, data: bytes, *, stream: StreamState | None = None,
                      timestamp_ms: float | None = None, priority: int = 5,
                      include_landmarks: bool = False, max_faces: int | None = None,
                      frame_id: object = None, arrived_at: float | None = None) -> GazeResult:
        """Queues one encoded frame and waits for its result.

        Raises the queue's `FrameDropped` (stale, superseded, full: the caller sheds load), the
        decoder's `ImageDecodeError`, or `StreamOrderError`.
        """
        self._refuse_when_draining(stream)

        def work_on(image: bytes) -> GazeResult:
            return self.engine.process_bytes(image, stream, timestamp_ms, include_landmarks,
                                             max_faces)
        work = (partial(work_on, data) if self.faults is None
                else self.faults.wrap(data, work_on))
        result = await self.queue.submit(work, stream_id=stream.stream_id if stream else None,
                                         priority=priority, frame_id=frame_id,
                                         arrived_at=arrived_at)
        self._record(result)
        return result

    async def analyze_landmarks(self, points_px: npt.NDArray[np.float32], width: int,
                                height: int, *, stream: StreamState | None = None,
                                timestamp_ms: float | None = None, priority: int = 5,
                                frame_id: object = None,
                                arrived_at: float | None = None) -> GazeResult:
        """Queues client-computed landmarks like a frame (same shedding, same workers).

        Raises `DegenerateLandmarksError` for points the geometry cannot use, besides the
        errors of `analyze`.
        """
        self._refuse_when_draining(stream)

        def work() -> GazeResult:
            try:
                return self.engine.process_landmarks(points_px, width, height, stream,
                                                     timestamp_ms)
            except (ArithmeticError, np.linalg.LinAlgError) as exc:
                raise DegenerateLandmarksError(
                    f"these landmarks are not a face's (the geometry failed: {exc})") from exc
        result = await self.queue.submit(work, stream_id=stream.stream_id if stream else None,
                                         priority=priority, frame_id=frame_id,
                                         arrived_at=arrived_at)
        self._record(result)
        return result

    def _refuse_when_draining(self, stream: StreamState | None) -> None:
        if self.draining:
            raise FrameDropped(DropReason.SHUTDOWN,
                               stream_id=stream.stream_id if stream else None)

    def _record(self, result: GazeResult) -> None:
        """Per-frame figures for /metrics; aggregates only, no per-stream labels."""
        metrics = self.metrics
        metrics.observe_timings(asdict(result.timings_ms))
        faces = result.faces
        metrics.observe_detection(faces=len(faces), detector_ran=result.detector_ran)
        metrics.observe_faces(on_screen=sum(f.on_screen for f in faces), total=len(faces))
        for face in faces:
            metrics.attention_state(face.attention.state)
        if not faces:
            metrics.attention_state(AttentionState.NO_FACE)
        for event in result.events:
            if event.get("event") == "blink":
                metrics.blink()

    def system_info(self) -> dict[str, object]:
        return {
            "cpu_count": os.cpu_count(),
            "recommended_workers": recommended_workers(),
            "inference_workers": self.settings.max_workers,
            "inference_workers_running": self.workers.running,
            "inference_worker_restarts": self.workers.restarts,
            "engine": self.runtime.value,
            "providers": self.engine.providers,
            "model_precisions": {n.value: p.value
                                 for n, p in self.engine.model_files.precisions.items()},
            "batching": self.batching_info(),
            "pid": os.getpid(),
        }

    def batching_info(self) -> dict[str, object]:
        """Whether and what the engine batches across streams, and the batches run so far."""
        batching = self.engine.batching
        return {"enabled": batching.enabled, "reason": self.engine.batching_reason,
                "max_batch": batching.options.max_batch if batching.enabled else 1,
                "batches": {name: asdict(stats) for name, stats in batching.stats().items()}}

    def runtime_counts(self) -> dict[str, object]:
        """Tasks, threads, file descriptors, connections and streams now (leak checks; the
        test-only `GET /debug/runtime`)."""
        fd_dir = "/proc/self/fd"
        return {
            "asyncio_tasks": len(asyncio.all_tasks()),
            "threads": threading.active_count(),
            "open_fds": len(os.listdir(fd_dir)) if os.path.isdir(fd_dir) else None,
            "websocket_connections": len(self.connections),
            "streams": len(self.streams),
            "streams_evicted": self.streams.evicted,
            "streams_open_per_key": self.access.stream_slots.open_streams(),
            "queue": asdict(self.queue.stats()),
            **self.system_info(),
        }


def max_batch_for(settings: Settings, runtime: RuntimeKind, requested: Sequence[str],
                  available: Sequence[str]) -> int:
    """`GAZE_MAX_BATCH` where batching is on; 1 (off) otherwise. `auto` batches on ONNX Runtime
    with an accelerator provider only (chosen from `available`, or `requested` by
    GAZE_PROVIDERS): on a CPU it cost more than it saved (docs/operations.md)."""
    mode = settings.gaze_batching
    if mode is BatchingMode.OFF:
        return 1
    if mode is BatchingMode.AUTO and (
            runtime is not RuntimeKind.ONNX
            or not has_accelerator(choose_providers(available, requested)[:1])):
        return 1
    return settings.gaze_max_batch


def _log_batching(settings: Settings, engine: GazeEngine) -> None:
    log.info("cross-stream batching (GAZE_BATCHING=%s): %s", settings.gaze_batching.value,
             engine.batching_reason)
    if engine.batching.enabled and settings.max_workers < settings.gaze_max_batch:
        log.warning("MAX_WORKERS=%d < GAZE_MAX_BATCH=%d: a batch never holds more frames than "
                    "there are workers", settings.max_workers, settings.gaze_max_batch)


def _runtime_for(settings: Settings) -> RuntimeKind:
    """`auto`: ONNX Runtime where an accelerator provider is installed, else LiteRT (the faster
    runtime on CPU-only machines); `litert` and `onnx` force one."""
    floats_ready = all(s.state is DerivedState.OK
                       for s in derived_statuses(ModelStore(settings.gaze_model_dir))
                       if s.spec.precision is Precision.FLOAT32)
    kind, reason = resolve_engine(settings.gaze_engine.value, available_providers(),
                                  onnx_models_ready=floats_ready)
    log.info("engine %s: %s", kind.value, reason)
    return kind
