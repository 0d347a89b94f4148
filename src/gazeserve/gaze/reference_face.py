"""The 3D reference face that head pose is fitted to.

`data/reference_face.npy` (478 x 3 float32, mm, the viewer frame of `conventions` in the neutral
pose: the 468 mesh points, then both irises of a face looking straight ahead) is made by
`scripts/derive_reference_face.py`, which runs this project's own engine on frontal photos and
their mirrors; no face model is taken from elsewhere.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.landmark_indices import (
    LANDMARK_POINTS,
    LEFT_EYE,
    LEFT_EYEBROW,
    MESH_POINTS,
    RIGHT_EYE,
    RIGHT_EYEBROW,
    SUBNASALE,
)

PACKAGED_PATH = "data/reference_face.npy"


@dataclass(frozen=True, eq=False)
class ReferenceFace:
    """A face in millimetres and what the per-frame fit precomputes from it."""

    points_mm: npt.NDArray[np.float64]
    """478 x 3 in the viewer frame, neutral pose, origin midway between the eyes; the irises
    (468-477) as they sit when the eyes look straight ahead (their z is not used)."""
    rigid_indices: npt.NDArray[np.intp] = field(init=False)
    """Points that move with the skull only: above the subnasale, without lids and brows."""
    rigid_centred_mm: npt.NDArray[np.float64] = field(init=False)
    rigid_variance_mm2: float = field(init=False)
    iris_depth_mm: float = field(init=False)
    """How far the lid centres stand in front of the corners' midpoint: the depth of the iris
    centre of an eye looking straight ahead, for the eye model of `direction`."""
    neutral_iris_mm: npt.NDArray[np.float64] = field(init=False)
    """Rows (right eye, left eye): the iris centre's (x, y) offset from its corners' midpoint
    when the eye looks straight ahead."""

    def __post_init__(self) -> None:
        points = np.asarray(self.points_mm, dtype=np.float64)
        if points.shape != (LANDMARK_POINTS, 3) or not np.isfinite(points).all():
            raise ValueError(f"a reference face is {LANDMARK_POINTS} x 3 finite points, "
                             f"got shape {points.shape}")
        moving = set(RIGHT_EYE.contour) | set(LEFT_EYE.contour) | set(RIGHT_EYEBROW) | set(
            LEFT_EYEBROW)
        keep = [i for i in range(MESH_POINTS)
                if points[i, 1] >= points[SUBNASALE, 1] and i not in moving]
        rigid = np.asarray(keep, dtype=np.intp)
        centred = points[rigid] - points[rigid].mean(axis=0)
        depths, neutral = [], []
        for eye in (RIGHT_EYE, LEFT_EYE):
            upper, lower = eye.lid_pairs
            corners_mid = points[list(eye.corners)].mean(axis=0)
            depths.append(points[[upper[1], lower[1]], 2].mean() - corners_mid[2])
            neutral.append(points[eye.iris_center, :2] - corners_mid[:2])
        set_ = object.__setattr__
        set_(self, "points_mm", points)
        set_(self, "rigid_indices", rigid)
        set_(self, "rigid_centred_mm", centred)
        set_(self, "rigid_variance_mm2", float((centred**2).sum(axis=1).mean()))
        set_(self, "iris_depth_mm", float(np.mean(depths)))
        set_(self, "neutral_iris_mm", np.array(neutral))


@functools.cache
def packaged_reference_face() -> ReferenceFace:
    """The reference face shipped with the package, read once on first use."""
    resource = importlib.resources.files("gazeserve").joinpath(PACKAGED_PATH)
    with resource.open("rb") as stream:
        return ReferenceFace(np.load(stream))
