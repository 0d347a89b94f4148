"""Head rotation and position from the 478 landmarks and the reference face.

Rotation: a similarity fit (Umeyama 1991) of the reference face's rigid points to the observed
3D landmarks, which MediaPipe's mesh gives in a weak-perspective frame facing the line of sight;
the line-of-sight rotation then puts it in the camera's axes. Position: pinhole depth from the
iris diameter (MediaPipe Iris's method). Signs and frames are those of `conventions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.conventions import IRIS_DIAMETER_MM
from gazeserve.gaze.eyes import EyePoints, eye_points, iris_width_px
from gazeserve.gaze.landmark_indices import LEFT_EYE, RIGHT_EYE
from gazeserve.gaze.reference_face import ReferenceFace
from gazeserve.gaze.rotations import (
    Matrix,
    angles_from_rows,
    line_of_sight_rows,
    similarity_from_covariance,
)
from gazeserve.gaze.vec3 import Mat3, Vec3, dot, mat_mul, rows_of
from gazeserve.results import HeadPose

Landmarks = npt.NDArray[np.floating]


@dataclass(frozen=True, eq=False)
class HeadFit:
    """The head's rotation and scale as fitted; what gaze direction builds on.

    Rotations are kept as rows of plain floats (`vec3`), which the per-frame geometry reads;
    the properties give them as arrays.
    """

    pose: HeadPose
    rotation_rows: Mat3
    """Head rotation in the camera's axes (viewer frame): `line_of_sight @ apparent`."""
    apparent_rows: Mat3
    """Head rotation relative to the line of sight, as the landmarks show it."""
    line_of_sight_rows: Mat3
    scale_px_per_mm: float
    """Image pixels per millimetre of the reference face, from the fit."""
    eyes_midpoint_px: tuple[float, float]
    """Mean of the four eye corners: the head's origin in the image."""

    @property
    def rotation(self) -> Matrix:
        return np.array(self.rotation_rows)

    @property
    def apparent_rotation(self) -> Matrix:
        return np.array(self.apparent_rows)

    @property
    def line_of_sight(self) -> Matrix:
        return np.array(self.line_of_sight_rows)


def fit_head(landmarks_px: Landmarks, image_size: tuple[int, int], focal_length_px: float,
             reference: ReferenceFace,
             eyes_midpoint_px: tuple[float, float] | None = None) -> HeadFit:
    """Yaw, pitch and roll of the head (degrees) in the camera's axes.

    The observed points (x, -y, -z) px are fitted (`similarity_from_covariance`, Umeyama 1991)
    to the reference face's rigid points; the fitted rotation is the head's pose relative to the
    line of sight, turned into camera axes by `line_of_sight_rows` at the eyes' midpoint
    (`eyes_midpoint`: the caller may pass it when it has read the eyes' landmarks already).

    The axis flip F = diag(1, -1, -1) is a half turn about x, so it is applied after the fit:
    the cross-covariance of the flipped points is `F C`, whose SVD is `(F U) S V^T`, hence the
    same reflection guard and scale and the rotation `F R` (rows 1 and 2 of R negated).
    """
    covariance = landmarks_px[reference.rigid_indices].T @ reference.rigid_centred_mm
    (r0, (a, b, c), (d, e, f)), scale = similarity_from_covariance(
        covariance, reference.rigid_variance_mm2, len(reference.rigid_indices))
    apparent = r0, (-a, -b, -c), (-d, -e, -f)
    if eyes_midpoint_px is None:
        eyes_midpoint_px = eyes_midpoint(*eye_points(landmarks_px, (RIGHT_EYE, LEFT_EYE)))
    line_of_sight = line_of_sight_rows(eyes_midpoint_px, image_size, focal_length_px)
    rotation = mat_mul(line_of_sight, apparent)
    yaw, pitch, roll = angles_from_rows(rotation)
    return HeadFit(HeadPose(yaw, pitch, roll), rotation, apparent, line_of_sight, scale,
                   eyes_midpoint_px)


def eyes_midpoint(right: EyePoints, left: EyePoints) -> tuple[float, float]:
    """The mean of the four eye corners (`landmark_indices.EYE_CORNERS`), image pixels."""
    (x0, y0, _), (x1, y1, _) = right.corners
    (x2, y2, _), (x3, y3, _) = left.corners
    return 0.25 * (x0 + x1 + x2 + x3), 0.25 * (y0 + y1 + y2 + y3)


def iris_scale_px_per_mm(landmarks_px: Landmarks, apparent_rotation: Matrix,
                         eye_directions: npt.NDArray[np.float64] | None = None) -> float:
    """`iris_scale` from the landmarks and arrays."""
    right, left = eye_points(landmarks_px, (RIGHT_EYE, LEFT_EYE))
    directions = None if eye_directions is None else [
        (x, y, z) for x, y, z in eye_directions.tolist()]
    return iris_scale(right, left, rows_of(apparent_rotation), directions)


def iris_scale(right: EyePoints, left: EyePoints, apparent: Mat3,
               eye_directions: list[Vec3] | None = None) -> float:
    """Image pixels per millimetre at the eyes, from both irises' horizontal diameters.

    An iris's horizontal diameter lies along `y x g` in the head frame (`g` the eye's gaze
    direction in the head, right eye then left eye; the head's x axis when not given). Turning
    the head or the eye shortens it in the image by the length of that axis's image projection,
    which this divides out.
    """
    directions = eye_directions or [(0.0, 0.0, 1.0), (0.0, 0.0, 1.0)]
    total = 0.0
    for eye, (gx, _, gz) in zip((right, left), directions, strict=True):
        # The axis y x g = (g_z, 0, -g_x), normalised, through the apparent rotation.
        norm = max(math.hypot(gz, gx), 1e-9)
        axis = (gz / norm, 0.0, -gx / norm)
        foreshortening = max(math.hypot(dot(apparent[0], axis), dot(apparent[1], axis)), 0.1)
        total += iris_width_px(eye) / foreshortening
    return 0.5 * total / IRIS_DIAMETER_MM


def head_translation_mm(eyes_midpoint_px: tuple[float, float], image_size: tuple[int, int],
                        focal_length_px: float,
                        scale_px_per_mm: float) -> tuple[float, float, float]:
    """Camera-frame position (mm) of the point midway between the eyes.

    Pinhole model: depth `Z = f_px / scale_px_per_mm` (with the iris scale, MediaPipe Iris's
    `depth = f * 11.7 mm / iris diameter px`), then X and Y from the point's offset from the
    principal point (the image centre) at that depth.
    """
    width, height = image_size
    depth_mm = focal_length_px / scale_px_per_mm
    return ((eyes_midpoint_px[0] - 0.5 * width) * depth_mm / focal_length_px,
            (eyes_midpoint_px[1] - 0.5 * height) * depth_mm / focal_length_px,
            depth_mm)
