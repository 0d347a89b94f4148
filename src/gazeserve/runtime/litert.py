"""LiteRT (the TFLite interpreter of `ai-edge-litert`) with XNNPACK on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import numpy as np

from gazeserve.runtime.base import Tensor, TensorSpec


class LiteRTSession:
    """One LiteRT interpreter. XNNPACK is LiteRT's default CPU delegate for float models."""

    def __init__(self, model_path: Path, num_threads: int = 1) -> None:
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter: Any = Interpreter(model_path=str(model_path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._inputs = tuple(_spec(d) for d in self._interpreter.get_input_details())
        self._outputs = tuple(_spec(d) for d in self._interpreter.get_output_details())
        self._input_index = {d["name"]: d["index"] for d in self._interpreter.get_input_details()}
        self._output_index = [(d["name"], d["index"])
                              for d in self._interpreter.get_output_details()]

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._outputs

    def run(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        interpreter = self._interpreter
        if interpreter is None:
            raise RuntimeError("session is closed")
        for name, value in inputs.items():
            interpreter.set_tensor(self._input_index[name], value)
        interpreter.invoke()
        return {name: interpreter.get_tensor(index) for name, index in self._output_index}

    def close(self) -> None:
        self._interpreter = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _spec(detail: dict[str, Any]) -> TensorSpec:
    return TensorSpec(detail["name"], tuple(int(d) for d in detail["shape"]),
                      np.dtype(detail["dtype"]))
