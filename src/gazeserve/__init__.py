"""gazeserve: real-time gaze and attention from camera frames.

The engine and its results are imported lazily, so that light users (the client) do not pay for
OpenCV and LiteRT.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "GazeEngine": "gazeserve.pipeline",
    "EngineOptions": "gazeserve.pipeline",
    "InvalidImageError": "gazeserve.pipeline",
    "StreamState": "gazeserve.streams",
    "StreamOrderError": "gazeserve.streams",
    "GazeResult": "gazeserve.results",
    "FaceResult": "gazeserve.results",
    "EyeResult": "gazeserve.results",
    "AttentionState": "gazeserve.results",
    "decode_image": "gazeserve.imaging.decode",
    "ImageDecodeError": "gazeserve.imaging.errors",
}

if TYPE_CHECKING:
    from gazeserve.imaging.decode import decode_image
    from gazeserve.imaging.errors import ImageDecodeError
    from gazeserve.pipeline import EngineOptions, GazeEngine, InvalidImageError
    from gazeserve.results import AttentionState, EyeResult, FaceResult, GazeResult
    from gazeserve.streams import StreamOrderError, StreamState


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gazeserve' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "AttentionState",
    "EngineOptions",
    "EyeResult",
    "FaceResult",
    "GazeEngine",
    "GazeResult",
    "ImageDecodeError",
    "InvalidImageError",
    "StreamOrderError",
    "StreamState",
    "decode_image",
]
