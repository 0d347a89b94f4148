"""LiteRT (the TFLite interpreter of `ai-edge-litert`) with XNNPACK on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gazeserve.runtime.base import SessionBase, Tensor, TensorSpec


class LiteRTSession(SessionBase):
    """One LiteRT interpreter. XNNPACK is LiteRT's default CPU delegate for float models.

    Args:
        batchable: Accept inputs of any batch size, each size run by an interpreter of its own
            (resized once, when first needed). Only for a model whose batched outputs are right
            on LiteRT: the face mesh is; the detectors and the iris model are not
            (`runtime.batched.batches_correctly`).
    """

    def __init__(self, model_path: Path, num_threads: int = 1, batchable: bool = False) -> None:
        check_threads(num_threads)
        self._model_path, self._num_threads = model_path, num_threads
        self._bind(self._new_interpreter(1))
        self.accepts_batches = batchable
        self._by_batch: dict[int, Any] = {1: self._interpreter}

    def _new_interpreter(self, batch: int) -> Any:
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(self._model_path), num_threads=self._num_threads)
        if batch != 1:
            for detail in interpreter.get_input_details():
                interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]])
        interpreter.allocate_tensors()
        return interpreter

    def _interpreter_for(self, inputs: dict[str, Tensor]) -> Any:
        if not self.accepts_batches:
            return self._interpreter
        batch = next(iter(inputs.values())).shape[0]
        if batch == 1:
            return self._interpreter
        interpreter = self._by_batch.get(batch)
        if interpreter is None:
            interpreter = self._by_batch[batch] = self._new_interpreter(batch)
        return interpreter

    def _bind(self, interpreter: Any) -> None:
        """Reads the specs and tensor indices of an allocated interpreter."""
        self._interpreter: Any = interpreter
        details_in = interpreter.get_input_details()
        details_out = interpreter.get_output_details()
        self._inputs = tuple(tensor_spec(d) for d in details_in)
        self._outputs = tuple(tensor_spec(d) for d in details_out)
        self._input_index = {d["name"]: d["index"] for d in details_in}
        self._output_index = [(d["name"], d["index"]) for d in details_out]

    def run(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        if self._interpreter is None:
            raise RuntimeError("session is closed")
        interpreter = self._interpreter_for(inputs)
        for name, value in inputs.items():
            interpreter.set_tensor(self._input_index[name], value)
        interpreter.invoke()
        return {name: interpreter.get_tensor(index) for name, index in self._output_index}

    def close(self) -> None:
        self._interpreter = None
        self._by_batch = {}


def check_threads(num_threads: int) -> None:
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")


def tensor_spec(detail: dict[str, Any]) -> TensorSpec:
    return TensorSpec(detail["name"], tuple(int(d) for d in detail["shape"]),
                      np.dtype(detail["dtype"]))
