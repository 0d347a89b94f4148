"""Inference workers in plain asyncio, with toy work that blocks on threading primitives."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import pytest

from gazeserve.scheduling import (
    DropReason,
    FrameDropped,
    FrameQueue,
    InferenceWorkers,
    QueueOptions,
    recommended_workers,
)

# Generous: the tests never wait this long unless something is broken.
TIMEOUT_S = 2.0


def relaxed_queue() -> FrameQueue:
    """A queue that drops nothing for age, so a slow test machine cannot make frames stale."""
    return FrameQueue(QueueOptions(drop_old_frames=False))


class Blocker:
    """Work that tells the loop it started, then blocks its thread until released."""

    def __init__(self, loop: asyncio.AbstractEventLoop, value: object) -> None:
        self.loop = loop
        self.value = value
        self.started = asyncio.Event()
        self.release = threading.Event()

    def __call__(self) -> object:
        self.loop.call_soon_threadsafe(self.started.set)
        if not self.release.wait(TIMEOUT_S):
            raise TimeoutError("never released")
        return self.value


def square(i: int) -> int:
    return i * i


def identity(i: int) -> int:
    return i


def boom() -> int:
    raise ValueError("bad frame")


def test_results_are_delivered() -> None:
    async def scenario() -> list[int]:
        queue = relaxed_queue()
        workers = InferenceWorkers(queue, max_workers=2)
        workers.start()
        futures = [queue.submit(partial(square, i)) for i in range(5)]
        results = await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT_S)
        await workers.stop(drain_timeout_s=TIMEOUT_S)
        stats = queue.stats()
        assert (stats.frames_processed, stats.frames_failed, stats.in_flight) == (5, 0, 0)
        return results

    assert asyncio.run(scenario()) == [0, 1, 4, 9, 16]


def test_a_failing_frame_fails_alone_and_the_worker_keeps_serving() -> None:
    async def scenario() -> None:
        queue = relaxed_queue()
        async with InferenceWorkers(queue, max_workers=1) as workers:
            before = queue.submit(lambda: "before")
            bad = queue.submit(boom)
            after = queue.submit(lambda: "after")
            outcomes = await asyncio.wait_for(
                asyncio.gather(before, bad, after, return_exceptions=True), TIMEOUT_S
            )
            assert outcomes[0] == "before" and outcomes[2] == "after"
            assert isinstance(outcomes[1], ValueError)
            assert (workers.restarts, workers.running) == (0, 1)
        stats = queue.stats()
        assert (stats.frames_processed, stats.frames_failed) == (3, 1)

    asyncio.run(scenario())


def test_two_workers_run_two_frames_at_once() -> None:
    async def scenario() -> None:
        queue = relaxed_queue()
        # Each frame waits for the other inside its thread: both finish only if run together.
        barrier = threading.Barrier(2, timeout=TIMEOUT_S)

        def meet(i: int) -> int:
            barrier.wait()
            return i

        async with InferenceWorkers(queue, max_workers=2):
            futures = [queue.submit(partial(meet, i)) for i in range(2)]
            assert await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT_S) == [0, 1]

    asyncio.run(scenario())


def test_stop_drains_the_frame_in_flight_and_fails_the_waiting_ones() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        queue = relaxed_queue()
        workers = InferenceWorkers(queue, max_workers=1)
        workers.start()
        running = Blocker(loop, "done")
        in_flight = queue.submit(running)
        await asyncio.wait_for(running.started.wait(), TIMEOUT_S)
        waiting = queue.submit(lambda: "never")

        loop.call_later(0.01, running.release.set)
        await workers.stop(drain_timeout_s=TIMEOUT_S)

        assert in_flight.result() == "done"
        error = waiting.exception()
        assert isinstance(error, FrameDropped) and error.reason is DropReason.SHUTDOWN
        assert workers.running == 0
        stats = queue.stats()
        assert (stats.frames_processed, stats.dropped_by_reason["shutdown"]) == (1, 1)

    asyncio.run(scenario())


def test_stop_gives_up_on_work_past_the_deadline() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        queue = relaxed_queue()
        workers = InferenceWorkers(queue, max_workers=1)
        workers.start()
        stuck = Blocker(loop, "late")
        try:
            future = queue.submit(stuck)
            await asyncio.wait_for(stuck.started.wait(), TIMEOUT_S)
            await workers.stop(drain_timeout_s=0.02)
        finally:
            stuck.release.set()

        error = future.exception()
        assert isinstance(error, FrameDropped) and error.reason is DropReason.SHUTDOWN
        stats = queue.stats()
        assert (stats.in_flight, stats.frames_processed, stats.dropped_by_reason["shutdown"]) == (
            0,
            0,
            1,
        )
        assert workers.running == 0

    asyncio.run(scenario())


def test_a_worker_that_dies_is_restarted(caplog: pytest.LogCaptureFixture) -> None:
    class FlakyBookkeeping(FrameQueue):
        """Breaks once after the first frame is delivered, as a bug in the worker's path would."""

        def __init__(self) -> None:
            super().__init__(QueueOptions(drop_old_frames=False))
            self.broken_once = False

        def record_processed(
            self, processing_s: float, wait_s: float, *, failed: bool = False
        ) -> None:
            super().record_processed(processing_s, wait_s, failed=failed)
            if not self.broken_once:
                self.broken_once = True
                raise RuntimeError("bookkeeping bug")

    async def scenario() -> None:
        queue = FlakyBookkeeping()
        async with InferenceWorkers(queue, max_workers=1) as workers:
            futures = [queue.submit(partial(identity, i)) for i in range(3)]
            assert await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT_S) == [0, 1, 2]
            assert (workers.restarts, workers.running) == (1, 1)

    asyncio.run(scenario())
    assert "inference worker died" in caplog.text


def test_a_given_executor_is_used_and_left_open() -> None:
    async def scenario(executor: ThreadPoolExecutor) -> str:
        queue = relaxed_queue()
        async with InferenceWorkers(queue, max_workers=1, executor=executor):
            return await asyncio.wait_for(
                queue.submit(lambda: threading.current_thread().name), TIMEOUT_S
            )

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mine") as executor:
        assert asyncio.run(scenario(executor)).startswith("mine")
        assert executor.submit(lambda: 7).result(TIMEOUT_S) == 7


@pytest.mark.parametrize("max_workers", [0, -1, 1.5, True])
def test_max_workers_must_be_a_positive_int(max_workers: Any) -> None:
    with pytest.raises(ValueError, match="max_workers"):
        InferenceWorkers(FrameQueue(), max_workers)


def test_start_needs_a_loop_and_runs_once() -> None:
    with pytest.raises(RuntimeError):
        InferenceWorkers(FrameQueue(), 1).start()

    async def scenario() -> None:
        workers = InferenceWorkers(FrameQueue(), 1)
        workers.start()
        with pytest.raises(RuntimeError, match="twice"):
            workers.start()
        await workers.stop(drain_timeout_s=0.0)

    asyncio.run(scenario())


def test_stop_refuses_a_negative_deadline() -> None:
    async def scenario() -> None:
        with pytest.raises(ValueError, match="drain_timeout_s"):
            await InferenceWorkers(FrameQueue(), 1).stop(drain_timeout_s=-1.0)

    asyncio.run(scenario())


def test_recommended_workers_is_one_per_core() -> None:
    assert recommended_workers(1) == 1
    assert recommended_workers(2) == 2
    assert recommended_workers() >= 1
    with pytest.raises(ValueError, match="cpu_count"):
        recommended_workers(0)
