"""Eye measurements on synthetic landmarks: displacement signs, range, roll invariance, EAR."""

from __future__ import annotations

import numpy as np
import pytest
from gaze_synthetic import (
    IMAGE_SIZE,
    mirror_landmarks,
    pose_landmarks,
    rotate_landmarks,
    set_eye_rotation,
    synthetic_face_mm,
)

from gazeserve.gaze.conventions import IRIS_DIAMETER_MM
from gazeserve.gaze.eyes import eye_aspect_ratio, iris_displacement, measure_eye
from gazeserve.gaze.landmark_indices import LANDMARK_POINTS, LEFT_EYE, RIGHT_EYE


def _one_eye(iris_px: tuple[float, float]) -> np.ndarray:
    """Right eye with corners at (100, 200) and (140, 200): half width 20 px."""
    landmarks = np.zeros((LANDMARK_POINTS, 3), np.float32)
    landmarks[RIGHT_EYE.corners[0], :2] = (100.0, 200.0)
    landmarks[RIGHT_EYE.corners[1], :2] = (140.0, 200.0)
    landmarks[RIGHT_EYE.iris_center, :2] = iris_px
    return landmarks


@pytest.mark.parametrize(("iris_px", "expected"), [
    ((120.0, 200.0), (0.0, 0.0)),
    ((130.0, 200.0), (0.5, 0.0)),   # toward the image's right / subject's left
    ((110.0, 200.0), (-0.5, 0.0)),
    ((120.0, 205.0), (0.0, 0.25)),  # down, toward the chin
    ((120.0, 196.0), (0.0, -0.2)),
    ((200.0, 100.0), (1.0, -1.0)),  # clipped
])
def test_displacement_signs_and_range(iris_px: tuple[float, float],
                                      expected: tuple[float, float]) -> None:
    assert iris_displacement(_one_eye(iris_px), RIGHT_EYE) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("angle_deg", [-40.0, -15.0, 10.0, 30.0])
def test_head_roll_leaves_displacement_unchanged(angle_deg: float) -> None:
    face = synthetic_face_mm()
    set_eye_rotation(face, 12.0, -8.0)
    landmarks = pose_landmarks(face)
    rolled = rotate_landmarks(landmarks, angle_deg, (300.0, 220.0))
    for eye in (RIGHT_EYE, LEFT_EYE):
        assert iris_displacement(rolled, eye) == pytest.approx(
            iris_displacement(landmarks, eye), abs=1e-4)


def test_eyes_turned_right_and_up_read_positive_dx_negative_dy() -> None:
    face = synthetic_face_mm()
    set_eye_rotation(face, 15.0, 10.0)
    landmarks = pose_landmarks(face)
    for eye in (RIGHT_EYE, LEFT_EYE):
        dx, dy = iris_displacement(landmarks, eye)
        assert dx > 0.1
        assert dy < -0.05


def test_mirrored_image_negates_dx_and_swaps_eyes() -> None:
    face = synthetic_face_mm()
    set_eye_rotation(face, 10.0, 5.0)
    landmarks = pose_landmarks(face, yaw_deg=8.0, translation_mm=(30.0, 20.0, 550.0))
    mirrored = mirror_landmarks(landmarks)
    for eye, other in ((RIGHT_EYE, LEFT_EYE), (LEFT_EYE, RIGHT_EYE)):
        dx, dy = iris_displacement(landmarks, eye)
        mirrored_dx, mirrored_dy = iris_displacement(mirrored, other)
        assert mirrored_dx == pytest.approx(-dx, abs=1e-4)
        assert mirrored_dy == pytest.approx(dy, abs=1e-4)


def test_eye_aspect_ratio_of_the_synthetic_eye() -> None:
    # Lid gap 2 h sin(pi t) at t = 3/8, 4/8, 5/8 over a 28 mm corner distance (in 3D).
    landmarks = pose_landmarks(synthetic_face_mm(lid_height_mm=5.0), perspective=False)
    gaps = [2 * 5.0 * np.sin(np.pi * t) for t in (3 / 8, 4 / 8, 5 / 8)]
    width = np.linalg.norm([28.0, 1.0, 5.0])
    for eye in (RIGHT_EYE, LEFT_EYE):
        assert eye_aspect_ratio(landmarks, eye) == pytest.approx(np.mean(gaps) / width, rel=1e-4)


def test_eye_aspect_ratio_ignores_head_rotation() -> None:
    face = synthetic_face_mm()
    frontal = pose_landmarks(face, perspective=False)
    turned = pose_landmarks(face, yaw_deg=35.0, pitch_deg=-15.0, roll_deg=20.0,
                            perspective=False)
    for eye in (RIGHT_EYE, LEFT_EYE):
        assert eye_aspect_ratio(turned, eye) == pytest.approx(eye_aspect_ratio(frontal, eye),
                                                              rel=1e-4)


def test_measure_eye_open_and_closed() -> None:
    open_eye = measure_eye(pose_landmarks(synthetic_face_mm()), RIGHT_EYE)
    assert not open_eye.closed
    assert 0.25 < open_eye.openness < 0.4
    width = IMAGE_SIZE[0]
    assert open_eye.iris_radius_px == pytest.approx(width * IRIS_DIAMETER_MM / 2 / 500, rel=0.03)
    closed = measure_eye(pose_landmarks(synthetic_face_mm(lid_height_mm=0.5)), RIGHT_EYE)
    assert closed.closed
    assert closed.openness < 0.05
    assert measure_eye(pose_landmarks(synthetic_face_mm(lid_height_mm=0.5)), RIGHT_EYE,
                       closed_threshold=0.01).closed is False
