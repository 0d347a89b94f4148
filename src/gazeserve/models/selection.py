"""Which model file each stage loads, for a runtime and `USE_QUANTIZED_MODEL`.

INT8 is used only where it exists, matches the manifest, passed its parity bound and the
provider runs it as integer kernels; otherwise float32, with the reason logged and returned.
A float32 ONNX model that is missing, altered or rejected is an error: nothing to fall back to.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from gazeserve.models.derived import DerivedState, DerivedStatus, derived_statuses
from gazeserve.models.manifest import DERIVED_SOURCES, MANIFEST_NAME, DerivedSpec, Precision
from gazeserve.models.registry import ModelName
from gazeserve.models.store import ModelsNotPreparedError, ModelStore
from gazeserve.runtime.factory import RuntimeKind
from gazeserve.runtime.providers import CPU, INT8_PROVIDERS

log = logging.getLogger("gazeserve.models")


@dataclass(frozen=True)
class ModelFiles:
    paths: dict[ModelName, Path]
    """The file each model of the split pipeline loads."""
    precisions: dict[ModelName, Precision]
    reasons: list[str] = field(default_factory=list)
    """Why a model runs in float32 although INT8 was asked for (each also logged)."""


def resolve_model_files(store: ModelStore, runtime: RuntimeKind, use_quantized: bool,
                        provider: str = CPU) -> ModelFiles:
    """The verified file per model for `runtime`.

    Args:
        store: the model folder.
        runtime: LiteRT loads the TFLite files; ONNX Runtime the derived ONNX files.
        use_quantized: `USE_QUANTIZED_MODEL`: INT8 where present, verified and accepted.
        provider: the ONNX Runtime provider sessions will run on first (`OnnxSession.provider`).

    Raises:
        ModelsNotPreparedError: a model needed in float32 is missing, altered or rejected.
    """
    if runtime is RuntimeKind.LITERT:
        reasons = []
        if use_quantized:
            reasons.append("USE_QUANTIZED_MODEL: the INT8 models are ONNX models and the engine "
                           "is LiteRT (LiteRT int8 measured about 4x slower); using float32")
        _log(reasons)
        return ModelFiles({n: store.require(n) for n in DERIVED_SOURCES},
                          dict.fromkeys(DERIVED_SOURCES, Precision.FLOAT32), reasons)
    statuses = {(s.spec.source, s.spec.precision): s for s in derived_statuses(store)}
    paths: dict[ModelName, Path] = {}
    precisions: dict[ModelName, Precision] = {}
    reasons = []
    for name in DERIVED_SOURCES:
        store.require(name)  # the source must still be the registered one
        int8 = statuses[(name, Precision.INT8)]
        if use_quantized:
            why_not = _int8_refusal(int8, provider)
            if why_not is None:
                paths[name], precisions[name] = int8.path, Precision.INT8
                continue
            reasons.append(f"USE_QUANTIZED_MODEL: {int8.spec.filename} {why_not}; "
                           "using float32")
        paths[name] = _require_float(store, statuses[(name, Precision.FLOAT32)])
        precisions[name] = Precision.FLOAT32
    _log(reasons)
    return ModelFiles(paths, precisions, reasons)


def _int8_refusal(status: DerivedStatus, provider: str) -> str | None:
    if provider not in INT8_PROVIDERS:
        return f"is not run as INT8 by {provider}"
    if status.state is DerivedState.OK:
        return None
    if status.state is DerivedState.REJECTED:
        return f"was rejected by its parity check ({status.message})"
    if status.state is DerivedState.STALE:
        return f"is unusable: {status.message}"
    return "is missing"


def _require_float(store: ModelStore, status: DerivedStatus) -> Path:
    name = status.spec.filename
    fix = "run `gazeserve models prepare`"
    if status.state is DerivedState.OK:
        return status.path
    if status.state is DerivedState.MISSING:
        raise ModelsNotPreparedError(f"ONNX model {name} is missing from {store.model_dir} "
                                     f"({status.message}); {fix} (or `make setup`)")
    if status.state is DerivedState.REJECTED:
        raise ModelsNotPreparedError(f"ONNX model {name} failed its parity check against "
                                     f"LiteRT ({status.message}); use GAZE_ENGINE=litert")
    raise ModelsNotPreparedError(f"refusing ONNX model {status.path}: it {status.message} "
                                 f"({MANIFEST_NAME}); {fix} to rebuild it")


def _log(reasons: list[str]) -> None:
    for reason in reasons:
        log.warning("%s", reason)


__all__ = ["DerivedSpec", "ModelFiles", "resolve_model_files"]
