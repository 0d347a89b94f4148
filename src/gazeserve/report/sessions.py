"""Frames of one input through the engine, each face with an index that keeps meaning one person.

A video with `max_faces == 1` is one engine stream (tracking, smoothing, quality and events, as
the service gives them), its face index always 0. With `max_faces > 1` a stream cannot help (it
follows one face), so each frame is processed as a single image and `FaceTracker` matches its
faces to the previous frames' by position; each track then gets its own `StreamSignals`, the same
calibration, smoothing, quality and events a stream applies after the geometry. Images are
processed one by one, each face indexed by its position in the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gazeserve.gaze.events import Event
from gazeserve.report.tracks import FaceTracker, TrackerOptions
from gazeserve.stream_signals import StreamSignals

if TYPE_CHECKING:
    from gazeserve.gaze.calibration import Calibration
    from gazeserve.imaging.video import VideoFrame
    from gazeserve.pipeline import GazeEngine
    from gazeserve.results import FaceResult, GazeResult


class UnreadableInputError(Exception):
    """An input file could not be read (missing, a folder, no permission)."""


@dataclass(frozen=True)
class FaceEvent:
    """A stream event (a dict of `gazeserve.gaze.events`) of one face."""

    face_index: int
    event: Event


@dataclass(frozen=True)
class AnalyzedFrame:
    """One frame (or image) as the report and the per-frame outputs see it."""

    source: str
    index: int
    """The frame's position in the video, or the image's in its set."""
    time_ms: float | None
    """Presentation time from the video's start; None for images."""
    result: GazeResult
    """Faces in `face_indices` order, as the stream (or the track's signals) gives them."""
    face_indices: tuple[int, ...]
    events: tuple[FaceEvent, ...] = ()
    """Events that completed with this frame."""
    ended: tuple[int, ...] = ()
    """Face tracks that ended with this frame."""
    indexed: bool = False
    """Faces were matched across frames (`max_faces > 1` on a video): the JSON form then names
    each face's and each event's `face_index`."""

    def to_record(self, include_landmarks: bool) -> dict[str, Any]:
        """The JSON line of `gazeserve analyze`: the result with "source" (and "frame_index")."""
        record: dict[str, Any] = {"source": self.source}
        if self.time_ms is not None:
            record["frame_index"] = self.index
        record.update(self.result.to_dict(include_landmarks=include_landmarks))
        if self.indexed:
            for face, index in zip(record["faces"], self.face_indices, strict=True):
                face["face_index"] = index
            record["events"] = [{**e.event, "face_index": e.face_index} for e in self.events]
        return record


class VideoSession(Protocol):
    def process(self, frame: VideoFrame) -> AnalyzedFrame: ...

    def finish(self) -> list[FaceEvent]:
        """At the video's end: the events still in progress (a fixation)."""
        ...


def video_session(engine: GazeEngine, source: str, max_faces: int,
                  calibration: Calibration | None, include_landmarks: bool = False
                  ) -> VideoSession:
    """The session for one video: one stream, or per-frame faces matched by position."""
    if max_faces == 1:
        return StreamSession(engine, source, calibration, include_landmarks)
    return MultiFaceSession(engine, source, max_faces, calibration, include_landmarks)


class StreamSession:
    """A video as one engine stream (tracking carries from frame to frame)."""

    def __init__(self, engine: GazeEngine, source: str, calibration: Calibration | None,
                 include_landmarks: bool) -> None:
        self._engine = engine
        self._source = source
        self._include_landmarks = include_landmarks
        self._stream = engine.new_stream()
        self._stream.signals.calibration = calibration

    def process(self, frame: VideoFrame) -> AnalyzedFrame:
        result = self._engine.process(frame.rgb, stream=self._stream,
                                      timestamp_ms=frame.timestamp_ms,
                                      include_landmarks=self._include_landmarks)
        events = tuple(FaceEvent(0, e) for e in result.events)
        return AnalyzedFrame(self._source, frame.index, frame.timestamp_ms, result,
                             (0,) * len(result.faces), events)

    def finish(self) -> list[FaceEvent]:
        return [FaceEvent(0, e) for e in self._stream.signals.events.flush()]


class MultiFaceSession:
    """A video's frames as single images of up to `max_faces` faces, matched by position."""

    def __init__(self, engine: GazeEngine, source: str, max_faces: int,
                 calibration: Calibration | None, include_landmarks: bool,
                 tracker: TrackerOptions | None = None) -> None:
        self._engine = engine
        self._source = source
        self._max_faces = max_faces
        self._calibration = calibration
        self._include_landmarks = include_landmarks
        self._tracker = FaceTracker(tracker)
        self._signals: dict[int, StreamSignals] = {}

    def process(self, frame: VideoFrame) -> AnalyzedFrame:
        result = self._engine.process(frame.rgb, timestamp_ms=frame.timestamp_ms,
                                      include_landmarks=self._include_landmarks,
                                      max_faces=self._max_faces)
        t_s = frame.timestamp_ms / 1000.0
        size = (result.frame.width, result.frame.height)
        match = self._tracker.assign([f.box_px for f in result.faces], t_s)
        faces: list[tuple[int, FaceResult]] = []
        events: list[FaceEvent] = []
        for face, index in zip(result.faces, match.indices, strict=True):
            signals = self._signals.setdefault(index, StreamSignals(calibration=self._calibration))
            observed, done = signals.observe(face, frame.rgb, size, t_s)
            if observed is not None:
                faces.append((index, observed))
            events += (FaceEvent(index, e) for e in done)
        for index in match.missing:
            _, done = self._signals[index].observe(None, None, size, t_s)
            events += (FaceEvent(index, e) for e in done)
        for index in match.ended:
            events += self._end(index)
        faces.sort(key=lambda pair: pair[0])
        stream_result = replace(result, faces=[f for _, f in faces],
                                events=[e.event for e in events])
        return AnalyzedFrame(self._source, frame.index, frame.timestamp_ms, stream_result,
                             tuple(i for i, _ in faces), tuple(events), match.ended,
                             indexed=True)

    def finish(self) -> list[FaceEvent]:
        events: list[FaceEvent] = []
        for index in self._tracker.end_all():
            events += self._end(index)
        return events

    def _end(self, index: int) -> list[FaceEvent]:
        signals = self._signals.pop(index, None)
        return [] if signals is None else [FaceEvent(index, e) for e in signals.events.flush()]


class ImageSession:
    """Images one by one (no tracking); with a calibration, each face gets its screen point."""

    def __init__(self, engine: GazeEngine, max_faces: int, calibration: Calibration | None,
                 include_landmarks: bool = False) -> None:
        self._engine = engine
        self._max_faces = max_faces
        self._calibration = calibration
        self._include_landmarks = include_landmarks

    def process(self, path: Path, index: int) -> AnalyzedFrame:
        """Raises:
        UnreadableInputError: the file cannot be read.
        gazeserve.imaging.ImageDecodeError: its bytes are not an image gazeserve decodes.
        """
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UnreadableInputError(exc.strerror or str(exc)) from exc
        result = self._engine.process_bytes(data, include_landmarks=self._include_landmarks,
                                            max_faces=self._max_faces)
        if self._calibration is not None:
            size = (result.frame.width, result.frame.height)
            faces = [self._calibrated(face, size) for face in result.faces]
            result = replace(result, faces=faces)
        return AnalyzedFrame(str(path), index, None, result, tuple(range(len(result.faces))))

    def _calibrated(self, face: FaceResult, size: tuple[int, int]) -> FaceResult:
        # A fresh stream's signals: its first frame passes the smoother unchanged, so this is the
        # calibration step of a stream (screen point, on-screen judged from it) and nothing else.
        observed, _ = StreamSignals(calibration=self._calibration).observe(face, None, size, 0.0)
        return observed or face
