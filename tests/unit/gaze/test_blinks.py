"""Blink detection on synthetic openness traces with blinks at known times."""

from __future__ import annotations

import numpy as np
import pytest

from gazeserve.gaze.blinks import Blink, BlinkDetector, BlinkOptions, eye_openness
from gazeserve.gaze.filters import TimestampOrderError

FPS = 30.0
OPEN, CLOSED = 0.30, 0.05
RAMP_S = 0.01
BLINKS = [(2.5, 0.15), (5.0, 0.30), (9.5, 0.20)]
"""(start s, duration s) of the true blinks."""
LONG_CLOSURE = (7.0, 1.0)
DIP_S = 4.0
"""A single frame at CLOSED: landmark noise, not a blink."""


def _level(t: float, closures: list[tuple[float, float]]) -> float:
    """Openness at time t: OPEN, dropping to CLOSED in trapezoids with 10 ms edges."""
    for start, duration in closures:
        if start <= t <= start + duration:
            edge = min(t - start, start + duration - t) / RAMP_S
            return OPEN - (OPEN - CLOSED) * min(1.0, edge)
    return OPEN


def _trace(scale: float = 1.0, end_s: float = 12.0, seed: int = 3) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    closures = [*BLINKS, LONG_CLOSURE]
    out = []
    for i in range(int(end_s * FPS)):
        t = i / FPS
        value = CLOSED if i == round(DIP_S * FPS) else _level(t, closures)
        out.append((t, scale * (value + rng.normal(0.0, 0.008))))
    return out


def _run(detector: BlinkDetector, trace: list[tuple[float, float]]) -> list[Blink]:
    return [b for t, v in trace if (b := detector.update(v, t)) is not None]


@pytest.mark.parametrize("scale", [1.0, 0.7])
def test_finds_the_blinks_and_nothing_else(scale: float) -> None:
    detector = BlinkDetector()
    blinks = _run(detector, _trace(scale))
    assert len(blinks) == len(BLINKS)
    for blink, (start, duration) in zip(blinks, BLINKS, strict=True):
        assert blink.start_s == pytest.approx(start, abs=1.0 / FPS)
        assert blink.duration_s == pytest.approx(duration, abs=1.0 / FPS)
        assert blink.min_openness < 0.2 * blink.baseline
    assert detector.count == 3
    assert detector.long_closures == 1
    # the baseline follows the person's own open eye (0.3, or 0.21 at scale 0.7)
    assert detector.baseline == pytest.approx(scale * OPEN, rel=0.05)
    assert detector.observed_s == pytest.approx(12.0 - 1.0 / FPS)
    assert detector.rate_per_min == pytest.approx(3 * 60.0 / (12.0 - 1.0 / FPS))


def test_no_blink_before_the_baseline_warms_up() -> None:
    detector = BlinkDetector(BlinkOptions(warmup_s=1.0))
    trace = [(i / FPS, CLOSED if 15 <= i < 20 else OPEN) for i in range(60)]
    assert _run(detector, trace) == []
    assert detector.baseline is not None


def test_interrupt_drops_a_blink_in_progress() -> None:
    detector = BlinkDetector()
    _run(detector, [(i / FPS, OPEN) for i in range(60)])
    detector.update(CLOSED, 61 / FPS)
    assert detector.closed
    detector.interrupt()
    assert not detector.closed
    assert _run(detector, [(i / FPS, OPEN) for i in range(62, 70)]) == []
    assert detector.count == 0


def test_a_gap_during_a_closure_is_not_a_blink() -> None:
    detector = BlinkDetector(BlinkOptions(max_gap_s=0.25))
    _run(detector, [(i / FPS, OPEN) for i in range(60)])
    detector.update(CLOSED, 2.0)
    assert detector.update(OPEN, 2.3) is None  # 300 ms unseen: when did it reopen?
    assert detector.count == 0


def test_time_going_back_raises() -> None:
    detector = BlinkDetector()
    detector.update(OPEN, 1.0)
    detector.interrupt()
    with pytest.raises(TimestampOrderError):
        detector.update(OPEN, 0.5)


def test_bad_openness_raises() -> None:
    with pytest.raises(ValueError, match="openness"):
        BlinkDetector().update(float("nan"), 0.0)


@pytest.mark.parametrize("kwargs", [{"close_fraction": 0.8, "reopen_fraction": 0.7},
                                    {"min_duration_s": 0.6}, {"baseline_percentile": 100.0},
                                    {"warmup_s": 20.0}, {"max_gap_s": 0.0}])
def test_options_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        BlinkOptions(**kwargs)


def test_openness_is_the_mean_of_both_eyes() -> None:
    assert eye_openness(0.2, 0.3) == pytest.approx(0.25)
