"""`models prepare`, second half: ONNX float32 and INT8 models derived from the TFLite files.

`prepare_derived_models(store)` builds what is missing or stale (the source, the file or the
recipe changed), measures each result against the LiteRT float model on held-back real crops,
and records it in the manifest; `derived_statuses(store)` only checks. Neither needs TensorFlow.
"""

from __future__ import annotations

import enum
import importlib.util
import logging
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gazeserve.models.manifest import (
    CONVERTER_VERSION,
    DERIVED,
    OPSET,
    DerivedSpec,
    Manifest,
    ManifestEntry,
    ManifestError,
    Parity,
    Precision,
    source_sha256,
)
from gazeserve.models.parity import Outputs, measure_parity
from gazeserve.models.quantize import FLOAT_BOUND, INT8_BOUNDS, ParityBound
from gazeserve.models.registry import ModelName
from gazeserve.models.sample_crops import CropSet, collect_crops
from gazeserve.models.store import ModelStore
from gazeserve.models.wheels import sha256_of

log = logging.getLogger("gazeserve.models")

ONNXRUNTIME_MISSING = ("not derived: onnxruntime is not installed (pip install 'gazeserve[onnx]', "
                       "or 'gazeserve[gpu]' for CUDA/TensorRT)")


class DerivedState(enum.StrEnum):
    OK = "ok"
    """Present, matches the manifest, accepted."""
    REJECTED = "rejected"
    """Present and recorded, but its parity exceeds the bound: never selected."""
    MISSING = "missing"
    STALE = "stale"
    """The file, its source or the recipe no longer matches the manifest."""
    FAILED = "failed"
    """`prepare` could not build it (the message says why)."""


@dataclass(frozen=True)
class DerivedStatus:
    spec: DerivedSpec
    path: Path
    state: DerivedState
    entry: ManifestEntry | None = None
    message: str = ""
    built: bool = False
    """Built by this call (False: it was already up to date, or building failed)."""


ONNXRUNTIME_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-openvino",
                             "onnxruntime-directml", "onnxruntime-silicon")
"""The builds that install the `onnxruntime` package; the recipe names only the version, so a
model derived with the CPU build stays valid under the GPU build of the same version."""


def _installed_version(*distributions: str) -> str:
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return "none"


@cache
def recipe(precision: Precision) -> str:
    """The tools and settings that make a derived model; a change rebuilds it. Read from the
    installed distributions, without importing them."""
    base = (f"gazeserve-tflite2onnx {CONVERTER_VERSION} opset {OPSET}; "
            f"onnx {_installed_version('onnx')}; "
            f"onnxruntime {_installed_version(*ONNXRUNTIME_DISTRIBUTIONS)}")
    if precision is Precision.INT8:
        return base + "; quantize_static QDQ per-channel s8s8 MinMax"
    return base + "; ORT_ENABLE_BASIC"


def derived_statuses(store: ModelStore) -> list[DerivedStatus]:
    """The state of every derived model, from the files and the manifest (builds nothing)."""
    try:
        manifest = Manifest.load(store.model_dir)
    except ManifestError as exc:
        return [DerivedStatus(s, store.model_dir / s.filename, DerivedState.STALE, None, str(exc))
                for s in DERIVED]
    return [_status(store, manifest, spec) for spec in DERIVED]


def _status(store: ModelStore, manifest: Manifest, spec: DerivedSpec) -> DerivedStatus:
    path = store.model_dir / spec.filename
    entry = manifest.get(spec)
    if entry is None or not path.is_file():
        return DerivedStatus(spec, path, DerivedState.MISSING, entry,
                             "not built" if entry is None else "file missing")
    if sha256_of(path) != entry.sha256:
        return DerivedStatus(spec, path, DerivedState.STALE, entry,
                             "does not match the sha256 in the manifest")
    if entry.source_sha256 != source_sha256(spec):
        return DerivedStatus(spec, path, DerivedState.STALE, entry,
                             "was built from another version of its TFLite model")
    if entry.converter != recipe(spec.precision):
        return DerivedStatus(spec, path, DerivedState.STALE, entry, "was built by other tools")
    if not entry.accepted:
        return DerivedStatus(spec, path, DerivedState.REJECTED, entry, entry.reason)
    return DerivedStatus(spec, path, DerivedState.OK, entry)


def prepare_derived_models(store: ModelStore, media: dict[str, Path] | None = None,
                           force: bool = False, crops: CropSet | None = None
                           ) -> list[DerivedStatus]:
    """Builds every derived model that is missing or stale; returns the state of each.

    The TFLite sources must be prepared (`ModelStore.prepare`). Calibration and parity crops come
    from the sample media (`media`, default: `fetch_samples()`), collected once per call and only
    when something needs building (or are given as `crops`, from `collect_crops`). A model that
    fails to build is reported FAILED and the others still build; an INT8 model outside its
    `INT8_BOUNDS` is kept but recorded as rejected.
    Without onnxruntime (a LiteRT-only install) nothing is built and each model is MISSING with
    a message that says what to install.
    """
    for source in {spec.source for spec in DERIVED}:
        store.require(source)
    if importlib.util.find_spec("onnxruntime") is None:
        return [DerivedStatus(s, store.model_dir / s.filename, DerivedState.MISSING, None,
                              ONNXRUNTIME_MISSING) for s in DERIVED]
    try:
        manifest = Manifest.load(store.model_dir)
    except ManifestError as exc:
        log.warning("%s; rebuilding every derived model", exc)
        manifest = Manifest()
    todo = [spec for spec in DERIVED
            if force or _status(store, manifest, spec).state
            in (DerivedState.MISSING, DerivedState.STALE)]
    rebuilt_floats = set()
    built: dict[DerivedSpec, str] = {}
    if todo:
        crops = crops or collect_crops(store, media)
        references = {name: _litert_outputs(store, name, crops.held_back_batch(name))
                      for name in {spec.source for spec in todo}}
        for spec in sorted(todo, key=lambda s: s.precision is Precision.INT8):
            if spec.precision is Precision.INT8 and spec.source not in rebuilt_floats and \
                    _status(store, manifest, DerivedSpec(spec.source, Precision.FLOAT32)).state \
                    not in (DerivedState.OK,):
                built[spec] = "its float32 model is not usable"
                continue
            try:
                entry = _build(store, spec, crops, references[spec.source])
            except Exception as exc:  # reported per model; the others still build
                log.exception("building %s failed", spec.filename)
                built[spec] = f"{type(exc).__name__}: {exc}"
                continue
            manifest.entries[spec.filename] = entry
            manifest.save(store.model_dir)
            built[spec] = ""
            if spec.precision is Precision.FLOAT32:
                rebuilt_floats.add(spec.source)
    statuses = []
    for spec in DERIVED:
        status = _status(store, manifest, spec)
        if built.get(spec):
            status = DerivedStatus(spec, status.path, DerivedState.FAILED, status.entry,
                                   built[spec])
        elif spec in built:
            status = DerivedStatus(spec, status.path, status.state, status.entry,
                                   status.message, built=True)
        statuses.append(status)
    return statuses


def _build(store: ModelStore, spec: DerivedSpec, crops: CropSet, reference: list[Outputs]
           ) -> ManifestEntry:
    from gazeserve.models.convert import convert_tflite
    from gazeserve.models.quantize import quantize_int8

    dest = store.model_dir / spec.filename
    start = time.perf_counter()
    if spec.precision is Precision.FLOAT32:
        _write_atomically(dest, lambda tmp: convert_tflite(store.require(spec.source), tmp))
        bound = FLOAT_BOUND
    else:
        float_path = store.model_dir / DerivedSpec(spec.source, Precision.FLOAT32).filename
        calibration = crops.calibration_batch(spec.source)
        _write_atomically(dest, lambda tmp: quantize_int8(float_path, tmp, calibration))
        bound = INT8_BOUNDS[spec.source]
    build_s = time.perf_counter() - start
    parity = _onnx_parity(spec.source, dest, reference, crops.held_back_batch(spec.source))
    problems = bound.violations(parity)
    if problems:
        log.warning("%s rejected: %s", spec.filename, "; ".join(problems))
    return ManifestEntry(
        file=spec.filename, source=f"{spec.source.value}.tflite",
        source_sha256=source_sha256(spec), sha256=sha256_of(dest), precision=spec.precision,
        converter=recipe(spec.precision), parity=parity, accepted=not problems,
        reason="; ".join(problems), build_s=round(build_s, 3),
        extra={"calibration_inputs": len(crops.calibration[spec.source])}
        if spec.precision is Precision.INT8 else {},
    )


def _write_atomically(dest: Path, write: Callable[[Path], None]) -> None:
    """Lets `write` produce a temporary file beside `dest`, then renames it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _litert_outputs(store: ModelStore, name: ModelName, inputs: npt.NDArray[np.float32]
                    ) -> list[Outputs]:
    from gazeserve.runtime.litert import LiteRTSession

    with LiteRTSession(store.require(name)) as session:
        input_name = session.inputs[0].name
        return [session.run({input_name: x[None]}) for x in inputs]


def _onnx_parity(name: ModelName, path: Path, reference: list[Outputs],
                 inputs: npt.NDArray[np.float32]) -> Parity:
    from gazeserve.runtime.onnx import OnnxSession
    from gazeserve.runtime.providers import CPU

    with OnnxSession(path, providers=[CPU]) as session:
        input_name = session.inputs[0].name
        return measure_parity(name, lambda x: session.run({input_name: x}), reference, inputs)


__all__ = ["DerivedState", "DerivedStatus", "ParityBound", "derived_statuses",
           "prepare_derived_models", "recipe"]
