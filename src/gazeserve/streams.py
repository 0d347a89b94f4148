"""Per-stream state: everything one camera stream carries from frame to frame, and nothing else.

One engine serves many streams and threads; a `StreamState` is the only place where a frame's
results influence the next frame (the tracking ROI now; filters and calibration later).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from gazeserve.stream_signals import StreamSignals
from gazeserve.vision.roi import RotatedRect

STREAM_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
"""Client-chosen stream ids: short, printable, safe in logs and URLs."""


class StreamOrderError(ValueError):
    """A frame's timestamp is older than the stream's previous frame."""


@dataclass(frozen=True)
class _StreamClock:
    t_s: float
    """The stream's time at its last frame."""
    server_s: float
    """`time.monotonic()` at that frame."""
    offset_s: float
    """Added to client timestamps (s) to put them on the stream's clock."""
    client: bool
    """The last frame carried a client timestamp."""


@dataclass
class StreamState:
    """Tracking state of one stream. Frames of one stream are processed one at a time."""

    stream_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    roi: RotatedRect | None = None
    """Face ROI predicted from the previous frame's landmarks; None when not tracking."""
    last_timestamp_ms: float | None = None
    frames: int = 0
    detector_runs: int = 0
    signals: StreamSignals = field(default_factory=StreamSignals, repr=False, compare=False)
    """Smoothing, events, quality baseline and calibration of this stream."""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _clock: _StreamClock | None = field(default=None, repr=False, compare=False)

    def frame_time_s(self, timestamp_ms: float | None) -> float:
        """This frame's time on the stream's clock, in seconds; it never goes back.

        The client's timestamps when it sends them, else the server's monotonic time. When a
        stream switches between the two, the new one is offset to carry on from where the
        stream's time was, so filters and event detectors see one continuous clock.
        """
        t_s = self.stream_time_s(timestamp_ms)
        now = time.monotonic()
        if self._clock is not None:
            t_s = max(t_s, self._clock.t_s)
        offset = self._clock.offset_s if self._clock is not None else 0.0
        if timestamp_ms is not None and (self._clock is None or not self._clock.client):
            offset = t_s - timestamp_ms / 1000.0
        self._clock = _StreamClock(t_s, now, offset, timestamp_ms is not None)
        return t_s

    def stream_time_s(self, timestamp_ms: float | None) -> float:
        """Where a client time (or now, for None) falls on the stream's clock; changes nothing."""
        now = time.monotonic()
        clock = self._clock
        if clock is None:
            return now if timestamp_ms is None else timestamp_ms / 1000.0
        if timestamp_ms is None:
            return clock.t_s + (now - clock.server_s)
        if clock.client:
            return timestamp_ms / 1000.0 + clock.offset_s
        return clock.t_s + (now - clock.server_s)  # first client time: continue from here

    def check_timestamp(self, timestamp_ms: float | None) -> None:
        if timestamp_ms is None:
            return
        if self.last_timestamp_ms is not None and timestamp_ms < self.last_timestamp_ms:
            raise StreamOrderError(
                f"frame timestamp {timestamp_ms} ms is older than the stream's previous frame "
                f"({self.last_timestamp_ms} ms); timestamps of one stream must not go back"
            )
        self.last_timestamp_ms = timestamp_ms

    def reset_tracking(self) -> None:
        self.roi = None


class StreamRegistry:
    """Streams by id, evicted after `ttl_s` idle and capped at `max_streams` (oldest first).

    Memory per stream is small (an ROI, counters, later filters), so the cap bounds memory even
    when clients invent a new id per request.
    """

    def __init__(self, ttl_s: float = 300.0, max_streams: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        if max_streams < 1:
            raise ValueError(f"max_streams must be >= 1, got {max_streams}")
        self.ttl_s = ttl_s
        self.max_streams = max_streams
        self._clock = clock
        self._streams: OrderedDict[str, tuple[StreamState, float]] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0

    def get(self, stream_id: str) -> StreamState:
        """The stream with this id, created when new; marks it used now."""
        now = self._clock()
        with self._lock:
            self._evict_idle(now)
            entry = self._streams.pop(stream_id, None)
            state = entry[0] if entry else StreamState(stream_id)
            self._streams[stream_id] = (state, now)
            while len(self._streams) > self.max_streams:
                self._streams.popitem(last=False)
                self.evicted += 1
            return state

    def remove(self, stream_id: str) -> None:
        with self._lock:
            self._streams.pop(stream_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._evict_idle(self._clock())
            return len(self._streams)

    def _evict_idle(self, now: float) -> None:
        while self._streams:
            _, (_, last_used) = next(iter(self._streams.items()))
            if now - last_used <= self.ttl_s:
                break
            self._streams.popitem(last=False)
            self.evicted += 1
