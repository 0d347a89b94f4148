"""Per-frame quality: flags, the confidence they multiply, and the eye-sharpness measure."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from face_results import make_eye, make_face

from gazeserve.gaze.filters import TimestampOrderError
from gazeserve.gaze.quality import (
    QualityFlag,
    QualityOptions,
    SharpnessBaseline,
    assess_quality,
    eye_boxes_px,
    eye_sharpness,
)

FRAME = (640, 480)


def test_a_good_frontal_face_has_full_confidence() -> None:
    quality = assess_quality(make_face(), FRAME, sharpness_ratio=1.0)
    assert quality.confidence == 1.0 and quality.flags == ()
    assert quality.to_dict() == {"confidence": 1.0, "flags": []}


@pytest.mark.parametrize(("face_kwargs", "ratio", "flag", "confidence"), [
    # factors fall linearly from 1 at the threshold to 0 at the limit
    ({"score": 0.65}, None, QualityFlag.LOW_FACE_SCORE, 0.5),          # (0.65-0.5)/(0.8-0.5)
    ({"yaw_deg": 45.0}, None, QualityFlag.LARGE_HEAD_ROTATION, 0.5),  # 45 between 30 and 60
    ({"right": make_eye(iris_radius_px=3.0), "left": make_eye(iris_radius_px=2.0)}, None,
     QualityFlag.SMALL_FACE, 1 / 3),                                   # 6 px: (6-4)/(10-4)
    ({"box_px": (-100.0, 0.0, 100.0, 200.0)}, None, QualityFlag.FACE_CUT_OFF, 0.0),  # half out
    ({}, 0.25, QualityFlag.MOTION_BLUR, 0.5),                           # (0.25-0.1)/(0.4-0.1)
])
def test_each_flag_and_its_factor(face_kwargs: dict[str, Any], ratio: float | None,
                                  flag: QualityFlag, confidence: float) -> None:
    quality = assess_quality(make_face(**face_kwargs), FRAME, ratio)
    assert quality.flags == (flag,)
    assert quality.confidence == pytest.approx(confidence)


def test_head_rotation_combines_yaw_and_pitch() -> None:
    # 25 degrees each way points the face acos(cos 25 cos 25) = 34.9 degrees off the axis
    quality = assess_quality(make_face(yaw_deg=25.0, pitch_deg=25.0), FRAME)
    assert quality.flags == (QualityFlag.LARGE_HEAD_ROTATION,)
    assert quality.confidence == pytest.approx((60.0 - 34.86) / 30.0, abs=0.01)


def test_eyes_closed_zeroes_the_confidence() -> None:
    quality = assess_quality(make_face(openness=0.05, score=0.65), FRAME)
    assert quality.confidence == 0.0
    assert quality.flags == (QualityFlag.EYES_CLOSED, QualityFlag.LOW_FACE_SCORE)


def test_flags_multiply() -> None:
    quality = assess_quality(make_face(score=0.65, yaw_deg=45.0), FRAME, 0.25)
    assert quality.confidence == pytest.approx(0.5 * 0.5 * 0.5)
    assert set(quality.flags) == {QualityFlag.LOW_FACE_SCORE, QualityFlag.LARGE_HEAD_ROTATION,
                                  QualityFlag.MOTION_BLUR}


def test_face_size_without_irises_comes_from_the_face_box() -> None:
    no_iris = make_eye(None, iris_center_px=None, iris_radius_px=None)
    # a 62 px wide face: 62 * 11.7 / 145 = 5 px iris
    quality = assess_quality(make_face(right=no_iris, left=no_iris,
                                       box_px=(300.0, 200.0, 362.0, 270.0)), FRAME)
    assert quality.flags == (QualityFlag.SMALL_FACE,)
    assert eye_boxes_px(make_face(right=no_iris, left=no_iris)) == []


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        QualityOptions(face_score=(0.5, 0.5))


def _textured_frame() -> npt.NDArray[np.uint8]:
    """Random texture at a quarter of the resolution, upsampled: edges a few pixels wide."""
    small = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    return np.asarray(cv2.resize(small, FRAME, interpolation=cv2.INTER_LINEAR), np.uint8)


def test_motion_blur_lowers_eye_sharpness() -> None:
    frame = _textured_frame()
    face = make_face(right=make_eye(iris_center_px=(250.0, 220.0), iris_radius_px=6.0),
                     left=make_eye(iris_center_px=(390.0, 220.0), iris_radius_px=6.0))
    boxes = eye_boxes_px(face)
    assert boxes == [(235, 211, 265, 229), (375, 211, 405, 229)]
    kernel = np.full((1, 9), 1 / 9, np.float32)  # 9 px horizontal motion
    sharp = eye_sharpness(frame, boxes)
    blurred = eye_sharpness(np.asarray(cv2.filter2D(frame, -1, kernel), np.uint8), boxes)
    assert sharp is not None and blurred is not None
    assert blurred < 0.4 * sharp
    assert eye_sharpness(frame, [(700, 10, 720, 30), (10, 10, 12, 30)]) is None


def test_eye_sharpness_is_cheap_at_640x480() -> None:
    frame = _textured_frame()
    boxes = [(220, 200, 280, 236), (360, 200, 420, 236)]  # 12 px irises' eye boxes
    best_ms = np.inf
    for _ in range(5):
        start = time.perf_counter_ns()
        for _ in range(50):
            eye_sharpness(frame, boxes)
        best_ms = min(best_ms, (time.perf_counter_ns() - start) / 50 / 1e6)
    assert best_ms < 0.2


def test_sharpness_baseline() -> None:
    baseline = SharpnessBaseline(window_s=10.0, warmup_s=1.0)
    assert baseline.update(100.0, 0.0) is None  # warming up
    ratios = [baseline.update(100.0 + i % 3, i / 30) for i in range(1, 60)]
    assert ratios[-1] == pytest.approx(1.0, abs=0.02)
    assert baseline.update(30.0, 2.0) == pytest.approx(0.3, abs=0.01)
    with pytest.raises(TimestampOrderError):
        baseline.update(100.0, 1.0)
    baseline.reset()
    assert baseline.update(100.0, 1.0) is None
    with pytest.raises(ValueError):
        SharpnessBaseline(window_s=1.0, warmup_s=2.0)
