"""Chooses a runtime by name; optional runtimes are imported only when chosen."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from pathlib import Path

from gazeserve.runtime.base import InferenceSession


class RuntimeKind(enum.StrEnum):
    LITERT = "litert"
    ONNX = "onnx"


def open_session(kind: RuntimeKind, model_path: Path, num_threads: int = 1,
                 providers: Sequence[str] | None = None,
                 batchable: bool = False) -> InferenceSession:
    """`providers` (ONNX Runtime only): execution providers, best first; None chooses them.
    `batchable` (LiteRT only; ONNX sessions always take batches): see `LiteRTSession`."""
    if kind is RuntimeKind.LITERT:
        from gazeserve.runtime.litert import LiteRTSession

        return LiteRTSession(model_path, num_threads=num_threads, batchable=batchable)
    if kind is RuntimeKind.ONNX:
        from gazeserve.runtime.onnx import OnnxSession

        return OnnxSession(model_path, num_threads=num_threads, providers=providers)
    raise ValueError(f"unknown runtime {kind!r}")
