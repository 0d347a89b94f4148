"""Head pose and position recovered from a synthetic face turned by known angles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gaze_synthetic import (
    FOCAL_PX,
    IMAGE_SIZE,
    mirror_landmarks,
    pose_landmarks,
    rotate_landmarks,
    synthetic_face_mm,
)

from gazeserve.gaze.headpose import fit_head, head_translation_mm, iris_scale_px_per_mm
from gazeserve.gaze.reference_face import ReferenceFace
from gazeserve.gaze.rotations import (
    align_similarity,
    angles_from_rotation,
    line_of_sight_rotation,
    rotation_from_angles,
)

REFERENCE = ReferenceFace(synthetic_face_mm())
POSES = [(0.0, 0.0, 0.0), (25.0, 0.0, 0.0), (-30.0, 10.0, 0.0), (0.0, -20.0, 0.0),
         (0.0, 15.0, 0.0), (0.0, 0.0, 30.0), (15.0, -10.0, -20.0), (-40.0, 25.0, 12.0)]


def _pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    pose = fit_head(landmarks, IMAGE_SIZE, FOCAL_PX, REFERENCE).pose
    return pose.yaw_deg, pose.pitch_deg, pose.roll_deg


@pytest.mark.parametrize("angles", POSES)
def test_angles_round_trip(angles: tuple[float, float, float]) -> None:
    assert angles_from_rotation(rotation_from_angles(*angles)) == pytest.approx(angles, abs=1e-9)


def test_rotation_signs() -> None:
    nose = np.array([0.0, 0.0, 1.0])
    assert (rotation_from_angles(20.0, 0.0, 0.0) @ nose)[0] > 0  # yaw: toward the image's right
    assert (rotation_from_angles(0.0, 20.0, 0.0) @ nose)[1] > 0  # pitch: up
    left_eye = np.array([1.0, 0.0, 0.0])
    assert (rotation_from_angles(0.0, 0.0, 20.0) @ left_eye)[1] > 0  # roll: left eye rises


def test_align_similarity_is_exact_and_never_reflects() -> None:
    rng = np.random.default_rng(1)
    source = rng.normal(size=(50, 3))
    centred = source - source.mean(axis=0)
    variance = float((centred**2).sum(axis=1).mean())
    rotation = rotation_from_angles(20.0, -35.0, 50.0)
    target = 2.5 * centred @ rotation.T + np.array([3.0, -1.0, 7.0])
    fit = align_similarity(centred, variance, target)
    assert fit.scale == pytest.approx(2.5)
    np.testing.assert_allclose(fit.rotation, rotation, atol=1e-9)
    mirrored = align_similarity(centred, variance, target * np.array([-1.0, 1.0, 1.0]))
    assert np.linalg.det(mirrored.rotation) == pytest.approx(1.0)


@pytest.mark.parametrize("angles", POSES)
def test_weak_perspective_pose_is_recovered(angles: tuple[float, float, float]) -> None:
    # Not exact: the eyes' midpoint moves off the image centre as the head turns, and the
    # line-of-sight correction follows it.
    landmarks = pose_landmarks(REFERENCE.points_mm, *angles, perspective=False)
    assert _pose(landmarks) == pytest.approx(angles, abs=0.1)


@pytest.mark.parametrize("angles", POSES)
def test_perspective_pose_within_one_degree(angles: tuple[float, float, float]) -> None:
    landmarks = pose_landmarks(REFERENCE.points_mm, *angles, translation_mm=(0.0, 0.0, 600.0))
    assert _pose(landmarks) == pytest.approx(angles, abs=1.0)


def test_face_off_axis_looking_into_the_lens_has_the_line_of_sight_angles() -> None:
    position = (150.0, -100.0, 600.0)
    # Turned so that its nose points back at the camera.
    yaw = math.degrees(math.atan2(-position[0], math.hypot(position[1], position[2])))
    pitch = math.degrees(math.atan2(position[1], position[2]))
    landmarks = pose_landmarks(REFERENCE.points_mm, yaw, pitch, 0.0, position)
    measured = _pose(landmarks)
    assert measured == pytest.approx((yaw, pitch, 0.0), abs=1.0)
    apparent = fit_head(landmarks, IMAGE_SIZE, FOCAL_PX, REFERENCE).apparent_rotation
    # Seen along its line of sight it points straight back (its roll there is the twist between
    # the yaw-then-pitch turn and the shortest turn onto the line of sight).
    assert angles_from_rotation(apparent)[:2] == pytest.approx((0.0, 0.0), abs=1.0)


def test_line_of_sight_rotation_is_identity_at_the_image_centre() -> None:
    center = (IMAGE_SIZE[0] / 2, IMAGE_SIZE[1] / 2)
    np.testing.assert_allclose(line_of_sight_rotation(center, IMAGE_SIZE, FOCAL_PX), np.eye(3))


@pytest.mark.parametrize("angles", POSES)
def test_mirrored_image_negates_yaw_and_roll(angles: tuple[float, float, float]) -> None:
    landmarks = pose_landmarks(REFERENCE.points_mm, *angles, translation_mm=(40.0, -30.0, 550.0))
    yaw, pitch, roll = _pose(landmarks)
    assert _pose(mirror_landmarks(landmarks)) == pytest.approx((-yaw, pitch, -roll), abs=1e-3)


@pytest.mark.parametrize("angle_deg", [-15.0, 15.0, 40.0])
def test_in_plane_image_rotation_adds_to_roll(angle_deg: float) -> None:
    landmarks = pose_landmarks(REFERENCE.points_mm, 0.0, 0.0, 5.0)
    center = (IMAGE_SIZE[0] / 2, IMAGE_SIZE[1] / 2)
    yaw, pitch, roll = _pose(rotate_landmarks(landmarks, angle_deg, center))
    assert (yaw, pitch, roll) == pytest.approx((0.0, 0.0, 5.0 + angle_deg), abs=0.5)


@pytest.mark.parametrize(("angles", "position"), [
    ((0.0, 0.0, 0.0), (0.0, 0.0, 500.0)),
    ((30.0, 0.0, 10.0), (-60.0, 40.0, 450.0)),
    ((-20.0, 15.0, 0.0), (80.0, 120.0, 800.0)),
])
def test_translation_from_the_iris_diameter(angles: tuple[float, float, float],
                                            position: tuple[float, float, float]) -> None:
    landmarks = pose_landmarks(REFERENCE.points_mm, *angles, translation_mm=position)
    head = fit_head(landmarks, IMAGE_SIZE, FOCAL_PX, REFERENCE)
    scale = iris_scale_px_per_mm(landmarks, head.apparent_rotation)
    translation = head_translation_mm(head.eyes_midpoint_px, IMAGE_SIZE, FOCAL_PX, scale)
    # The irises stand 6 mm in front of the eyes' midpoint: about 1% nearer at 500 mm.
    assert translation == pytest.approx(position, rel=0.03, abs=3.0)


def test_reference_face_validates_its_points() -> None:
    with pytest.raises(ValueError, match="478 x 3"):
        ReferenceFace(np.zeros((468, 3)))
    with pytest.raises(ValueError, match="finite"):
        ReferenceFace(np.full((478, 3), np.nan))
