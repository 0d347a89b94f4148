"""``@timer("name")`` and ``with performance_timer("name"):``, feeding the stage histogram.

The timers report to the metrics installed with :func:`use_metrics` at start-up (which
:func:`~gazeserve.observability.render_prometheus` also renders by default), looked up when the
timed code runs (so functions decorated at import are timed once the app has started), and do
nothing before that. Names become label values: use literals, never per-request data.

Example::

    @timer("decode")
    def decode(data: bytes) -> ImageRGB: ...

    with performance_timer("gaze") as watch:
        ...
    log.debug("gaze took %.2f ms", watch.elapsed_ms)
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar, cast

from gazeserve.observability.metrics import Metrics

P = ParamSpec("P")
R = TypeVar("R")


_current: Metrics | None = None


def use_metrics(metrics: Metrics | None) -> Metrics | None:
    """Installs the metrics the timers report to (``None`` turns them off); returns the previous."""
    global _current
    previous, _current = _current, metrics
    return previous


def current_metrics() -> Metrics | None:
    """The metrics the timers report to, if any."""
    return _current


@dataclass
class Stopwatch:
    """The time measured by one :func:`performance_timer` block, set when the block ends."""

    name: str
    elapsed_ns: int = 0

    @property
    def elapsed_s(self) -> float:
        return self.elapsed_ns / 1e9

    @property
    def elapsed_ms(self) -> float:
        return self.elapsed_ns / 1e6


@contextmanager
def performance_timer(name: str) -> Iterator[Stopwatch]:
    """Times the block with ``time.perf_counter_ns()`` and records it under ``name``.

    The time is recorded even when the block raises, as prometheus_client's own timers do.

    Raises:
        ValueError: ``name`` is empty.
    """
    _check_name(name)
    watch = Stopwatch(name)
    start = time.perf_counter_ns()
    try:
        yield watch
    finally:
        watch.elapsed_ns = time.perf_counter_ns() - start
        _record(name, watch.elapsed_ns)


def timer(name: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorates a function or coroutine function so that each call is timed under ``name``.

    For a coroutine function the time runs until the coroutine finishes, awaits included.

    Raises:
        ValueError: ``name`` is empty.
        TypeError: (when applied) the function is a generator: its body runs after the call.
    """
    _check_name(name)

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(f"@timer cannot time the generator function {fn.__qualname__}")
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def timed_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                start = time.perf_counter_ns()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    _record(name, time.perf_counter_ns() - start)

            return cast(Callable[P, R], timed_async)

        @functools.wraps(fn)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.perf_counter_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                _record(name, time.perf_counter_ns() - start)

        return timed

    return decorate


def _record(name: str, elapsed_ns: int) -> None:
    metrics = _current
    if metrics is not None:
        metrics.observe_stage(name, elapsed_ns / 1e9)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name:
        raise ValueError(f"a timer needs a non-empty name, got {name!r}")
