"""NumPy references of MediaPipe's three custom ops (float64), written from their definitions.

Landmarks2TransformMatrix v2, TransformTensorBilinear v2 and TransformLandmarks v2 of
`mediapipe/util/tflite/operations/`: what the C delegate must compute, stated plainly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gazeserve.native import build
from gazeserve.native.build import Sanitizer, Variant

SANITIZE_ENV = "GAZE_NATIVE_TEST_SANITIZE"
"""`address` makes the tests load the AddressSanitizer build (the memcheck CI step sets it)."""


def delegate_library() -> Path:
    """The delegate library the tests run: built now if needed (idempotent)."""
    import os

    sanitizer = Sanitizer(os.environ.get(SANITIZE_ENV, "none"))
    return build.build(Variant(sanitizer))


def _rotation(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _affine4(linear: np.ndarray, shift: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:2, :2] = linear
    m[:2, 3] = shift
    return m


def landmarks_to_transform_matrix(landmarks: np.ndarray, left: int, right: int,
                                  subset: list[int], out_w: int, out_h: int, scale_x: float,
                                  scale_y: float, target_rad: float) -> np.ndarray:
    """4 x 4 matrix from output-grid pixels to landmark coordinates.

    rot = target - atan2(y_r - y_l, x_r - x_l); the subset rotated by rot gives an axis-aligned
    box (centre c', size w x h); c = R(-rot) c';
    M = T(c) R(-rot) S(sx w / W, sy h / H) T(-W/2, -H/2).
    """
    p = landmarks.astype(np.float64)
    rot = target_rad - math.atan2(p[right, 1] - p[left, 1], p[right, 0] - p[left, 0])
    turned = p[subset, :2] @ _rotation(rot).T
    lo, hi = turned.min(axis=0), turned.max(axis=0)
    centre = _rotation(-rot) @ ((lo + hi) / 2)
    width, height = hi - lo
    return (_affine4(np.eye(2), centre) @ _affine4(_rotation(-rot), np.zeros(2))
            @ _affine4(np.diag([scale_x * width / out_w, scale_y * height / out_h]), np.zeros(2))
            @ _affine4(np.eye(2), np.array([-out_w / 2, -out_h / 2])))


def sample_coordinates(matrix: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Source (x, y) of every output pixel: M (p + 0.5) - 0.5, shape out_h x out_w x 2."""
    ys, xs = np.mgrid[0:out_h, 0:out_w].astype(np.float64)
    grid = np.stack([xs + 0.5, ys + 0.5], axis=-1)
    m = matrix.astype(np.float64)
    return grid @ m[:2, :2].T + m[:2, 3] - 0.5


def transform_tensor_bilinear(feature: np.ndarray, matrix: np.ndarray, out_h: int,
                              out_w: int) -> np.ndarray:
    """feature H x W x C -> out_h x out_w x C.

    A pixel whose source lies outside [0, W-1] x [0, H-1] is 0; inside, a bilinear blend of the
    four neighbours in which a neighbour past the last row/column reads 0.
    """
    height, width, channels = feature.shape
    src = sample_coordinates(matrix, out_h, out_w)
    padded = np.zeros((height + 1, width + 1, channels))
    padded[:height, :width] = feature
    out = np.zeros((out_h, out_w, channels))
    for y in range(out_h):
        for x in range(out_w):
            sx, sy = src[y, x]
            if not (0 <= sx <= width - 1 and 0 <= sy <= height - 1):
                continue
            x0, y0 = math.floor(sx), math.floor(sy)
            fx, fy = sx - x0, sy - y0
            out[y, x] = ((1 - fy) * ((1 - fx) * padded[y0, x0] + fx * padded[y0, x0 + 1])
                         + fy * ((1 - fx) * padded[y0 + 1, x0] + fx * padded[y0 + 1, x0 + 1]))
    return out


def transform_landmarks(landmarks: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """x' = m00 x + m01 y + m03, y' = m10 x + m11 y + m13; z (if any) unchanged."""
    m = matrix.astype(np.float64)
    out = landmarks.astype(np.float64).copy()
    xy = landmarks[:, :2].astype(np.float64)
    out[:, :2] = xy @ m[:2, :2].T + m[:2, 3]
    return out
