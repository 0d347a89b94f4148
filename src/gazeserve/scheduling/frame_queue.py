"""A bounded, prioritised frame queue that drops what real time can no longer use.

The queue lives in one event loop; nothing here is thread-safe and nothing needs to be: callers
``submit`` from request handlers, :class:`~gazeserve.scheduling.workers.InferenceWorkers` ``get``
from worker tasks, and only the frame's ``work`` runs in a thread.

Every frame received ends in exactly one place, so that at any moment::

    frames_received == frames_processed + frames_dropped + depth + in_flight

A frame is dropped, and its future fails with :class:`FrameDropped`, for one :class:`DropReason`:
a newer frame of its stream arrived while it waited (``superseded``), it was older than
``max_frame_age_ms`` when taken off the queue (``stale``, checked then with the queue's monotonic
clock as LitServe does), the queue was full (``queue_full``, raised to the submitter), the queue
closed (``shutdown``), or its caller had already cancelled the future (``cancelled``).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

MIN_PRIORITY = 0
MAX_PRIORITY = 10
DEFAULT_PRIORITY = 5
MIN_RETRY_AFTER_S = 1.0


@dataclass(frozen=True)
class QueueOptions:
    """How much the queue holds and how old a frame may get before it is worth nothing.

    Attributes:
        max_queue_size: Frames that may wait at once (not counting those being run); a submit
            beyond it raises :class:`QueueFullError`.
        drop_old_frames: Fail frames older than ``max_frame_age_ms`` when they are taken off the
            queue instead of running them.
        max_frame_age_ms: Age, from submit, beyond which a waiting frame is stale.
    """

    max_queue_size: int = 10
    drop_old_frames: bool = True
    max_frame_age_ms: float = 200.0

    def __post_init__(self) -> None:
        size = self.max_queue_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"max_queue_size must be an int >= 1, got {size!r}")
        if not isinstance(self.drop_old_frames, bool):
            raise ValueError(f"drop_old_frames must be a bool, got {self.drop_old_frames!r}")
        age = self.max_frame_age_ms
        if (
            isinstance(age, bool)
            or not isinstance(age, int | float)
            or not (math.isfinite(age) and age > 0)
        ):
            raise ValueError(f"max_frame_age_ms must be a finite number > 0, got {age!r}")


class DropReason(StrEnum):
    """Why a frame was not run."""

    STALE = "stale"
    SUPERSEDED = "superseded"
    QUEUE_FULL = "queue_full"
    SHUTDOWN = "shutdown"
    CANCELLED = "cancelled"


class FrameDropped(Exception):  # noqa: N818 (the service's API names it so)
    """The frame was not run; ``reason`` says why."""

    def __init__(
        self, reason: DropReason, *, stream_id: str | None = None, frame_id: Any = None
    ) -> None:
        super().__init__(f"frame dropped: {reason.value}")
        self.reason = reason
        self.stream_id = stream_id
        self.frame_id = frame_id


class QueueFullError(FrameDropped):
    """The queue already held ``max_queue_size`` frames; try again after ``retry_after_s``."""

    def __init__(
        self, retry_after_s: float, *, stream_id: str | None = None, frame_id: Any = None
    ) -> None:
        super().__init__(DropReason.QUEUE_FULL, stream_id=stream_id, frame_id=frame_id)
        self.retry_after_s = retry_after_s


class QueueClosed(Exception):  # noqa: N818 (a signal to stop, not an error)
    """``get()`` on a queue that is closed and empty: the worker should exit."""


class QueueListener(Protocol):
    """Hooks for metrics. Called in the event loop; an exception is logged, never propagated."""

    def on_submit(self, priority: int) -> None: ...

    def on_drop(self, reason: DropReason) -> None: ...

    def on_processed(self, processing_s: float, wait_s: float) -> None: ...

    def on_depth(self, depth: int) -> None: ...


class NullListener:
    """The default listener: ignores every event."""

    def on_submit(self, priority: int) -> None:
        pass

    def on_drop(self, reason: DropReason) -> None:
        pass

    def on_processed(self, processing_s: float, wait_s: float) -> None:
        pass

    def on_depth(self, depth: int) -> None:
        pass


@dataclass(frozen=True)
class QueuedFrame:
    """A frame taken off the queue, for a worker to run.

    Attributes:
        work: The inference to run (in a worker thread).
        future: Where the result or exception goes; it may already be cancelled by its caller.
        stream_id: The stream it belongs to, if any.
        priority: 0 to 10, higher served first.
        frame_id: The caller's identifier, opaque to the queue.
        wait_s: Seconds from submit until it was taken off the queue.
    """

    work: Callable[[], Any]
    future: asyncio.Future[Any]
    stream_id: str | None
    priority: int
    frame_id: Any
    wait_s: float


@dataclass(frozen=True)
class QueueStats:
    """A snapshot of the queue's counters.

    Attributes:
        frames_received: Every submit with a valid priority, refused ones included.
        frames_processed: Frames whose work ran to the end, including ``frames_failed``.
        frames_failed: Frames whose work raised.
        frames_dropped: Frames not run, for any reason (the sum of ``dropped_by_reason``).
        dropped_by_reason: Drops per :class:`DropReason` value, every reason present.
        depth: Frames waiting now.
        in_flight: Frames taken by a worker and not yet reported back.
        max_depth_seen: The most frames that ever waited at once.
        avg_processing_time: Mean seconds a processed frame took to run.
        avg_wait_time: Mean seconds a processed frame waited in the queue.
    """

    frames_received: int
    frames_processed: int
    frames_failed: int
    frames_dropped: int
    dropped_by_reason: dict[str, int]
    depth: int
    in_flight: int
    max_depth_seen: int
    avg_processing_time: float
    avg_wait_time: float


@dataclass(eq=False)
class _Waiting:
    work: Callable[[], Any]
    future: asyncio.Future[Any]
    stream_id: str | None
    priority: int
    frame_id: Any
    submitted_s: float
    seq: int

    def key(self) -> tuple[int, int]:
        return (-self.priority, self.seq)


@dataclass
class _Counters:
    received: int = 0
    processed: int = 0
    failed: int = 0
    dropped: dict[DropReason, int] = field(default_factory=lambda: dict.fromkeys(DropReason, 0))
    in_flight: int = 0
    max_depth: int = 0
    processing_s: float = 0.0
    wait_s: float = 0.0


class FrameQueue:
    """Frames waiting for inference: priority first, FIFO within a priority, latest per stream.

    Args:
        options: Size and age limits.
        listener: Metrics hooks; a no-op by default.
        clock: Seconds from a monotonic clock; injectable for tests.
    """

    def __init__(
        self,
        options: QueueOptions | None = None,
        *,
        listener: QueueListener | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options = options if options is not None else QueueOptions()
        self._listener: QueueListener = listener if listener is not None else NullListener()
        self._clock = clock
        self._heap: list[tuple[tuple[int, int], _Waiting]] = []
        self._by_stream: dict[str, _Waiting] = {}
        self._next_seq = 0
        self._not_empty = asyncio.Event()
        self._closed = False
        self._workers = 1
        self._counts = _Counters()

    @property
    def options(self) -> QueueOptions:
        return self._options

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def depth(self) -> int:
        """Frames waiting now (not counting those being run)."""
        return len(self._heap)

    def set_worker_count(self, workers: int) -> None:
        """Tells the queue how many workers serve it, for the ``retry_after_s`` estimate."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self._workers = workers

    def submit(
        self,
        work: Callable[[], T],
        *,
        stream_id: str | None = None,
        priority: int = DEFAULT_PRIORITY,
        frame_id: Any = None,
        arrived_at: float | None = None,
    ) -> asyncio.Future[T]:
        """Queues ``work`` and returns the future its result will be set on.

        Must be called from the queue's event loop. A frame already waiting for the same
        ``stream_id`` fails with ``superseded`` and the new one takes its place in line (so a
        stream that sends fast is not pushed to the back forever); that never counts as full.

        Args:
            work: Runs the inference; called once, in a worker thread.
            stream_id: Frames of one stream replace each other while waiting; ``None`` never does.
            priority: 0 to 10, higher served first.
            frame_id: Opaque to the queue; carried on the frame and on :class:`FrameDropped`.
            arrived_at: When the frame reached the service, on the queue's clock, if it waited
                somewhere before (a connection's own slot); its age counts from then.

        Raises:
            ValueError: ``priority`` is outside 0 to 10.
            QueueFullError: ``max_queue_size`` frames are waiting.
            FrameDropped: The queue is closed (reason ``shutdown``).
        """
        if (
            isinstance(priority, bool)
            or not isinstance(priority, int)
            or not MIN_PRIORITY <= priority <= MAX_PRIORITY
        ):
            raise ValueError(
                f"priority must be an int from {MIN_PRIORITY} to {MAX_PRIORITY}, got {priority!r}"
            )
        loop = asyncio.get_running_loop()
        self._counts.received += 1
        self._notify(self._listener.on_submit, priority)
        if self._closed:
            self._count_drop(DropReason.SHUTDOWN)
            raise FrameDropped(DropReason.SHUTDOWN, stream_id=stream_id, frame_id=frame_id)

        now = self._clock()
        older = self._by_stream.get(stream_id) if stream_id is not None else None
        if older is None and len(self._heap) >= self._options.max_queue_size:
            self._purge_unusable(now)
            if len(self._heap) >= self._options.max_queue_size:
                self._count_drop(DropReason.QUEUE_FULL)
                raise QueueFullError(self._retry_after_s(), stream_id=stream_id, frame_id=frame_id)

        future: asyncio.Future[T] = loop.create_future()
        seq = older.seq if older is not None else self._take_seq()
        born = now if arrived_at is None else min(arrived_at, now)
        frame = _Waiting(work, future, stream_id, priority, frame_id, born, seq)
        if older is not None:
            self._remove(older)
            self._fail(older, DropReason.SUPERSEDED)
        heapq.heappush(self._heap, (frame.key(), frame))
        if stream_id is not None:
            self._by_stream[stream_id] = frame
        self._depth_changed()
        self._not_empty.set()
        return future

    async def get(self) -> QueuedFrame:
        """Takes the next frame to run, waiting while the queue is empty.

        Frames older than ``max_frame_age_ms`` fail with ``stale`` (when ``drop_old_frames``) and
        frames whose caller cancelled are skipped; both are counted and never returned. The caller
        must report the frame with :meth:`record_processed` or :meth:`abandon`.

        Raises:
            QueueClosed: The queue is closed and empty.
        """
        while True:
            while self._heap:
                _, frame = heapq.heappop(self._heap)
                self._forget_stream(frame)
                self._depth_changed()
                if frame.future.done():
                    self._fail(frame, DropReason.CANCELLED)
                    continue
                wait_s = self._clock() - frame.submitted_s
                if self._is_stale(wait_s):
                    self._fail(frame, DropReason.STALE)
                    continue
                self._counts.in_flight += 1
                return QueuedFrame(
                    frame.work,
                    frame.future,
                    frame.stream_id,
                    frame.priority,
                    frame.frame_id,
                    wait_s,
                )
            if self._closed:
                raise QueueClosed("the frame queue is closed")
            self._not_empty.clear()
            await self._not_empty.wait()

    def record_processed(self, processing_s: float, wait_s: float, *, failed: bool = False) -> None:
        """Reports that a frame from :meth:`get` was run (``failed`` if its work raised)."""
        counts = self._counts
        counts.in_flight -= 1
        counts.processed += 1
        counts.failed += int(failed)
        counts.processing_s += processing_s
        counts.wait_s += wait_s
        self._notify(self._listener.on_processed, processing_s, wait_s)

    def abandon(self, frame: QueuedFrame, reason: DropReason) -> None:
        """Fails a frame from :meth:`get` that will not be run to the end (e.g. at shutdown)."""
        self._counts.in_flight -= 1
        reason = DropReason.CANCELLED if frame.future.cancelled() else reason
        if not frame.future.done():
            frame.future.set_exception(
                FrameDropped(reason, stream_id=frame.stream_id, frame_id=frame.frame_id)
            )
        self._count_drop(reason)

    def close(self) -> None:
        """Fails every waiting frame with ``shutdown`` and refuses new ones. Idempotent.

        Frames already taken by a worker are not touched; ``get()`` raises :class:`QueueClosed`.
        """
        if self._closed:
            return
        self._closed = True
        waiting = [frame for _, frame in sorted(self._heap)]
        self._heap.clear()
        self._by_stream.clear()
        for frame in waiting:
            self._fail(frame, DropReason.SHUTDOWN)
        if waiting:
            self._depth_changed()
        self._not_empty.set()

    def stats(self) -> QueueStats:
        """The counters now."""
        counts = self._counts
        processed = counts.processed
        return QueueStats(
            frames_received=counts.received,
            frames_processed=processed,
            frames_failed=counts.failed,
            frames_dropped=sum(counts.dropped.values()),
            dropped_by_reason={reason.value: n for reason, n in counts.dropped.items()},
            depth=len(self._heap),
            in_flight=counts.in_flight,
            max_depth_seen=counts.max_depth,
            avg_processing_time=counts.processing_s / processed if processed else 0.0,
            avg_wait_time=counts.wait_s / processed if processed else 0.0,
        )

    def _retry_after_s(self) -> float:
        stats = self.stats()
        estimate = stats.avg_processing_time * stats.depth / self._workers
        return max(MIN_RETRY_AFTER_S, estimate)

    def _is_stale(self, age_s: float) -> bool:
        return self._options.drop_old_frames and age_s * 1000.0 > self._options.max_frame_age_ms

    def _purge_unusable(self, now: float) -> None:
        """Before refusing a frame, drops the waiting ones that ``get()`` would drop anyway."""
        for _, frame in list(self._heap):
            if frame.future.done():
                self._remove(frame)
                self._fail(frame, DropReason.CANCELLED)
            elif self._is_stale(now - frame.submitted_s):
                self._remove(frame)
                self._fail(frame, DropReason.STALE)

    def _take_seq(self) -> int:
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def _remove(self, frame: _Waiting) -> None:
        # Linear in depth, which max_queue_size keeps small.
        self._heap = [entry for entry in self._heap if entry[1] is not frame]
        heapq.heapify(self._heap)
        self._forget_stream(frame)

    def _forget_stream(self, frame: _Waiting) -> None:
        if frame.stream_id is not None and self._by_stream.get(frame.stream_id) is frame:
            del self._by_stream[frame.stream_id]

    def _fail(self, frame: _Waiting, reason: DropReason) -> None:
        if frame.future.cancelled():
            reason = DropReason.CANCELLED
        elif not frame.future.done():
            frame.future.set_exception(
                FrameDropped(reason, stream_id=frame.stream_id, frame_id=frame.frame_id)
            )
        self._count_drop(reason)

    def _count_drop(self, reason: DropReason) -> None:
        self._counts.dropped[reason] += 1
        self._notify(self._listener.on_drop, reason)

    def _depth_changed(self) -> None:
        depth = len(self._heap)
        self._counts.max_depth = max(self._counts.max_depth, depth)
        self._notify(self._listener.on_depth, depth)

    def _notify(self, hook: Callable[..., None], *args: Any) -> None:
        # A broken metrics hook must not lose a frame half-way through a state change.
        try:
            hook(*args)
        except Exception:
            logger.exception("frame queue listener %s failed", getattr(hook, "__name__", hook))
