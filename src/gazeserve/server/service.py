"""The service's core object: the engine behind the frame queue, shared by HTTP and WebSocket.

Built once in the app's lifespan from the settings; routes only translate between the wire and
`GazeService.analyze`.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import asdict
from functools import partial

import numpy as np
import numpy.typing as npt

from gazeserve.config import EngineKind, Settings, recommended_workers
from gazeserve.observability.metrics import Metrics
from gazeserve.pipeline import EngineOptions, GazeEngine
from gazeserve.results import AttentionState, GazeResult
from gazeserve.runtime import RuntimeKind
from gazeserve.scheduling.frame_queue import FrameQueue, QueueOptions
from gazeserve.scheduling.workers import InferenceWorkers
from gazeserve.streams import StreamRegistry, StreamState

log = logging.getLogger("gazeserve.service")


class GazeService:
    """Engine, queue, workers, streams and metrics of one server process."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.started_at = time.time()
        self.runtime = _runtime_for(settings)
        if settings.use_quantized_model:
            log.warning("USE_QUANTIZED_MODEL=true: no INT8 models exist in this version; "
                        "using float32")
        self.engine = GazeEngine.create(EngineOptions(
            model_dir=settings.gaze_model_dir, runtime=self.runtime,
            max_pixels=settings.gaze_max_pixels))
        self.queue = FrameQueue(QueueOptions(
            max_queue_size=settings.max_queue_size, drop_old_frames=settings.drop_old_frames,
            max_frame_age_ms=settings.max_frame_age_ms), listener=metrics)
        self.workers = InferenceWorkers(self.queue, settings.max_workers)
        self.streams = StreamRegistry(settings.gaze_stream_ttl_s, settings.gaze_max_streams)
        self.ready = False

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
        work = partial(self.engine.process_bytes, data, stream, timestamp_ms, include_landmarks,
                       max_faces)
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
        """Queues client-computed landmarks like a frame (same shedding, same workers)."""
        work = partial(self.engine.process_landmarks, points_px, width, height, stream,
                       timestamp_ms)
        result = await self.queue.submit(work, stream_id=stream.stream_id if stream else None,
                                         priority=priority, frame_id=frame_id,
                                         arrived_at=arrived_at)
        self._record(result)
        return result

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
            "engine": self.runtime.value,
            "pid": os.getpid(),
        }


def _runtime_for(settings: Settings) -> RuntimeKind:
    """`auto` is LiteRT: the fastest runtime measured on CPU-only machines."""
    if settings.gaze_engine in (EngineKind.AUTO, EngineKind.LITERT):
        return RuntimeKind.LITERT
    raise ValueError(f"unsupported engine {settings.gaze_engine}")
