"""The service's JSON (result schema v1) read back into the engine's result values.

The inverse of `GazeResult.to_dict()`: the same dataclasses from `gazeserve.results`, so code
written against the engine reads the client's results unchanged. Keys this version does not
know are ignored (the service may add fields within v1); a missing required key or another
schema raises `GazeProtocolError`. A face's `quality` is not read back yet: its type lives in
`gazeserve.gaze.quality`, which needs OpenCV.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import numpy as np

from gazeserve.client.errors import GazeProtocolError
from gazeserve.results import (
    SCHEMA,
    Attention,
    AttentionState,
    EyeResult,
    FaceResult,
    FrameInfo,
    Gaze,
    GazeResult,
    HeadPose,
    Point2,
    Quality,
    QualityFlag,
    StageTimings,
)

_TIMING_FIELDS = frozenset(f.name for f in fields(StageTimings))


def result_from_dict(payload: Mapping[str, Any]) -> GazeResult:
    """A `GazeResult` from its JSON form (a WebSocket result's extra keys are ignored).

    Raises:
        GazeProtocolError: Another schema, or a payload that is not a v1 result.
    """
    schema = payload.get("schema")
    if schema != SCHEMA:
        raise GazeProtocolError(f"expected a {SCHEMA!r} result, got schema {schema!r}")
    try:
        frame = payload["frame"]
        timings = payload.get("timings_ms") or {}
        return GazeResult(
            frame=FrameInfo(width=int(frame["width"]), height=int(frame["height"]),
                            timestamp_ms=_opt_float(frame.get("timestamp_ms")),
                            stream_id=frame.get("stream_id")),
            faces=[face_from_dict(face) for face in payload["faces"]],
            timings_ms=StageTimings(**{k: float(v) for k, v in timings.items()
                                       if k in _TIMING_FIELDS}),
            detector_ran=bool(payload.get("detector_ran", float(timings.get("detect", 0.0)) > 0)),
            events=[dict(event) for event in payload.get("events") or ()],
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GazeProtocolError(f"malformed {SCHEMA} result: {exc!r}") from None


def face_from_dict(face: Mapping[str, Any]) -> FaceResult:
    """One face of a v1 result."""
    pose = face["head_pose_deg"]
    gaze = face["gaze"]
    attention = face["attention"]
    x0, y0, x1, y1 = (float(v) for v in face["box_px"])
    tx, ty, tz = (float(v) for v in face["head_translation_mm"])
    landmarks = face.get("landmarks_px")
    return FaceResult(
        score=float(face["score"]),
        box_px=(x0, y0, x1, y1),
        head_pose=HeadPose(yaw_deg=float(pose["yaw"]), pitch_deg=float(pose["pitch"]),
                           roll_deg=float(pose["roll"])),
        head_translation_mm=(tx, ty, tz),
        left_eye=_eye(face["eyes"]["left"]),
        right_eye=_eye(face["eyes"]["right"]),
        gaze=Gaze(yaw_deg=float(gaze["yaw_deg"]), pitch_deg=float(gaze["pitch_deg"]),
                  displacement=_point(gaze.get("displacement")),
                  screen_point_px=_point(gaze.get("screen_point_px"))),
        on_screen=bool(face["on_screen"]),
        attention=Attention(score=float(attention["score"]),
                            state=AttentionState(attention["state"])),
        landmarks_px=None if landmarks is None else _landmarks(landmarks),
        quality=_quality(face.get("quality")),
    )


def _quality(value: Any) -> Quality | None:
    if value is None:
        return None
    return Quality(confidence=float(value["confidence"]),
                   flags=tuple(QualityFlag(f) for f in value["flags"]))


def _eye(eye: Mapping[str, Any]) -> EyeResult:
    return EyeResult(
        iris_center_px=_point(eye.get("iris_center_px")),
        iris_radius_px=_opt_float(eye.get("iris_radius_px")),
        displacement=_point(eye.get("displacement")),
        openness=float(eye["openness"]),
        closed=bool(eye["closed"]),
    )


def _point(value: Any) -> Point2 | None:
    if value is None:
        return None
    x, y = value
    return float(x), float(y)


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _landmarks(value: Any) -> np.ndarray[Any, np.dtype[np.float32]]:
    points = np.asarray(value, np.float32)
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"landmarks_px must be N x 3, got shape {points.shape}")
    return points
