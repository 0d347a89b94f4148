"""Irises for a mesh that has none (468 landmarks from a client): centred, of typical size.

Head pose, openness and distance still come out of the geometry; gaze then equals the head's
direction (eyes assumed centred), and the result reports the iris fields as missing.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.conventions import IRIS_DIAMETER_MM
from gazeserve.gaze.landmark_indices import LEFT_EYE, RIGHT_EYE, EyeIndices

TYPICAL_EYE_WIDTH_MM = 30.0
"""Corner-to-corner width of an adult eye opening (palpebral fissure, about 28-30 mm)."""
IRIS_TO_EYE_WIDTH = IRIS_DIAMETER_MM / TYPICAL_EYE_WIDTH_MM


def with_nominal_irises(mesh_px: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """468 x 3 -> 478 x 3, each iris at its corners' midpoint with a typical diameter.

    The ring follows `EyeIndices.iris_ring`: image-right, top, image-left, bottom.
    """
    out = np.empty((478, 3), np.float32)
    out[:468] = mesh_px
    for eye in (RIGHT_EYE, LEFT_EYE):
        _place_iris(out, eye)
    return out


def _place_iris(points: npt.NDArray[np.float32], eye: EyeIndices) -> None:
    a, b = points[list(eye.corners)]
    centre = (a + b) / 2
    axis = (b - a)[:2]
    width = float(np.hypot(*axis))
    along = axis / max(width, 1e-6)
    across = np.array([-along[1], along[0]], np.float32)
    radius = 0.5 * IRIS_TO_EYE_WIDTH * width
    right, top, left, bottom = eye.iris_ring
    points[eye.iris_center] = centre
    for index, offset in ((right, along), (top, -across), (left, -along), (bottom, across)):
        points[index, :2] = centre[:2] + radius * offset
        points[index, 2] = centre[2]
