"""The interface every runtime implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt

Tensor = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as the model file declares it."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[np.generic]


class InferenceSession(Protocol):
    """A loaded model. Not thread-safe: one session serves one thread at a time."""

    @property
    def inputs(self) -> tuple[TensorSpec, ...]: ...

    @property
    def outputs(self) -> tuple[TensorSpec, ...]: ...

    @property
    def accepts_batches(self) -> bool:
        """`run` takes inputs of any batch size and returns outputs of that batch size, each
        item's equal to its single run's (tests/integration/onnx/test_onnx_models.py)."""
        ...

    def run(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        """Runs the model once; returns every output by name (arrays owned by the caller)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


class SessionBase:
    """What every session shares: its specs and the context-manager protocol."""

    _inputs: tuple[TensorSpec, ...]
    _outputs: tuple[TensorSpec, ...]
    accepts_batches: bool = False

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self._inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._outputs

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
