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
from gazeserve.gaze.headpose import HeadFit
from gazeserve.gaze.landmark_indices import LEFT_EYE, RIGHT_EYE
from gazeserve.gaze.reference_face import ReferenceFace
from gazeserve.gaze.rotations import Matrix, line_of_sight_rotation
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
    """Each eye's gaze as a unit vector in the head frame, rows (right eye, left eye).

    In the head frame, with the corners' midpoint as origin, the iris centre is `c + r g`:
    `c = (neutral x, neutral y, iris_depth - r)` the eye's centre, `g` the unit gaze vector. Its
    image offset from the corners' midpoint fixes the x and y of `R (c + r g)` (weak perspective,
    `R` the head's rotation relative to that eye's own line of sight); `|g| = 1` fixes the
    unknown depth through a quadratic, whose root toward the camera is the visible iris.
    Pixels become mm by the head fit's scale, the scale of the reference face in which the
    neutral iris position is measured (the iris's own diameter shrinks as the eye turns).
    """
    eyes = (RIGHT_EYE, LEFT_EYE)
    corners = landmarks_px[[i for eye in eyes for i in eye.corners], :2].reshape(2, 2, 2)
    midpoints = 0.5 * (corners[:, 0] + corners[:, 1])
    offset_px = landmarks_px[[eye.iris_center for eye in eyes], :2] - midpoints
    radius = model.rotation_radius_mm
    directions = np.empty((2, 3))
    for k in range(2):
        # Each eye is seen along its own line of sight, a few degrees off the face's.
        sight = line_of_sight_rotation((float(midpoints[k, 0]), float(midpoints[k, 1])),
                                       image_size, focal_length_px)
        rotation = sight.T @ head.rotation
        # a = R^T (ox, oy, 0) mm (image y flipped to the viewer's up), b = R^T z, q = a - c.
        offset_mm = np.array([offset_px[k, 0], -offset_px[k, 1], 0.0]) / head.scale_px_per_mm
        q = offset_mm @ rotation
        q[:2] -= reference.neutral_iris_mm[k]
        q[2] -= reference.iris_depth_mm - radius
        b = rotation[2]
        bq = float(q @ b)
        depth = -bq + np.sqrt(max(bq * bq - float(q @ q) + radius * radius, 0.0))
        directions[k] = (q + depth * b) / radius
    return directions


def eye_rotations_deg(directions: Vector, model: EyeModel) -> Vector:
    """(yaw, pitch) in degrees of each eye in its socket, times the model's gain."""
    yaw = np.degrees(np.arctan2(directions[:, 0], directions[:, 2]))
    pitch = np.degrees(np.arcsin(np.clip(directions[:, 1], -1.0, 1.0)))
    rotations: Vector = model.gain * np.stack([yaw, pitch], axis=1)
    return rotations


def direction_from_angles(yaw_deg: float, pitch_deg: float) -> Vector:
    """Unit vector (viewer frame) of a direction given as gaze yaw and pitch."""
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    return np.array([math.cos(pitch) * math.sin(yaw), math.sin(pitch),
                     math.cos(pitch) * math.cos(yaw)])


def angles_from_direction(direction: Vector) -> tuple[float, float]:
    """Gaze (yaw, pitch) in degrees of a unit vector in the viewer frame."""
    yaw = math.atan2(float(direction[0]), float(direction[2]))
    pitch = math.asin(min(1.0, max(-1.0, float(direction[1]))))
    return math.degrees(yaw), math.degrees(pitch)


def gaze_direction(head_rotation: Matrix, eye_rotations_deg: npt.NDArray[np.float64],
                   right_eye: EyeResult, left_eye: EyeResult) -> Vector:
    """The gaze as a unit vector in the viewer frame, camera axes.

    The open eyes' in-socket angles are averaged (a cyclopean eye) and turned by the head's
    rotation; with both eyes closed the gaze is where the head points.
    """
    open_eyes = [i for i, eye in enumerate((right_eye, left_eye)) if not eye.closed]
    if open_eyes:
        yaw, pitch = eye_rotations_deg[open_eyes].mean(axis=0)
    else:
        yaw = pitch = 0.0
    return head_rotation @ direction_from_angles(float(yaw), float(pitch))


def gaze_result(direction: Vector, right_eye: EyeResult, left_eye: EyeResult) -> Gaze:
    """The reported gaze: its angles and both eyes' mean displacement (when both are known)."""
    yaw, pitch = angles_from_direction(direction)
    right, left = right_eye.displacement, left_eye.displacement
    displacement = None if right is None or left is None else (
        0.5 * (right[0] + left[0]), 0.5 * (right[1] + left[1]))
    return Gaze(yaw_deg=yaw, pitch_deg=pitch, displacement=displacement)
