"""One face's geometry from its 478 landmarks: the entry point the pipeline calls per face."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.attention import AttentionRules, assess_attention
from gazeserve.gaze.direction import (
    EyeModel,
    eye_directions,
    eye_rotations,
    gaze_result,
    gaze_vector,
)
from gazeserve.gaze.eyes import DEFAULT_CLOSED_THRESHOLD, eye_points, measure_eye_points
from gazeserve.gaze.headpose import eyes_midpoint, fit_head, head_translation_mm, iris_scale
from gazeserve.gaze.landmark_indices import LANDMARK_POINTS, LEFT_EYE, RIGHT_EYE
from gazeserve.gaze.reference_face import ReferenceFace, packaged_reference_face
from gazeserve.gaze.screen import ScreenGeometry, intersect_screen
from gazeserve.results import Attention, EyeResult, Gaze, HeadPose


@dataclass(frozen=True)
class GeometryOptions:
    """How landmarks become gaze and attention. Validated when built."""

    screen: ScreenGeometry = field(default_factory=ScreenGeometry)
    focal_length_px: float | None = None
    """Camera focal length in pixels of the frame; None: the frame's width (see conventions)."""
    closed_threshold: float = DEFAULT_CLOSED_THRESHOLD
    """Eye aspect ratio below which an eye is closed (see `eyes.DEFAULT_CLOSED_THRESHOLD`)."""
    eye_model: EyeModel = field(default_factory=EyeModel)
    attention: AttentionRules = field(default_factory=AttentionRules)
    on_screen_margin_deg: float = 5.0
    """Gaze this close to the screen's edge still counts as on it: an uncalibrated webcam
    estimate is good to about 5-10 degrees, and a person looking into the webcam (just above
    the screen) is attending to it."""
    reference: ReferenceFace | None = None
    """Face model for head pose; None: the packaged one, read on first use."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.on_screen_margin_deg <= 45.0:
            raise ValueError("on_screen_margin_deg must be in [0, 45], got "
                             f"{self.on_screen_margin_deg}")
        if self.focal_length_px is not None and not self.focal_length_px > 0.0:
            raise ValueError(f"focal_length_px must be positive, got {self.focal_length_px}")
        if not 0.0 <= self.closed_threshold < self.attention.open_eye_ratio:
            raise ValueError("closed_threshold must be in [0, attention.open_eye_ratio), got "
                             f"{self.closed_threshold}")


@dataclass(frozen=True)
class FaceGeometry:
    head_pose: HeadPose
    head_translation_mm: tuple[float, float, float]
    left_eye: EyeResult
    right_eye: EyeResult
    gaze: Gaze
    on_screen: bool
    attention: Attention
    screen_point_mm: tuple[float, float] | None
    """Where the gaze ray meets the screen's plane (see `screen.ScreenHit.point_mm`)."""


def analyze_face(landmarks_px: npt.NDArray[np.floating], image_size: tuple[int, int],
                 options: GeometryOptions, irises_measured: bool = True) -> FaceGeometry:
    """Eyes, head pose and position, gaze, screen and attention of one face.

    Args:
        landmarks_px: 478 x 3 in MediaPipe's refine_landmarks order, x and y image pixels, z
            pixels on x's scale (smaller = closer).
        image_size: (width, height) of the frame in pixels.
        options: see `GeometryOptions`.
        irises_measured: False when 468-477 are nominal irises (see `nominal_iris`): the
            distance then comes from the whole face's fitted scale instead of the iris size.

    Raises:
        ValueError: landmarks of the wrong shape or not finite, or an empty image size.
    """
    if landmarks_px.shape != (LANDMARK_POINTS, 3) or not np.isfinite(landmarks_px).all():
        raise ValueError(f"landmarks_px must be {LANDMARK_POINTS} x 3 finite values, got shape "
                         f"{landmarks_px.shape}")
    width, height = image_size
    if width <= 0 or height <= 0:
        raise ValueError(f"image_size must be positive (width, height), got {image_size}")
    reference = options.reference or packaged_reference_face()
    focal_px = options.focal_length_px or float(width)

    right, left = eye_points(landmarks_px, (RIGHT_EYE, LEFT_EYE))
    right_eye = measure_eye_points(right, options.closed_threshold)
    left_eye = measure_eye_points(left, options.closed_threshold)
    head = fit_head(landmarks_px, image_size, focal_px, reference, eyes_midpoint(right, left))
    directions = eye_directions(right, left, head, reference, image_size, focal_px,
                                options.eye_model)
    scale = (iris_scale(right, left, head.apparent_rows, directions) if irises_measured
             else head.scale_px_per_mm)
    translation = head_translation_mm(head.eyes_midpoint_px, image_size, focal_px, scale)
    direction = gaze_vector(head.rotation_rows, eye_rotations(directions, options.eye_model),
                            right_eye, left_eye)
    hit = intersect_screen(translation, direction, options.screen)
    on_screen = hit.on_screen or hit.angle_off_screen_deg <= options.on_screen_margin_deg
    attention = assess_attention(on_screen, hit.angle_off_screen_deg, head.pose, right_eye,
                                 left_eye, options.closed_threshold, options.attention)
    return FaceGeometry(
        head_pose=head.pose,
        head_translation_mm=translation,
        left_eye=left_eye,
        right_eye=right_eye,
        gaze=gaze_result(direction, right_eye, left_eye),
        on_screen=on_screen,
        attention=attention,
        screen_point_mm=hit.point_mm,
    )
