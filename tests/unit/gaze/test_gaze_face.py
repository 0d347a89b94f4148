"""analyze_face end to end on the synthetic face, its options, and the packaged reference face."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gaze_synthetic import (
    FOCAL_PX,
    IMAGE_SIZE,
    MIRROR_INDEX,
    pose_landmarks,
    set_eye_rotation,
    synthetic_face_mm,
)

from gazeserve.gaze import GeometryOptions, ReferenceFace, analyze_face, packaged_reference_face
from gazeserve.gaze.landmark_indices import LANDMARK_POINTS, LEFT_EYE, RIGHT_EYE
from gazeserve.gaze.screen import ScreenGeometry
from gazeserve.results import AttentionState

OPTIONS = GeometryOptions(reference=ReferenceFace(synthetic_face_mm()),
                          focal_length_px=FOCAL_PX)


def _looking_at(target_camera_mm: tuple[float, float, float],
                position: tuple[float, float, float], lid_height_mm: float = 5.0,
                head_yaw_deg: float = 0.0) -> np.ndarray:
    """The face at `position`, head turned by `head_yaw_deg`, eyes turned onto the target."""
    direction = np.subtract(target_camera_mm, position) * np.array([1.0, -1.0, -1.0])
    direction /= np.linalg.norm(direction)
    yaw = math.degrees(math.atan2(direction[0], direction[2])) - head_yaw_deg
    pitch = math.degrees(math.asin(direction[1]))
    face = synthetic_face_mm(lid_height_mm)
    set_eye_rotation(face, yaw, pitch)
    return pose_landmarks(face, head_yaw_deg, 0.0, 0.0, position)


def test_looking_at_the_screen_centre_is_attentive() -> None:
    screen = OPTIONS.screen
    centre = (0.0, screen.camera_to_top_edge_mm + screen.height_mm / 2, 0.0)
    position = (10.0, 30.0, 550.0)
    geometry = analyze_face(_looking_at(centre, position), IMAGE_SIZE, OPTIONS)
    assert geometry.head_translation_mm == pytest.approx(position, rel=0.03, abs=3.0)
    assert geometry.on_screen
    assert geometry.screen_point_mm is not None
    assert geometry.screen_point_mm == pytest.approx(
        (screen.width_mm / 2, screen.height_mm / 2), abs=15.0)
    assert geometry.attention.state is AttentionState.ATTENTIVE
    assert geometry.attention.score > 0.95
    assert geometry.gaze.pitch_deg == pytest.approx(-math.degrees(math.atan2(77.0, 550.0)),
                                                    abs=1.0)  # down to the screen's centre


def test_looking_far_to_the_side_is_looking_away() -> None:
    geometry = analyze_face(_looking_at((600.0, 100.0, 0.0), (0.0, 30.0, 550.0),
                                        head_yaw_deg=25.0), IMAGE_SIZE, OPTIONS)
    assert geometry.head_pose.yaw_deg == pytest.approx(25.0, abs=1.0)
    assert geometry.gaze.yaw_deg > 40.0
    assert not geometry.on_screen
    assert geometry.attention.state is AttentionState.LOOKING_AWAY
    assert geometry.attention.score < 0.2


def test_closed_eyes() -> None:
    landmarks = _looking_at((0.0, 100.0, 0.0), (0.0, 30.0, 550.0), lid_height_mm=0.5)
    geometry = analyze_face(landmarks, IMAGE_SIZE, OPTIONS)
    assert geometry.left_eye.closed
    assert geometry.right_eye.closed
    assert geometry.attention.state is AttentionState.EYES_CLOSED
    assert geometry.attention.score == 0.0


def test_gaze_displacement_is_the_mean_of_both_eyes() -> None:
    geometry = analyze_face(_looking_at((100.0, 50.0, 0.0), (0.0, 0.0, 500.0)), IMAGE_SIZE,
                            OPTIONS)
    right, left = geometry.right_eye.displacement, geometry.left_eye.displacement
    assert geometry.gaze.displacement == pytest.approx(
        ((right[0] + left[0]) / 2, (right[1] + left[1]) / 2))


def test_focal_length_defaults_to_the_image_width() -> None:
    landmarks = _looking_at((0.0, 100.0, 0.0), (0.0, 30.0, 550.0))
    implicit = GeometryOptions(reference=OPTIONS.reference)
    assert IMAGE_SIZE[0] == FOCAL_PX
    assert analyze_face(landmarks, IMAGE_SIZE, implicit) == analyze_face(
        landmarks, IMAGE_SIZE, OPTIONS)


@pytest.mark.parametrize("landmarks", [np.zeros((468, 3), np.float32),
                                       np.full((LANDMARK_POINTS, 3), np.nan, np.float32)])
def test_bad_landmarks_are_refused(landmarks: np.ndarray) -> None:
    with pytest.raises(ValueError, match="landmarks_px"):
        analyze_face(landmarks, IMAGE_SIZE, OPTIONS)


def test_bad_image_size_is_refused() -> None:
    with pytest.raises(ValueError, match="image_size"):
        analyze_face(pose_landmarks(synthetic_face_mm()), (0, 480), OPTIONS)


@pytest.mark.parametrize("kwargs", [{"focal_length_px": 0.0}, {"closed_threshold": -0.1},
                                    {"closed_threshold": 0.5}])
def test_options_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        GeometryOptions(**kwargs)


def test_options_take_a_screen() -> None:
    options = GeometryOptions(screen=ScreenGeometry(width_mm=600.0, height_mm=340.0))
    assert options.screen.width_mm == 600.0


def test_packaged_reference_face_is_a_symmetric_face_in_mm() -> None:
    reference = packaged_reference_face()
    points = reference.points_mm
    assert points.shape == (LANDMARK_POINTS, 3)
    # Origin midway between the eyes, eyes on the x axis, about 60-65 mm apart.
    for eye in (RIGHT_EYE, LEFT_EYE):
        assert abs(points[list(eye.corners), 1].mean()) < 2.0
    eye_distance = points[list(LEFT_EYE.corners), 0].mean() - points[list(
        RIGHT_EYE.corners), 0].mean()
    assert 50.0 < eye_distance < 75.0
    # Symmetric: each point has a mirror partner (the nearest mirrored point) within 2 mm.
    mesh = points[:468]
    mirrored = mesh * np.array([-1.0, 1.0, 1.0])
    distances = np.linalg.norm(mesh[:, None, :] - mirrored[None, :, :], axis=2).min(axis=1)
    assert np.percentile(distances, 95) < 2.0
    assert reference.points_mm[1, 2] > 10.0  # the nose tip stands out toward the camera
    assert 150 < len(reference.rigid_indices) < 400
    assert MIRROR_INDEX.shape == (LANDMARK_POINTS,)
