"""Result schema v1: what one frame gives, as values, and its JSON form.

Coordinates carry their space in their names (`*_px`: image pixels of the frame as sent, origin
top-left, x right, y down); angles are degrees, lengths millimetres. Sign conventions are stated
once in `gazeserve.gaze.conventions`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

SCHEMA = "gazeserve.gaze.v1"

Point2 = tuple[float, float]


class AttentionState(enum.StrEnum):
    ATTENTIVE = "attentive"
    LOOKING_AWAY = "looking_away"
    EYES_CLOSED = "eyes_closed"
    NO_FACE = "no_face"


class QualityFlag(enum.StrEnum):
    """Why a frame's confidence is below 1 (the JSON names; see `gazeserve.gaze.quality`)."""

    LOW_FACE_SCORE = "low_face_score"
    LARGE_HEAD_ROTATION = "large_head_rotation"
    EYES_CLOSED = "eyes_closed"
    SMALL_FACE = "small_face"
    FACE_CUT_OFF = "face_cut_off"
    MOTION_BLUR = "motion_blur"


@dataclass(frozen=True)
class Quality:
    """A frame's confidence in [0, 1] and its flags, in the order the criteria are checked."""

    confidence: float
    flags: tuple[QualityFlag, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"confidence": round(self.confidence, 3), "flags": [f.value for f in self.flags]}


@dataclass(frozen=True)
class EyeResult:
    """One eye, named from the subject's side (their left eye is on the image's right)."""

    iris_center_px: Point2 | None
    """None when the iris was not measured (468-point landmarks sent by a client)."""
    iris_radius_px: float | None
    displacement: Point2 | None
    """Iris offset from the eye centre in the eye's own axes, each in [-1, 1]: x along the
    corner-to-corner line (positive toward the subject's left), y across it (positive toward
    the chin); see `gazeserve.gaze.conventions`."""
    openness: float
    """Eye aspect ratio: lid gap over corner distance (about 0.25-0.35 open, < 0.1 closed)."""
    closed: bool


@dataclass(frozen=True)
class HeadPose:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float


@dataclass(frozen=True)
class Gaze:
    yaw_deg: float
    pitch_deg: float
    displacement: Point2 | None
    """Mean of both eyes' displacement; None when the irises were not measured."""
    screen_point_px: Point2 | None = None


@dataclass(frozen=True)
class Attention:
    score: float
    state: AttentionState


@dataclass(frozen=True)
class FaceResult:
    score: float
    box_px: tuple[float, float, float, float]
    """Face box as (x_min, y_min, x_max, y_max) around the landmarks."""
    head_pose: HeadPose
    head_translation_mm: tuple[float, float, float]
    left_eye: EyeResult
    right_eye: EyeResult
    gaze: Gaze
    on_screen: bool
    attention: Attention
    landmarks_px: npt.NDArray[np.float32] | None = None
    """478 x 3 in MediaPipe's index order: x, y in pixels, z in pixels on x's scale."""
    quality: Quality | None = None
    """Confidence in [0, 1] and flags (see `gazeserve.gaze.quality`)."""


@dataclass(frozen=True)
class FrameInfo:
    width: int
    height: int
    timestamp_ms: float | None = None
    stream_id: str | None = None


@dataclass
class StageTimings:
    """Milliseconds spent in each stage of one frame (0 for a stage that did not run)."""

    decode: float = 0.0
    detect: float = 0.0
    landmarks: float = 0.0
    iris: float = 0.0
    gaze: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class GazeResult:
    frame: FrameInfo
    faces: list[FaceResult]
    timings_ms: StageTimings = field(default_factory=StageTimings)
    detector_ran: bool = True
    """False when the stream's tracking gave the face region and the detector was skipped."""
    events: list[dict[str, Any]] = field(default_factory=list)
    """Stream events (blinks, fixations, on/off screen) that completed with this frame."""

    @property
    def face_detected(self) -> bool:
        return bool(self.faces)

    def to_dict(self, include_landmarks: bool = True) -> dict[str, Any]:
        """The JSON form (schema v1). Landmarks appear only on faces that carry them."""
        return {
            "schema": SCHEMA,
            "frame": {
                "width": self.frame.width,
                "height": self.frame.height,
                "timestamp_ms": self.frame.timestamp_ms,
                "stream_id": self.frame.stream_id,
            },
            "face_detected": self.face_detected,
            "detector_ran": self.detector_ran,
            "faces": [_face_dict(f, include_landmarks) for f in self.faces],
            "events": self.events,
            "timings_ms": {k: _f(v, 3) for k, v in vars(self.timings_ms).items()},
        }


def _r(values: tuple[float, ...] | None, ndigits: int = 2) -> list[float] | None:
    return None if values is None else [round(float(v), ndigits) for v in values]


def _f(value: float, ndigits: int) -> float:
    """A plain Python float (geometry may hand numpy scalars), rounded for the wire."""
    return round(float(value), ndigits)


def _f_or_none(value: float | None, ndigits: int) -> float | None:
    return None if value is None else _f(value, ndigits)


def _eye_dict(eye: EyeResult) -> dict[str, Any]:
    return {
        "iris_center_px": _r(eye.iris_center_px),
        "iris_radius_px": _f_or_none(eye.iris_radius_px, 2),
        "displacement": _r(eye.displacement, 3),
        "openness": _f(eye.openness, 3),
        "closed": bool(eye.closed),
    }


def _face_dict(face: FaceResult, include_landmarks: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "score": _f(face.score, 4),
        "box_px": _r(face.box_px),
        "head_pose_deg": {
            "yaw": _f(face.head_pose.yaw_deg, 2),
            "pitch": _f(face.head_pose.pitch_deg, 2),
            "roll": _f(face.head_pose.roll_deg, 2),
        },
        "head_translation_mm": _r(face.head_translation_mm, 1),
        "eyes": {"left": _eye_dict(face.left_eye), "right": _eye_dict(face.right_eye)},
        "gaze": {
            "yaw_deg": _f(face.gaze.yaw_deg, 2),
            "pitch_deg": _f(face.gaze.pitch_deg, 2),
            "displacement": _r(face.gaze.displacement, 3),
            "screen_point_px": _r(face.gaze.screen_point_px, 1),
        },
        "on_screen": bool(face.on_screen),
        "attention": {"score": _f(face.attention.score, 3),
                      "state": face.attention.state.value},
    }
    if face.quality is not None:
        out["quality"] = face.quality.to_dict()
    if include_landmarks and face.landmarks_px is not None:
        out["landmarks_px"] = np.round(face.landmarks_px.astype(np.float64), 2).tolist()
    return out
