"""Gaze direction from head pose and eye rotation on the synthetic face."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from gaze_synthetic import (
    FOCAL_PX,
    IMAGE_SIZE,
    mirror_landmarks,
    pose_landmarks,
    set_eye_rotation,
    synthetic_face_mm,
)

from gazeserve.gaze.direction import (
    EyeModel,
    angles_from_direction,
    direction_from_angles,
    eye_directions_in_head,
    eye_rotations_deg,
    gaze_direction,
)
from gazeserve.gaze.eyes import measure_eye
from gazeserve.gaze.headpose import fit_head
from gazeserve.gaze.landmark_indices import LEFT_EYE, RIGHT_EYE
from gazeserve.gaze.reference_face import ReferenceFace

REFERENCE = ReferenceFace(synthetic_face_mm())


def _gaze(head: tuple[float, float, float], eyes: tuple[float, float],
          position: tuple[float, float, float] = (0.0, 0.0, 500.0),
          model: EyeModel | None = None, lid_height_mm: float = 5.0) -> tuple[float, float]:
    face = synthetic_face_mm(lid_height_mm)
    set_eye_rotation(face, *eyes)
    landmarks = pose_landmarks(face, *head, translation_mm=position)
    return _gaze_of(landmarks, model or EyeModel())


def _gaze_of(landmarks: np.ndarray, model: EyeModel) -> tuple[float, float]:
    fit = fit_head(landmarks, IMAGE_SIZE, FOCAL_PX, REFERENCE)
    directions = eye_directions_in_head(landmarks, fit, REFERENCE, IMAGE_SIZE, FOCAL_PX, model)
    direction = gaze_direction(fit.rotation, eye_rotations_deg(directions, model),
                               measure_eye(landmarks, RIGHT_EYE), measure_eye(landmarks, LEFT_EYE))
    return angles_from_direction(direction)


@pytest.mark.parametrize("angles", [(0.0, 0.0), (30.0, 0.0), (-25.0, 15.0), (10.0, -20.0)])
def test_direction_angles_round_trip(angles: tuple[float, float]) -> None:
    assert angles_from_direction(direction_from_angles(*angles)) == pytest.approx(angles)


@pytest.mark.parametrize("head", [(0.0, 0.0, 0.0), (30.0, 0.0, 0.0), (-25.0, 10.0, 15.0),
                                  (0.0, -20.0, 0.0), (20.0, 15.0, -10.0)])
def test_eyes_straight_ahead_follow_the_head(head: tuple[float, float, float]) -> None:
    # The iris's parallax against the eye corners in a turned head is not read as gaze. The
    # weak-perspective fits leave up to about 1.3 degrees from perspective at 500 mm.
    assert _gaze(head, (0.0, 0.0)) == pytest.approx(head[:2], abs=1.5)


@pytest.mark.parametrize("eyes", [(15.0, 0.0), (-20.0, 0.0), (0.0, 12.0), (0.0, -15.0),
                                  (10.0, 10.0)])
def test_eye_rotation_with_a_frontal_head(eyes: tuple[float, float]) -> None:
    assert _gaze((0.0, 0.0, 0.0), eyes) == pytest.approx(eyes, abs=1.0)


def test_head_and_eyes_add_up() -> None:
    assert _gaze((20.0, 0.0, 0.0), (-20.0, 0.0)) == pytest.approx((0.0, 0.0), abs=1.0)
    assert _gaze((15.0, -10.0, 0.0), (10.0, 5.0)) == pytest.approx((25.0, -5.0), abs=1.5)


def test_roll_does_not_leak_into_gaze() -> None:
    assert _gaze((0.0, 0.0, 30.0), (0.0, 0.0)) == pytest.approx((0.0, 0.0), abs=0.5)


def test_mirrored_image_negates_gaze_yaw() -> None:
    face = synthetic_face_mm()
    set_eye_rotation(face, 12.0, -6.0)
    landmarks = pose_landmarks(face, 10.0, 5.0, 8.0, (40.0, 30.0, 550.0))
    yaw, pitch = _gaze_of(landmarks, EyeModel())
    assert _gaze_of(mirror_landmarks(landmarks), EyeModel()) == pytest.approx((-yaw, pitch),
                                                                             abs=1e-3)


def test_closed_eyes_and_zero_gain_give_the_head_direction() -> None:
    assert _gaze((10.0, 5.0, 0.0), (20.0, 10.0), lid_height_mm=0.3) == pytest.approx(
        (10.0, 5.0), abs=1.0)
    assert _gaze((10.0, 5.0, 0.0), (20.0, 10.0), model=EyeModel(gain=0.0)) == pytest.approx(
        (10.0, 5.0), abs=1.0)


@pytest.mark.parametrize(("head", "eyes"), [((25.0, 0.0, 0.0), (22.5, 0.0)),
                                            ((-30.0, 0.0, 0.0), (-25.0, 5.0)),
                                            ((0.0, 0.0, 0.0), (35.0, 0.0))])
def test_large_eye_turns(head: tuple[float, float, float], eyes: tuple[float, float]) -> None:
    expected = (head[0] + eyes[0], head[1] + eyes[1])
    assert _gaze(head, eyes) == pytest.approx(expected, abs=2.0)


def test_gain_scales_the_eye_rotation() -> None:
    assert _gaze((0.0, 0.0, 0.0), (10.0, 0.0), model=EyeModel(gain=2.0))[0] == pytest.approx(
        20.0, abs=1.0)


@pytest.mark.parametrize("change", [{"rotation_radius_mm": 1.0}, {"gain": -1.0}])
def test_eye_model_is_validated(change: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        dataclasses.replace(EyeModel(), **change)
