"""What a stream adds to each frame's face: calibration, smoothing, quality and events.

Runs under the stream's lock, after the geometry, in the order that keeps each step honest:
calibration sees the raw face (smoothing lags behind a jump to a new target), everything the
client reads afterwards is smoothed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.calibration import Calibration, CalibrationSession, ScreenInfo
from gazeserve.gaze.events import EventTracker
from gazeserve.gaze.filters import SignalSmoother
from gazeserve.gaze.quality import (
    SharpnessBaseline,
    assess_quality,
    eye_boxes_px,
    eye_sharpness,
)
from gazeserve.results import Attention, AttentionState, FaceResult

CSS_PX_MM = 25.4 / 96
"""A CSS pixel is 1/96 inch: the screen's size in mm when the client gives only pixels."""
CALIBRATED_MARGIN = 0.05
"""A calibrated screen point this far outside the screen (share of its size) is still on it."""


def screen_info(width_px: int, height_px: int, width_mm: float | None = None,
                height_mm: float | None = None) -> ScreenInfo:
    """The calibration screen; mm from CSS pixels (96 per inch) when not given."""
    return ScreenInfo(width_px, height_px, width_mm or width_px * CSS_PX_MM,
                      height_mm or height_px * CSS_PX_MM)


@dataclass
class StreamSignals:
    """The per-stream filters and detectors; reset when the track is lost."""

    smoother: SignalSmoother = field(default_factory=SignalSmoother)
    events: EventTracker = field(default_factory=EventTracker)
    sharpness: SharpnessBaseline = field(default_factory=SharpnessBaseline)
    calibration: Calibration | None = None
    calibration_session: CalibrationSession | None = None

    def observe(self, face: FaceResult | None, image: npt.NDArray[np.uint8] | None,
                frame_size: tuple[int, int], t_s: float
                ) -> tuple[FaceResult | None, list[dict[str, Any]]]:
        """The stream's view of this frame's face, and the events that completed with it."""
        if face is None:
            self.smoother.reset()
            self.sharpness.reset()
            return None, self.events.update(None, t_s)
        raw = self._calibrated(face)
        if self.calibration_session is not None:
            self.calibration_session.add(raw, t_s)
        smoothed = self.smoother.smooth(raw, t_s)
        ratio = None
        if image is not None:
            sharpness = eye_sharpness(image, eye_boxes_px(raw))
            ratio = None if sharpness is None else self.sharpness.update(sharpness, t_s)
        smoothed = replace(smoothed, quality=assess_quality(smoothed, frame_size, ratio))
        return smoothed, self.events.update(smoothed, t_s)

    def _calibrated(self, face: FaceResult) -> FaceResult:
        """With a calibration: the screen point, and `on_screen` judged from it."""
        if self.calibration is None:
            return face
        point = self.calibration.predict(face)
        if point is None:
            return face
        screen = self.calibration.screen
        mx, my = CALIBRATED_MARGIN * screen.width_px, CALIBRATED_MARGIN * screen.height_px
        on_screen = -mx <= point[0] <= screen.width_px + mx and \
            -my <= point[1] <= screen.height_px + my
        attention = face.attention
        if attention.state in (AttentionState.ATTENTIVE, AttentionState.LOOKING_AWAY):
            state = AttentionState.ATTENTIVE if on_screen else AttentionState.LOOKING_AWAY
            attention = Attention(attention.score, state)
        return replace(face, gaze=replace(face.gaze, screen_point_px=point),
                       on_screen=on_screen, attention=attention)
