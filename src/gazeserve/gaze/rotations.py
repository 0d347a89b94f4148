"""Rotation maths for head pose: yaw/pitch/roll, similarity alignment, the line-of-sight turn.

All rotations act in the viewer frame of `gazeserve.gaze.conventions` (X right, Y up, Z toward
the camera) with `R = Ry(yaw) @ Rx(-pitch) @ Rz(roll)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.vec3 import Mat3, det, mat_mul, rows_of

Matrix = npt.NDArray[np.float64]


def rotation_from_angles(yaw_deg: float, pitch_deg: float, roll_deg: float) -> Matrix:
    """`Ry(yaw) @ Rx(-pitch) @ Rz(roll)`: the rotation that a head pose names (see conventions)."""
    y, p, r = math.radians(yaw_deg), math.radians(-pitch_deg), math.radians(roll_deg)
    cy, sy, cp, sp = math.cos(y), math.sin(y), math.cos(p), math.sin(p)
    cr, sr = math.cos(r), math.sin(r)
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rz = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    rotation: Matrix = ry @ rx @ rz
    return rotation


def angles_from_rotation(rotation: Matrix) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of `Ry(yaw) @ Rx(-pitch) @ Rz(roll)` (see
    `angles_from_rows`)."""
    return angles_from_rows(rows_of(rotation))


def angles_from_rows(rotation: Mat3) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of `Ry(yaw) @ Rx(-pitch) @ Rz(roll)`, given as rows.

    From the product's entries: R[1,2] = sin(pitch), R[0,2] / R[2,2] = tan(yaw), R[1,0] / R[1,1]
    = tan(roll) (the Y-X-Z Tait-Bryan decomposition). Singular only at pitch = +/-90 degrees.
    """
    sin_pitch = min(1.0, max(-1.0, rotation[1][2]))
    yaw = math.atan2(rotation[0][2], rotation[2][2])
    roll = math.atan2(rotation[1][0], rotation[1][1])
    return math.degrees(yaw), math.degrees(math.asin(sin_pitch)), math.degrees(roll)


@dataclass(frozen=True, eq=False)
class Similarity:
    """`target = scale * rotation @ source + translation` for column vectors."""

    scale: float
    rotation: Matrix
    translation: npt.NDArray[np.float64]


def align_similarity(source_centred: Matrix, source_variance: float,
                     target: npt.NDArray[np.floating]) -> Similarity:
    """Least-squares similarity from `source` to `target` points (N x 3 each, rows paired).

    Umeyama, "Least-squares estimation of transformation parameters between two point
    patterns", IEEE TPAMI 13(4), 1991, eqs. 38-42 (the Kabsch rotation with a reflection guard,
    plus scale). The source comes centred with its variance (mean squared norm), computed once.
    The returned translation maps the source's centroid, taken as the origin.
    """
    target = np.asarray(target, np.float64)
    rotation, scale = similarity_from_covariance(target.T @ source_centred, source_variance,
                                                 len(source_centred))
    return Similarity(scale, np.array(rotation), target.mean(axis=0))


def similarity_from_covariance(covariance: Matrix, source_variance: float,
                               count: int) -> tuple[Mat3, float]:
    """Rotation (rows) and scale of `align_similarity` from the 3 x 3 cross-covariance
    `target^T source` (Umeyama 1991, eqs. 38-42; his eq. 38's 1/N is folded into the scale).

    The source is centred, so the target's mean drops out of the cross-covariance: `sum_n
    (t_n - mean) s_n^T = sum_n t_n s_n^T` when `sum_n s_n = 0`. With `covariance = U S V^T`, the
    rotation is `U D V^T` and the scale `trace(S D) / (N variance)`, `D = diag(1, 1, d)` with `d
    = sign(det U det V)` (eq. 39's reflection guard).
    """
    u, singular, vt = np.linalg.svd(covariance)
    u_rows, vt_rows = rows_of(u), rows_of(vt)
    d = 1.0 if det(u_rows) * det(vt_rows) >= 0.0 else -1.0
    (a0, a1, a2), (b0, b1, b2), (c0, c1, c2) = u_rows
    ud = (a0, a1, d * a2), (b0, b1, d * b2), (c0, c1, d * c2)
    s0, s1, s2 = singular.tolist()
    return mat_mul(ud, vt_rows), (s0 + s1 + d * s2) / (source_variance * count)


def line_of_sight_rotation(point_px: tuple[float, float], image_size: tuple[int, int],
                           focal_length_px: float) -> Matrix:
    """`line_of_sight_rows` as an array."""
    return np.array(line_of_sight_rows(point_px, image_size, focal_length_px))


def line_of_sight_rows(point_px: tuple[float, float], image_size: tuple[int, int],
                       focal_length_px: float) -> Mat3:
    """The smallest rotation that turns the viewer's Z axis onto the direction from an image
    point back to the camera, as rows.

    Landmarks seen off the optical axis show the face as a camera turned toward it would (the
    virtual camera of Zhang, Sugano & Bulling, "Revisiting Data Normalization for
    Appearance-Based Gaze Estimation", ETRA 2018): a pose fitted to them is relative to the line
    of sight, and this rotation, applied after it, expresses it in the camera's axes.
    """
    width, height = image_size
    tx = -(point_px[0] - 0.5 * width) / focal_length_px
    ty = (point_px[1] - 0.5 * height) / focal_length_px
    norm = math.sqrt(tx * tx + ty * ty + 1.0)
    tx, ty, tz = tx / norm, ty / norm, 1.0 / norm
    # Rodrigues for the turn of z onto t about z x t, written out.
    a = 1.0 / (1.0 + tz)
    return ((1.0 - a * tx * tx, -a * tx * ty, tx),
            (-a * tx * ty, 1.0 - a * ty * ty, ty),
            (-tx, -ty, tz))
