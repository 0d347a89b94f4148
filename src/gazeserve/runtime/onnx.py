"""ONNX Runtime behind the `InferenceSession` interface.

The models `gazeserve models prepare` derives keep the TFLite models' NHWC input
(`[batch, H, W, 3]`, transposed inside the graph), so this wrapper only moves tensors, exactly
like the LiteRT one. The batch dimension is symbolic; `TensorSpec` reports it as 1, the shape of
one item, as LiteRT does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gazeserve.runtime.base import SessionBase, Tensor, TensorSpec
from gazeserve.runtime.providers import available_providers, choose_providers

log = logging.getLogger("gazeserve.runtime")

_DTYPES: dict[str, np.dtype[np.generic]] = {
    "tensor(float)": np.dtype(np.float32), "tensor(float16)": np.dtype(np.float16),
    "tensor(int32)": np.dtype(np.int32), "tensor(int64)": np.dtype(np.int64),
    "tensor(uint8)": np.dtype(np.uint8), "tensor(int8)": np.dtype(np.int8)}


class OnnxSession(SessionBase):
    """One ONNX Runtime session.

    Args:
        model_path: an `.onnx` file.
        num_threads: intra-op threads. Spinning is off: on shared cores, spinning threads made
            two threads slower than one (FINDINGS.md).
        providers: execution providers, best first; None picks them automatically
            (`choose_providers`: TensorRT, CUDA, CoreML, OpenVINO, DirectML, CPU).
    """

    def __init__(self, model_path: Path, num_threads: int = 1,
                 providers: Sequence[str] | None = None) -> None:
        if num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {num_threads}")
        import onnxruntime as ort

        chosen = list(providers) if providers else choose_providers(available_providers())
        options = ort.SessionOptions()
        options.intra_op_num_threads = num_threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only: provider fallbacks are reported by us
        self.accepts_batches = True  # every derived model has a symbolic batch dimension
        self._session: Any = ort.InferenceSession(str(model_path), options, providers=chosen)
        self._inputs = tuple(_spec(i) for i in self._session.get_inputs())
        self._outputs = tuple(_spec(o) for o in self._session.get_outputs())
        self._output_names = [o.name for o in self._outputs]
        self._providers: tuple[str, ...] = tuple(self._session.get_providers())
        if self._providers[0] != chosen[0]:  # e.g. CUDA libraries missing: ORT fell back
            log.warning("%s could not be used for %s; running on %s", chosen[0],
                        Path(model_path).name, self._providers[0])

    @property
    def provider(self) -> str:
        """The provider the session runs on first (others only take nodes it cannot run)."""
        return self._providers[0]

    @property
    def providers(self) -> tuple[str, ...]:
        return self._providers

    def run(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        session = self._session
        if session is None:
            raise RuntimeError("session is closed")
        values = session.run(self._output_names, inputs)
        return dict(zip(self._output_names, values, strict=True))

    def close(self) -> None:
        self._session = None


def _spec(arg: Any) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) and d > 0 else 1 for d in arg.shape)
    return TensorSpec(arg.name, shape, _DTYPES.get(arg.type, np.dtype(np.float32)))
