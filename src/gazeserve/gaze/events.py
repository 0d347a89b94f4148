"""A stream's discrete events (blinks, fixations, on/off-screen transitions) and their summary.

`EventTracker` is per-stream state: feed it every processed frame of one stream in time order,
with the face (smoothed, so fixations see steady gaze; its openness is raw, see `filters`) or
None when no face was found. It returns the events that completed at that frame, as JSON-ready
dicts:

    {"type": "event", "event": "blink", "t_ms": start, "end_ms": ..., "duration_ms": ...,
     "min_openness": ...}
    {"type": "event", "event": "fixation", "t_ms": start, "end_ms": ..., "duration_ms": ...,
     "yaw_deg": ..., "pitch_deg": ..., "dispersion_deg": ..., "samples": ...,
     "screen_point_px": [x, y] | None}
    {"type": "event", "event": "on_screen" | "off_screen", "t_ms": when the new state began}

Frames whose eyes are closed (a blink in progress) carry no gaze: they feed neither fixations nor
on/off-screen. A closure longer than `FixationOptions.max_gap_s` therefore splits a fixation, as
Tobii's I-VT filter does for the gaps it does not fill in (Olsen 2012).

`t_ms` is always when the event began, on the clock of the `t_s` given (seconds x 1000); an event
is reported when it is known, which is after it began (a blink when the eye reopens, a fixation
when the gaze leaves it, a transition once the new state has held for `on_screen_min_s`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from gazeserve.gaze.blinks import Blink, BlinkDetector, BlinkOptions, eye_openness
from gazeserve.gaze.filters import check_time_order
from gazeserve.gaze.fixations import Fixation, FixationDetector, FixationOptions
from gazeserve.results import FaceResult

Event = dict[str, Any]


@dataclass(frozen=True)
class EventOptions:
    """Options of the per-stream event tracker. Validated when built (and by its parts)."""

    blinks: BlinkOptions = field(default_factory=BlinkOptions)
    fixations: FixationOptions = field(default_factory=FixationOptions)
    on_screen_min_s: float = 0.2
    """A new on/off-screen state must hold this long before it is reported: longer than one
    noisy frame at 10 fps (100 ms), two frames at 10 fps, six at 30 fps."""
    max_gap_s: float = 0.5
    """Time between frames counts toward the on-screen share only up to this gap."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.on_screen_min_s) and self.on_screen_min_s >= 0.0):
            raise ValueError(f"on_screen_min_s must be >= 0, got {self.on_screen_min_s}")
        if not (math.isfinite(self.max_gap_s) and self.max_gap_s > 0.0):
            raise ValueError(f"max_gap_s must be positive, got {self.max_gap_s}")


class Debounce:
    """A boolean state that changes only once a new value has held for `min_s` seconds."""

    def __init__(self, min_s: float) -> None:
        self.min_s = min_s
        self.state: bool | None = None
        self._candidate: bool | None = None
        self._since_s = 0.0

    def update(self, value: bool, t_s: float) -> float | None:
        """Adds one observation; when the state changed, the time the new value began."""
        if value == self.state:
            self._candidate = None
            return None
        if value != self._candidate:
            self._candidate, self._since_s = value, t_s
        if t_s - self._since_s < self.min_s:
            return None
        self.state, self._candidate = value, None
        return self._since_s


class EventTracker:
    """Blinks, fixations and on/off-screen transitions of one stream; see the module doc."""

    def __init__(self, options: EventOptions | None = None) -> None:
        self.options = options or EventOptions()
        self.blinks = BlinkDetector(self.options.blinks)
        self.fixations = FixationDetector(self.options.fixations)
        self._screen = Debounce(self.options.on_screen_min_s)
        self._t_s: float | None = None
        self._time_s = {True: 0.0, False: 0.0}
        self.counts = {"blink": 0, "fixation": 0, "on_screen": 0, "off_screen": 0}

    def update(self, face: FaceResult | None, t_s: float) -> list[Event]:
        """The events that completed with this frame (possibly none).

        Args:
            face: the stream's tracked face this frame, None when there was none (it then counts
                as off-screen, and ends a fixation and any eye closure in progress).
            t_s: the frame's time in seconds (the stream's clock, never decreasing).

        Raises:
            TimestampOrderError: `t_s` is earlier than the previous frame's.
        """
        check_time_order(self._t_s, t_s, "EventTracker")
        if self._t_s is not None and self._screen.state is not None:
            self._time_s[self._screen.state] += min(t_s - self._t_s, self.options.max_gap_s)
        self._t_s = t_s
        events: list[Event] = []
        if face is None:
            self.blinks.interrupt()
            self._add_fixation(events, self.fixations.flush())
            self._add_screen(events, False, t_s)
            return events
        blink = self.blinks.update(eye_openness(face.right_eye.openness, face.left_eye.openness),
                                   t_s)
        if blink is not None:
            events.append(blink_event(blink))
            self.counts["blink"] += 1
        if self.blinks.closed or (face.right_eye.closed and face.left_eye.closed):
            return events  # the irises are hidden: the gaze of this frame means nothing
        gaze = face.gaze
        self._add_fixation(events, self.fixations.update(gaze.yaw_deg, gaze.pitch_deg, t_s,
                                                         gaze.screen_point_px))
        self._add_screen(events, face.on_screen, t_s)
        return events

    def flush(self) -> list[Event]:
        """At the stream's end: the fixation in progress, if any."""
        events: list[Event] = []
        self._add_fixation(events, self.fixations.flush())
        return events

    def summary(self) -> dict[str, Any]:
        """The stream so far, JSON-ready: event counts, blink rate, fixations, on-screen share.

        Shares and means are None until there is something to average.
        """
        on_s, off_s = self._time_s[True], self._time_s[False]
        fixations = self.fixations
        return {
            "counts": dict(self.counts),
            "blink_rate_per_min": round(self.blinks.rate_per_min, 2),
            "long_eye_closures": self.blinks.long_closures,
            "fixation_count": fixations.count,
            "fixation_mean_duration_ms": (
                round(1000.0 * fixations.total_duration_s / fixations.count, 1)
                if fixations.count else None),
            "on_screen_share": round(on_s / (on_s + off_s), 4) if on_s + off_s > 0 else None,
            "observed_s": round(on_s + off_s, 3),
        }

    def _add_fixation(self, events: list[Event], fixation: Fixation | None) -> None:
        if fixation is not None:
            events.append(fixation_event(fixation))
            self.counts["fixation"] += 1

    def _add_screen(self, events: list[Event], on_screen: bool, t_s: float) -> None:
        since_s = self._screen.update(on_screen, t_s)
        if since_s is not None:
            name = "on_screen" if on_screen else "off_screen"
            events.append({"type": "event", "event": name, "t_ms": _ms(since_s)})
            self.counts[name] += 1


def blink_event(blink: Blink) -> Event:
    return {"type": "event", "event": "blink", "t_ms": _ms(blink.start_s),
            "end_ms": _ms(blink.end_s), "duration_ms": _ms(blink.duration_s),
            "min_openness": round(blink.min_openness, 3)}


def fixation_event(fixation: Fixation) -> Event:
    point = fixation.screen_point_px
    return {"type": "event", "event": "fixation", "t_ms": _ms(fixation.start_s),
            "end_ms": _ms(fixation.end_s), "duration_ms": _ms(fixation.duration_s),
            "yaw_deg": round(fixation.yaw_deg, 2), "pitch_deg": round(fixation.pitch_deg, 2),
            "dispersion_deg": round(fixation.dispersion_deg, 3), "samples": fixation.samples,
            "screen_point_px": None if point is None else [round(point[0], 1),
                                                           round(point[1], 1)]}


def _ms(t_s: float) -> float:
    return round(1000.0 * float(t_s), 1)
