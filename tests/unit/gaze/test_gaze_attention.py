"""Attention rules and score."""

from __future__ import annotations

import pytest

from gazeserve.gaze.attention import NO_FACE_ATTENTION, AttentionRules, assess_attention
from gazeserve.gaze.eyes import DEFAULT_CLOSED_THRESHOLD
from gazeserve.results import AttentionState, EyeResult, HeadPose

RULES = AttentionRules()
FRONTAL = HeadPose(0.0, -5.0, 0.0)


def _eye(openness: float) -> EyeResult:
    return EyeResult((0.0, 0.0), 5.0, (0.0, 0.0), openness, openness < DEFAULT_CLOSED_THRESHOLD)


def _assess(on_screen: bool = True, angle_deg: float = 0.0, head: HeadPose = FRONTAL,
            right: float = 0.3, left: float = 0.3) -> tuple[float, AttentionState]:
    attention = assess_attention(on_screen, angle_deg, head, _eye(right), _eye(left),
                                 DEFAULT_CLOSED_THRESHOLD, RULES)
    return attention.score, attention.state


def test_attentive_on_screen_with_open_eyes() -> None:
    assert _assess() == (1.0, AttentionState.ATTENTIVE)


def test_both_eyes_closed() -> None:
    score, state = _assess(right=0.05, left=0.08)
    assert state is AttentionState.EYES_CLOSED
    assert score == 0.0


def test_one_eye_closed_is_still_attentive() -> None:
    assert _assess(right=0.05)[1] is AttentionState.ATTENTIVE


def test_gaze_off_screen_is_looking_away() -> None:
    score, state = _assess(on_screen=False, angle_deg=20.0)
    assert state is AttentionState.LOOKING_AWAY
    assert score == pytest.approx(0.1353, abs=1e-4)  # exp(-2)


@pytest.mark.parametrize("head", [HeadPose(50.0, 0.0, 0.0), HeadPose(-50.0, 0.0, 0.0),
                                  HeadPose(0.0, -45.0, 0.0)])
def test_head_turned_far_is_looking_away(head: HeadPose) -> None:
    assert _assess(head=head)[1] is AttentionState.LOOKING_AWAY


def test_score_falls_smoothly_with_angle_and_closing_eyes() -> None:
    by_angle = [_assess(False, angle)[0] for angle in (0.0, 5.0, 10.0, 20.0, 40.0)]
    assert by_angle == sorted(by_angle, reverse=True)
    assert by_angle[2] == pytest.approx(0.6065, abs=1e-4)  # exp(-1/2) at falloff_deg
    by_openness = [_assess(right=o, left=o)[0] for o in (0.3, 0.2, 0.18, 0.16, 0.1)]
    assert by_openness == sorted(by_openness, reverse=True)
    assert by_openness[0] == 1.0
    assert by_openness[-1] == 0.0


def test_no_face() -> None:
    assert NO_FACE_ATTENTION.state is AttentionState.NO_FACE
    assert NO_FACE_ATTENTION.score == 0.0


@pytest.mark.parametrize("change", [{"falloff_deg": 0.0}, {"max_head_yaw_deg": 120.0},
                                    {"open_eye_ratio": 0.0}])
def test_rules_are_validated(change: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        AttentionRules(**change)
