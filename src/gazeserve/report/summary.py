"""A recording's figures, accumulated row by row, and its `summary.json`.

Everything is computed from the rows as written (`gazeserve.report.rows`), so each figure can be
recomputed from `frames.csv` and `events.csv`:

- shares (`on_screen_share`, `attention.share_by_state`) are shares of `frames.csv` rows: one
  row per face found, one `no_face` row for a frame without any (off the screen);
- `frame_interval_s` is the mean time between frames, `duration_s` = frames x interval;
- blink rate = blinks / (rows with a face x interval) per minute: blinks per minute of a face in
  view (per face, with several);
- head-pose and gaze figures are over the rows with a face.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from gazeserve.report.aggregate import (
    Histogram2D,
    SpanSample,
    TimeBins,
    gaze_angle_histogram,
    screen_histogram,
)
from gazeserve.report.rows import EventKind, EventRow, FrameRow
from gazeserve.results import AttentionState

SCHEMA: Final = "gazeserve.report.v1"
TIMELINE_BIN_S: Final = 0.1
"""Starting width of the timeline's bins for videos (they widen on long videos)."""


class SourceKind(enum.StrEnum):
    VIDEO = "video"
    IMAGES = "images"


@dataclass(frozen=True)
class SourceInfo:
    """What the report is about."""

    kind: SourceKind
    source: str
    fps: float = 0.0
    """Nominal frame rate of a video (0.0 when unknown or for images)."""
    width: int | None = None
    height: int | None = None
    max_faces: int = 1
    calibrated: bool = False
    screen_px: tuple[int, int] | None = None
    """The calibration screen's size, when calibrated."""


@dataclass
class Range:
    """Minimum, maximum and mean of a series, kept as it streams."""

    n: int = 0
    total: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.lo = min(self.lo, value)
        self.hi = max(self.hi, value)

    def to_dict(self) -> dict[str, float] | None:
        if not self.n:
            return None
        return {"min": self.lo, "max": self.hi, "mean": round(self.total / self.n, 2)}


@dataclass
class FaceStats:
    """The figures of one face index (or of all faces pooled)."""

    rows: int = 0
    on_screen: int = 0
    states: dict[AttentionState, int] = field(
        default_factory=lambda: dict.fromkeys(AttentionState, 0))
    score: Range = field(default_factory=Range)
    confidence: Range = field(default_factory=Range)
    head: tuple[Range, Range, Range] = field(default_factory=lambda: (Range(), Range(), Range()))
    gaze: tuple[Range, Range] = field(default_factory=lambda: (Range(), Range()))
    first_s: float | None = None
    last_s: float | None = None
    blinks: int = 0
    blink_ms: float = 0.0
    fixations: int = 0
    fixation_ms: float = 0.0

    def add_row(self, row: FrameRow) -> None:
        self.rows += 1
        self.on_screen += row.on_screen
        self.states[row.attention_state] += 1
        f = row.face
        if f is None:
            return
        if row.time_s is not None:
            self.first_s = row.time_s if self.first_s is None else self.first_s
            self.last_s = row.time_s
        self.score.add(f.attention_score)
        if f.quality_confidence is not None:
            self.confidence.add(f.quality_confidence)
        for r, v in zip(self.head, f.head_pose_deg, strict=True):
            r.add(v)
        if not f.eyes_closed:
            for r, v in zip(self.gaze, f.gaze_deg, strict=True):
                r.add(v)

    def add_event(self, event: EventRow) -> None:
        if event.event == EventKind.BLINK:
            self.blinks += 1
            self.blink_ms += event.duration_ms
        elif event.event == EventKind.FIXATION:
            self.fixations += 1
            self.fixation_ms += event.duration_ms

    def to_dict(self, face_rows: int, interval_s: float | None, events: bool) -> dict[str, Any]:
        """The face's figures; `face_rows` rows had this face (its time in view)."""
        out: dict[str, Any] = {
            "on_screen_share": _share(self.on_screen, self.rows),
            "attention": {
                "mean_score": _mean(self.score),
                "share_by_state": {s.value: _share(n, self.rows) for s, n in self.states.items()},
            },
            "head_pose_deg": _ranges(("yaw", "pitch", "roll"), self.head),
            "gaze_deg": _ranges(("yaw", "pitch"), self.gaze),
            "quality": {"mean_confidence": _mean(self.confidence, 3)},
        }
        if not events:
            out["blinks"] = out["fixations"] = None
            return out
        minutes = face_rows * interval_s / 60.0 if interval_s else 0.0
        out["blinks"] = {
            "count": self.blinks,
            "rate_per_min": round(self.blinks / minutes, 2) if minutes > 0 else None,
            "mean_duration_ms": round(self.blink_ms / self.blinks, 1) if self.blinks else None,
        }
        out["fixations"] = {
            "count": self.fixations,
            "mean_duration_ms": (round(self.fixation_ms / self.fixations, 1)
                                 if self.fixations else None),
            "total_s": round(self.fixation_ms / 1000.0, 3),
        }
        return out


class SessionStats:
    """All figures of one recording (or image set), fed row by row and event by event."""

    def __init__(self, info: SourceInfo) -> None:
        self.info = info
        self.frames = 0
        self.frames_with_face = 0
        self.first_s: float | None = None
        self.last_s: float | None = None
        self.engine_ms = 0.0
        self.all = FaceStats()
        self.per_face: dict[int, FaceStats] = {}
        self.screen_s = {EventKind.ON_SCREEN: 0.0, EventKind.OFF_SCREEN: 0.0}
        video = info.kind == SourceKind.VIDEO
        self.timeline = TimeBins(TIMELINE_BIN_S if video else 1.0)
        self.gaze_angles = gaze_angle_histogram()
        self.gaze_screen: Histogram2D | None = (
            screen_histogram(*info.screen_px) if info.screen_px else None)
        self.blinks = SpanSample()
        self.max_faces_in_frame = 0

    @property
    def is_video(self) -> bool:
        return self.info.kind == SourceKind.VIDEO

    def add_frame(self, rows: Sequence[FrameRow], engine_ms: float = 0.0) -> None:
        """One frame's rows (`rows.frame_rows`)."""
        self.frames += 1
        self.engine_ms += engine_ms
        first = rows[0]
        if first.time_s is not None:
            self.first_s = first.time_s if self.first_s is None else self.first_s
            self.last_s = first.time_s
        faces = [r for r in rows if r.face is not None]
        self.frames_with_face += bool(faces)
        self.max_faces_in_frame = max(self.max_faces_in_frame, len(faces))
        x = first.time_s if first.time_s is not None else float(first.frame_index)
        for row in rows:
            self.all.add_row(row)
            self.timeline.add(x, row.attention_state, row.face)
            f = row.face
            if f is None:
                continue
            self.per_face.setdefault(f.face_index, FaceStats()).add_row(row)
            if f.eyes_closed:
                continue
            self.gaze_angles.add(*f.gaze_deg)
            if self.gaze_screen is not None and f.screen_point_px is not None:
                self.gaze_screen.add(*f.screen_point_px)

    def add_event(self, event: EventRow) -> None:
        self.all.add_event(event)
        self.per_face.setdefault(event.face_index, FaceStats()).add_event(event)
        if event.event == EventKind.BLINK:
            self.blinks.add(event.start_s, event.duration_ms / 1000.0, event.face_index)
        elif event.event in self.screen_s:
            self.screen_s[event.event] += event.duration_ms / 1000.0

    @property
    def interval_s(self) -> float | None:
        """Mean time between frames (nominal 1/fps for a single frame); None for images."""
        if not self.is_video:
            return None
        if self.frames > 1 and self.first_s is not None and self.last_s is not None \
                and self.last_s > self.first_s:
            return (self.last_s - self.first_s) / (self.frames - 1)
        return 1.0 / self.info.fps if self.info.fps > 0 else None

    @property
    def end_s(self) -> float:
        """When the recording ends: the last frame's time plus one frame interval."""
        return (self.last_s or 0.0) + (self.interval_s or 0.0)

    @property
    def duration_s(self) -> float | None:
        interval = self.interval_s
        return None if interval is None else self.frames * interval

    def summary(self, wall_s: float) -> dict[str, Any]:
        """The `summary.json` document; `wall_s` is the processing time."""
        info, interval = self.info, self.interval_s
        what = "video" if self.is_video else "set of images"
        out: dict[str, Any] = {
            "schema": SCHEMA,
            "source": info.source,
            "kind": info.kind.value,
            "frames": self.frames,
            "rows": self.all.rows,
            "duration_s": _round(self.duration_s, 3),
            "frame_interval_s": _round(interval, 4),
            "nominal_fps": round(info.fps, 3) if info.fps else None,
            "frame_size_px": [info.width, info.height] if info.width else None,
            "faces_found": self.frames_with_face > 0,
            "message": None if self.frames_with_face else f"No face was found in this {what}",
            "frames_with_face": self.frames_with_face,
            "face_share": _share(self.frames_with_face, self.frames),
            "max_faces": info.max_faces,
            "max_faces_in_frame": self.max_faces_in_frame,
            "face_tracks": len([s for s in self.per_face.values() if s.rows]),
            "calibrated": info.calibrated,
            **self.all.to_dict(self.all.rows - self.all.states[AttentionState.NO_FACE],
                               interval, events=self.is_video),
            "screen_spans_s": ({k: round(v, 3) for k, v in self.screen_s.items()}
                               if self.is_video else None),
            "processing": {
                "wall_s": round(wall_s, 3),
                "frames_per_s": round(self.frames / wall_s, 1) if wall_s > 0 else None,
                "engine_ms_mean": round(self.engine_ms / self.frames, 2) if self.frames else None,
                "realtime_factor": (round(self.duration_s / wall_s, 2)
                                    if self.duration_s and wall_s > 0 else None),
            },
        }
        if info.max_faces > 1 and self.is_video:
            out["per_face"] = [
                {"face_index": index, "rows": stats.rows,
                 "first_s": stats.first_s, "last_s": stats.last_s,
                 **stats.to_dict(stats.rows, interval, events=True)}
                for index, stats in sorted(self.per_face.items())]
        return out


def _share(n: int, total: int) -> float | None:
    return round(n / total, 4) if total else None


def _mean(r: Range, ndigits: int = 3) -> float | None:
    return round(r.total / r.n, ndigits) if r.n else None


def _round(value: float | None, ndigits: int) -> float | None:
    return None if value is None else round(value, ndigits)


def _ranges(names: tuple[str, ...], ranges: Sequence[Range]) -> dict[str, Any] | None:
    if not ranges[0].n:
        return None
    return {name: r.to_dict() for name, r in zip(names, ranges, strict=True)}
