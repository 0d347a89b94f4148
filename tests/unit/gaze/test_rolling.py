"""The sliding window behind the blink and sharpness baselines: numpy's order statistics, kept
incrementally."""

from __future__ import annotations

import numpy as np
import pytest

from gazeserve.gaze.rolling import RollingWindow


@pytest.mark.parametrize("q", [0.0, 10.0, 50.0, 80.0, 99.5, 100.0])
def test_percentile_and_median_match_numpy_as_the_window_slides(q: float) -> None:
    rng = np.random.default_rng(int(q))
    window = RollingWindow(window_s=1.0)
    times = np.cumsum(rng.uniform(0.0, 0.1, 400))
    values = np.round(rng.uniform(0.0, 0.4, 400), 3)  # rounded: ties, as real openness has
    for i, (t, v) in enumerate(zip(times.tolist(), values.tolist(), strict=True)):
        window.add(v, t)
        held = values[: i + 1][times[: i + 1] >= t - 1.0]
        assert len(window) == len(held)
        assert window.percentile(q) == float(np.percentile(held, q))
        assert window.median() == float(np.median(held))
    assert window.last_s == times[-1]


def test_span_clear_and_empty() -> None:
    window = RollingWindow(window_s=10.0)
    assert window.span_s == 0.0 and window.last_s is None
    window.add(1.0, 2.0)
    window.add(3.0, 4.5)
    assert window.span_s == 2.5
    window.clear()
    with pytest.raises(ValueError, match="empty"):
        window.median()
    with pytest.raises(ValueError, match="empty"):
        window.percentile(50.0)
    with pytest.raises(ValueError):
        RollingWindow(window_s=-1.0)
