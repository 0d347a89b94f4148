"""A stream's recent values, kept in time order and in sorted order, for running percentiles.

The blink baseline (80th percentile of ten seconds of openness) and the sharpness baseline (their
median) are order statistics of a sliding window that moves by one sample per frame. Kept sorted
as it slides (`bisect.insort` in, `bisect_left` + `del` out: a binary search and a memmove of a
few hundred pointers), a percentile costs O(1) to read instead of a copy and a partition of the
whole window each frame (about 100-200 us for 300 values in numpy).
"""

from __future__ import annotations

import bisect
import math
from collections import deque


class RollingWindow:
    """Values of the last `window_s` seconds (by the times they are added with)."""

    def __init__(self, window_s: float) -> None:
        if not window_s >= 0.0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        self.window_s = window_s
        self._timed: deque[tuple[float, float]] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._sorted)

    @property
    def last_s(self) -> float | None:
        """The time of the newest value, None when empty."""
        return self._timed[-1][0] if self._timed else None

    @property
    def span_s(self) -> float:
        """Time from the oldest to the newest value held (0 when empty)."""
        return self._timed[-1][0] - self._timed[0][0] if self._timed else 0.0

    def clear(self) -> None:
        self._timed.clear()
        self._sorted.clear()

    def add(self, value: float, t_s: float) -> None:
        """Adds a value at `t_s` (never before the last one's time) and drops the values more
        than `window_s` older."""
        self._timed.append((t_s, value))
        bisect.insort(self._sorted, value)
        while t_s - self._timed[0][0] > self.window_s:
            _, old = self._timed.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    def percentile(self, q: float) -> float:
        """The q-th percentile (0-100) of the values held, interpolated linearly between the
        nearest ranks: numpy's default (`method="linear"`, Hyndman & Fan's definition 7), to
        the last bit, including its two-sided interpolation.

        Raises:
            ValueError: the window is empty.
        """
        values = self._sorted
        if not values:
            raise ValueError("percentile of an empty window")
        index = (len(values) - 1) * (q / 100.0)
        below = math.floor(index)
        above = min(below + 1, len(values) - 1)
        t = index - below
        a, b = values[below], values[above]
        # numpy's _lerp: from the nearer end, so t = 0 and t = 1 give a and b exactly.
        return b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t

    def median(self) -> float:
        """The median as `numpy.median` gives it: the middle value, or the mean of the two."""
        values = self._sorted
        if not values:
            raise ValueError("median of an empty window")
        middle = len(values) // 2
        if len(values) % 2:
            return values[middle]
        return (values[middle - 1] + values[middle]) / 2.0
