"""Fixations from a stream of gaze angles: I-DT, run online.

I-DT (dispersion-threshold identification) is the algorithm of Salvucci & Goldberg, "Identifying
Fixations and Saccades in Eye-Tracking Protocols", ETRA 2000, section 3.3: a window of samples
covering at least the minimum duration is a fixation when its dispersion

    D = (max(yaw) - min(yaw)) + (max(pitch) - min(pitch))

is at most the threshold; it then grows until the next sample would push D over the threshold,
and the fixation is the window without that sample. A window that is not a fixation drops its
first sample. Run online, the same decisions are taken as each sample arrives: a fixation is
reported when it ends (the first sample outside it, a gap, or `flush()` at the stream's end), with
its centroid, start and end (the times of its first and last sample).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from gazeserve.gaze.filters import check_time_order
from gazeserve.results import Point2


@dataclass(frozen=True)
class FixationOptions:
    """Thresholds of I-DT. Validated when built."""

    dispersion_deg: float = 1.0
    """Salvucci & Goldberg's range, taken at 1 degree of visual angle, the fovea's extent."""
    min_duration_s: float = 0.1
    """The usual lower bound of fixation duration (100 ms, Salvucci & Goldberg 2000)."""
    max_gap_s: float = 0.15
    """A longer gap between samples ends the fixation, since the eyes may have moved unseen.
    Olsen's Tobii I-VT filter ("The Tobii I-VT Fixation Filter", 2012) bridges gaps up to 75 ms;
    webcam streams that drop frames run at 10-30 fps, so this bridges one missing frame at 15 fps
    (a 133 ms gap)."""

    def __post_init__(self) -> None:
        for name in ("dispersion_deg", "max_gap_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"{name} must be positive, got {value}")
        if not (math.isfinite(self.min_duration_s) and self.min_duration_s >= 0.0):
            raise ValueError(f"min_duration_s must be >= 0, got {self.min_duration_s}")


@dataclass(frozen=True)
class Fixation:
    """One fixation: the times of its first and last sample, and its centroid."""

    start_s: float
    end_s: float
    yaw_deg: float
    pitch_deg: float
    """Centroid of the gaze angles (see `conventions` for their signs)."""
    dispersion_deg: float
    samples: int
    screen_point_px: Point2 | None
    """Centroid of the screen points, when every sample had one."""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class _Sample:
    t_s: float
    yaw_deg: float
    pitch_deg: float
    point_px: Point2 | None


class _Accumulator:
    """A growing fixation: sums and extremes, so each sample costs O(1) however long it lasts."""

    def __init__(self, samples: deque[_Sample]) -> None:
        first = samples[0]
        self.start_s = first.t_s
        self.lo = [first.yaw_deg, first.pitch_deg]
        self.hi = [first.yaw_deg, first.pitch_deg]
        self.n = 0
        self.sums = [0.0, 0.0]
        self.point_sums: list[float] | None = [0.0, 0.0]
        self.end_s = first.t_s
        for sample in samples:
            self.add(sample)

    def dispersion_with(self, s: _Sample) -> float:
        return (max(self.hi[0], s.yaw_deg) - min(self.lo[0], s.yaw_deg)
                + max(self.hi[1], s.pitch_deg) - min(self.lo[1], s.pitch_deg))

    def add(self, s: _Sample) -> None:
        for i, v in enumerate((s.yaw_deg, s.pitch_deg)):
            self.lo[i], self.hi[i] = min(self.lo[i], v), max(self.hi[i], v)
            self.sums[i] += v
        if self.point_sums is not None and s.point_px is not None:
            self.point_sums[0] += s.point_px[0]
            self.point_sums[1] += s.point_px[1]
        else:
            self.point_sums = None
        self.n += 1
        self.end_s = s.t_s

    def fixation(self) -> Fixation:
        point = None if self.point_sums is None else (self.point_sums[0] / self.n,
                                                      self.point_sums[1] / self.n)
        return Fixation(self.start_s, self.end_s, self.sums[0] / self.n, self.sums[1] / self.n,
                        self.hi[0] - self.lo[0] + self.hi[1] - self.lo[1], self.n, point)


def _dispersion(samples: deque[_Sample]) -> float:
    yaws = [s.yaw_deg for s in samples]
    pitches = [s.pitch_deg for s in samples]
    return max(yaws) - min(yaws) + max(pitches) - min(pitches)


class FixationDetector:
    """Online I-DT over one stream's gaze; see the module doc."""

    def __init__(self, options: FixationOptions | None = None) -> None:
        self.options = options or FixationOptions()
        self._window: deque[_Sample] = deque()
        self._current: _Accumulator | None = None
        self._t_s: float | None = None
        self.count = 0
        self.total_duration_s = 0.0

    @property
    def in_fixation(self) -> bool:
        return self._current is not None

    def update(self, yaw_deg: float, pitch_deg: float, t_s: float,
               screen_point_px: Point2 | None = None) -> Fixation | None:
        """Adds one gaze sample; the fixation that ended with it, if any.

        Raises:
            TimestampOrderError: `t_s` is earlier than the previous sample's.
            ValueError: a non-finite angle.
        """
        if not (math.isfinite(yaw_deg) and math.isfinite(pitch_deg)):
            raise ValueError(f"gaze angles must be finite, got ({yaw_deg}, {pitch_deg})")
        check_time_order(self._t_s, t_s, "FixationDetector")
        ended = None
        if self._t_s is not None and t_s - self._t_s > self.options.max_gap_s:
            ended = self.flush()
        self._t_s = t_s
        sample = _Sample(t_s, yaw_deg, pitch_deg, screen_point_px)
        if self._current is not None:
            if self._current.dispersion_with(sample) <= self.options.dispersion_deg:
                self._current.add(sample)
                return ended
            ended = self._finish()
        window = self._window
        window.append(sample)
        while window[-1].t_s - window[0].t_s >= self.options.min_duration_s:
            if _dispersion(window) <= self.options.dispersion_deg:
                self._current = _Accumulator(window)
                window.clear()
                break
            window.popleft()
        return ended

    def flush(self) -> Fixation | None:
        """Ends the stream (or a gap): the fixation in progress, if any; the window restarts."""
        self._window.clear()
        return self._finish()

    def _finish(self) -> Fixation | None:
        current, self._current = self._current, None
        if current is None:
            return None
        fixation = current.fixation()
        self.count += 1
        self.total_duration_s += fixation.duration_s
        return fixation
