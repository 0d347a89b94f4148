"""The cross-stream batcher in plain asyncio, with toy handlers; no test depends on timing
except the one that checks `max_wait_ms` flushes a partial batch (bounded by a generous timeout).
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from gazeserve.scheduling.batcher import (
    Batcher,
    BatcherClosedError,
    BatcherOptions,
    BatchResultError,
)

TIMEOUT_S = 5.0
NEVER_MS = 60_000.0  # a wait no test reaches: batches close on size or on close()


class Recorder:
    """A handler that records each batch and returns each item doubled."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.threads: set[str] = set()

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        return [2 * i for i in items]


def run(coro: object) -> object:
    async def bounded() -> object:
        return await asyncio.wait_for(coro, TIMEOUT_S)

    return asyncio.run(bounded())


def test_full_batches_run_as_one_call_each_caller_gets_its_own_result() -> None:
    handler = Recorder()

    async def main() -> list[int]:
        async with Batcher(handler, BatcherOptions(max_batch=4, max_wait_ms=NEVER_MS)) as b:
            return await asyncio.gather(*(b.submit(i) for i in range(8)))

    assert run(main()) == [2 * i for i in range(8)]
    assert handler.batches == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert threading.main_thread().name not in handler.threads


def test_close_flushes_a_partial_batch() -> None:
    handler = Recorder()

    async def main() -> list[int]:
        b = Batcher(handler, BatcherOptions(max_batch=8, max_wait_ms=NEVER_MS))
        tasks = [asyncio.create_task(b.submit(i)) for i in range(3)]
        await asyncio.sleep(0)  # let the submits queue
        await b.close()
        return await asyncio.gather(*tasks)

    assert run(main()) == [0, 2, 4]
    assert handler.batches == [[0, 1, 2]]


def test_max_wait_flushes_a_partial_batch() -> None:
    handler = Recorder()

    async def main() -> int:
        async with Batcher(handler, BatcherOptions(max_batch=8, max_wait_ms=1.0)) as b:
            return await b.submit(21)

    assert run(main()) == 42
    assert handler.batches == [[21]]


def test_items_arriving_while_a_batch_runs_form_the_next_batch() -> None:
    started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def handler(items: list[int]) -> list[int]:
        batches.append(list(items))
        if len(batches) == 1:
            started.set()
            release.wait(TIMEOUT_S)
        return items

    async def main() -> list[int]:
        async with Batcher(handler, BatcherOptions(max_batch=3, max_wait_ms=0)) as b:
            first = asyncio.create_task(b.submit(0))
            await asyncio.to_thread(started.wait, TIMEOUT_S)
            rest = [asyncio.create_task(b.submit(i)) for i in (1, 2, 3)]
            await asyncio.sleep(0)
            assert b.waiting == 3
            release.set()
            return await asyncio.gather(first, *rest)

    assert run(main()) == [0, 1, 2, 3]
    assert batches == [[0], [1, 2, 3]]


def test_an_exception_reaches_every_caller_of_that_batch_only() -> None:
    def handler(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("unlucky batch")
        return items

    async def main() -> list[object]:
        async with Batcher(handler, BatcherOptions(max_batch=2, max_wait_ms=NEVER_MS)) as b:
            return await asyncio.gather(*(b.submit(i) for i in (12, 13, 14, 15)),
                                        return_exceptions=True)

    first, second, third, fourth = run(main())
    assert isinstance(first, ValueError) and isinstance(second, ValueError)
    assert str(first) == "unlucky batch"
    assert (third, fourth) == (14, 15)


def test_a_handler_returning_the_wrong_number_of_results_fails_the_batch() -> None:
    async def main() -> list[object]:
        async with Batcher(lambda items: items[:-1],
                           BatcherOptions(max_batch=2, max_wait_ms=NEVER_MS)) as b:
            return await asyncio.gather(b.submit(1), b.submit(2), return_exceptions=True)

    results = run(main())
    assert all(isinstance(r, BatchResultError) for r in results)
    assert "1 results for 2 items" in str(results[0])


def test_a_cancelled_caller_drops_out_of_its_batch() -> None:
    handler = Recorder()

    async def main() -> int:
        async with Batcher(handler, BatcherOptions(max_batch=2, max_wait_ms=NEVER_MS)) as b:
            doomed = asyncio.create_task(b.submit(1))
            await asyncio.sleep(0)
            doomed.cancel()
            return await b.submit(2)

    assert run(main()) == 4
    assert handler.batches == [[2]]


def test_submit_after_close_is_refused() -> None:
    async def main() -> None:
        b = Batcher(Recorder())
        await b.close()
        await b.submit(1)

    with pytest.raises(BatcherClosedError):
        run(main())


@pytest.mark.parametrize("kwargs, message", [
    ({"max_batch": 0}, "GAZE_MAX_BATCH"),
    ({"max_batch": 2.5}, "GAZE_MAX_BATCH"),
    ({"max_batch": True}, "GAZE_MAX_BATCH"),
    ({"max_batch": 100_000}, "between 1 and 1024"),
    ({"max_wait_ms": -1}, "GAZE_BATCH_WAIT_MS"),
    ({"max_wait_ms": float("nan")}, "GAZE_BATCH_WAIT_MS"),
    ({"max_wait_ms": "2"}, "GAZE_BATCH_WAIT_MS"),
])
def test_bad_options_are_refused_when_built(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BatcherOptions(**kwargs)


def test_a_handler_that_is_not_callable_is_refused_at_once() -> None:
    with pytest.raises(TypeError, match="handler must be callable"):
        Batcher([1, 2, 3])


def test_one_batcher_serves_one_event_loop() -> None:
    b: Batcher[int, int] = Batcher(Recorder(), BatcherOptions(max_batch=1))
    assert asyncio.run(b.submit(1)) == 2
    with pytest.raises(RuntimeError, match="one event loop"):
        asyncio.run(b.submit(2))


def test_a_batch_holding_every_expected_item_runs_without_waiting() -> None:
    """A lone caller (expected 1) never waits `max_wait_ms`: the test would time out if it did."""
    handler = Recorder()

    async def main() -> list[int]:
        async with Batcher(handler, BatcherOptions(max_batch=8, max_wait_ms=NEVER_MS),
                           expected=lambda: 2) as b:
            first = await asyncio.gather(b.submit(1), b.submit(2))
            return [*first]

    assert run(main()) == [2, 4]
    assert handler.batches == [[1, 2]]


def test_a_batch_waits_for_an_expected_caller_and_a_nudge_releases_it() -> None:
    handler = Recorder()
    expected = [2]

    async def main() -> int:
        async with Batcher(handler, BatcherOptions(max_batch=8, max_wait_ms=NEVER_MS),
                           expected=lambda: expected[0]) as b:
            task = asyncio.create_task(b.submit(5))
            await asyncio.sleep(0.05)
            assert not task.done() and b.waiting == 1  # the second caller may still come
            expected[0] = 1  # it went elsewhere: its thread says so
            await asyncio.to_thread(b.nudge)
            return await task

    assert run(main()) == 10
    assert handler.batches == [[5]]


def test_nudge_before_any_submit_or_after_close_is_harmless() -> None:
    b: Batcher[int, int] = Batcher(Recorder(), BatcherOptions(max_batch=1), expected=lambda: 1)
    b.nudge()

    async def main() -> int:
        result = await b.submit(3)
        await b.close()
        b.nudge()
        return result

    assert run(main()) == 6


def test_expected_must_be_callable() -> None:
    with pytest.raises(TypeError, match="expected must be callable"):
        Batcher(Recorder(), expected=3)  # type: ignore[arg-type]
