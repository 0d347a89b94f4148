"""A synthetic face for the gaze geometry's unit tests: 478 points in mm, posed and projected.

The face is left-right symmetric with a known index permutation (`MIRROR_INDEX`), so a mirrored
image's landmarks can be made exactly as an ideal landmark model would give them. Frames and
signs are those of `gazeserve.gaze.conventions`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from gazeserve.gaze.conventions import IRIS_DIAMETER_MM
from gazeserve.gaze.landmark_indices import (
    CHIN,
    FOREHEAD_TOP,
    LANDMARK_POINTS,
    LEFT_EYE,
    LEFT_EYEBROW,
    MESH_POINTS,
    NOSE_TIP,
    RIGHT_EYE,
    RIGHT_EYEBROW,
    SUBNASALE,
)
from gazeserve.gaze.rotations import rotation_from_angles

Points = NDArray[np.float64]

EYE_CENTER_X_MM = 31.0
EYE_HALF_WIDTH_MM = 14.0
LID_HEIGHT_OPEN_MM = 5.0
LID_BULGE_MM = 6.0
"""How far the lids' middle stands in front of the corners' midpoint: the iris depth."""
NEUTRAL_IRIS_Y_MM = 1.0
EYE_RADIUS_MM = math.sqrt(12.0**2 - (IRIS_DIAMETER_MM / 2) ** 2)
IMAGE_SIZE = (640, 480)
FOCAL_PX = 640.0


def _mirror_index() -> NDArray[np.intp]:
    pairs: list[tuple[int, int]] = [(RIGHT_EYE.corners[0], LEFT_EYE.corners[1]),
                                    (RIGHT_EYE.corners[1], LEFT_EYE.corners[0]),
                                    (RIGHT_EYE.iris_center, LEFT_EYE.iris_center)]
    pairs += list(zip(RIGHT_EYE.upper_lid, reversed(LEFT_EYE.upper_lid), strict=True))
    pairs += list(zip(RIGHT_EYE.lower_lid, reversed(LEFT_EYE.lower_lid), strict=True))
    pairs += list(zip(RIGHT_EYEBROW, LEFT_EYEBROW, strict=True))
    right, top, left, bottom = RIGHT_EYE.iris_ring
    other_right, other_top, other_left, other_bottom = LEFT_EYE.iris_ring
    pairs += [(right, other_left), (left, other_right), (top, other_top),
              (bottom, other_bottom)]
    index = np.full(LANDMARK_POINTS, -1, dtype=np.intp)
    for a, b in pairs:
        index[a], index[b] = b, a
    for midline in (NOSE_TIP, SUBNASALE, FOREHEAD_TOP, CHIN):
        index[midline] = midline
    rest = [i for i in range(MESH_POINTS) if index[i] < 0]
    for a, b in zip(rest[0::2], rest[1::2], strict=False):
        index[a], index[b] = b, a
    if len(rest) % 2:
        index[rest[-1]] = rest[-1]
    return index


MIRROR_INDEX = _mirror_index()
"""`MIRROR_INDEX[i]`: the point that index i lands on when the face is mirrored."""


def _right_eye_mm(lid_height_mm: float) -> dict[int, tuple[float, float, float]]:
    outer = np.array([-EYE_CENTER_X_MM - EYE_HALF_WIDTH_MM, 0.5, -3.0])
    inner = np.array([-EYE_CENTER_X_MM + EYE_HALF_WIDTH_MM, -0.5, 2.0])
    points = {RIGHT_EYE.corners[0]: tuple(outer), RIGHT_EYE.corners[1]: tuple(inner)}
    for k, (upper, lower) in enumerate(zip(RIGHT_EYE.upper_lid, RIGHT_EYE.lower_lid,
                                           strict=True)):
        t = (k + 1) / (len(RIGHT_EYE.upper_lid) + 1)
        base = outer + t * (inner - outer)
        bulge = np.array([0.0, 0.0, LID_BULGE_MM * math.sin(math.pi * t)])
        lift = np.array([0.0, lid_height_mm * math.sin(math.pi * t), 0.0])
        points[upper] = tuple(base + bulge + lift)
        points[lower] = tuple(base + bulge - lift)
    return points


def synthetic_face_mm(lid_height_mm: float = LID_HEIGHT_OPEN_MM) -> Points:
    """The neutral face (478 x 3, mm, viewer frame), eyes open and looking straight ahead."""
    rng = np.random.default_rng(7)
    face = np.zeros((LANDMARK_POINTS, 3))
    for i in range(MESH_POINTS):
        j = int(MIRROR_INDEX[i])
        if j < i:
            continue
        x = 0.0 if j == i else rng.uniform(5.0, 70.0)
        y = rng.uniform(-110.0, 60.0)
        z = 45.0 * max(0.05, 1.0 - (x / 75.0) ** 2 - ((y + 25.0) / 95.0) ** 2) - 15.0
        face[i] = (-x, y, z)
        face[j] = (x, y, z)
    face[NOSE_TIP] = (0.0, -35.0, 35.0)
    face[SUBNASALE] = (0.0, -45.0, 22.0)
    face[FOREHEAD_TOP] = (0.0, 55.0, 12.0)
    face[CHIN] = (0.0, -105.0, 0.0)
    for index, point in _right_eye_mm(lid_height_mm).items():
        face[index] = point
        face[MIRROR_INDEX[index]] = (-point[0], point[1], point[2])
    set_eye_rotation(face, 0.0, 0.0)
    return face


def set_eye_rotation(face_mm: Points, yaw_deg: float, pitch_deg: float) -> None:
    """Puts both irises where eyes turned by (yaw, pitch) in their sockets show them (in place):
    each eye turns about a centre EYE_RADIUS_MM behind its straight-ahead iris centre."""
    yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
    gaze = np.array([math.cos(pitch) * math.sin(yaw), math.sin(pitch),
                     math.cos(pitch) * math.cos(yaw)])
    side = np.cross([0.0, 1.0, 0.0], gaze)
    side /= np.linalg.norm(side)
    up = np.cross(gaze, side)
    radius = IRIS_DIAMETER_MM / 2
    for eye in (RIGHT_EYE, LEFT_EYE):
        corners_mid = face_mm[list(eye.corners)].mean(axis=0)
        straight = corners_mid + np.array([0.0, NEUTRAL_IRIS_Y_MM, LID_BULGE_MM])
        center = straight - np.array([0.0, 0.0, EYE_RADIUS_MM]) + EYE_RADIUS_MM * gaze
        face_mm[eye.iris_center] = center
        for point, direction in zip(eye.iris_ring, (side, up, -side, -up), strict=True):
            face_mm[point] = center + radius * direction


def pose_landmarks(face_mm: Points, yaw_deg: float = 0.0, pitch_deg: float = 0.0,
                   roll_deg: float = 0.0,
                   translation_mm: tuple[float, float, float] = (0.0, 0.0, 500.0),
                   perspective: bool = True) -> NDArray[np.float32]:
    """The face turned by a head pose, placed at a camera-frame position (of its origin, the
    eyes' midpoint) and projected with a pinhole camera (FOCAL_PX, principal point at the centre
    of IMAGE_SIZE). z px is the depth along the line of sight to the origin, relative to the
    origin, on x's scale (smaller = closer): what a landmark model that sees only the face's
    appearance predicts. Without perspective every point is projected at the origin's depth."""
    rotation = rotation_from_angles(yaw_deg, pitch_deg, roll_deg)
    camera = (face_mm @ rotation.T) * np.array([1.0, -1.0, -1.0]) + np.asarray(translation_mm)
    depth = camera[:, 2] if perspective else np.full(len(camera), translation_mm[2])
    width, height = IMAGE_SIZE
    landmarks = np.empty_like(camera)
    landmarks[:, 0] = FOCAL_PX * camera[:, 0] / depth + width / 2
    landmarks[:, 1] = FOCAL_PX * camera[:, 1] / depth + height / 2
    distance = float(np.linalg.norm(translation_mm))
    along_sight = camera @ np.asarray(translation_mm) / distance
    landmarks[:, 2] = FOCAL_PX * (along_sight - distance) / translation_mm[2]
    return landmarks.astype(np.float32)


def mirror_landmarks(landmarks_px: NDArray[np.float32],
                     width: int = IMAGE_SIZE[0]) -> NDArray[np.float32]:
    """What an ideal landmark model gives on the horizontally mirrored image."""
    flipped = landmarks_px.copy()
    flipped[:, 0] = width - flipped[:, 0]
    return flipped[MIRROR_INDEX]


def rotate_landmarks(landmarks_px: NDArray[np.float32], angle_deg: float,
                     center_px: tuple[float, float]) -> NDArray[np.float32]:
    """The landmarks of the image rotated in-plane as `cv2.getRotationMatrix2D(center, angle,
    1)` rotates it (positive = counter-clockwise on screen)."""
    angle = math.radians(angle_deg)
    cos, sin = math.cos(angle), math.sin(angle)
    out = landmarks_px.copy()
    dx = landmarks_px[:, 0] - center_px[0]
    dy = landmarks_px[:, 1] - center_px[1]
    out[:, 0] = center_px[0] + cos * dx + sin * dy
    out[:, 1] = center_px[1] - sin * dx + cos * dy
    return out
