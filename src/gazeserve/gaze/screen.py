"""Where the gaze ray meets the screen, and how far off the screen it points.

The screen is a rectangle in the camera frame's plane Z = 0 below the camera (see `conventions`);
the ray starts at the eyes' midpoint (the head translation) and runs along the gaze direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.conventions import CAMERA_TO_TOP_EDGE_MM, LAPTOP_15_6_SCREEN_MM
from gazeserve.gaze.vec3 import Vec3, cross, dot, sub, unit

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ScreenGeometry:
    """The screen's active area relative to the camera, mm. Validated when built.

    The default is a 15.6 inch 16:9 laptop panel with the webcam centred above it.
    """

    width_mm: float = LAPTOP_15_6_SCREEN_MM[0]
    height_mm: float = LAPTOP_15_6_SCREEN_MM[1]
    camera_to_top_edge_mm: float = CAMERA_TO_TOP_EDGE_MM
    """From the camera's centre down to the active area's top edge."""
    center_x_mm: float = 0.0
    """Camera-frame X of the screen's centre (0: camera centred; > 0: screen toward the image's
    right, the user's left)."""

    def __post_init__(self) -> None:
        for name in ("width_mm", "height_mm"):
            value = getattr(self, name)
            if not 10.0 <= value <= 5000.0:
                raise ValueError(f"{name} must be in [10, 5000] mm, got {value}")
        if not -1000.0 <= self.camera_to_top_edge_mm <= 1000.0:
            raise ValueError("camera_to_top_edge_mm must be in [-1000, 1000] mm, got "
                             f"{self.camera_to_top_edge_mm}")
        if abs(self.center_x_mm) > 5000.0:
            raise ValueError(f"center_x_mm must be within 5000 mm, got {self.center_x_mm}")

    def corners_camera_mm(self) -> Vector:
        """The active area's corners in the camera frame, going round the rectangle (4 x 3)."""
        return np.array(_corners_mm(self))


def _corners_mm(screen: ScreenGeometry) -> list[Vec3]:
    """`ScreenGeometry.corners_camera_mm` as plain floats."""
    left = screen.center_x_mm - 0.5 * screen.width_mm
    right = screen.center_x_mm + 0.5 * screen.width_mm
    top, bottom = screen.camera_to_top_edge_mm, screen.camera_to_top_edge_mm + screen.height_mm
    return [(left, top, 0.0), (right, top, 0.0), (right, bottom, 0.0), (left, bottom, 0.0)]


@dataclass(frozen=True)
class ScreenHit:
    on_screen: bool
    """The gaze ray crosses the screen's active area."""
    point_mm: tuple[float, float] | None
    """Where the ray crosses the screen's plane, mm from the top-left corner as the user sees it
    (x to the user's right, y down); None when the ray points away from the plane."""
    angle_off_screen_deg: float
    """Angle between the gaze and the nearest direction into the active area (0 on screen)."""


def intersect_screen(origin_mm: tuple[float, float, float], direction_viewer: Vector | Vec3,
                     screen: ScreenGeometry) -> ScreenHit:
    """Ray-plane intersection with the screen plane Z = 0, then the rectangle test.

    `origin_mm` is in the camera frame, `direction_viewer` a unit vector in the viewer frame.
    """
    ox, oy, oz = origin_mm
    vx, vy, vz = (direction_viewer.tolist() if isinstance(direction_viewer, np.ndarray)
                  else direction_viewer)
    direction = (vx, -vy, -vz)  # VIEWER_FROM_CAMERA, its own inverse
    point_mm: tuple[float, float] | None = None
    on_screen = False
    if direction[2] < 0.0 and oz > 0.0:
        t = -oz / direction[2]
        x_mm = screen.center_x_mm + 0.5 * screen.width_mm - (ox + t * direction[0])
        y_mm = (oy + t * direction[1]) - screen.camera_to_top_edge_mm
        point_mm = (x_mm, y_mm)
        on_screen = 0.0 <= x_mm <= screen.width_mm and 0.0 <= y_mm <= screen.height_mm
    angle = 0.0 if on_screen else _angle_to_rectangle_deg((ox, oy, oz), direction,
                                                          _corners_mm(screen))
    return ScreenHit(on_screen, point_mm, angle)


def _angle_to_rectangle_deg(origin: Vec3, direction: Vec3, corners: list[Vec3]) -> float:
    """Smallest angle between `direction` and the directions from `origin` into the rectangle,
    for a direction that misses it: the spherical distance to the rectangle's outline. For each
    edge (a great-circle arc from A to B with normal n) the nearest point is the direction's
    projection on the arc's plane, at angle asin(|d.n|), when that projection lies between A and
    B (d.(n x A) >= 0 and d.(B x n) >= 0); otherwise the nearer end."""
    starts = [unit(sub(corner, origin)) for corner in corners]
    best = math.inf
    for start, stop in zip(starts, starts[1:] + starts[:1], strict=True):
        normal = unit(cross(start, stop))
        if dot(cross(normal, start), direction) >= 0.0 and \
                dot(cross(stop, normal), direction) >= 0.0:
            angle = math.asin(min(1.0, abs(dot(normal, direction))))
        else:
            angle = math.acos(min(1.0, max(-1.0, dot(start, direction))))
        best = min(best, angle)
    return math.degrees(best)
