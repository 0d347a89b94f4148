"""Model calls of many threads run as one batch: the engine's side of cross-stream batching.

Every inference thread keeps its own sessions (`GazeEngine`'s pool), but for a batched model
they are `BatchedSession`s that share one `BatchedModel`: its `Batcher` (scheduling/batcher.py)
joins the inputs of every thread waiting at that moment, runs them as one call of one real
session and hands each thread its own rows. The batchers run on an event loop of their own
(`BatchLoop`), so frames batch alike under the service, the benchmarks and the Python API.

Waiting for others only pays when others may come: each frame in the engine counts as expected
at every batched stage it has not yet passed (`Batching.frame`), and a batch holding every
expected frame runs at once. A frame that no other frame could join runs its call in its own
thread, skipping the hand-off to the loop (measured 0.3-1 ms a call on 2 busy cores): one stream
alone pays nothing for batching; K streams at once make batches of K (up to `max_batch`), each
waiting at most `max_wait_ms` for stragglers.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from gazeserve.models.registry import ModelName
from gazeserve.runtime.base import InferenceSession, SessionBase, Tensor
from gazeserve.runtime.factory import RuntimeKind
from gazeserve.scheduling.batcher import Batcher, BatcherOptions

T = TypeVar("T")

BatchListener = Callable[[ModelName, int], None]
"""Told the model and the number of crops of every batch run (for metrics)."""

_BATCHES_CORRECTLY: dict[RuntimeKind, frozenset[ModelName]] = {
    # The derived ONNX models have a symbolic batch (test_batched_outputs_equal_single_outputs).
    RuntimeKind.ONNX: frozenset({ModelName.FACE_LANDMARK, ModelName.IRIS_LANDMARK}),
    # LiteRT's iris model (and detectors) fold a batch into one item; the mesh does not
    # (test_litert_batching_is_wrong_for_... / _is_right_for_the_mesh_model).
    RuntimeKind.LITERT: frozenset({ModelName.FACE_LANDMARK}),
}
BATCHABLE_STAGES = (ModelName.FACE_LANDMARK, ModelName.IRIS_LANDMARK)
"""The stages batched across streams: face crops and eye crops (detection stays per frame)."""


def batches_correctly(runtime: RuntimeKind, model: ModelName) -> bool:
    """Whether `runtime` gives each item of a batch of `model` its single run's outputs."""
    return model in _BATCHES_CORRECTLY.get(runtime, frozenset())


class BatchLoop:
    """An event loop on a daemon thread of its own, for the batchers of one engine."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="gazeserve-batching", daemon=True)
        self._thread.start()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Runs `coroutine` on the loop and blocks this (other) thread until it is done."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


@dataclass
class BatchStats:
    """Attributes:
    batches: Batched calls run.
    frames: Frames' calls they held (a frame's two eyes count once).
    crops: Model inputs they held.
    """

    batches: int = 0
    frames: int = 0
    crops: int = 0


class BatchedModel:
    """One real session, fed the joined inputs of every thread that calls `run` at once."""

    def __init__(self, name: ModelName, session: InferenceSession, loop: BatchLoop,
                 options: BatcherOptions, listener: BatchListener | None = None) -> None:
        if not session.accepts_batches:
            raise ValueError(f"{name} cannot be batched: its session only takes batches of 1")
        self.name = name
        self.session = session
        self._loop = loop
        self._listener = listener
        self._expected = 0
        self._lock = threading.Lock()
        self._session_lock = threading.Lock()
        """The session is not thread-safe: a lone caller's run and a batch's never overlap."""
        self.stats = BatchStats()
        self._batcher: Batcher[dict[str, Tensor], dict[str, Tensor]] = Batcher(
            self._run_batch, options, expected=lambda: self._expected)

    @property
    def options(self) -> BatcherOptions:
        return self._batcher.options

    def run(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Blocks until the batch holding `inputs` has run; returns their rows of the outputs."""
        if self._expected <= 1:  # no other frame could join: no batch to wait for
            return self._run_session(inputs)
        return self._loop.call(self._batcher.submit(inputs))

    def expect(self) -> None:
        """A frame that will (or may) call `run` entered the engine."""
        with self._lock:
            self._expected += 1

    def unexpect(self) -> None:
        """That frame is past this stage; a batch waiting for it need not wait."""
        with self._lock:
            self._expected -= 1
        self._batcher.nudge()

    def warm_up(self, largest: int) -> None:
        """Runs every batch size up to `largest` once: a runtime may prepare each shape lazily
        (LiteRT allocates an interpreter per size; ONNX Runtime's TensorRT provider rebuilds its
        engine for a shape outside those seen so far, so the largest goes first, then 1, and
        every size between falls within the range built)."""
        spec = self.session.inputs[0]
        for size in dict.fromkeys((largest, 1, *range(2, largest))):
            with self._session_lock:
                self.session.run({spec.name: np.zeros((size, *spec.shape[1:]), spec.dtype)})

    def close(self) -> None:
        self._loop.call(self._batcher.close())
        self.session.close()

    def _run_batch(self, items: list[dict[str, Tensor]]) -> list[dict[str, Tensor]]:
        if len(items) == 1:
            return [self._run_session(items[0])]
        sizes = [len(next(iter(item.values()))) for item in items]
        joined = {name: np.concatenate([item[name] for item in items]) for name in items[0]}
        outputs = self._run_session(joined, frames=len(items))
        bounds = np.cumsum(sizes)[:-1]
        rows = {name: np.split(value, bounds) for name, value in outputs.items()}
        return [{name: rows[name][i] for name in outputs} for i in range(len(items))]

    def _run_session(self, inputs: dict[str, Tensor], frames: int = 1) -> dict[str, Tensor]:
        """One call of the real session, counted; `frames` whose crops `inputs` joins."""
        crops = len(next(iter(inputs.values())))
        with self._session_lock:
            outputs = self.session.run(inputs)
            stats = self.stats
            stats.batches += 1
            stats.frames += frames
            stats.crops += crops
        if self._listener is not None:
            self._listener(self.name, crops)
        return outputs


class BatchedSession(SessionBase):
    """What one inference thread holds for a batched model: the `InferenceSession` interface,
    with `run` going through the shared `BatchedModel`."""

    accepts_batches = True

    def __init__(self, model: BatchedModel) -> None:
        self._model = model
        self._inputs = model.session.inputs
        self._outputs = model.session.outputs

    def run(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        return self._model.run(inputs)

    def close(self) -> None:
        """The shared model stays open: `Batching.close` closes it."""


class FramePass:
    """One frame's place in the batched stages: expected at each until it passes it."""

    def __init__(self, models: Mapping[ModelName, BatchedModel]) -> None:
        self._ahead = dict(models)
        for model in self._ahead.values():
            model.expect()

    def passed(self, name: ModelName) -> None:
        """The frame is done with this stage (ran it or never will)."""
        model = self._ahead.pop(name, None)
        if model is not None:
            model.unexpect()

    def close(self) -> None:
        for name in list(self._ahead):
            self.passed(name)


class Batching:
    """The batched models of one engine, or none (batching off: nothing runs, nothing waits).

    Args:
        sessions: For each model to batch, the one real session that runs its batches (it must
            accept batches).
        options: `max_batch` frames per batch (a frame's two eyes count once) and `max_wait_ms`.
    """

    def __init__(self, sessions: Mapping[ModelName, InferenceSession] | None = None,
                 options: BatcherOptions | None = None,
                 listener: BatchListener | None = None) -> None:
        self.options = options or BatcherOptions()
        self._loop = BatchLoop() if sessions else None
        self.models = {name: BatchedModel(name, session, self._loop, self.options, listener)
                       for name, session in (sessions or {}).items() if self._loop is not None}

    @property
    def enabled(self) -> bool:
        return bool(self.models)

    def session(self, name: ModelName) -> BatchedSession | None:
        """A thread's session for `name`, or None where it is not batched."""
        model = self.models.get(name)
        return BatchedSession(model) if model is not None else None

    @contextmanager
    def frame(self) -> Iterator[FramePass]:
        """Around one frame's way through the engine."""
        frame = FramePass(self.models)
        try:
            yield frame
        finally:
            frame.close()

    def warm_up(self) -> None:
        for name, model in self.models.items():
            crops_per_frame = 2 if name is ModelName.IRIS_LANDMARK else 1
            model.warm_up(self.options.max_batch * crops_per_frame)

    def stats(self) -> dict[str, BatchStats]:
        return {name.value: model.stats for name, model in self.models.items()}

    def close(self) -> None:
        for model in self.models.values():
            model.close()
        if self._loop is not None:
            self._loop.close()
