"""Worker tasks that take frames off a :class:`FrameQueue` and run them in a thread pool."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Self

from gazeserve.scheduling.frame_queue import DropReason, FrameQueue, QueueClosed, QueuedFrame

logger = logging.getLogger(__name__)

# What ``async with`` allows frames being run to finish: many frame times, short of a hang.
DEFAULT_DRAIN_TIMEOUT_S = 1.0


def recommended_workers(cpu_count: int | None = None) -> int:
    """How many inference workers to run: one per CPU core, each single-threaded.

    On the 2-core host measured, one worker per core with the runtime limited to one thread each
    gave the best throughput; more workers than cores, or multi-threaded runtimes in each worker,
    only added contention.

    Args:
        cpu_count: Cores available; defaults to those this process may run on.
    """
    if cpu_count is None:
        cpu_count = (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else (os.cpu_count() or 1)
        )
    if cpu_count < 1:
        raise ValueError(f"cpu_count must be >= 1, got {cpu_count}")
    return cpu_count


class InferenceWorkers:
    """``max_workers`` asyncio tasks, each running one frame at a time in the thread pool.

    A frame's exception fails that frame only; a worker task that dies of anything else is
    restarted and counted in :attr:`restarts`. Use as ``async with`` (which drains for
    ``DEFAULT_DRAIN_TIMEOUT_S``) or call :meth:`start` and :meth:`stop`.

    Args:
        queue: Where frames come from.
        max_workers: Frames run at once. ``work`` must be safe to run concurrently when above 1.
        executor: Threads to run ``work`` in; one of ``max_workers`` threads is made (and shut
            down by :meth:`stop`) when not given. A smaller pool limits concurrency further.
    """

    def __init__(
        self, queue: FrameQueue, max_workers: int, executor: ThreadPoolExecutor | None = None
    ) -> None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ValueError(f"max_workers must be an int >= 1, got {max_workers!r}")
        self._queue = queue
        self._max_workers = max_workers
        self._executor = executor
        self._owns_executor = executor is None
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False
        self._stopping = False
        self._restarts = 0

    @property
    def max_workers(self) -> int:
        return self._max_workers

    @property
    def restarts(self) -> int:
        """Worker tasks that died unexpectedly and were replaced."""
        return self._restarts

    @property
    def running(self) -> int:
        """Worker tasks alive now."""
        return len(self._tasks)

    def start(self) -> None:
        """Launches the worker tasks in the running event loop.

        Raises:
            RuntimeError: Already started, or no event loop is running.
        """
        if self._started:
            raise RuntimeError("InferenceWorkers.start() called twice")
        asyncio.get_running_loop()
        self._started = True
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix="gazeserve-inference"
            )
        self._queue.set_worker_count(self._max_workers)
        for _ in range(self._max_workers):
            self._spawn()

    async def stop(self, drain_timeout_s: float) -> None:
        """Closes the queue, lets frames being run finish within the deadline, then cancels.

        Frames still waiting fail with ``shutdown`` at once (see :meth:`FrameQueue.close`); frames
        still running at the deadline fail with ``shutdown`` too, though their thread runs on.
        """
        if drain_timeout_s < 0:
            raise ValueError(f"drain_timeout_s must be >= 0, got {drain_timeout_s}")
        self._stopping = True
        self._queue.close()
        tasks = list(self._tasks)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=drain_timeout_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._owns_executor and self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop(drain_timeout_s=DEFAULT_DRAIN_TIMEOUT_S)

    def _spawn(self) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(), name="gazeserve-inference")
        self._tasks.add(task)
        task.add_done_callback(self._on_worker_done)

    def _on_worker_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            return  # the queue closed
        if self._stopping:
            logger.error("inference worker died while stopping", exc_info=error)
            return
        self._restarts += 1
        logger.error("inference worker died; restarting it", exc_info=error)
        self._spawn()

    async def _serve(self) -> None:
        while True:
            try:
                frame = await self._queue.get()
            except QueueClosed:
                return
            await self._run(frame)

    async def _run(self, frame: QueuedFrame) -> None:
        loop = asyncio.get_running_loop()
        started_s = time.perf_counter()
        try:
            result: Any = await loop.run_in_executor(self._executor, frame.work)
        except asyncio.CancelledError:
            self._queue.abandon(frame, DropReason.SHUTDOWN)
            raise
        except Exception as error:
            # The frame's own failure: deliver it to its caller and keep serving.
            if not frame.future.done():
                frame.future.set_exception(error)
            self._queue.record_processed(time.perf_counter() - started_s, frame.wait_s, failed=True)
            return
        except BaseException as error:
            # Not an ordinary failure (SystemExit and the like): still answer the frame, so its
            # caller never waits forever, then let the worker die and be replaced.
            if not frame.future.done():
                frame.future.set_exception(RuntimeError(f"inference was interrupted: {error!r}"))
            self._queue.record_processed(time.perf_counter() - started_s, frame.wait_s, failed=True)
            raise
        if not frame.future.done():
            frame.future.set_result(result)
        self._queue.record_processed(time.perf_counter() - started_s, frame.wait_s)
