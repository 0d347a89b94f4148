"""Graceful shutdown: drain before uvicorn closes the connections.

On SIGTERM (or SIGINT) uvicorn stops listening and at once closes every WebSocket with 1012,
frames in flight unanswered. `DrainOnSignal` runs the service's drain first (frames in flight
are answered, new ones refused, readiness fails, WebSockets close with 1001 "going away") and
only then hands the signal to uvicorn's own handler, which shuts down as before. A second signal
goes straight to uvicorn (a second Ctrl-C still forces the exit).

Installed from the app's lifespan, in every server process; a no-op where the lifespan does not
run in the main thread (in-process test clients), since only that thread may set handlers.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any

log = logging.getLogger("gazeserve.server")

SIGNALS = (signal.SIGTERM, signal.SIGINT)
Handler = Callable[[int, FrameType | None], Any]


class DrainOnSignal:
    """Runs `drain()` on the first SIGTERM/SIGINT, then calls the handler it replaced."""

    def __init__(self, drain: Callable[[], Awaitable[None]]) -> None:
        self._drain = drain
        self._previous: dict[int, Handler] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._signalled = False

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self._loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            previous = signal.getsignal(sig)
            if callable(previous):  # a server's handler to hand over to; else leave it be
                self._previous[sig] = previous
                signal.signal(sig, self._on_signal)

    def uninstall(self) -> None:
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self._on_signal:
                signal.signal(sig, previous)
        self._previous.clear()

    def _on_signal(self, sig: int, frame: FrameType | None) -> None:
        previous = self._previous[sig]
        if self._signalled or self._loop is None or self._loop.is_closed():
            previous(sig, frame)
            return
        self._signalled = True
        self._loop.call_soon_threadsafe(self._start, sig, previous)

    def _start(self, sig: int, previous: Handler) -> None:
        assert self._loop is not None
        self._task = self._loop.create_task(self._drain_then(sig, previous),
                                            name="gazeserve-drain")

    async def _drain_then(self, sig: int, previous: Handler) -> None:
        try:
            await self._drain()
        except Exception:
            log.exception("draining failed; shutting down anyway")
        finally:
            previous(sig, None)
