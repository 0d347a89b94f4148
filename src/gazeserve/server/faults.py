"""Fault injection, for tests only: `GAZE_FAULT_INJECTION=true` (off by default; a warning is
logged at start-up when on).

A frame whose bytes start with a marker fails on purpose inside the inference worker, where a
real bug in the pipeline would fail:

- `FAULT_RAISE`: the frame's work raises `InjectedFaultError`; the frame is answered with an
  internal error and the worker keeps serving.
- `FAULT_KILL_WORKER`: the same, and then the worker task itself dies (a `BaseException` out of
  its queue listener hook, past the per-frame `except Exception`), as it would on a bug in the
  worker loop; `InferenceWorkers` must replace it.
- `FAULT_SLOW` followed by an image: the worker sleeps `SLOW_FRAME_S`, then processes the image
  (a frame surely in flight, for shutdown tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from gazeserve.scheduling.frame_queue import DropReason, QueueListener

T = TypeVar("T")

FAULT_RAISE = b"GAZESERVE-FAULT:raise"
FAULT_KILL_WORKER = b"GAZESERVE-FAULT:kill-worker"
FAULT_SLOW = b"GAZESERVE-FAULT:slow:"
FAULT_PREFIX = b"GAZESERVE-FAULT:"
SLOW_FRAME_S = 1.0


class InjectedFaultError(RuntimeError):
    """The failure a fault marker asked for."""


class WorkerKilled(BaseException):
    """Ends the worker task that runs into it; not an `Exception`, so nothing per-frame stops it."""


class FaultInjector:
    """Wraps frames' work and the queue's listener; inert for frames without a marker."""

    def __init__(self, listener: QueueListener) -> None:
        self._listener = listener
        self._kill_armed = threading.Event()

    def wrap(self, data: bytes, work_on: Callable[[bytes], T]) -> Callable[[], T]:
        """The work for a frame: `work_on(data)`, unless `data` starts with a fault marker."""
        if not data.startswith(FAULT_PREFIX):
            return lambda: work_on(data)
        if data.startswith(FAULT_SLOW):
            image = data[len(FAULT_SLOW):]

            def slow() -> T:
                time.sleep(SLOW_FRAME_S)
                return work_on(image)
            return slow

        def failing() -> T:
            if data.startswith(FAULT_KILL_WORKER):
                self._kill_armed.set()
            raise InjectedFaultError("fault injected by the frame's marker (GAZE_FAULT_INJECTION)")
        return failing

    # QueueListener: passes everything on; kills the calling worker once when armed.
    def on_submit(self, priority: int) -> None:
        self._listener.on_submit(priority)

    def on_drop(self, reason: DropReason) -> None:
        self._listener.on_drop(reason)

    def on_processed(self, processing_s: float, wait_s: float) -> None:
        self._listener.on_processed(processing_s, wait_s)
        if self._kill_armed.is_set():
            self._kill_armed.clear()
            raise WorkerKilled("worker killed by a fault marker (GAZE_FAULT_INJECTION)")

    def on_depth(self, depth: int) -> None:
        self._listener.on_depth(depth)
