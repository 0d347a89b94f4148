"""LiteRT (the TFLite interpreter of `ai-edge-litert`) with XNNPACK on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from gazeserve.runtime.base import SessionBase, Tensor, TensorSpec


class LiteRTSession(SessionBase):
    """One LiteRT interpreter. XNNPACK is LiteRT's default CPU delegate for float models."""

    def __init__(self, model_path: Path, num_threads: int = 1) -> None:
        check_threads(num_threads)
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(model_path), num_threads=num_threads)
        interpreter.allocate_tensors()
        self._bind(interpreter)

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
        interpreter = self._interpreter
        if interpreter is None:
            raise RuntimeError("session is closed")
        for name, value in inputs.items():
            interpreter.set_tensor(self._input_index[name], value)
        interpreter.invoke()
        return {name: interpreter.get_tensor(index) for name, index in self._output_index}

    def close(self) -> None:
        self._interpreter = None


def check_threads(num_threads: int) -> None:
    if num_threads < 1:
        raise ValueError(f"num_threads must be >= 1, got {num_threads}")


def tensor_spec(detail: dict[str, Any]) -> TensorSpec:
    return TensorSpec(detail["name"], tuple(int(d) for d in detail["shape"]),
                      np.dtype(detail["dtype"]))
