"""Attention score and state from the gaze's angle to the screen, the head pose and the eyes.

Rules, first match wins:
  1. no face                                          -> no_face (score 0; `NO_FACE_ATTENTION`)
  2. both eyes closed                                 -> eyes_closed
  3. gaze ray off the screen, or the head turned past
     `max_head_yaw_deg` / `max_head_pitch_deg`         -> looking_away
  4. otherwise                                        -> attentive

Score in [0, 1]: `exp(-(angle off screen / falloff_deg)^2 / 2) * openness factor`, the openness
factor rising smoothly (smoothstep) from 0 at the closed threshold to 1 at `open_eye_ratio`,
taken on the more open eye. The state is the crisp decision; the score is the smooth quantity to
average over time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from gazeserve.results import Attention, AttentionState, EyeResult, HeadPose

NO_FACE_ATTENTION: Final = Attention(score=0.0, state=AttentionState.NO_FACE)


@dataclass(frozen=True)
class AttentionRules:
    """Thresholds of the attention rules. Validated when built."""

    falloff_deg: float = 10.0
    """Angle off the screen at which the score has dropped to exp(-1/2) = 0.61, about the
    accuracy of an uncalibrated webcam gaze estimate."""
    max_head_yaw_deg: float = 45.0
    max_head_pitch_deg: float = 40.0
    """Beyond these the face is turned away from the screen whatever the eyes do, and the far
    eye is mostly hidden, so its landmarks no longer support a gaze estimate."""
    open_eye_ratio: float = 0.22
    """Eye aspect ratio counted as fully open: the low end of open eyes measured on MediaPipe's
    mesh (0.20-0.36)."""

    def __post_init__(self) -> None:
        if not 0.5 <= self.falloff_deg <= 90.0:
            raise ValueError(f"falloff_deg must be in [0.5, 90], got {self.falloff_deg}")
        for name in ("max_head_yaw_deg", "max_head_pitch_deg"):
            value = getattr(self, name)
            if not 0.0 < value <= 90.0:
                raise ValueError(f"{name} must be in (0, 90], got {value}")
        if not 0.0 < self.open_eye_ratio <= 1.0:
            raise ValueError(f"open_eye_ratio must be in (0, 1], got {self.open_eye_ratio}")


def assess_attention(on_screen: bool, angle_off_screen_deg: float, head_pose: HeadPose,
                     right_eye: EyeResult, left_eye: EyeResult, closed_threshold: float,
                     rules: AttentionRules) -> Attention:
    """Score and state by the rules in this module's docstring."""
    angle_factor = math.exp(-0.5 * (angle_off_screen_deg / rules.falloff_deg) ** 2)
    openness = max(right_eye.openness, left_eye.openness)
    span = max(rules.open_eye_ratio - closed_threshold, 1e-6)
    t = min(1.0, max(0.0, (openness - closed_threshold) / span))
    score = angle_factor * t * t * (3.0 - 2.0 * t)
    if right_eye.closed and left_eye.closed:
        state = AttentionState.EYES_CLOSED
    elif (not on_screen or abs(head_pose.yaw_deg) > rules.max_head_yaw_deg
          or abs(head_pose.pitch_deg) > rules.max_head_pitch_deg):
        state = AttentionState.LOOKING_AWAY
    else:
        state = AttentionState.ATTENTIVE
    return Attention(score=score, state=state)
