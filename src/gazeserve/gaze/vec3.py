"""3-vectors and 3 x 3 matrices as tuples of plain floats, for the per-frame geometry.

One face's geometry works on a handful of 3-vectors and 3 x 3 rotations. At that size numpy's
per-call overhead (about 1 us with warm caches, tens of us right after a model invoke has
evicted them) exceeds the arithmetic, so the per-frame path uses these helpers; numpy stays
where the arrays are large (the landmarks, the rigid points' cross-covariance) or the operation
is more than arithmetic (the SVD). Matrices are tuples of rows.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Vec3 = tuple[float, float, float]
Mat3 = tuple[Vec3, Vec3, Vec3]
"""Rows of a 3 x 3 matrix."""


def rows_of(matrix: npt.NDArray[np.floating]) -> Mat3:
    """A 3 x 3 array as rows of plain floats."""
    a, b, c = matrix.tolist()
    return (a[0], a[1], a[2]), (b[0], b[1], b[2]), (c[0], c[1], c[2])


def dot(a: Vec3, b: Vec3) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def sub(a: Vec3, b: Vec3) -> Vec3:
    return a[0] - b[0], a[1] - b[1], a[2] - b[2]


def cross(a: Vec3, b: Vec3) -> Vec3:
    return a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]


def unit(a: Vec3) -> Vec3:
    """`a / |a|`."""
    norm = math.sqrt(dot(a, a))
    return a[0] / norm, a[1] / norm, a[2] / norm


def mat_vec(m: Mat3, v: Vec3) -> Vec3:
    """`m @ v`."""
    return dot(m[0], v), dot(m[1], v), dot(m[2], v)


def transpose(m: Mat3) -> Mat3:
    (a, b, c), (d, e, f), (g, h, i) = m
    return (a, d, g), (b, e, h), (c, f, i)


def mat_mul(a: Mat3, b: Mat3) -> Mat3:
    """`a @ b`."""
    bt = transpose(b)
    return ((dot(a[0], bt[0]), dot(a[0], bt[1]), dot(a[0], bt[2])),
            (dot(a[1], bt[0]), dot(a[1], bt[1]), dot(a[1], bt[2])),
            (dot(a[2], bt[0]), dot(a[2], bt[1]), dot(a[2], bt[2])))


def det(m: Mat3) -> float:
    """Determinant, by cofactors along the first row."""
    (a, b, c), (d, e, f), (g, h, i) = m
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
