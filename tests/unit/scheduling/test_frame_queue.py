"""The frame queue in plain asyncio, on a hand-driven clock: order, drops, bounds, close."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from gazeserve.scheduling import (
    DropReason,
    FrameDropped,
    FrameQueue,
    QueueClosed,
    QueueFullError,
    QueueOptions,
)


class FakeClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s

    def advance_ms(self, ms: float) -> None:
        self.now_s += ms / 1000.0


class Recorder:
    """A listener that keeps every event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_submit(self, priority: int) -> None:
        self.events.append(("submit", priority))

    def on_drop(self, reason: DropReason) -> None:
        self.events.append(("drop", reason))

    def on_processed(self, processing_s: float, wait_s: float) -> None:
        self.events.append(("processed", (processing_s, wait_s)))

    def on_depth(self, depth: int) -> None:
        self.events.append(("depth", depth))


def work(value: object) -> Callable[[], object]:
    return lambda: value


def dropped_reason(future: asyncio.Future[Any]) -> DropReason:
    error = future.exception()
    assert isinstance(error, FrameDropped), error
    return error.reason


def check_ledger(queue: FrameQueue) -> None:
    s = queue.stats()
    assert s.frames_received == s.frames_processed + s.frames_dropped + s.depth + s.in_flight
    assert s.frames_dropped == sum(s.dropped_by_reason.values())


async def drain_ids(queue: FrameQueue) -> list[object]:
    ids = []
    while queue.depth:
        frame = await queue.get()
        queue.record_processed(0.0, frame.wait_s)
        ids.append(frame.frame_id)
    return ids


def test_options_defaults_follow_the_seed() -> None:
    options = QueueOptions()
    assert (options.max_queue_size, options.drop_old_frames, options.max_frame_age_ms) == (
        10,
        True,
        200.0,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_queue_size": 0}, "max_queue_size"),
        ({"max_queue_size": 2.5}, "max_queue_size"),
        ({"max_queue_size": True}, "max_queue_size"),
        ({"max_frame_age_ms": 0.0}, "max_frame_age_ms"),
        ({"max_frame_age_ms": -5}, "max_frame_age_ms"),
        ({"max_frame_age_ms": float("nan")}, "max_frame_age_ms"),
        ({"max_frame_age_ms": float("inf")}, "max_frame_age_ms"),
        ({"drop_old_frames": 1}, "drop_old_frames"),
    ],
)
def test_options_reject_bad_values(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        QueueOptions(**kwargs)


@pytest.mark.parametrize("priority", [-1, 11, True, 5.5])
def test_priority_outside_0_to_10_is_refused(priority: Any) -> None:
    async def scenario() -> None:
        queue = FrameQueue(clock=FakeClock())
        with pytest.raises(ValueError, match="priority"):
            queue.submit(work(1), priority=priority)
        assert queue.stats().frames_received == 0

    asyncio.run(scenario())


def test_higher_priority_is_served_first() -> None:
    async def scenario() -> list[object]:
        queue = FrameQueue(clock=FakeClock())
        for priority in (1, 9, 0, 5, 10):
            queue.submit(work(priority), priority=priority, frame_id=priority)
        return await drain_ids(queue)

    assert asyncio.run(scenario()) == [10, 9, 5, 1, 0]


def test_fifo_within_a_priority() -> None:
    async def scenario() -> list[object]:
        queue = FrameQueue(clock=FakeClock())
        for i, priority in enumerate((5, 7, 5, 7, 5)):
            queue.submit(work(i), priority=priority, frame_id=i)
        return await drain_ids(queue)

    assert asyncio.run(scenario()) == [1, 3, 0, 2, 4]


def test_stale_frames_fail_when_taken_off_the_queue() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        queue = FrameQueue(QueueOptions(max_frame_age_ms=200.0), clock=clock)
        old = queue.submit(work("old"), frame_id="old")
        clock.advance_ms(150)
        fresh = queue.submit(work("fresh"), frame_id="fresh")
        clock.advance_ms(60)  # old is now 210 ms, fresh 60 ms

        frame = await queue.get()
        assert frame.frame_id == "fresh"
        assert frame.wait_s == pytest.approx(0.060)
        assert dropped_reason(old) is DropReason.STALE
        assert not fresh.done()
        assert queue.stats().dropped_by_reason["stale"] == 1

    asyncio.run(scenario())


def test_a_frame_exactly_at_the_age_limit_is_still_served() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        queue = FrameQueue(QueueOptions(max_frame_age_ms=100.0), clock=clock)
        queue.submit(work(1), frame_id=1)
        clock.advance_ms(100)
        assert (await queue.get()).frame_id == 1

    asyncio.run(scenario())


def test_old_frames_are_kept_when_dropping_is_off() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        queue = FrameQueue(QueueOptions(drop_old_frames=False, max_frame_age_ms=1), clock=clock)
        queue.submit(work(1), frame_id=1)
        clock.advance_ms(10_000)
        assert (await queue.get()).frame_id == 1
        assert queue.stats().frames_dropped == 0

    asyncio.run(scenario())


def test_stale_drop_on_the_real_monotonic_clock() -> None:
    async def scenario() -> None:
        queue = FrameQueue(QueueOptions(max_frame_age_ms=20.0))
        old = queue.submit(work(1))
        await asyncio.sleep(0.05)
        queue.submit(work(2), frame_id=2)
        assert (await queue.get()).frame_id == 2
        assert dropped_reason(old) is DropReason.STALE

    asyncio.run(scenario())


def test_a_newer_frame_of_a_stream_supersedes_the_waiting_one() -> None:
    async def scenario() -> None:
        queue = FrameQueue(clock=FakeClock())
        first = queue.submit(work(1), stream_id="cam", frame_id=1)
        second = queue.submit(work(2), stream_id="cam", frame_id=2)

        assert dropped_reason(first) is DropReason.SUPERSEDED
        error = first.exception()
        assert isinstance(error, FrameDropped)
        assert (error.stream_id, error.frame_id) == ("cam", 1)
        assert queue.depth == 1
        assert (await queue.get()).frame_id == 2
        assert not second.done()
        assert queue.stats().dropped_by_reason["superseded"] == 1
        check_ledger(queue)

    asyncio.run(scenario())


def test_the_newer_frame_keeps_its_streams_place_in_line() -> None:
    async def scenario() -> list[object]:
        queue = FrameQueue(clock=FakeClock())
        queue.submit(work(None), stream_id="a", frame_id="a1")
        queue.submit(work(None), stream_id="b", frame_id="b1")
        queue.submit(work(None), stream_id="a", frame_id="a2")
        queue.submit(work(None), frame_id="anon1")
        queue.submit(work(None), frame_id="anon2")  # no stream: never superseded
        return await drain_ids(queue)

    assert asyncio.run(scenario()) == ["a2", "b1", "anon1", "anon2"]


def test_superseding_in_a_full_queue_is_not_a_rejection() -> None:
    async def scenario() -> None:
        queue = FrameQueue(QueueOptions(max_queue_size=2), clock=FakeClock())
        queue.submit(work(None), stream_id="a")
        queue.submit(work(None), stream_id="b")
        queue.submit(work(None), stream_id="b", frame_id="b2")
        assert queue.depth == 2
        assert queue.stats().dropped_by_reason["queue_full"] == 0

    asyncio.run(scenario())


def test_a_full_queue_refuses_with_a_retry_hint() -> None:
    async def scenario() -> None:
        queue = FrameQueue(QueueOptions(max_queue_size=3), clock=FakeClock())
        for i in range(3):
            queue.submit(work(i))
        with pytest.raises(QueueFullError) as refused:
            queue.submit(work(3), stream_id="cam", frame_id=3)
        assert refused.value.reason is DropReason.QUEUE_FULL
        assert refused.value.frame_id == 3
        assert refused.value.retry_after_s == 1.0  # no timings yet: the floor

        frame = await queue.get()
        queue.record_processed(2.0, frame.wait_s)
        queue.submit(work(4))
        with pytest.raises(QueueFullError) as refused:
            queue.submit(work(5))
        assert refused.value.retry_after_s == pytest.approx(2.0 * 3 / 1)
        queue.set_worker_count(2)
        with pytest.raises(QueueFullError) as refused:
            queue.submit(work(6))
        assert refused.value.retry_after_s == pytest.approx(2.0 * 3 / 2)
        assert queue.stats().dropped_by_reason["queue_full"] == 3
        check_ledger(queue)
        queue.close()

    asyncio.run(scenario())


def test_memory_stays_bounded_under_a_flood() -> None:
    async def scenario() -> None:
        queue = FrameQueue(QueueOptions(max_queue_size=10), clock=FakeClock())
        refused = 0
        for i in range(10_000):
            try:
                queue.submit(work(i))
            except QueueFullError:
                refused += 1
            assert queue.depth <= 10
        stats = queue.stats()
        assert refused == stats.dropped_by_reason["queue_full"] == 9_990
        assert stats.max_depth_seen == 10
        check_ledger(queue)
        queue.close()

    asyncio.run(scenario())


def test_one_stream_flooding_holds_one_frame() -> None:
    async def scenario() -> None:
        queue = FrameQueue(QueueOptions(max_queue_size=10), clock=FakeClock())
        futures = [queue.submit(work(i), stream_id="cam", frame_id=i) for i in range(10_000)]
        stats = queue.stats()
        assert (stats.depth, stats.max_depth_seen) == (1, 1)
        assert stats.dropped_by_reason["superseded"] == 9_999
        assert all(dropped_reason(f) is DropReason.SUPERSEDED for f in futures[:-1])
        assert (await queue.get()).frame_id == 9_999
        check_ledger(queue)

    asyncio.run(scenario())


def test_a_full_queue_first_makes_room_from_frames_get_would_drop() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        queue = FrameQueue(QueueOptions(max_queue_size=2, max_frame_age_ms=100), clock=clock)
        gone = queue.submit(work(None))
        old = queue.submit(work(None))
        gone.cancel()
        clock.advance_ms(150)
        fresh = queue.submit(work(None), frame_id="fresh")

        assert dropped_reason(old) is DropReason.STALE
        assert not fresh.done()
        assert queue.depth == 1
        assert queue.stats().dropped_by_reason == {
            "stale": 1,
            "superseded": 0,
            "queue_full": 0,
            "shutdown": 0,
            "cancelled": 1,
        }

    asyncio.run(scenario())


def test_cancelled_frames_are_skipped_and_counted() -> None:
    async def scenario() -> None:
        queue = FrameQueue(clock=FakeClock())
        gone = queue.submit(work(None), frame_id="gone")
        queue.submit(work(None), frame_id="kept")
        gone.cancel()
        assert (await queue.get()).frame_id == "kept"
        assert queue.stats().dropped_by_reason["cancelled"] == 1
        check_ledger(queue)

    asyncio.run(scenario())


def test_get_waits_for_a_frame() -> None:
    async def scenario() -> None:
        queue = FrameQueue(clock=FakeClock())
        getter = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        assert not getter.done()
        queue.submit(work(None), frame_id="late")
        assert (await asyncio.wait_for(getter, 1.0)).frame_id == "late"

    asyncio.run(scenario())


def test_close_fails_waiting_frames_and_refuses_new_ones() -> None:
    async def scenario() -> None:
        queue = FrameQueue(clock=FakeClock())
        taken = queue.submit(work(None))
        await queue.get()
        waiting = [queue.submit(work(None)) for _ in range(3)]
        queue.close()
        queue.close()  # idempotent

        assert [dropped_reason(f) for f in waiting] == [DropReason.SHUTDOWN] * 3
        assert not taken.done()  # in a worker's hands: not the queue's to fail
        with pytest.raises(FrameDropped) as refused:
            queue.submit(work(None))
        assert refused.value.reason is DropReason.SHUTDOWN
        with pytest.raises(QueueClosed):
            await queue.get()
        stats = queue.stats()
        assert (stats.depth, stats.in_flight, stats.dropped_by_reason["shutdown"]) == (0, 1, 4)
        check_ledger(queue)

    asyncio.run(scenario())


def test_close_wakes_a_waiting_getter() -> None:
    async def scenario() -> None:
        queue = FrameQueue(clock=FakeClock())
        getter = asyncio.create_task(queue.get())
        await asyncio.sleep(0)
        queue.close()
        with pytest.raises(QueueClosed):
            await asyncio.wait_for(getter, 1.0)

    asyncio.run(scenario())


def test_stats_average_processing_and_wait_times() -> None:
    async def scenario() -> None:
        queue = FrameQueue(clock=FakeClock())
        for i in range(2):
            queue.submit(work(i))
        await queue.get()
        queue.record_processed(0.010, 0.002)
        await queue.get()
        queue.record_processed(0.030, 0.004, failed=True)

        stats = queue.stats()
        assert (stats.frames_processed, stats.frames_failed, stats.in_flight) == (2, 1, 0)
        assert stats.avg_processing_time == pytest.approx(0.020)
        assert stats.avg_wait_time == pytest.approx(0.003)
        check_ledger(queue)

    asyncio.run(scenario())


def test_the_listener_hears_every_event() -> None:
    async def scenario() -> list[tuple[str, Any]]:
        recorder = Recorder()
        queue = FrameQueue(QueueOptions(max_queue_size=1), listener=recorder, clock=FakeClock())
        queue.submit(work(None), stream_id="cam", priority=3)
        queue.submit(work(None), stream_id="cam", priority=4)
        with pytest.raises(QueueFullError):
            queue.submit(work(None), priority=2)
        await queue.get()
        queue.record_processed(0.5, 0.25)
        return recorder.events

    assert asyncio.run(scenario()) == [
        ("submit", 3),
        ("depth", 1),
        ("submit", 4),
        ("drop", DropReason.SUPERSEDED),
        ("depth", 1),
        ("submit", 2),
        ("drop", DropReason.QUEUE_FULL),
        ("depth", 0),
        ("processed", (0.5, 0.25)),
    ]


def test_a_failing_listener_loses_no_frame(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Recorder):
        def on_depth(self, depth: int) -> None:
            raise RuntimeError("metrics backend down")

    async def scenario() -> object:
        queue = FrameQueue(listener=Broken(), clock=FakeClock())
        queue.submit(work(None), frame_id=1)
        return (await queue.get()).frame_id

    assert asyncio.run(scenario()) == 1
    assert "listener on_depth failed" in caplog.text


def test_age_counts_from_arrival_when_the_frame_waited_before() -> None:
    async def scenario() -> None:
        clock = FakeClock()
        queue = FrameQueue(QueueOptions(max_frame_age_ms=200.0), clock=clock)
        arrived = clock()
        clock.advance_ms(150)  # waited in a connection's own slot first
        early = queue.submit(work("early"), frame_id="early", arrived_at=arrived)
        late = queue.submit(work("late"), frame_id="late")
        clock.advance_ms(60)  # early is 210 ms old since arrival, late 60 ms
        frame = await queue.get()
        assert frame.frame_id == "late"
        assert dropped_reason(early) is DropReason.STALE
        assert not late.done()

    asyncio.run(scenario())
