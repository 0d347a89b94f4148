"""Gaze direction: the head's rotation combined with each eye's rotation in its socket.

Eye model (a spherical eyeball, as in model-based gaze estimators such as Wood & Bulling's
EyeTab, ETRA 2014): each eye turns about a centre `IRIS_CENTRE_FROM_EYE_CENTRE_MM` (10.5 mm)
behind its iris centre. Where the iris centre sits when the eye looks straight ahead comes from the
reference face: `neutral_iris_mm` across the face from the corners' midpoint, `iris_depth_mm` in
front of it. Seen head-on, an iris `o` mm from that neutral spot is an eye rotation of
`asin(o / 10.5 mm)`; for a turned head the offset is solved in 3D, so the iris's parallax against
the corners is not read as gaze.
Signs and frames are those of `conventions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.conventions import IRIS_CENTRE_FROM_EYE_CENTRE_MM
from gazeserve.gaze.eyes import EyePoints, eye_points
from gazeserve.gaze.headpose import HeadFit
from gazeserve.gaze.landmark_indices import LEFT_EYE, RIGHT_EYE
from gazeserve.gaze.reference_face import ReferenceFace
from gazeserve.gaze.rotations import Matrix, line_of_sight_rows
from gazeserve.gaze.vec3 import Mat3, Vec3, dot, mat_mul, mat_vec, rows_of, transpose
from gazeserve.results import EyeResult, Gaze

Landmarks = npt.NDArray[np.floating]
Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class EyeModel:
    """The eyeball model's constants. Validated when built."""

    rotation_radius_mm: float = IRIS_CENTRE_FROM_EYE_CENTRE_MM
    """Eye's centre of rotation to iris centre."""
    gain: float = 1.0
    """Multiplies the eye-in-head angles. 1.0 is the bare model; per-user calibration (a later
    stage) fits the gain, which absorbs the kappa angle and the mesh's bias toward the centre."""

    def __post_init__(self) -> None:
        if not 5.0 <= self.rotation_radius_mm <= 20.0:
            raise ValueError(f"rotation_radius_mm must be in [5, 20] mm, got "
                             f"{self.rotation_radius_mm}")
        if not 0.0 <= self.gain <= 5.0:
            raise ValueError(f"gain must be in [0, 5], got {self.gain}")


def eye_directions_in_head(landmarks_px: Landmarks, head: HeadFit, reference: ReferenceFace,
                           image_size: tuple[int, int], focal_length_px: float,
                           model: EyeModel) -> Vector:
    """`eye_directions` from the landmarks, as a 2 x 3 array (rows right eye, left eye)."""
    right, left = eye_points(landmarks_px, (RIGHT_EYE, LEFT_EYE))
    return np.array(eye_directions(right, left, head, reference, image_size, focal_length_px,
                                   model))


def eye_directions(right: EyePoints, left: EyePoints, head: HeadFit, reference: ReferenceFace,
                   image_size: tuple[int, int], focal_length_px: float,
                   model: EyeModel) -> list[Vec3]:
    """Each eye's gaze as a unit vector in the head frame: right eye, then left eye.

    In the head frame, with the corners' midpoint as origin, the iris centre is `c + r g`:
    `c = (neutral x, neutral y, iris_depth - r)` the eye's centre, `g` the unit gaze vector. Its
    image offset from the corners' midpoint fixes the x and y of `R (c + r g)` (weak perspective,
    `R` the head's rotation relative to that eye's own line of sight); `|g| = 1` fixes the
    unknown depth through a quadratic, whose root toward the camera is the visible iris.
    Pixels become mm by the head fit's scale, the scale of the reference face in which the
    neutral iris position is measured (the iris's own diameter shrinks as the eye turns).
    """
    radius = model.rotation_radius_mm
    depth_of_centre = reference.iris_depth_mm - radius
    directions = []
    for eye, (neutral_x, neutral_y) in zip((right, left), reference.neutral_iris_mm.tolist(),
                                           strict=True):
        (ax, ay, _), (bx, by, _) = eye.corners
        mid_x, mid_y = 0.5 * (ax + bx), 0.5 * (ay + by)
        # Each eye is seen along its own line of sight, a few degrees off the face's.
        sight = line_of_sight_rows((mid_x, mid_y), image_size, focal_length_px)
        r0, r1, b = mat_mul(transpose(sight), head.rotation_rows)
        # a = R^T (ox, oy, 0) mm (image y flipped to the viewer's up), b = R^T z, q = a - c.
        ox = (eye.iris_center[0] - mid_x) / head.scale_px_per_mm
        oy = -(eye.iris_center[1] - mid_y) / head.scale_px_per_mm
        q = (ox * r0[0] + oy * r1[0] - neutral_x, ox * r0[1] + oy * r1[1] - neutral_y,
             ox * r0[2] + oy * r1[2] - depth_of_centre)
        bq = dot(q, b)
        depth = -bq + math.sqrt(max(bq * bq - dot(q, q) + radius * radius, 0.0))
        directions.append(((q[0] + depth * b[0]) / radius, (q[1] + depth * b[1]) / radius,
                           (q[2] + depth * b[2]) / radius))
    return directions


def eye_rotations_deg(directions: Vector, model: EyeModel) -> Vector:
    """`eye_rotations` as a 2 x 2 array."""
    return np.array(eye_rotations([(x, y, z) for x, y, z in directions.tolist()], model))


def eye_rotations(directions: list[Vec3], model: EyeModel) -> list[tuple[float, float]]:
    """(yaw, pitch) in degrees of each eye in its socket, times the model's gain."""
    return [(model.gain * math.degrees(math.atan2(x, z)),
             model.gain * math.degrees(math.asin(min(1.0, max(-1.0, y)))))
            for x, y, z in directions]


def direction_from_angles(yaw_deg: float, pitch_deg: float) -> Vector:
    """Unit vector (viewer frame) of a direction given as gaze yaw and pitch."""
    return np.array(_direction(yaw_deg, pitch_deg))


def _direction(yaw_deg: float, pitch_deg: float) -> Vec3:
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    return math.cos(pitch) * math.sin(yaw), math.sin(pitch), math.cos(pitch) * math.cos(yaw)


def angles_from_direction(direction: Vector | Vec3) -> tuple[float, float]:
    """Gaze (yaw, pitch) in degrees of a unit vector in the viewer frame."""
    yaw = math.atan2(float(direction[0]), float(direction[2]))
    pitch = math.asin(min(1.0, max(-1.0, float(direction[1]))))
    return math.degrees(yaw), math.degrees(pitch)


def gaze_direction(head_rotation: Matrix, eye_rotations_deg: npt.NDArray[np.float64],
                   right_eye: EyeResult, left_eye: EyeResult) -> Vector:
    """`gaze_vector` from arrays, as an array."""
    rotations = [(yaw, pitch) for yaw, pitch in eye_rotations_deg.tolist()]
    return np.array(gaze_vector(rows_of(head_rotation), rotations, right_eye, left_eye))


def gaze_vector(head_rotation: Mat3, eye_rotations_deg: list[tuple[float, float]],
                right_eye: EyeResult, left_eye: EyeResult) -> Vec3:
    """The gaze as a unit vector in the viewer frame, camera axes.

    The open eyes' in-socket angles are averaged (a cyclopean eye) and turned by the head's
    rotation; with both eyes closed the gaze is where the head points.
    """
    open_eyes = [angles for angles, eye in zip(eye_rotations_deg, (right_eye, left_eye),
                                               strict=True) if not eye.closed]
    yaw = sum(a[0] for a in open_eyes) / len(open_eyes) if open_eyes else 0.0
    pitch = sum(a[1] for a in open_eyes) / len(open_eyes) if open_eyes else 0.0
    return mat_vec(head_rotation, _direction(yaw, pitch))


def gaze_result(direction: Vector | Vec3, right_eye: EyeResult, left_eye: EyeResult) -> Gaze:
    """The reported gaze: its angles and both eyes' mean displacement (when both are known)."""
    yaw, pitch = angles_from_direction(direction)
    right, left = right_eye.displacement, left_eye.displacement
    displacement = None if right is None or left is None else (
        0.5 * (right[0] + left[0]), 0.5 * (right[1] + left[1]))
    return Gaze(yaw_deg=yaw, pitch_deg=pitch, displacement=displacement)
