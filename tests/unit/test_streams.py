"""The stream clock: one continuous time whichever clock the frames carry."""

from __future__ import annotations

import time

from gazeserve.streams import StreamState


def test_client_timestamps_after_server_time_continue_the_clock() -> None:
    stream = StreamState("s")
    first = stream.frame_time_s(None)  # server monotonic time, e.g. thousands of seconds
    assert first > 0
    later = stream.frame_time_s(0.0)  # the client starts its own clock at zero
    assert later >= first
    assert stream.frame_time_s(500.0) - later == 0.5


def test_server_time_after_client_timestamps_continues_the_clock() -> None:
    stream = StreamState("s")
    assert stream.frame_time_s(1000.0) == 1.0
    time.sleep(0.01)
    t = stream.frame_time_s(None)
    assert 1.005 < t < 2.0


def test_stream_time_maps_without_advancing() -> None:
    stream = StreamState("s")
    stream.frame_time_s(2000.0)
    assert stream.stream_time_s(2500.0) == 2.5
    assert stream.frame_time_s(2100.0) == 2.1
