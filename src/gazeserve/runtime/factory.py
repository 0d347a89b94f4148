"""Chooses a runtime by name; optional runtimes are imported only when chosen."""

from __future__ import annotations

import enum
from pathlib import Path

from gazeserve.runtime.base import InferenceSession


class RuntimeKind(enum.StrEnum):
    LITERT = "litert"


def open_session(kind: RuntimeKind, model_path: Path, num_threads: int = 1) -> InferenceSession:
    if kind is RuntimeKind.LITERT:
        from gazeserve.runtime.litert import LiteRTSession

        return LiteRTSession(model_path, num_threads=num_threads)
    raise ValueError(f"unknown runtime {kind!r}")
