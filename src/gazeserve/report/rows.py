"""The rows of a session report: one per frame and face (`frames.csv`), one per event
(`events.csv`), with their CSV columns.

Column names carry their unit (`_s`, `_ms`, `_deg`, `_px`, `_mm`); `docs/report.md` describes
each. Values are rounded as the JSON result rounds them, once, here: the summary is computed from
these rounded values, so it agrees exactly with what the CSV files say.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from gazeserve.results import AttentionState, EyeResult, FaceResult, Point2

FRAME_COLUMNS: Final = (
    "frame_index", "time_s", "face_index", "face_found", "face_score",
    "box_x_min_px", "box_y_min_px", "box_x_max_px", "box_y_max_px",
    "head_yaw_deg", "head_pitch_deg", "head_roll_deg", "head_x_mm", "head_y_mm", "head_z_mm",
    "gaze_yaw_deg", "gaze_pitch_deg",
    "right_eye_dx", "right_eye_dy", "right_eye_openness", "right_eye_closed",
    "left_eye_dx", "left_eye_dy", "left_eye_openness", "left_eye_closed",
    "on_screen", "attention_score", "attention_state", "quality_confidence", "quality_flags",
    "screen_x_px", "screen_y_px",
)
"""Columns of `frames.csv`. Image sets (and `--format csv` on stdout) put `source` first."""
SOURCE_COLUMN: Final = "source"

EVENT_COLUMNS: Final = (
    "event", "face_index", "start_s", "end_s", "duration_ms", "min_openness",
    "gaze_yaw_deg", "gaze_pitch_deg", "dispersion_deg", "samples", "screen_x_px", "screen_y_px",
)
"""Columns of `events.csv`: blinks, fixations, and on-screen / off-screen spans."""


class EventKind:
    """The values of `events.csv`'s `event` column."""

    BLINK: Final = "blink"
    FIXATION: Final = "fixation"
    ON_SCREEN: Final = "on_screen"
    OFF_SCREEN: Final = "off_screen"


@dataclass(frozen=True)
class EyeValues:
    dx: float | None
    dy: float | None
    openness: float
    closed: bool


@dataclass(frozen=True)
class FaceValues:
    """One face of one frame, rounded as written."""

    face_index: int
    score: float
    box_px: tuple[float, float, float, float]
    head_pose_deg: tuple[float, float, float]
    """(yaw, pitch, roll)."""
    head_position_mm: tuple[float, float, float]
    gaze_deg: tuple[float, float]
    """(yaw, pitch)."""
    right_eye: EyeValues
    left_eye: EyeValues
    on_screen: bool
    attention_score: float
    attention_state: AttentionState
    quality_confidence: float | None
    quality_flags: tuple[str, ...]
    screen_point_px: Point2 | None

    @property
    def eyes_closed(self) -> bool:
        """Both eyes closed: the irises are hidden and the gaze of the frame means nothing."""
        return self.right_eye.closed and self.left_eye.closed

    @classmethod
    def of(cls, face: FaceResult, face_index: int) -> FaceValues:
        pose, gaze = face.head_pose, face.gaze
        point = gaze.screen_point_px
        return cls(
            face_index=face_index,
            score=_r(face.score, 4),
            box_px=(_r(face.box_px[0], 1), _r(face.box_px[1], 1), _r(face.box_px[2], 1),
                    _r(face.box_px[3], 1)),
            head_pose_deg=(_r(pose.yaw_deg, 2), _r(pose.pitch_deg, 2), _r(pose.roll_deg, 2)),
            head_position_mm=(_r(face.head_translation_mm[0], 1),
                              _r(face.head_translation_mm[1], 1),
                              _r(face.head_translation_mm[2], 1)),
            gaze_deg=(_r(gaze.yaw_deg, 2), _r(gaze.pitch_deg, 2)),
            right_eye=_eye(face.right_eye),
            left_eye=_eye(face.left_eye),
            on_screen=bool(face.on_screen),
            attention_score=_r(face.attention.score, 3),
            attention_state=face.attention.state,
            quality_confidence=None if face.quality is None else _r(face.quality.confidence, 3),
            quality_flags=() if face.quality is None else tuple(f.value for f in
                                                                face.quality.flags),
            screen_point_px=None if point is None else (_r(point[0], 1), _r(point[1], 1)),
        )


@dataclass(frozen=True)
class FrameRow:
    """One row of `frames.csv`: a face of a frame, or the frame itself when it has none."""

    frame_index: int
    time_s: float | None
    """Seconds from the video's start; None for images."""
    face: FaceValues | None
    source: str | None = None
    """The image's path (image sets) or the input's (`--format csv` on stdout)."""

    @property
    def attention_state(self) -> AttentionState:
        return AttentionState.NO_FACE if self.face is None else self.face.attention_state

    @property
    def on_screen(self) -> bool:
        """A frame without a face counts as off the screen, as the stream's events count it."""
        return self.face is not None and self.face.on_screen

    def cells(self, with_source: bool = False) -> list[str]:
        """The row's CSV cells in `FRAME_COLUMNS` order (`source` first when asked)."""
        values = self.values()
        head = [self.source or ""] if with_source else []
        return head + [_cell(values.get(name)) for name in FRAME_COLUMNS]

    def values(self) -> dict[str, float | int | str | None]:
        """Column name to value; a column that does not apply is absent (an empty cell)."""
        out: dict[str, float | int | str | None] = {
            "frame_index": self.frame_index, "time_s": self.time_s,
            "face_found": int(self.face is not None), "on_screen": int(self.on_screen),
            "attention_state": self.attention_state.value,
        }
        f = self.face
        if f is None:
            return out
        out.update({
            "face_index": f.face_index, "face_score": f.score,
            **dict(zip(("box_x_min_px", "box_y_min_px", "box_x_max_px", "box_y_max_px"),
                       f.box_px, strict=True)),
            **dict(zip(("head_yaw_deg", "head_pitch_deg", "head_roll_deg"), f.head_pose_deg,
                       strict=True)),
            **dict(zip(("head_x_mm", "head_y_mm", "head_z_mm"), f.head_position_mm,
                       strict=True)),
            "gaze_yaw_deg": f.gaze_deg[0], "gaze_pitch_deg": f.gaze_deg[1],
            **_eye_values("right_eye", f.right_eye), **_eye_values("left_eye", f.left_eye),
            "attention_score": f.attention_score, "quality_confidence": f.quality_confidence,
            "quality_flags": ";".join(f.quality_flags),
        })
        if f.screen_point_px is not None:
            out["screen_x_px"], out["screen_y_px"] = f.screen_point_px
        return out


def frame_rows(frame_index: int, time_s: float | None, faces: Sequence[FaceResult],
               face_indices: Sequence[int], source: str | None = None) -> list[FrameRow]:
    """The rows of one frame: one per face (in the order given), or one saying there was none."""
    if not faces:
        return [FrameRow(frame_index, time_s, None, source)]
    return [FrameRow(frame_index, time_s, FaceValues.of(face, index), source)
            for face, index in zip(faces, face_indices, strict=True)]


@dataclass(frozen=True)
class EventRow:
    """One row of `events.csv`. Fields that do not apply to the event's kind are None."""

    event: str
    face_index: int
    start_s: float
    end_s: float
    duration_ms: float
    min_openness: float | None = None
    gaze_deg: tuple[float, float] | None = None
    dispersion_deg: float | None = None
    samples: int | None = None
    screen_point_px: Point2 | None = None

    def cells(self) -> list[str]:
        gaze = self.gaze_deg or (None, None)
        point = self.screen_point_px or (None, None)
        return [self.event, str(self.face_index), _cell(self.start_s), _cell(self.end_s),
                _cell(self.duration_ms), _cell(self.min_openness), _cell(gaze[0]),
                _cell(gaze[1]), _cell(self.dispersion_deg), _cell(self.samples),
                _cell(point[0]), _cell(point[1])]


def event_row(face_index: int, event: dict[str, Any]) -> EventRow | None:
    """The row of a completed blink or fixation (a dict of `gazeserve.gaze.events`); None for
    on/off-screen transitions, which `ScreenSpans` turns into spans."""
    kind = event.get("event")
    start_s, end_s = _s(event.get("t_ms")), _s(event.get("end_ms"))
    if kind == EventKind.BLINK:
        return EventRow(kind, face_index, start_s, end_s, _r(event["duration_ms"], 1),
                        min_openness=_r(event["min_openness"], 3))
    if kind == EventKind.FIXATION:
        point = event.get("screen_point_px")
        return EventRow(kind, face_index, start_s, end_s, _r(event["duration_ms"], 1),
                        gaze_deg=(_r(event["yaw_deg"], 2), _r(event["pitch_deg"], 2)),
                        dispersion_deg=_r(event["dispersion_deg"], 3),
                        samples=int(event["samples"]),
                        screen_point_px=None if point is None else (_r(point[0], 1),
                                                                    _r(point[1], 1)))
    return None


class ScreenSpans:
    """Turns on/off-screen transitions (each says when a new state began) into spans: a state
    lasts until the next transition of the same face, or until that face's track ends.

    Holds one open span per face: memory does not grow with the recording's length.
    """

    def __init__(self) -> None:
        self._open: dict[int, tuple[str, float]] = {}

    def transition(self, face_index: int, event: dict[str, Any]) -> EventRow | None:
        """Feeds one event; the span it closed, if any (None for blinks and fixations)."""
        kind = event.get("event")
        if kind not in (EventKind.ON_SCREEN, EventKind.OFF_SCREEN):
            return None
        start_s = _s(event.get("t_ms"))
        closed = self.close(face_index, start_s)
        self._open[face_index] = (str(kind), start_s)
        return closed

    def close(self, face_index: int, end_s: float) -> EventRow | None:
        """Ends the face's open span at `end_s` (the track ended, or the recording did)."""
        span = self._open.pop(face_index, None)
        if span is None:
            return None
        kind, start_s = span
        end_s = max(end_s, start_s)
        return EventRow(kind, face_index, start_s, _r(end_s, 3),
                        _r(1000.0 * (end_s - start_s), 1))

    def close_all(self, end_s: float) -> list[EventRow]:
        return [row for index in sorted(self._open) if (row := self.close(index, end_s))]


def _eye(eye: EyeResult) -> EyeValues:
    d = eye.displacement
    return EyeValues(None if d is None else _r(d[0], 3), None if d is None else _r(d[1], 3),
                     _r(eye.openness, 3), bool(eye.closed))


def _eye_values(prefix: str, eye: EyeValues) -> dict[str, float | int | None]:
    return {f"{prefix}_dx": eye.dx, f"{prefix}_dy": eye.dy,
            f"{prefix}_openness": eye.openness, f"{prefix}_closed": int(eye.closed)}


def _r(value: float, ndigits: int) -> float:
    return round(float(value), ndigits)


def _s(t_ms: object) -> float:
    """An event's time (ms, as `gazeserve.gaze.events` gives it) in seconds, as written."""
    return round(float(t_ms) / 1000.0, 4) if isinstance(t_ms, int | float) else 0.0


def _cell(value: float | int | str | None) -> str:
    return "" if value is None else str(value)
