"""The 1€ filter against values worked out by hand from Casiez et al.'s formulas, and the
per-stream smoother of a face's signals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from face_results import make_eye, make_face

from gazeserve.gaze.filters import (
    OneEuroFilter,
    OneEuroOptions,
    SignalSmoother,
    SmootherOptions,
    TimestampOrderError,
)

# Worked by hand for min_cutoff 1 Hz, beta 0.007, d_cutoff 1 Hz; samples x = 0 at 0 s, 1 at 0.1 s,
# 1 at 0.2 s (T_e = 0.1 s each step); alpha(f) = 1 / (1 + tau / T_e), tau = 1 / (2 pi f).
#   alpha(1 Hz) = 1 / (1 + 0.1591549 / 0.1) = 0.3858695
# step 1: dx = (1 - 0) / 0.1 = 10;  dx_hat = 0.3858695 * 10 = 3.8586955
#         f_c = 1 + 0.007 * 3.8586955 = 1.0270109;  tau = 0.1549700;  alpha = 0.3922044
#         x_hat = 0 + 0.3922044 * (1 - 0) = 0.3922044
# step 2: dx = (1 - 0.3922044) / 0.1 = 6.0779560
#         dx_hat = 3.8586955 + 0.3858695 * (6.0779560 - 3.8586955) = 4.7150405
#         f_c = 1 + 0.007 * 4.7150405 = 1.0330053;  alpha = 0.3935926
#         x_hat = 0.3922044 + 0.3935926 * (1 - 0.3922044) = 0.6314282
STEP_1 = 0.3922044
STEP_2 = 0.6314282
# A component stepping 0 -> -2 in 0.1 s: dx_hat = 0.3858695 * -20 = -7.7173909,
# f_c = 1 + 0.007 * 7.7173909 = 1.0540217, alpha = 0.3984099, x_hat = -2 * 0.3984099.
STEP_1_MINUS_2 = -0.7968198


def test_first_sample_passes_through() -> None:
    f = OneEuroFilter()
    assert f(3.5, 10.0) == 3.5
    assert isinstance(f(3.5, 10.0), float)


def test_matches_the_papers_formulas_by_hand() -> None:
    f = OneEuroFilter(OneEuroOptions(min_cutoff=1.0, beta=0.007, d_cutoff=1.0))
    assert f(0.0, 0.0) == 0.0
    assert f(1.0, 0.1) == pytest.approx(STEP_1, abs=1e-6)
    assert f(1.0, 0.2) == pytest.approx(STEP_2, abs=1e-6)


def test_defaults_are_the_papers() -> None:
    assert OneEuroOptions() == OneEuroOptions(min_cutoff=1.0, beta=0.007, d_cutoff=1.0)


def test_vectors_are_filtered_component_by_component() -> None:
    f = OneEuroFilter()
    np.testing.assert_array_equal(f(np.zeros(2), 0.0), [0.0, 0.0])
    out = f([1.0, -2.0], 0.1)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, [STEP_1, STEP_1_MINUS_2], atol=1e-6)


def test_a_still_signal_stays_put() -> None:
    f = OneEuroFilter()
    for i in range(50):
        assert f(2.0, i / 30) == 2.0


def test_beta_reduces_lag_on_a_fast_ramp() -> None:
    slow, fast = OneEuroFilter(OneEuroOptions(beta=0.0)), OneEuroFilter(OneEuroOptions(beta=1.0))
    for i in range(31):
        t = i / 30
        lag_slow = 100.0 * t - slow(100.0 * t, t)
        lag_fast = 100.0 * t - fast(100.0 * t, t)
    assert 0.0 < lag_fast < 0.2 * lag_slow


def test_equal_timestamps_return_the_previous_estimate() -> None:
    f = OneEuroFilter()
    f(0.0, 0.0)
    first = f(1.0, 0.1)
    assert f(50.0, 0.1) == first
    assert f(1.0, 0.2) == pytest.approx(STEP_2, abs=1e-6)  # the duplicate changed nothing


def test_time_going_back_raises() -> None:
    f = OneEuroFilter()
    f(0.0, 1.0)
    with pytest.raises(TimestampOrderError, match="earlier than the previous"):
        f(0.0, 0.9)
    assert issubclass(TimestampOrderError, ValueError)


def test_reset_forgets_the_signal() -> None:
    f = OneEuroFilter()
    f(0.0, 0.0)
    f(1.0, 0.1)
    f.reset()
    assert f.value is None
    assert f(7.0, 0.05) == 7.0  # even an earlier time: a new signal starts


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_values_raise(bad: float) -> None:
    with pytest.raises(ValueError, match="finite"):
        OneEuroFilter()(bad, 0.0)


def test_shape_change_raises() -> None:
    f = OneEuroFilter()
    f([1.0, 2.0], 0.0)
    with pytest.raises(ValueError, match="shape"):
        f([1.0, 2.0, 3.0], 0.1)


@pytest.mark.parametrize("kwargs", [{"min_cutoff": 0.0}, {"d_cutoff": -1.0}, {"beta": -0.1},
                                    {"min_cutoff": math.nan}])
def test_options_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        OneEuroOptions(**kwargs)


def test_smoother_first_frame_is_unchanged() -> None:
    face = make_face(yaw_deg=10.0, gaze_yaw_deg=5.0, screen_point_px=(100.0, 200.0),
                     right=make_eye((0.1, 0.2)), left=make_eye((0.3, 0.0)))
    assert SignalSmoother().smooth(face, 0.0) == face


def test_smoother_smooths_every_signal_and_leaves_the_input_alone() -> None:
    smoother = SignalSmoother()
    smoother.smooth(make_face(), 0.0)
    jump = make_face(yaw_deg=10.0, pitch_deg=10.0, roll_deg=10.0,
                     translation_mm=(10.0, 10.0, 610.0), gaze_yaw_deg=10.0, gaze_pitch_deg=10.0,
                     right=make_eye((0.2, 0.2)), left=make_eye((0.4, 0.4)))
    out = smoother.smooth(jump, 0.1)
    assert jump.head_pose.yaw_deg == 10.0
    signals = [out.head_pose.yaw_deg, out.head_pose.pitch_deg, out.head_pose.roll_deg,
               out.gaze.yaw_deg, out.gaze.pitch_deg]
    # Angles use the paper's defaults. A 10 degree step in 0.1 s: dx_hat = 0.3858695 * 100 =
    # 38.58695, f_c = 1 + 0.007 * 38.58695 = 1.2701087, tau = 0.1253075, alpha = 0.4438366.
    assert signals == pytest.approx([4.438366] * 5, abs=1e-5)
    assert 0.0 < out.head_translation_mm[0] < 10.0
    assert 600.0 < out.head_translation_mm[2] < 610.0
    assert out.right_eye.displacement is not None and out.left_eye.displacement is not None
    assert 0.0 < out.right_eye.displacement[0] < 0.2
    assert out.gaze.displacement == pytest.approx(
        (0.5 * (out.right_eye.displacement[0] + out.left_eye.displacement[0]),
         0.5 * (out.right_eye.displacement[1] + out.left_eye.displacement[1])))
    assert out.right_eye.openness == jump.right_eye.openness  # openness stays raw


def test_smoother_holds_gaze_while_both_eyes_are_closed() -> None:
    smoother = SignalSmoother()
    smoother.smooth(make_face(gaze_yaw_deg=3.0), 0.0)
    closed = make_face(gaze_yaw_deg=-30.0, openness=0.05, right=make_eye((0.9, 0.9), 0.05),
                       left=make_eye((0.9, 0.9), 0.05))
    out = smoother.smooth(closed, 0.1)
    assert out.gaze.yaw_deg == 3.0
    assert out.right_eye.displacement == (0.0, 0.0)


def test_smoother_passes_missing_irises_and_screen_points_through() -> None:
    smoother = SignalSmoother()
    smoother.smooth(make_face(screen_point_px=(0.0, 0.0)), 0.0)
    no_iris = make_face(right=make_eye(None), left=make_eye(None))
    out = smoother.smooth(no_iris, 0.1)
    assert out.right_eye.displacement is None and out.gaze.displacement is None
    assert out.gaze.screen_point_px is None
    # the screen filter restarted: the next point passes through unchanged
    assert smoother.smooth(make_face(screen_point_px=(500.0, 300.0)), 0.2).gaze.screen_point_px \
        == (500.0, 300.0)


def test_smoother_reset_and_time_order() -> None:
    smoother = SignalSmoother(SmootherOptions())
    smoother.smooth(make_face(), 1.0)
    with pytest.raises(TimestampOrderError):
        smoother.smooth(make_face(), 0.5)
    smoother.reset()
    face = make_face(yaw_deg=40.0)
    assert smoother.smooth(face, 0.5) == face
