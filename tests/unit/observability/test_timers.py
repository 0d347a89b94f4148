"""The seed's timer API: ``@timer`` on sync and async functions, ``performance_timer`` blocks."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Iterator

import pytest

from gazeserve.observability import (
    Metrics,
    current_metrics,
    performance_timer,
    timer,
    use_metrics,
)


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    installed = Metrics()
    previous = use_metrics(installed)
    try:
        yield installed
    finally:
        use_metrics(previous)


def stage(metrics: Metrics, suffix: str, name: str) -> float:
    value = metrics.registry.get_sample_value(f"gazeserve_stage_seconds_{suffix}", {"stage": name})
    assert value is not None
    return value


def test_decorated_function_is_timed_and_keeps_its_identity(metrics: Metrics) -> None:
    @timer("image_preprocessing")
    def preprocess(x: int, *, scale: int = 2) -> int:
        """Doubles."""
        time.sleep(0.003)
        return x * scale

    assert preprocess(4) == 8
    assert preprocess(1, scale=3) == 3

    assert preprocess.__name__ == "preprocess"
    assert preprocess.__doc__ == "Doubles."
    assert stage(metrics, "count", "image_preprocessing") == 2
    assert stage(metrics, "sum", "image_preprocessing") >= 0.006


def test_decorated_coroutine_is_timed_until_it_finishes(metrics: Metrics) -> None:
    @timer("mediapipe_inference")
    async def infer(x: int) -> int:
        await asyncio.sleep(0.01)
        return x + 1

    assert inspect.iscoroutinefunction(infer)
    assert asyncio.run(infer(1)) == 2

    assert stage(metrics, "count", "mediapipe_inference") == 1
    assert stage(metrics, "sum", "mediapipe_inference") >= 0.01


def test_context_manager_times_the_block_and_reports_it(metrics: Metrics) -> None:
    with performance_timer("gaze") as watch:
        time.sleep(0.002)

    assert watch.elapsed_ns >= 2_000_000
    assert watch.elapsed_ms == pytest.approx(watch.elapsed_ns / 1e6)
    assert stage(metrics, "count", "gaze") == 1
    assert stage(metrics, "sum", "gaze") == pytest.approx(watch.elapsed_s)


def test_time_is_recorded_when_the_timed_code_raises(metrics: Metrics) -> None:
    @timer("decode")
    def broken() -> None:
        raise RuntimeError("bad frame")

    with pytest.raises(RuntimeError):
        broken()
    with pytest.raises(KeyError), performance_timer("decode"):
        raise KeyError("x")

    assert stage(metrics, "count", "decode") == 2


def test_metrics_are_looked_up_when_the_code_runs() -> None:
    @timer("late")
    def work() -> int:
        return 1

    previous = use_metrics(None)
    try:
        assert current_metrics() is None
        assert work() == 1  # no metrics installed: a no-op
        with performance_timer("late"):
            pass
        installed = Metrics()
        use_metrics(installed)
        assert current_metrics() is installed
        work()
        assert stage(installed, "count", "late") == 1
    finally:
        use_metrics(previous)


def test_misuse_is_refused_eagerly() -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        timer("")
    with pytest.raises(ValueError, match="non-empty name"), performance_timer(""):
        pass

    def frames() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="generator"):
        timer("frames")(frames)
