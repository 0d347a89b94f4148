"""Indices into MediaPipe's 478-point face mesh (refine_landmarks=True) that the geometry reads.

The eye contours follow FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE and the irises FACEMESH_RIGHT_IRIS /
FACEMESH_LEFT_IRIS in MediaPipe's `mediapipe/python/solutions/face_mesh_connections.py`; eyes are
named from the subject's side (see `conventions`). Each iris is its centre followed by four ring
points, which MediaPipe orders image-right, top, image-left, bottom (for an upright face).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

MESH_POINTS: Final = 468
LANDMARK_POINTS: Final = 478


@dataclass(frozen=True)
class EyeIndices:
    """One eye's landmarks, every sequence ordered from the subject's right to their left (the
    image's left to right for an upright, unmirrored face)."""

    corners: tuple[int, int]
    """The corner on the subject's right side of this eye, then the one on their left side."""
    upper_lid: tuple[int, ...]
    """Upper contour between the corners, corners excluded."""
    lower_lid: tuple[int, ...]
    """Lower contour between the corners, corners excluded."""
    iris_center: int
    iris_ring: tuple[int, int, int, int]
    """Image-right, top, image-left, bottom of the iris boundary (face upright)."""

    @property
    def lid_pairs(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Upper and lower points facing each other across the eye: the three central pairs,
        like p2-p6 and p3-p5 of Soukupová & Čech's six-point eye (CVWW 2016) plus the middle."""
        return self.upper_lid[2:5], self.lower_lid[2:5]

    @property
    def contour(self) -> tuple[int, ...]:
        """The closed contour: first corner, upper lid, second corner, lower lid back."""
        return (self.corners[0], *self.upper_lid, self.corners[1], *reversed(self.lower_lid))


RIGHT_EYE: Final = EyeIndices(
    corners=(33, 133),
    upper_lid=(246, 161, 160, 159, 158, 157, 173),
    lower_lid=(7, 163, 144, 145, 153, 154, 155),
    iris_center=468,
    iris_ring=(469, 470, 471, 472),
)
"""The subject's right eye (image left when unmirrored): outer corner 33, inner corner 133."""

LEFT_EYE: Final = EyeIndices(
    corners=(362, 263),
    upper_lid=(398, 384, 385, 386, 387, 388, 466),
    lower_lid=(382, 381, 380, 374, 373, 390, 249),
    iris_center=473,
    iris_ring=(474, 475, 476, 477),
)
"""The subject's left eye (image right when unmirrored): inner corner 362, outer corner 263."""

EYE_CORNERS: Final = (*RIGHT_EYE.corners, *LEFT_EYE.corners)
"""The four eye corners; their mean is the origin of the reference face and of the head."""

RIGHT_EYEBROW: Final = (46, 53, 52, 65, 55, 70, 63, 105, 66, 107)
LEFT_EYEBROW: Final = (276, 283, 282, 295, 285, 300, 293, 334, 296, 336)
"""FACEMESH_RIGHT_EYEBROW / FACEMESH_LEFT_EYEBROW: points that move with expression."""

FOREHEAD_TOP: Final = 10
NOSE_TIP: Final = 1
SUBNASALE: Final = 2
"""Below the nose, above the upper lip: the lowest point the rigid head-pose set keeps."""
CHIN: Final = 152
