"""Cross-stream batching: items from many callers run as one `handler(items)` call.

Callers ``await batcher.submit(item)``. The first item waiting opens a batch; it is run when it
holds ``max_batch`` items or ``max_wait_ms`` after that first item arrived, whichever comes first
(``GAZE_MAX_BATCH``, ``GAZE_BATCH_WAIT_MS``). The handler runs in a thread, one batch at a time,
and must return one result per item, in order; while it runs, the next batch fills. If it raises,
every caller of that batch gets the exception. As Ray Serve's ``@serve.batch``, in one event loop.

Waiting only pays when someone else may still come: given ``expected`` (how many items may be
submitted now, counting those waiting), a batch that already holds them all runs at once, so a
lone stream never waits ``max_wait_ms``. Callers whose count drops without submitting call
`nudge` so the waiting batch sees it.

The engine batches its face and eye crops with it (`gazeserve.runtime.batched`), only for models
whose batched outputs equal their single ones: the ONNX models (symbolic batch) and LiteRT's
face mesh, never LiteRT's detector or iris model, whose ``resize_tensor_input`` keeps returning
batch-1 outputs (tests/integration/onnx/test_onnx_models.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Self, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH_LIMIT = 1024


@dataclass(frozen=True)
class BatcherOptions:
    """Attributes:
    max_batch: Most items in one handler call (1 disables batching but keeps the thread).
    max_wait_ms: Longest an item waits for others to join its batch (0: take what is there).
    """

    max_batch: int = 8
    max_wait_ms: float = 2.0

    def __post_init__(self) -> None:
        size = self.max_batch
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= \
                MAX_BATCH_LIMIT:
            raise ValueError(f"max_batch (GAZE_MAX_BATCH) must be an int between 1 and "
                             f"{MAX_BATCH_LIMIT}, got {size!r}")
        wait = self.max_wait_ms
        if isinstance(wait, bool) or not isinstance(wait, int | float) or \
                not (math.isfinite(wait) and wait >= 0):
            raise ValueError(f"max_wait_ms (GAZE_BATCH_WAIT_MS) must be a finite number >= 0, "
                             f"got {wait!r}")


class BatchResultError(RuntimeError):
    """The handler returned something other than one result per item."""


class BatcherClosedError(RuntimeError):
    """`submit` after `close`."""


@dataclass
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]
    arrived: float


class Batcher(Generic[T, R]):
    """Collects items into batches for `handler` (``list[T] -> list[R]``, run in a thread).

    Create it anywhere; it binds to the event loop of the first `submit`. Close it with
    `close()` (or ``async with``): waiting items still run, new ones are refused.
    """

    def __init__(self, handler: Callable[[list[T]], Sequence[R]],
                 options: BatcherOptions | None = None,
                 expected: Callable[[], int] | None = None) -> None:
        if not callable(handler):
            raise TypeError(f"handler must be callable (list of items -> list of results), "
                            f"got {type(handler).__name__}")
        if expected is not None and not callable(expected):
            raise TypeError(f"expected must be callable (-> items that may come), "
                            f"got {type(expected).__name__}")
        self._handler = handler
        self._expected = expected
        self.options = options or BatcherOptions()
        self._pending: deque[_Pending[T, R]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches_run = 0
        self.items_run = 0

    async def submit(self, item: T) -> R:
        """Queues `item`; returns its result once its batch has run (or raises its error)."""
        if self._closed:
            raise BatcherClosedError("batcher is closed")
        loop = asyncio.get_running_loop()
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._run(), name="batcher")
        elif self._task.get_loop() is not loop:
            raise RuntimeError("a Batcher serves the one event loop it was first used in")
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append(_Pending(item, future, time.monotonic()))
        assert self._wakeup is not None
        self._wakeup.set()
        return await future

    def nudge(self) -> None:
        """Tells a waiting batch that `expected` may have dropped. Safe from any thread."""
        wakeup, task = self._wakeup, self._task
        if wakeup is None or task is None or task.done():
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nothing waits any more
            task.get_loop().call_soon_threadsafe(wakeup.set)

    @property
    def waiting(self) -> int:
        """Items queued and not yet handed to the handler."""
        return len(self._pending)

    async def close(self) -> None:
        """Refuses new items, runs those already waiting, and stops."""
        self._closed = True
        if self._task is None:
            return
        assert self._wakeup is not None
        self._wakeup.set()
        await self._task

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _run(self) -> None:
        wakeup = self._wakeup
        assert wakeup is not None
        max_batch, wait_s = self.options.max_batch, self.options.max_wait_ms / 1000.0
        while True:
            while not self._pending:
                if self._closed:
                    return
                wakeup.clear()
                await wakeup.wait()
            deadline = self._pending[0].arrived + wait_s
            while len(self._pending) < max_batch and not self._closed \
                    and not self._all_expected_here():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wakeup.clear()
                try:
                    async with asyncio.timeout(remaining):
                        await wakeup.wait()
                except TimeoutError:
                    break
            batch = [self._pending.popleft()
                     for _ in range(min(max_batch, len(self._pending)))]
            await self._run_batch(batch)

    def _all_expected_here(self) -> bool:
        return self._expected is not None and len(self._pending) >= self._expected()

    async def _run_batch(self, batch: list[_Pending[T, R]]) -> None:
        live = [p for p in batch if not p.future.done()]  # a cancelled caller drops out
        if not live:
            return
        try:
            results = await asyncio.to_thread(self._handler, [p.item for p in live])
            if not isinstance(results, Sequence) or len(results) != len(live):
                got = len(results) if isinstance(results, Sequence) else type(results).__name__
                raise BatchResultError(f"handler returned {got} results for {len(live)} items; "
                                       "it must return one result per item, in order")
        except Exception as exc:
            for p in live:
                if not p.future.done():
                    p.future.set_exception(exc)
            return
        finally:
            self.batches_run += 1
            self.items_run += len(live)
        for p, result in zip(live, results, strict=True):
            if not p.future.done():
                p.future.set_result(result)
