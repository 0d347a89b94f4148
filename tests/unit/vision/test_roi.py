"""Rotated ROIs: crops and projections are each other's inverse, rotations as MediaPipe's."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gazeserve.vision.roi import (
    RotatedRect,
    bounding_box_px,
    crop,
    crop_input,
    crop_matrix,
    normalize_radians,
    project_to_image,
    rect_from_points,
    rotation_to_target,
    source_region_px,
    transform_rect,
)


@pytest.mark.parametrize("rotation", [0.0, 0.3, -1.2, math.pi / 2])
@pytest.mark.parametrize("flip", [False, True])
def test_projection_inverts_the_crop(rotation: float, flip: bool) -> None:
    rect = RotatedRect(100.0, 80.0, 60.0, 60.0, rotation)
    matrix = crop_matrix(rect, 64, 64)
    points_px = np.array([[100, 80], [110, 75], [90, 95]], np.float32)
    tensor = points_px @ matrix[:, :2].T + matrix[:, 2]
    norm = np.c_[tensor / 64.0, np.zeros(3, np.float32)]
    back = project_to_image(norm, rect)
    np.testing.assert_allclose(back[:, :2], points_px, atol=1e-3)
    if flip:
        mirrored = np.c_[1.0 - norm[:, 0], norm[:, 1], norm[:, 2]]
        np.testing.assert_allclose(project_to_image(mirrored, rect, True)[:, :2], points_px,
                                   atol=1e-3)


def test_z_is_scaled_by_the_roi_width() -> None:
    rect = RotatedRect(0.0, 0.0, 200.0, 200.0)
    out = project_to_image(np.array([[0.5, 0.5, 0.1]], np.float32), rect)
    assert out[0, 2] == pytest.approx(20.0)


def test_rotation_levels_the_eye_line() -> None:
    # An eye line tilted down to the right (y grows) needs a positive rotation.
    assert rotation_to_target(np.array([0.0, 0.0]), np.array([10.0, 10.0])) == pytest.approx(
        math.pi / 4)
    assert rotation_to_target(np.array([0.0, 0.0]), np.array([10.0, 0.0])) == 0.0
    assert normalize_radians(3 * math.pi) == pytest.approx(-math.pi)


def test_transform_squares_on_the_long_side() -> None:
    rect = transform_rect(RotatedRect(5, 5, 10, 4), 1.5, 1.5)
    assert (rect.width_px, rect.height_px) == (15.0, 15.0)


def test_rect_from_points_is_axis_aligned_box_scaled() -> None:
    points = np.array([[10, 20], [30, 20], [20, 26]], np.float32)
    rect = rect_from_points(points, points[0], points[1], 2.0)
    assert (rect.center_x_px, rect.center_y_px) == (20.0, 23.0)
    assert rect.width_px == rect.height_px == 40.0
    assert rect.rotation_rad == 0.0


def test_crop_of_a_rotated_rect_samples_the_rotated_content() -> None:
    image = np.zeros((100, 100, 3), np.uint8)
    image[45:55, 70:80] = 255  # a bright patch right of the centre
    rect = RotatedRect(50.0, 50.0, 80.0, 80.0, math.pi / 2)
    out = crop(image, rect, 32, 32)
    # Rotated a quarter turn, the crop's "up" looks toward the image's right.
    ys, xs = np.nonzero(out[..., 0] > 128)
    assert ys.mean() < 12 and 12 < xs.mean() < 20


@pytest.mark.parametrize("seed", range(4))
def test_crop_input_is_the_crop_scaled_to_unit_range(seed: int) -> None:
    # The RGBX warp of the covered region must sample exactly the pixels `crop` samples,
    # including rectangles partly or wholly outside the image (edges replicated) and mirrors.
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    for _ in range(25):
        width = float(rng.uniform(4.0, 200.0))
        rect = RotatedRect(float(rng.uniform(-60.0, 180.0)), float(rng.uniform(-60.0, 150.0)),
                           width, width, float(rng.uniform(-math.pi, math.pi)))
        flip = bool(rng.integers(2))
        size = int(rng.choice([16, 64, 192]))
        expected = crop(image, rect, size, size, flip_horizontally=flip)
        got = crop_input(image, rect, size, flip)
        assert got.shape == (1, size, size, 3) and got.dtype == np.float32
        np.testing.assert_array_equal(got[0], expected.astype(np.float32) * np.float32(1 / 255))


def test_source_region_is_clipped_but_never_empty() -> None:
    inside = source_region_px(RotatedRect(50.0, 40.0, 20.0, 20.0), 120, 90)
    assert inside == (38, 28, 63, 53)
    far_right = source_region_px(RotatedRect(500.0, 40.0, 20.0, 20.0), 120, 90)
    assert far_right == (119, 28, 120, 53)  # the edge column a replicated border reads


def test_bounding_box_of_points() -> None:
    points = np.array([[3.0, 4.0, 9.0], [-1.0, 7.5, 0.0], [2.0, -2.0, 1.0]], np.float32)
    assert bounding_box_px(points) == (-1.0, -2.0, 3.0, 7.5)
