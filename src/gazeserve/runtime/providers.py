"""ONNX Runtime execution providers: which to use, in which order. Pure functions, no imports
of onnxruntime here (`available_providers` imports it only when called)."""

from __future__ import annotations

from collections.abc import Sequence

TENSORRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
COREML = "CoreMLExecutionProvider"
OPENVINO = "OpenVINOExecutionProvider"
DIRECTML = "DmlExecutionProvider"
CPU = "CPUExecutionProvider"

PREFERRED_ORDER = (TENSORRT, CUDA, COREML, OPENVINO, DIRECTML, CPU)
"""Automatic choice: the first of these the installed build offers, then the rest as fallbacks
(ONNX Runtime runs each node on the first provider in the list that supports it)."""
ACCELERATORS = frozenset(PREFERRED_ORDER) - {CPU}
"""Providers that make ONNX Runtime worth choosing over LiteRT (which is faster on a plain CPU).
Providers outside the list (e.g. the CPU build's `AzureExecutionProvider`) count as none."""
INT8_PROVIDERS = frozenset({CPU, TENSORRT, OPENVINO})
"""Providers that run QDQ INT8 models as integer kernels. Elsewhere (CUDA, CoreML, DirectML)
the Q/DQ pairs run in float, so the INT8 model only adds work and the float32 one is used."""

_ALIASES = {
    "tensorrt": TENSORRT, "trt": TENSORRT, "cuda": CUDA, "coreml": COREML,
    "openvino": OPENVINO, "directml": DIRECTML, "dml": DIRECTML, "cpu": CPU,
}


class ProviderError(ValueError):
    """A requested provider is unknown or not offered by the installed onnxruntime build."""


def parse_providers(value: str | None) -> list[str]:
    """`GAZE_PROVIDERS` (comma-separated; short names like `cuda` or full names) to names."""
    if not value or not value.strip():
        return []
    return [normalize_provider(part) for part in value.split(",") if part.strip()]


def normalize_provider(name: str) -> str:
    """`cuda`, `CUDA` or `CUDAExecutionProvider` -> `CUDAExecutionProvider`."""
    key = name.strip()
    alias = _ALIASES.get(key.lower())
    if alias:
        return alias
    for known in PREFERRED_ORDER:
        if known.lower() == key.lower():
            return known
    return key


def choose_providers(available: Sequence[str], requested: Sequence[str] | None = None
                     ) -> list[str]:
    """The providers to open a session with, best first.

    Without `requested`: those of `PREFERRED_ORDER` that `available` offers (CPU last). With it
    (from `GAZE_PROVIDERS`): exactly those, in that order, CPU appended as the fallback for
    nodes the others cannot run; a name the build does not offer raises `ProviderError`.
    """
    offered = list(dict.fromkeys(available))
    if not requested:
        chosen = [p for p in PREFERRED_ORDER if p in offered]
        if not chosen:
            raise ProviderError(f"onnxruntime offers none of the known providers "
                                f"(it offers {', '.join(offered) or 'nothing'})")
        return chosen
    wanted = list(dict.fromkeys(normalize_provider(p) for p in requested))
    missing = [p for p in wanted if p not in offered]
    if missing:
        raise ProviderError(
            f"GAZE_PROVIDERS asks for {', '.join(missing)}, which this onnxruntime build does "
            f"not offer (it offers {', '.join(offered) or 'nothing'}); install the build for "
            "that provider (e.g. `pip install gazeserve[gpu]` for CUDA/TensorRT) or unset "
            "GAZE_PROVIDERS")
    if CPU in offered and CPU not in wanted:
        wanted.append(CPU)
    return wanted


def has_accelerator(providers: Sequence[str]) -> bool:
    return any(p in ACCELERATORS for p in providers)


def available_providers() -> list[str]:
    """What the installed onnxruntime build offers; empty when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())
