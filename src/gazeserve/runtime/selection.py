"""Which runtime runs the models (`GAZE_ENGINE`): a pure function of the request and of what the
installed onnxruntime build offers."""

from __future__ import annotations

from collections.abc import Sequence

from gazeserve.runtime.factory import RuntimeKind
from gazeserve.runtime.providers import has_accelerator

ENGINE_CHOICES = ("auto", "litert", "onnx")


def resolve_engine(requested: str, available_providers: Sequence[str],
                   onnx_models_ready: bool = True) -> tuple[RuntimeKind, str]:
    """The runtime for `GAZE_ENGINE` and why, in words fit for a log line.

    `auto` takes ONNX Runtime when the installed build offers an accelerator provider (TensorRT,
    CUDA, CoreML, OpenVINO, DirectML) and the ONNX models are prepared, else LiteRT, which is the
    faster of the two on a plain CPU (FINDINGS.md). `litert` and `onnx` force one.
    """
    choice = requested.strip().lower()
    if choice == "litert":
        return RuntimeKind.LITERT, "GAZE_ENGINE=litert"
    if choice == "onnx":
        if not available_providers:
            raise ValueError("GAZE_ENGINE=onnx but onnxruntime is not installed; install "
                             "gazeserve (CPU) or gazeserve[gpu] (CUDA/TensorRT)")
        return RuntimeKind.ONNX, "GAZE_ENGINE=onnx"
    if choice != "auto":
        raise ValueError(f"GAZE_ENGINE must be one of {', '.join(ENGINE_CHOICES)}, "
                         f"got {requested!r}")
    if not has_accelerator(available_providers):
        return RuntimeKind.LITERT, ("auto: no accelerator provider in onnxruntime "
                                    f"({', '.join(available_providers) or 'not installed'}); "
                                    "LiteRT is the faster runtime on CPU")
    accelerators = ", ".join(p for p in available_providers if has_accelerator([p]))
    if not onnx_models_ready:
        return RuntimeKind.LITERT, (f"auto: {accelerators} available but the ONNX models are "
                                    "not prepared (run `gazeserve models prepare`); using LiteRT")
    return RuntimeKind.ONNX, f"auto: accelerator provider available ({accelerators})"
