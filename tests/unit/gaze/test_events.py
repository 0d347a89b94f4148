"""The per-stream event tracker: blinks, fixations and debounced on/off-screen transitions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from face_results import make_face

from gazeserve.gaze.events import Debounce, EventOptions, EventTracker
from gazeserve.gaze.filters import TimestampOrderError
from gazeserve.results import FaceResult

FPS = 30.0


Frames = Sequence[tuple[float, FaceResult | None]]


def _feed(tracker: EventTracker, frames: Frames) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for t, face in frames:
        events += tracker.update(face, t)
    return events


def _t(i: int) -> float:
    return i / FPS


def test_a_single_noisy_frame_does_not_flip_on_screen() -> None:
    tracker = EventTracker()
    frames = [(_t(i), make_face(on_screen=i != 20)) for i in range(60)]
    events = _feed(tracker, frames)
    assert [e["event"] for e in events if e["event"] != "fixation"] == ["on_screen"]
    assert events[0] == {"type": "event", "event": "on_screen", "t_ms": 0.0}


def test_looking_away_is_reported_from_when_it_began() -> None:
    tracker = EventTracker(EventOptions(on_screen_min_s=0.2))
    frames = [(_t(i), make_face(on_screen=not 30 <= i < 60, gaze_yaw_deg=0.0 if i < 30 else 30.0))
              for i in range(90)]
    screen = [e for e in _feed(tracker, frames) if e["event"] in ("on_screen", "off_screen")]
    assert [(e["event"], e["t_ms"]) for e in screen] == [
        ("on_screen", 0.0), ("off_screen", round(1000 * _t(30), 1)),
        ("on_screen", round(1000 * _t(60), 1))]
    summary = tracker.summary()
    assert summary["counts"]["off_screen"] == 1
    # on-screen from 0 s; off between the confirmations at ~1.2 s and ~2.2 s
    assert summary["on_screen_share"] == pytest.approx(2 / 3, abs=0.05)


def test_blinks_and_fixations_become_events() -> None:
    tracker = EventTracker()
    frames: list[tuple[float, FaceResult | None]] = []
    for i in range(150):
        closed = 60 <= i < 66  # a 200 ms blink at 2 s
        yaw = 0.0 if i < 100 else 15.0  # a saccade at 3.33 s ends the first fixation
        frames.append((_t(i), make_face(openness=0.05 if closed else 0.3, gaze_yaw_deg=yaw)))
    events = _feed(tracker, frames) + tracker.flush()
    blinks = [e for e in events if e["event"] == "blink"]
    assert len(blinks) == 1
    assert blinks[0]["t_ms"] == pytest.approx(2000.0, abs=1000 / FPS)
    assert blinks[0]["duration_ms"] == pytest.approx(200.0, abs=1000 / FPS)
    fixations = [e for e in events if e["event"] == "fixation"]
    # The blink hides the gaze for longer than max_gap_s: it splits the first fixation in two.
    assert [f["yaw_deg"] for f in fixations] == [0.0, 0.0, 15.0]
    assert fixations[0]["t_ms"] == 0.0
    assert fixations[0]["end_ms"] < blinks[0]["t_ms"] + 1000 / FPS
    assert fixations[1]["end_ms"] == round(1000 * _t(99), 1)
    summary = tracker.summary()
    assert summary["counts"]["blink"] == 1 and summary["fixation_count"] == 3
    assert summary["blink_rate_per_min"] == pytest.approx(60.0 / (149 / FPS), abs=0.01)
    assert summary["fixation_mean_duration_ms"] == pytest.approx(
        sum(f["duration_ms"] for f in fixations) / 3, abs=0.1)


def test_losing_the_face_ends_the_fixation_and_counts_as_off_screen() -> None:
    tracker = EventTracker()
    frames: list[tuple[float, FaceResult | None]] = [(_t(i), make_face()) for i in range(30)]
    frames += [(_t(i), None) for i in range(30, 45)]
    events = _feed(tracker, frames)
    assert [e["event"] for e in events] == ["on_screen", "fixation", "off_screen"]
    assert events[1]["end_ms"] == round(1000 * _t(29), 1)
    assert events[2]["t_ms"] == round(1000 * _t(30), 1)


def test_events_and_summary_are_json_ready() -> None:
    tracker = EventTracker()
    frames = [(_t(i), make_face(openness=0.05 if 40 <= i < 45 else 0.3,
                                screen_point_px=(960.0, 540.0))) for i in range(90)]
    events = _feed(tracker, frames) + tracker.flush()
    assert {e["event"] for e in events} == {"on_screen", "blink", "fixation"}
    text = json.dumps({"events": events, "summary": tracker.summary()}, allow_nan=False)
    assert json.loads(text)["events"] == events
    assert next(e for e in events if e["event"] == "fixation")["screen_point_px"] == [960.0, 540.0]


def test_empty_summary() -> None:
    assert EventTracker().summary() == {
        "counts": {"blink": 0, "fixation": 0, "on_screen": 0, "off_screen": 0},
        "blink_rate_per_min": 0.0, "long_eye_closures": 0, "fixation_count": 0,
        "fixation_mean_duration_ms": None, "on_screen_share": None, "observed_s": 0.0}


def test_time_going_back_raises() -> None:
    tracker = EventTracker()
    tracker.update(make_face(), 1.0)
    with pytest.raises(TimestampOrderError):
        tracker.update(make_face(), 0.5)


def test_debounce_with_zero_hold_switches_at_once() -> None:
    debounce = Debounce(0.0)
    assert debounce.update(True, 1.0) == 1.0
    assert debounce.update(True, 2.0) is None
    assert debounce.update(False, 3.0) == 3.0


def test_options_are_validated() -> None:
    with pytest.raises(ValueError):
        EventOptions(on_screen_min_s=-1.0)
    with pytest.raises(ValueError):
        EventOptions(max_gap_s=0.0)
