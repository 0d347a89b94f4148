"""Hand-made `FaceResult`s for the per-stream signal tests (no landmarks, no geometry)."""

from __future__ import annotations

from gazeserve.results import Attention, AttentionState, EyeResult, FaceResult, Gaze, HeadPose


def make_eye(displacement: tuple[float, float] | None = (0.0, 0.0), openness: float = 0.3,
             closed_below: float = 0.15, iris_center_px: tuple[float, float] | None = (0.0, 0.0),
             iris_radius_px: float | None = 6.0) -> EyeResult:
    return EyeResult(iris_center_px=iris_center_px, iris_radius_px=iris_radius_px,
                     displacement=displacement, openness=openness,
                     closed=openness < closed_below)


def make_face(*, yaw_deg: float = 0.0, pitch_deg: float = 0.0, roll_deg: float = 0.0,
              translation_mm: tuple[float, float, float] = (0.0, 0.0, 600.0),
              right: EyeResult | None = None, left: EyeResult | None = None,
              gaze_yaw_deg: float = 0.0, gaze_pitch_deg: float = 0.0,
              screen_point_px: tuple[float, float] | None = None, on_screen: bool = True,
              score: float = 1.0,
              box_px: tuple[float, float, float, float] = (220.0, 140.0, 420.0, 360.0),
              openness: float = 0.3) -> FaceResult:
    right = right or make_eye(openness=openness)
    left = left or make_eye(openness=openness)
    mean = None
    if right.displacement is not None and left.displacement is not None:
        mean = (0.5 * (right.displacement[0] + left.displacement[0]),
                0.5 * (right.displacement[1] + left.displacement[1]))
    return FaceResult(
        score=score, box_px=box_px, head_pose=HeadPose(yaw_deg, pitch_deg, roll_deg),
        head_translation_mm=translation_mm, left_eye=left, right_eye=right,
        gaze=Gaze(gaze_yaw_deg, gaze_pitch_deg, mean, screen_point_px), on_screen=on_screen,
        attention=Attention(1.0, AttentionState.ATTENTIVE))
