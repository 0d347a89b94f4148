"""`WS /v1/stream` from the client's side, without I/O: frames out, events in, and the count of
frames in flight that the sync and async loops use for backpressure.

The service holds one frame per connection in work and one waiting; a newer frame replaces the
waiting one (latest wins, reported as dropped). `max_in_flight=1` never loses a frame to
replacement but leaves the service idle for every round trip; 2 (the default) keeps it busy and
loses a frame only when the next one arrives before the service took up the one waiting. Every
frame sent is answered exactly once: by a result, a drop or an error.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import orjson

from gazeserve.client.errors import GazeProtocolError
from gazeserve.client.images import ImageInput, encoded_image
from gazeserve.client.parsing import result_from_dict
from gazeserve.client.wire import Coordinates, LandmarksInput, dumps, landmarks_body
from gazeserve.results import GazeResult

FrameId: TypeAlias = int | str


@dataclass(frozen=True)
class Frame:
    """An image to stream, with the metadata the service keeps for it.

    Attributes:
        image: Encoded bytes, a path, or an RGB uint8 array.
        timestamp_ms: Capture time; must not go back in time within a stream.
        frame_id: Echoed in the frame's answer; the client numbers frames 0, 1, ... otherwise.
    """

    image: ImageInput
    timestamp_ms: float | None = None
    frame_id: FrameId | None = None


@dataclass(frozen=True)
class LandmarksFrame:
    """A face's landmarks to stream instead of its image (see `analyze_landmarks`)."""

    landmarks: LandmarksInput
    width: int
    height: int
    coordinates: Coordinates = "normalized"
    timestamp_ms: float | None = None
    frame_id: FrameId | None = None


StreamItem: TypeAlias = Frame | LandmarksFrame | ImageInput
"""What a stream accepts: a `Frame`, a `LandmarksFrame`, or a bare image."""


@dataclass(frozen=True)
class StreamResult:
    """The service's result for one frame.

    Attributes:
        server_ms: From the frame's arrival at the service to its result.
        wait_ms: The part of `server_ms` spent waiting for a worker.
        round_trip_ms: From sending the frame to receiving this result, on the client's clock.
    """

    frame_id: FrameId
    result: GazeResult
    server_ms: float
    wait_ms: float
    round_trip_ms: float


@dataclass(frozen=True)
class DroppedFrames:
    """Frames the service dropped unprocessed: `superseded` (a newer frame replaced it), `stale`
    (it waited longer than MAX_FRAME_AGE_MS), `queue_full`, ..."""

    frame_ids: tuple[FrameId, ...]
    reason: str


@dataclass(frozen=True)
class StreamError:
    """An error the service reported on the socket; `frame_id` is None for a control message.

    The socket stays open: the stream goes on with the next frame.
    """

    frame_id: FrameId | None
    code: str
    message: str


StreamEvent: TypeAlias = StreamResult | DroppedFrames | StreamError


@dataclass(frozen=True)
class StreamOptions:
    """How one stream is run.

    Attributes:
        max_in_flight: Frames sent and not yet answered, at most; the next frame is taken from
            the source only when there is room. 1: nothing is replaced, the service waits for
            each frame; 2: the service stays busy.
        include_landmarks: Ask for the 478 landmarks in every result.
        priority: The stream's queue priority (0-10, higher first); the service's default if None.
    """

    max_in_flight: int = 2
    include_landmarks: bool = False
    priority: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_in_flight, bool) or not isinstance(self.max_in_flight, int) \
                or self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be an int >= 1, got {self.max_in_flight!r}")
        if self.priority is not None and (isinstance(self.priority, bool)
                                          or not isinstance(self.priority, int)
                                          or not 0 <= self.priority <= 10):
            raise ValueError(f"priority must be an int from 0 to 10, got {self.priority!r}")


@dataclass(frozen=True)
class PreparedFrame:
    """A stream item encoded for the wire (the costly part, safe to do off the event loop)."""

    image: bytes | None
    landmarks: dict[str, Any] | None
    timestamp_ms: float | None
    frame_id: FrameId | None


def prepare_frame(item: StreamItem, jpeg_quality: int) -> PreparedFrame:
    """Encodes one stream item; raises like `analyze` on a bad image."""
    if isinstance(item, LandmarksFrame):
        body = landmarks_body(item.landmarks, item.width, item.height, item.coordinates,
                              None, None)
        return PreparedFrame(None, body, item.timestamp_ms, item.frame_id)
    if isinstance(item, Frame):
        data, _ = encoded_image(item.image, jpeg_quality)
        return PreparedFrame(data, None, item.timestamp_ms, item.frame_id)
    data, _ = encoded_image(item, jpeg_quality)
    return PreparedFrame(data, None, None, None)


def needs_thread(item: StreamItem) -> bool:
    """Whether preparing the item is CPU work worth moving off the event loop (a JPEG encode)."""
    image = item.image if isinstance(item, Frame) else item
    return isinstance(image, np.ndarray)


class StreamSession:
    """The bookkeeping of one stream: frame ids, frames in flight, messages to events."""

    def __init__(self, options: StreamOptions,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self._clock = clock
        self._sent_at: dict[FrameId, float] = {}
        self._numbers = itertools.count()

    @property
    def in_flight(self) -> int:
        return len(self._sent_at)

    @property
    def has_room(self) -> bool:
        return self.in_flight < self.options.max_in_flight

    def opening_messages(self) -> list[str]:
        """The `config` message, when the stream asks for anything but the defaults."""
        config: dict[str, Any] = {}
        if self.options.include_landmarks:
            config["include_landmarks"] = True
        if self.options.priority is not None:
            config["priority"] = self.options.priority
        return [orjson.dumps({"type": "config", **config}).decode()] if config else []

    def frame_messages(self, frame: PreparedFrame) -> list[str | bytes]:
        """The messages that send one frame; the frame counts as in flight from here on."""
        frame_id = frame.frame_id if frame.frame_id is not None else self._next_id()
        if frame_id in self._sent_at:
            raise ValueError(f"frame_id {frame_id!r} is already in flight")
        if frame.landmarks is not None:
            message: dict[str, Any] = {"type": "landmarks", "frame_id": frame_id,
                                       **frame.landmarks}
            if frame.timestamp_ms is not None:
                message["timestamp_ms"] = frame.timestamp_ms
            out: list[str | bytes] = [dumps(message).decode()]
        else:
            assert frame.image is not None
            meta: dict[str, Any] = {"type": "frame", "frame_id": frame_id}
            if frame.timestamp_ms is not None:
                meta["timestamp_ms"] = frame.timestamp_ms
            out = [orjson.dumps(meta).decode(), frame.image]
        self._sent_at[frame_id] = self._clock()
        return out

    def on_message(self, message: str | bytes) -> StreamEvent | None:
        """The event a service message carries (None for acknowledgements and pongs); answered
        frames stop counting as in flight."""
        try:
            payload = orjson.loads(message)
        except orjson.JSONDecodeError:
            raise GazeProtocolError("the service sent a message that is not JSON") from None
        if not isinstance(payload, dict):
            raise GazeProtocolError("the service sent a message that is not a JSON object")
        kind = payload.get("type")
        if kind == "result":
            frame_id = payload.get("frame_id")
            if not isinstance(frame_id, (int, str)):
                raise GazeProtocolError(f"a result without a frame id: {frame_id!r}")
            sent_at = self._answered(frame_id)
            return StreamResult(
                frame_id=frame_id, result=result_from_dict(payload),
                server_ms=float(payload.get("server_ms", 0.0)),
                wait_ms=float(payload.get("wait_ms", 0.0)),
                round_trip_ms=(self._clock() - sent_at) * 1000.0 if sent_at is not None
                else float("nan"))
        if kind == "dropped":
            ids = tuple(payload.get("frame_ids") or ())
            for frame_id in ids:
                self._answered(frame_id)
            return DroppedFrames(ids, str(payload.get("reason", "unknown")))
        if kind == "error":
            frame_id = payload.get("frame_id")
            if frame_id is not None:
                self._answered(frame_id)
            error = payload.get("error") or {}
            return StreamError(frame_id, str(error.get("code", "error")),
                               str(error.get("message", "")))
        return None  # config acknowledgement, pong, or a message type newer than this client

    def _answered(self, frame_id: Any) -> float | None:
        if isinstance(frame_id, (int, str)):
            return self._sent_at.pop(frame_id, None)
        return None

    def _next_id(self) -> int:
        while True:
            candidate = next(self._numbers)
            if candidate not in self._sent_at:
                return candidate
