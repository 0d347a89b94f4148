"""Landmarks in: the privacy-preserving mode, where the device runs the face mesh and the service
never sees a face. One schema for `POST /v1/gaze/landmarks` and the WebSocket message."""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from gazeserve.streams import STREAM_ID_PATTERN

MAX_FRAME_SIDE = 20_000
MIN_FACE_EXTENT_PX = 4.0
"""The landmarks' box must be at least this wide and high: a face smaller than this has no eyes
to measure, and one of zero size makes the geometry divide by zero (found by fuzzing)."""
NORMALIZED_MARGIN = 0.5
"""How far outside [0, 1] a normalised landmark may lie: a face cut by the frame's edge puts some
points outside it, a little."""


class DegenerateLandmarksError(ValueError):
    """Landmarks that pass the schema but that no face could produce (the geometry fails)."""


class LandmarksRequest(BaseModel):
    """A face's landmarks as MediaPipe's FaceMesh / FaceLandmarker produce them."""

    model_config = ConfigDict(extra="forbid")

    landmarks: list[Annotated[list[float], Field(min_length=3, max_length=3)]] = Field(
        description="478 (or 468: irises then missing) points [x, y, z]")
    coordinates: Literal["normalized", "pixels"] = Field(
        default="normalized",
        description="normalized: MediaPipe's x, y in [0, 1] of the frame, z on x's scale; "
                    "pixels: x, y in pixels, z in pixels on x's scale")
    width: int = Field(ge=1, le=MAX_FRAME_SIDE, description="frame width in pixels")
    height: int = Field(ge=1, le=MAX_FRAME_SIDE, description="frame height in pixels")
    stream_id: Annotated[str | None, Field(pattern=STREAM_ID_PATTERN)] = None
    timestamp_ms: Annotated[float | None, Field(ge=0)] = None

    @model_validator(mode="after")
    def _check_points(self) -> LandmarksRequest:
        count = len(self.landmarks)
        if count not in (468, 478):
            raise ValueError(f"landmarks must hold 478 or 468 points, got {count}")
        if not all(math.isfinite(v) for point in self.landmarks for v in point):
            raise ValueError("landmarks must be finite numbers (no NaN or infinity)")
        xy = np.asarray(self.landmarks, np.float64)[:, :2]
        size = np.array([self.width, self.height], np.float64)
        if self.coordinates == "normalized":
            lo, hi = -NORMALIZED_MARGIN, 1 + NORMALIZED_MARGIN
            if xy.min() < lo or xy.max() > hi:
                raise ValueError(f"normalized x and y must lie within [{lo}, {hi}]")
            xy = xy * size
        else:
            outside = (xy < -NORMALIZED_MARGIN * size) | (xy > (1 + NORMALIZED_MARGIN) * size)
            if outside.any():
                raise ValueError("pixel x and y must lie within the frame (half a frame of "
                                 "margin allowed)")
        extent = xy.max(axis=0) - xy.min(axis=0)
        if extent.min() < MIN_FACE_EXTENT_PX:
            raise ValueError(f"the landmarks span {extent[0]:.1f} x {extent[1]:.1f} px; a face "
                             f"needs at least {MIN_FACE_EXTENT_PX:g} px each way")
        return self

    def points_px(self) -> npt.NDArray[np.float32]:
        """The landmarks in image pixels, z on x's scale."""
        points = np.asarray(self.landmarks, np.float32)
        if self.coordinates == "normalized":
            points *= np.array([self.width, self.height, self.width], np.float32)
        return points
