"""The service's Prometheus metrics, behind one :class:`Metrics` object created at start-up.

Every name starts with ``gazeserve_``; no label carries a person, stream or raw path, so the
number of series stays bounded. Under ``uvicorn --workers N`` (``PROMETHEUS_MULTIPROC_DIR`` set
before the workers start) each worker writes its own files and :meth:`Metrics.collect` merges
all of them; otherwise the values live in a registry owned by this object.

Create one :class:`Metrics` per process: in multiprocess mode two objects in one process would
share the same file entries.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.metrics_core import Metric

from gazeserve import __version__
from gazeserve.observability.multiprocess import (
    ENV_VAR,
    mark_process_dead,
    multiprocess_dir,
    multiprocess_registry,
    reap_dead_processes,
)

logger = logging.getLogger(__name__)

STAGE_BUCKETS_S: tuple[float, ...] = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075,
    0.1, 0.2, 0.5, 1.0,
)  # fmt: skip
"""Upper bounds, in seconds, of the stage histogram: fine from 0.5 ms (iris) to 1 s (a slow CPU)."""

HTTP_BUCKETS_S: tuple[float, ...] = (*STAGE_BUCKETS_S, 2.5, 5.0, 10.0)
"""The stage bounds plus a tail for large uploads and slow clients."""

BATCH_SIZE_BUCKETS: tuple[float, ...] = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128)
"""Crops per batch: a frame's face, or its two eyes (GAZE_MAX_BATCH frames: up to 2x)."""

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Methods kept as labels; anything else is counted as ``other``."""

OTHER = "other"
"""Label value for an unknown route or method."""

ATTENTION_STATES: tuple[str, ...] = ("attentive", "looking_away", "eyes_closed", "no_face")
"""The values of ``gazeserve_attention_state_total{state}``: ``gazeserve.results.AttentionState``.

Spelled out here so that this module imports nothing of the pipeline; a unit test checks that the
two agree. Any other value is counted as ``other``, so the label stays bounded.
"""


class Stage(StrEnum):
    """The stages of one frame, as they appear in ``gazeserve_stage_seconds{stage}``.

    Timers may add further names (``@timer("name")``); these are created up front so that
    dashboards see every stage at zero before the first frame.
    """

    DECODE = "decode"
    DETECT = "detect"
    LANDMARKS = "landmarks"
    IRIS = "iris"
    GAZE = "gaze"
    QUEUE_WAIT = "queue_wait"
    TOTAL = "total"


@dataclass(frozen=True)
class BuildInfo:
    """What ``gazeserve_build_info`` reports.

    Attributes:
        version: The gazeserve version.
        engine: The inference engine (e.g. ``litert``).
        runtime: The runtime and its version (e.g. ``ai-edge-litert 2.3.0``).
    """

    version: str = __version__
    engine: str = "unknown"
    runtime: str = "unknown"

    def __post_init__(self) -> None:
        for name in ("version", "engine", "runtime"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"BuildInfo.{name} must be a non-empty string, got {value!r}")


class Metrics:
    """The service's metrics; also the frame queue's listener (``on_*`` methods).

    Multiprocess aggregation of the gauges (prometheus_client's ``multiprocess_mode``):

    * queue depth and capacity, active streams, inference workers: ``livesum``. Each worker has
      its own queue, streams and threads, so the service's figure is the sum, over live
      processes only (a dead worker's queue is empty, whatever it last reported).
    * start time: ``min``, over all processes ever started in this run: the service's start.
    * build info: ``max``; every worker reports the same labels with value 1.

    Args:
        build: The labels of ``gazeserve_build_info``; or set them later, once the engine is
            known, with :meth:`set_build_info`.
    """

    def __init__(self, build: BuildInfo | None = None) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess_dir: Path | None = multiprocess_dir()
        if self.multiprocess_dir is None and os.environ.get(ENV_VAR):
            logger.warning(
                "%s was set after prometheus_client was imported; this process keeps its "
                "metrics in memory and /metrics shows this process only",
                ENV_VAR,
            )
        if self.multiprocess_dir is None:
            # Process metrics are not supported in multiprocess mode.
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        reg = self.registry

        self._stage_seconds = Histogram(
            "gazeserve_stage_seconds", "Time spent in each stage of a frame, in seconds.",
            ["stage"], buckets=STAGE_BUCKETS_S, registry=reg,
        )  # fmt: skip
        self._http_request_seconds = Histogram(
            "gazeserve_http_request_seconds",
            "HTTP request duration by route template, method and status code, in seconds.",
            ["route", "method", "status"], buckets=HTTP_BUCKETS_S, registry=reg,
        )  # fmt: skip
        self._frame_processing_seconds = Histogram(
            "gazeserve_frame_processing_seconds",
            "Time an inference worker spent on one frame taken off the queue, in seconds.",
            buckets=STAGE_BUCKETS_S, registry=reg,
        )  # fmt: skip
        self._frames_received = Counter(
            "gazeserve_frames_received", "Frames submitted for processing.", registry=reg
        )
        self._frames_processed = Counter(
            "gazeserve_frames_processed", "Frames run through the pipeline.", registry=reg
        )
        self._frames_dropped = Counter(
            "gazeserve_frames_dropped", "Frames not run, by reason.", ["reason"], registry=reg
        )
        self._faces_detected = Counter(
            "gazeserve_faces_detected", "Faces found in processed frames.", registry=reg
        )
        self._detector_runs = Counter(
            "gazeserve_detector_runs",
            "Frames on which the face detector ran (tracking skips it).", registry=reg,
        )  # fmt: skip
        self._queue_depth = Gauge(
            "gazeserve_queue_depth", "Frames waiting in the queues of live workers.",
            registry=reg, multiprocess_mode="livesum",
        )  # fmt: skip
        self._queue_capacity = Gauge(
            "gazeserve_queue_capacity", "Frames the queues of live workers can hold.",
            registry=reg, multiprocess_mode="livesum",
        )  # fmt: skip
        self._active_streams = Gauge(
            "gazeserve_active_streams", "Streams open in live workers.",
            registry=reg, multiprocess_mode="livesum",
        )  # fmt: skip
        self._inference_workers = Gauge(
            "gazeserve_inference_workers", "Inference worker threads in live processes.",
            registry=reg, multiprocess_mode="livesum",
        )  # fmt: skip
        self._start_time_seconds = Gauge(
            "gazeserve_start_time_seconds",
            "Unix time at which the service's first worker started, in seconds.",
            registry=reg, multiprocess_mode="min",
        )  # fmt: skip
        # A gauge rather than prometheus_client's Info, which multiprocess mode does not support.
        self._build_info = Gauge(
            "gazeserve_build_info", "Build of the service: 1 for the labels in use.",
            ["version", "engine", "runtime"], registry=reg, multiprocess_mode="max",
        )  # fmt: skip

        # Attention analytics: service-wide aggregates, never per person or per stream.
        self._frames_analyzed = Counter(
            "gazeserve_frames_analyzed",
            "Frames with a result (the denominator of the face and attention shares).",
            registry=reg,
        )  # fmt: skip
        self._frames_with_face = Counter(
            "gazeserve_frames_with_face", "Frames with a result and at least one face.",
            registry=reg,
        )  # fmt: skip
        self._faces_on_screen = Counter(
            "gazeserve_faces_on_screen", "Faces looking at the screen, summed over frames.",
            registry=reg,
        )  # fmt: skip
        self._faces_off_screen = Counter(
            "gazeserve_faces_off_screen", "Faces not looking at the screen, summed over frames.",
            registry=reg,
        )  # fmt: skip
        self._attention_state = Counter(
            "gazeserve_attention_state",
            "Attention states reported, one per face (no_face: one per frame without a face).",
            ["state"], registry=reg,
        )  # fmt: skip
        self._blinks = Counter(
            "gazeserve_blinks", "Blinks detected on all streams.", registry=reg
        )
        self._batch_size = Histogram(
            "gazeserve_batch_size",
            "Crops per cross-stream batch, by model (face_landmark, iris_landmark).",
            ["model"], buckets=BATCH_SIZE_BUCKETS, registry=reg,
        )  # fmt: skip

        self._build: BuildInfo | None = None
        self._start_time_seconds.set(time.time())
        if build is not None:
            self._set_build(build)
        for stage in Stage:
            self._stage_seconds.labels(stage)
        for state in (*ATTENTION_STATES, OTHER):
            self._attention_state.labels(state)

    # Frames and stages.

    def observe_stage(self, stage: str, seconds: float) -> None:
        """Records ``seconds`` spent in ``stage`` (a :class:`Stage` or a timer's name)."""
        self._stage_seconds.labels(stage).observe(seconds)

    def observe_timings(self, timings_ms: Mapping[str, float]) -> None:
        """Records a frame's stage timings, in milliseconds (as in ``GazeResult.timings_ms``).

        A stage at 0 did not run on this frame (the detector, while tracking) and is skipped, so
        that it does not pull that stage's percentiles down.
        """
        for stage, ms in timings_ms.items():
            if ms > 0:
                self._stage_seconds.labels(stage).observe(ms / 1000.0)

    def observe_detection(self, faces: int, detector_ran: bool) -> None:
        """Records the faces found in one processed frame and whether the detector ran."""
        if faces < 0:
            raise ValueError(f"faces must be >= 0, got {faces}")
        if faces:
            self._faces_detected.inc(faces)
        if detector_ran:
            self._detector_runs.inc()

    def frame_received(self) -> None:
        """Counts a frame submitted for processing."""
        self._frames_received.inc()

    def frame_dropped(self, reason: str) -> None:
        """Counts a frame that was not run; ``reason`` is one of a fixed set (an enum value)."""
        self._frames_dropped.labels(reason).inc()

    def frame_processed(self, processing_s: float, wait_s: float | None = None) -> None:
        """Counts a frame that was run, with its processing time and, if queued, its wait."""
        self._frames_processed.inc()
        self._frame_processing_seconds.observe(processing_s)
        if wait_s is not None:
            self._stage_seconds.labels(Stage.QUEUE_WAIT).observe(wait_s)

    def set_queue_depth(self, depth: int) -> None:
        """Sets the number of frames waiting in this process's queue."""
        self._queue_depth.set(depth)

    def set_queue_capacity(self, capacity: int) -> None:
        """Sets how many frames this process's queue holds (``MAX_QUEUE_SIZE``)."""
        self._queue_capacity.set(capacity)

    def set_active_streams(self, streams: int) -> None:
        """Sets the number of streams open in this process."""
        self._active_streams.set(streams)

    def set_inference_workers(self, workers: int) -> None:
        """Sets the number of inference worker threads in this process."""
        self._inference_workers.set(workers)

    def set_build_info(self, *, version: str = __version__, engine: str, runtime: str) -> None:
        """Sets the labels of ``gazeserve_build_info`` (replacing any set before).

        Raises:
            ValueError: A label is empty.
        """
        self._set_build(BuildInfo(version=version, engine=engine, runtime=runtime))

    def _set_build(self, build: BuildInfo) -> None:
        old = self._build
        if old == build:
            return
        if old is not None:
            # Zero first: in multiprocess mode the file keeps a removed series' last value.
            self._build_info.labels(old.version, old.engine, old.runtime).set(0)
            self._build_info.remove(old.version, old.engine, old.runtime)
        self._build_info.labels(build.version, build.engine, build.runtime).set(1)
        self._build = build

    # Attention analytics.

    def observe_faces(self, on_screen: int, total: int) -> None:
        """Records one frame's result: ``total`` faces, ``on_screen`` of them looking at it.

        Call once per frame that produced a result (with ``total=0`` when no face was found),
        so that ``frames_with_face / frames_analyzed`` is the share of frames with a face and
        ``faces_on_screen / (faces_on_screen + faces_off_screen)`` the on-screen share.

        Raises:
            ValueError: ``total < 0`` or ``on_screen`` not in ``[0, total]``.
        """
        if total < 0 or not 0 <= on_screen <= total:
            raise ValueError(f"need 0 <= on_screen <= total, got on_screen={on_screen}, "
                             f"total={total}")
        self._frames_analyzed.inc()
        if total:
            self._frames_with_face.inc()
        if on_screen:
            self._faces_on_screen.inc(on_screen)
        if total - on_screen:
            self._faces_off_screen.inc(total - on_screen)

    def attention_state(self, state: str) -> None:
        """Counts one attention state (an ``AttentionState``; anything else counts as ``other``)."""
        self._attention_state.labels(state if state in ATTENTION_STATES else OTHER).inc()

    def blink(self) -> None:
        """Counts one blink (from the blink detector of any stream)."""
        self._blinks.inc()

    def observe_batch(self, model: str, crops: int) -> None:
        """Records one cross-stream batch of ``crops`` inputs of ``model``."""
        self._batch_size.labels(model).observe(crops)

    # HTTP.

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None:
        """Records one HTTP request; ``route`` is the route template, never the raw path."""
        method = method.upper()
        if method not in HTTP_METHODS:
            method = OTHER
        self._http_request_seconds.labels(route, method, str(status)).observe(seconds)

    # The frame queue's listener protocol.

    def on_submit(self, priority: int) -> None:
        """A frame entered the queue (its priority is not a label)."""
        self.frame_received()

    def on_drop(self, reason: str) -> None:
        """The queue dropped a frame."""
        self.frame_dropped(reason)

    def on_processed(self, processing_s: float, wait_s: float) -> None:
        """A worker ran a frame taken off the queue (failed or not)."""
        self.frame_processed(processing_s, wait_s)

    def on_depth(self, depth: int) -> None:
        """The queue's depth changed."""
        self.set_queue_depth(depth)

    # Reading.

    def collect(self) -> Iterable[Metric]:
        """The metric families as exposed: merged over all workers in multiprocess mode.

        In multiprocess mode the live gauges of workers that have exited are dropped first.
        """
        if self.multiprocess_dir is None:
            return self.registry.collect()
        reap_dead_processes(self.multiprocess_dir)
        return multiprocess_registry(self.multiprocess_dir).collect()

    def close(self) -> None:
        """In multiprocess mode, withdraws this process's live gauges (call at shutdown)."""
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self.multiprocess_dir)

    def __enter__(self) -> Metrics:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
