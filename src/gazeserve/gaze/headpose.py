"""Head rotation and position from the 478 landmarks and the reference face.

Rotation: a similarity fit (Umeyama 1991) of the reference face's rigid points to the observed
3D landmarks, which MediaPipe's mesh gives in a weak-perspective frame facing the line of sight;
the line-of-sight rotation then puts it in the camera's axes. Position: pinhole depth from the
iris diameter (MediaPipe Iris's method). Signs and frames are those of `conventions`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.conventions import IRIS_DIAMETER_MM
from gazeserve.gaze.eyes import iris_diameter_px
from gazeserve.gaze.landmark_indices import EYE_CORNERS, LEFT_EYE, RIGHT_EYE
from gazeserve.gaze.reference_face import ReferenceFace
from gazeserve.gaze.rotations import (
    Matrix,
    align_similarity,
    angles_from_rotation,
    line_of_sight_rotation,
)
from gazeserve.results import HeadPose

Landmarks = npt.NDArray[np.floating]
_VIEWER_FROM_IMAGE = np.array([1.0, -1.0, -1.0])


@dataclass(frozen=True, eq=False)
class HeadFit:
    """The head's rotation and scale as fitted; what gaze direction builds on."""

    pose: HeadPose
    rotation: Matrix
    """Head rotation in the camera's axes (viewer frame): `line_of_sight @ apparent`."""
    apparent_rotation: Matrix
    """Head rotation relative to the line of sight, as the landmarks show it."""
    line_of_sight: Matrix
    scale_px_per_mm: float
    """Image pixels per millimetre of the reference face, from the fit."""
    eyes_midpoint_px: tuple[float, float]
    """Mean of the four eye corners: the head's origin in the image."""


def fit_head(landmarks_px: Landmarks, image_size: tuple[int, int], focal_length_px: float,
             reference: ReferenceFace) -> HeadFit:
    """Yaw, pitch and roll of the head (degrees) in the camera's axes.

    The observed points (x, -y, -z) px are fitted by `align_similarity` (Umeyama 1991) to the
    reference face's rigid points; the fitted rotation is the head's pose relative to the line
    of sight, turned into camera axes by `line_of_sight_rotation` at the eyes' midpoint.
    """
    observed = landmarks_px[reference.rigid_indices] * _VIEWER_FROM_IMAGE
    fit = align_similarity(reference.rigid_centred_mm, reference.rigid_variance_mm2, observed)
    corners = 0.25 * landmarks_px[list(EYE_CORNERS), :2].sum(axis=0)
    midpoint = float(corners[0]), float(corners[1])
    line_of_sight = line_of_sight_rotation(midpoint, image_size, focal_length_px)
    rotation = line_of_sight @ fit.rotation
    yaw, pitch, roll = angles_from_rotation(rotation)
    return HeadFit(HeadPose(yaw, pitch, roll), rotation, fit.rotation, line_of_sight, fit.scale,
                   midpoint)


def iris_scale_px_per_mm(landmarks_px: Landmarks, apparent_rotation: Matrix,
                         eye_directions: npt.NDArray[np.float64] | None = None) -> float:
    """Image pixels per millimetre at the eyes, from both irises' horizontal diameters.

    An iris's horizontal diameter lies along `y x g` in the head frame (`g` the eye's gaze
    direction in the head, rows right eye, left eye; the head's x axis when not given). Turning
    the head or the eye shortens it in the image by the length of that axis's image projection,
    which this divides out.
    """
    diameters_px = np.array([iris_diameter_px(landmarks_px, RIGHT_EYE),
                             iris_diameter_px(landmarks_px, LEFT_EYE)])
    if eye_directions is None:
        axes = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    else:
        axes = np.stack([eye_directions[:, 2], np.zeros(2), -eye_directions[:, 0]], axis=1)
        axes /= np.maximum(np.linalg.norm(axes, axis=1, keepdims=True), 1e-9)
    projected = axes @ apparent_rotation.T
    foreshortening = np.maximum(np.hypot(projected[:, 0], projected[:, 1]), 0.1)
    return float((diameters_px / foreshortening).mean()) / IRIS_DIAMETER_MM


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
