"""The gaze ray against the default laptop screen below the camera."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazeserve.gaze.conventions import VIEWER_FROM_CAMERA
from gazeserve.gaze.screen import ScreenGeometry, intersect_screen

SCREEN = ScreenGeometry()


def _toward(origin: tuple[float, float, float],
            target_camera_mm: tuple[float, float, float]) -> np.ndarray:
    """Unit viewer-frame direction from `origin` to a camera-frame point."""
    direction = np.subtract(target_camera_mm, origin)
    return VIEWER_FROM_CAMERA @ (direction / np.linalg.norm(direction))


def test_default_screen_is_a_15_6_inch_laptop_panel() -> None:
    assert math.hypot(SCREEN.width_mm, SCREEN.height_mm) / 25.4 == pytest.approx(15.6, abs=0.1)


def test_looking_at_the_screen_centre() -> None:
    origin = (0.0, 50.0, 500.0)
    centre = (0.0, SCREEN.camera_to_top_edge_mm + SCREEN.height_mm / 2, 0.0)
    hit = intersect_screen(origin, _toward(origin, centre), SCREEN)
    assert hit.on_screen
    assert hit.angle_off_screen_deg == 0.0
    assert hit.point_mm == pytest.approx((SCREEN.width_mm / 2, SCREEN.height_mm / 2))


def test_screen_x_runs_to_the_users_right() -> None:
    origin = (0.0, 50.0, 500.0)
    # Camera +X is the image's right, which is the user's left.
    users_left = (100.0, SCREEN.camera_to_top_edge_mm + 50.0, 0.0)
    hit = intersect_screen(origin, _toward(origin, users_left), SCREEN)
    assert hit.on_screen
    assert hit.point_mm == pytest.approx((SCREEN.width_mm / 2 - 100.0, 50.0))


def test_looking_into_the_camera_is_just_above_the_screen() -> None:
    origin = (0.0, 0.0, 500.0)
    hit = intersect_screen(origin, np.array([0.0, 0.0, 1.0]), SCREEN)
    assert not hit.on_screen
    assert hit.point_mm == pytest.approx((SCREEN.width_mm / 2, -SCREEN.camera_to_top_edge_mm))
    assert hit.angle_off_screen_deg == pytest.approx(
        math.degrees(math.atan2(SCREEN.camera_to_top_edge_mm, 500.0)), abs=1e-6)


def test_angle_to_a_corner_when_looking_past_it() -> None:
    origin = (0.0, 0.0, 500.0)
    corner = (SCREEN.width_mm / 2, SCREEN.camera_to_top_edge_mm + SCREEN.height_mm, 0.0)
    beyond = (corner[0] + 200.0, corner[1] + 200.0, 0.0)
    hit = intersect_screen(origin, _toward(origin, beyond), SCREEN)
    expected = math.degrees(math.acos(float(
        _toward(origin, beyond) @ _toward(origin, corner))))
    assert not hit.on_screen
    assert hit.angle_off_screen_deg == pytest.approx(expected, abs=1e-6)


def test_looking_away_from_the_screen_plane() -> None:
    hit = intersect_screen((0.0, 0.0, 500.0), np.array([0.0, 0.0, -1.0]), SCREEN)
    assert not hit.on_screen
    assert hit.point_mm is None
    assert hit.angle_off_screen_deg > 90.0


@pytest.mark.parametrize("change", [{"width_mm": 0.0}, {"height_mm": -5.0},
                                    {"camera_to_top_edge_mm": 5000.0},
                                    {"center_x_mm": 1e5}])
def test_screen_geometry_is_validated(change: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ScreenGeometry(**change)
