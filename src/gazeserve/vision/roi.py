"""Rotated regions of interest: building them, cropping them, projecting points back.

All rectangles here are in image pixels (MediaPipe keeps them normalised by the image size; with
`square_long` the two agree once multiplied out, and pixels make the maths plain).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final, cast

import cv2
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
AnyFloatArray = npt.NDArray[np.floating[Any]]
ImageRGB = npt.NDArray[np.uint8]


_UNIT_CORNERS: Final = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]], np.float32)


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
        local = _UNIT_CORNERS * np.array([self.width_px, self.height_px], np.float32)
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


def bounding_box_px(points_px: AnyFloatArray) -> tuple[float, float, float, float]:
    """(x_min, y_min, x_max, y_max) of the points' x and y (columns 0 and 1)."""
    x0, y0, x1, y1 = _extremes(points_px)
    return float(x0), float(y0), float(x1), float(y1)


def _extremes(points_px: AnyFloatArray) -> tuple[Any, Any, Any, Any]:
    """x_min, y_min, x_max, y_max as numpy scalars of the points' dtype.

    Reduced one column at a time: numpy's reduction along axis 0 of an N x 2 or N x 3 array
    costs several times more than four reductions of a column each.
    """
    xs, ys = points_px[:, 0], points_px[:, 1]
    return xs.min(), ys.min(), xs.max(), ys.max()


def rect_from_points(points_px: FloatArray, start_px: FloatArray, end_px: FloatArray,
                     scale: float) -> RotatedRect:
    """Points -> ROI as MediaPipe's landmarks-to-ROI subgraphs do.

    `LandmarksToDetectionCalculator` (axis-aligned box of the points), `DetectionsToRects`
    (rotation from start->end, target 0) and `RectTransformation` (scale, square_long).
    """
    x0, y0, x1, y1 = _extremes(points_px)  # sums in the points' own (float32) precision
    rect = RotatedRect(float(x0 + x1) / 2, float(y0 + y1) / 2, float(x1 - x0), float(y1 - y0),
                       rotation_to_target(start_px, end_px))
    return transform_rect(rect, scale, scale)


def crop_matrix(rect: RotatedRect, out_width: int, out_height: int,
                flip_horizontally: bool = False) -> FloatArray:
    """2x3 affine from image pixels to tensor pixels for `rect`.

    As MediaPipe's `ImageToTensorCalculator` (OpenCV path): the rectangle's corners map onto the
    tensor's corners (0 and W, not pixel centres).
    """
    return _matrix_from_corners(rect.corners_px(), out_width, out_height, flip_horizontally)


def _matrix_from_corners(corners_px: FloatArray, out_width: int, out_height: int,
                         flip_horizontally: bool) -> FloatArray:
    src = corners_px[[0, 1, 3]]
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


INPUT_SCALE: Final = np.float32(1.0 / 255.0)
"""uint8 -> [0, 1], the landmark models' input range (`ImageToTensorCalculator` 0..1)."""


def crop_input(image: ImageRGB, rect: RotatedRect, size: int,
               flip_horizontally: bool = False) -> FloatArray:
    """The model input for `rect`: 1 x size x size x 3 float32 in [0, 1].

    The same pixels as `crop` (bit for bit; edges replicated), warped faster: OpenCV's bilinear
    `warpAffine` is 2-3x faster on 4-channel pixels than on 3, so only the part of the frame
    the rectangle covers is converted to RGBX (`source_region_px`), warped, and the small crop
    turned back into RGB (a 192 x 192 face crop of a 640 x 360 frame, with the conversion to
    float: about 270 -> 160 us measured with warm caches). The RGBX copy keeps the frame's size
    and coordinates, so the warp matrix, and with it every sampled position, is exactly
    `crop`'s (shifting the matrix to a cut-out changes OpenCV's rounding of a few samples); the
    buffer outside the region is never read (see `source_region_px`).
    """
    height, width = image.shape[:2]
    corners = rect.corners_px()
    x0, y0, x1, y1 = _region_from_corners(corners, width, height)
    rgbx = np.empty((height, width, 4), np.uint8)
    cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_RGB2RGBA, dst=rgbx[y0:y1, x0:x1])
    warped = cv2.warpAffine(rgbx, _matrix_from_corners(corners, size, size, flip_horizontally),
                            (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
    rgb = cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB)
    return cast(FloatArray, np.multiply(rgb[None], INPUT_SCALE))


def source_region_px(rect: RotatedRect, width: int, height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), max exclusive: the pixels a bilinear warp of `rect` can read.

    The rectangle's bounding box, 2 px wider on each side for the bilinear neighbours and
    rounding, clipped to the image but never empty: with `BORDER_REPLICATE` a position outside
    the image reads the nearest edge pixel, which this box then still holds.
    """
    return _region_from_corners(rect.corners_px(), width, height)


def _region_from_corners(corners_px: FloatArray, width: int,
                         height: int) -> tuple[int, int, int, int]:
    xs, ys = corners_px.T.tolist()
    x0 = min(max(math.floor(min(xs)) - 2, 0), width - 1)
    y0 = min(max(math.floor(min(ys)) - 2, 0), height - 1)
    x1 = max(min(math.ceil(max(xs)) + 3, width), x0 + 1)
    y1 = max(min(math.ceil(max(ys)) + 3, height), y0 + 1)
    return x0, y0, x1, y1


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
