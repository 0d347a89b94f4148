"""Rotated regions of interest: building them, cropping them, projecting points back.

All rectangles here are in image pixels (MediaPipe keeps them normalised by the image size; with
`square_long` the two agree once multiplied out, and pixels make the maths plain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
AnyFloatArray = npt.NDArray[np.floating[Any]]
ImageRGB = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class RotatedRect:
    """A rectangle in image pixels, rotated by `rotation_rad` about its centre.

    Rotation follows MediaPipe's `NormalizedRect.rotation`: radians, positive turning the x axis
    toward +y (clockwise on screen, since y points down).
    """

    center_x_px: float
    center_y_px: float
    width_px: float
    height_px: float
    rotation_rad: float = 0.0

    def corners_px(self) -> FloatArray:
        """Top-left, top-right, bottom-right, bottom-left in image pixels."""
        half = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], np.float32)
        local = half * np.array([self.width_px, self.height_px], np.float32)
        return (local @ _rotation(self.rotation_rad).T + self._center()).astype(np.float32)

    def _center(self) -> FloatArray:
        return np.array([self.center_x_px, self.center_y_px], np.float32)


def _rotation(angle_rad: float) -> FloatArray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, -s], [s, c]], np.float32)


def normalize_radians(angle_rad: float) -> float:
    """Wraps to [-pi, pi), as MediaPipe's `NormalizeRadians`."""
    return angle_rad - 2 * math.pi * math.floor((angle_rad + math.pi) / (2 * math.pi))


def rotation_to_target(start_px: FloatArray, end_px: FloatArray, target_deg: float = 0.0) -> float:
    """Rotation that turns the start->end vector to `target_deg`.

    MediaPipe `DetectionsToRectsCalculator::ComputeRotation`: target - atan2(-(y1-y0), x1-x0).
    """
    dx = float(end_px[0] - start_px[0])
    dy = float(end_px[1] - start_px[1])
    return normalize_radians(math.radians(target_deg) - math.atan2(-dy, dx))


def transform_rect(rect: RotatedRect, scale_x: float, scale_y: float,
                   square_long: bool = True) -> RotatedRect:
    """MediaPipe `RectTransformationCalculator` without shift: scale, square on the long side."""
    width = rect.width_px * scale_x
    height = rect.height_px * scale_y
    if square_long:
        width = height = max(width, height)
    return RotatedRect(rect.center_x_px, rect.center_y_px, width, height, rect.rotation_rad)


def rect_from_points(points_px: FloatArray, start_px: FloatArray, end_px: FloatArray,
                     scale: float) -> RotatedRect:
    """Points -> ROI as MediaPipe's landmarks-to-ROI subgraphs do.

    `LandmarksToDetectionCalculator` (axis-aligned box of the points), `DetectionsToRects`
    (rotation from start->end, target 0) and `RectTransformation` (scale, square_long).
    """
    lo = points_px.min(axis=0)
    hi = points_px.max(axis=0)
    rect = RotatedRect(float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2,
                       float(hi[0] - lo[0]), float(hi[1] - lo[1]),
                       rotation_to_target(start_px, end_px))
    return transform_rect(rect, scale, scale)


def crop_matrix(rect: RotatedRect, out_width: int, out_height: int,
                flip_horizontally: bool = False) -> FloatArray:
    """2x3 affine from image pixels to tensor pixels for `rect`.

    As MediaPipe's `ImageToTensorCalculator` (OpenCV path): the rectangle's corners map onto the
    tensor's corners (0 and W, not pixel centres).
    """
    src = rect.corners_px()[[0, 1, 3]]
    dst = np.array([[0, 0], [out_width, 0], [0, out_height]], np.float32)
    if flip_horizontally:
        dst[:, 0] = out_width - 1 - dst[:, 0]
    return cv2.getAffineTransform(src, dst).astype(np.float32)


def crop(image: ImageRGB, rect: RotatedRect, out_width: int, out_height: int,
         border: int = cv2.BORDER_REPLICATE, flip_horizontally: bool = False) -> ImageRGB:
    """Warps `rect` of `image` into an out_height x out_width x 3 uint8 crop (bilinear)."""
    matrix = crop_matrix(rect, out_width, out_height, flip_horizontally)
    out = cv2.warpAffine(image, matrix, (out_width, out_height), flags=cv2.INTER_LINEAR,
                         borderMode=border, borderValue=(0, 0, 0))
    return cast(ImageRGB, out)


def project_to_image(points_norm: AnyFloatArray, rect: RotatedRect,
                     flip_horizontally: bool = False) -> FloatArray:
    """Crop-normalised landmarks (x, y in [0, 1] of the crop, z on x's scale) -> image pixels.

    MediaPipe `LandmarkProjectionCalculator`: centre, rotate by the ROI's rotation, scale by its
    size; z scales with the ROI width so it stays on x's scale, in pixels.
    """
    xy = points_norm[:, :2].astype(np.float32) - 0.5
    if flip_horizontally:
        xy[:, 0] = -xy[:, 0]
    xy *= np.array([rect.width_px, rect.height_px], np.float32)
    out = np.empty((points_norm.shape[0], 3), np.float32)
    out[:, :2] = xy @ _rotation(rect.rotation_rad).T + np.array(
        [rect.center_x_px, rect.center_y_px], np.float32)
    out[:, 2] = points_norm[:, 2] * rect.width_px if points_norm.shape[1] > 2 else 0.0
    return out
