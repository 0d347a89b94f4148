"""Online I-DT on synthetic gaze traces whose fixations are known."""

from __future__ import annotations

import numpy as np
import pytest

from gazeserve.gaze.filters import TimestampOrderError
from gazeserve.gaze.fixations import Fixation, FixationDetector, FixationOptions

HZ = 60.0
JITTER_DEG = 0.15
"""Uniform jitter of +/- this on each axis: dispersion at most 0.6 degree, under the 1 degree."""


def _trace(segments: list[tuple[float, float, int]], seed: int = 5
           ) -> list[tuple[float, float, float]]:
    """(t_s, yaw, pitch) at 60 Hz: each segment holds (yaw, pitch) for n samples, with jitter."""
    rng = np.random.default_rng(seed)
    out, i = [], 0
    for yaw, pitch, n in segments:
        for _ in range(n):
            jy, jp = rng.uniform(-JITTER_DEG, JITTER_DEG, 2)
            out.append((i / HZ, yaw + jy, pitch + jp))
            i += 1
    return out


def _run(detector: FixationDetector, trace: list[tuple[float, float, float]]) -> list[Fixation]:
    found = [f for t, y, p in trace if (f := detector.update(y, p, t)) is not None]
    last = detector.flush()
    return found + ([last] if last else [])


SEGMENTS = [
    (0.0, 0.0, 18),    # fixation A: 18 samples, 283 ms
    (4.0, 2.0, 1),     # saccade
    (8.0, 4.0, 1),
    (10.0, 5.0, 30),   # fixation B: 483 ms
    (2.0, -1.0, 1),    # saccade
    (-5.0, -3.0, 5),   # 67 ms: too short to be a fixation
    (3.0, 3.0, 1),     # saccade
    (6.0, 8.0, 13),    # fixation D: 200 ms, ended by flush()
]


def test_finds_the_known_fixations() -> None:
    detector = FixationDetector()
    trace = _trace(SEGMENTS)
    found = _run(detector, trace)
    starts = np.cumsum([0] + [n for _, _, n in SEGMENTS])
    expected = [(0, 0.0, 0.0), (3, 10.0, 5.0), (7, 6.0, 8.0)]  # (segment, yaw, pitch)
    assert len(found) == len(expected)
    for fixation, (segment, yaw, pitch) in zip(found, expected, strict=True):
        first, last = starts[segment], starts[segment + 1] - 1
        assert fixation.start_s == trace[first][0]
        assert fixation.end_s == trace[last][0]
        assert fixation.samples == last - first + 1
        assert fixation.yaw_deg == pytest.approx(yaw, abs=0.1)
        assert fixation.pitch_deg == pytest.approx(pitch, abs=0.1)
        assert fixation.dispersion_deg <= 1.0
        assert fixation.screen_point_px is None
    assert detector.count == 3
    assert detector.total_duration_s == pytest.approx(sum(f.duration_s for f in found))


def test_minimum_duration_is_inclusive() -> None:
    # 7 samples at 60 Hz span exactly 100 ms; 6 span 83 ms.
    trace = [(i / HZ, 0.0, 0.0) for i in range(7)]
    assert len(_run(FixationDetector(), trace)) == 1
    assert _run(FixationDetector(), trace[:6]) == []


def test_dispersion_is_yaw_range_plus_pitch_range() -> None:
    # each axis alone stays within 1 degree, but 0.6 + 0.6 exceeds it: no fixation
    trace = [(i / HZ, 0.6 * (i % 2), 0.6 * (i % 2)) for i in range(30)]
    assert _run(FixationDetector(), trace) == []
    trace = [(i / HZ, 0.5 * (i % 2), 0.5 * (i % 2)) for i in range(30)]
    assert len(_run(FixationDetector(), trace)) == 1


def test_a_gap_ends_the_fixation() -> None:
    detector = FixationDetector(FixationOptions(max_gap_s=0.15))
    for i in range(12):
        assert detector.update(1.0, 1.0, i / HZ) is None
    ended = detector.update(1.0, 1.0, 11 / HZ + 0.5)
    assert ended is not None and ended.samples == 12
    assert not detector.in_fixation


def test_screen_point_centroid_when_every_sample_has_one() -> None:
    detector = FixationDetector()
    for i in range(10):
        detector.update(0.0, 0.0, i / HZ, (100.0 + i, 200.0))
    fixation = detector.flush()
    assert fixation is not None and fixation.screen_point_px == pytest.approx((104.5, 200.0))
    for i in range(10):
        detector.update(0.0, 0.0, 1.0 + i / HZ, None if i == 3 else (1.0, 1.0))
    fixation = detector.flush()
    assert fixation is not None and fixation.screen_point_px is None


def test_flush_without_a_fixation_gives_none() -> None:
    assert FixationDetector().flush() is None


def test_time_going_back_and_bad_angles_raise() -> None:
    detector = FixationDetector()
    detector.update(0.0, 0.0, 1.0)
    with pytest.raises(TimestampOrderError):
        detector.update(0.0, 0.0, 0.5)
    with pytest.raises(ValueError, match="finite"):
        detector.update(float("nan"), 0.0, 2.0)


@pytest.mark.parametrize("kwargs", [{"dispersion_deg": 0.0}, {"min_duration_s": -0.1},
                                    {"max_gap_s": float("inf")}])
def test_options_are_validated(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        FixationOptions(**kwargs)
