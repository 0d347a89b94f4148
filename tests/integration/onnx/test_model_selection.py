"""Which file each model loads: INT8 only when present, verified, accepted and run as INT8 by the
provider; float32 otherwise, with the reason logged; an altered float32 model is refused."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from gazeserve.models import ModelsNotPreparedError, ModelStore
from gazeserve.models.manifest import (
    DERIVED,
    DERIVED_SOURCES,
    MANIFEST_NAME,
    DerivedSpec,
    Precision,
)
from gazeserve.models.registry import MODELS, ModelName
from gazeserve.models.selection import resolve_model_files
from gazeserve.runtime.factory import RuntimeKind
from gazeserve.runtime.providers import CPU, CUDA

IRIS_INT8 = DerivedSpec(ModelName.IRIS_LANDMARK, Precision.INT8)
MESH_FLOAT = DerivedSpec(ModelName.FACE_LANDMARK, Precision.FLOAT32)


@pytest.fixture
def store(derived_store: ModelStore, tmp_path: Path) -> ModelStore:
    """A private copy of the prepared model folder, free to damage."""
    for name in DERIVED_SOURCES:
        shutil.copy2(derived_store.path(name), tmp_path / MODELS[name].filename)
    for spec in DERIVED:
        shutil.copy2(derived_store.model_dir / spec.filename, tmp_path / spec.filename)
    shutil.copy2(derived_store.model_dir / MANIFEST_NAME, tmp_path / MANIFEST_NAME)
    return ModelStore(tmp_path, derived_store.wheel_cache)


def onnx() -> RuntimeKind:
    return RuntimeKind("onnx")


def accepted(store: ModelStore, spec: DerivedSpec) -> bool:
    manifest = json.loads((store.model_dir / MANIFEST_NAME).read_text())
    return bool(manifest["models"][spec.filename]["accepted"])


def test_float32_without_quantization(store: ModelStore, caplog) -> None:
    files = resolve_model_files(store, onnx(), use_quantized=False)
    assert {n: p.name for n, p in files.paths.items()} == {
        n: DerivedSpec(n, Precision.FLOAT32).filename for n in DERIVED_SOURCES}
    assert files.reasons == [] and not caplog.records


def test_int8_where_accepted_float32_with_a_logged_reason_elsewhere(store: ModelStore,
                                                                    caplog) -> None:
    caplog.set_level(logging.WARNING, "gazeserve.models")
    files = resolve_model_files(store, onnx(), use_quantized=True, provider=CPU)
    for name in DERIVED_SOURCES:
        spec = DerivedSpec(name, Precision.INT8)
        if accepted(store, spec):
            assert files.paths[name].name == spec.filename
            assert files.precisions[name] is Precision.INT8
        else:
            assert files.precisions[name] is Precision.FLOAT32
            assert any(spec.filename in r and "parity check" in r for r in files.reasons)
    assert files.precisions[ModelName.FACE_LANDMARK] is Precision.INT8  # measured: accepted
    assert [r.getMessage() for r in caplog.records] == files.reasons


def test_missing_int8_falls_back_to_float32(store: ModelStore, caplog) -> None:
    (store.model_dir / IRIS_INT8.filename).unlink()
    files = resolve_model_files(store, onnx(), use_quantized=True)
    assert files.paths[ModelName.IRIS_LANDMARK].name == "iris_landmark.onnx"
    reason = next(r for r in files.reasons if IRIS_INT8.filename in r)
    assert "missing" in reason and "using float32" in reason
    assert reason in caplog.text


def test_corrupt_int8_falls_back_to_float32(store: ModelStore, caplog) -> None:
    path = store.model_dir / IRIS_INT8.filename
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    files = resolve_model_files(store, onnx(), use_quantized=True)
    assert files.precisions[ModelName.IRIS_LANDMARK] is Precision.FLOAT32
    reason = next(r for r in files.reasons if IRIS_INT8.filename in r)
    assert "does not match the sha256" in reason
    assert reason in caplog.text


def test_a_provider_that_does_not_run_int8_gets_float32(store: ModelStore) -> None:
    files = resolve_model_files(store, onnx(), use_quantized=True, provider=CUDA)
    assert set(files.precisions.values()) == {Precision.FLOAT32}
    assert all("is not run as INT8 by CUDAExecutionProvider" in r for r in files.reasons)
    assert len(files.reasons) == len(DERIVED_SOURCES)


def test_a_float_model_with_the_wrong_sha256_is_refused(store: ModelStore) -> None:
    path = store.model_dir / MESH_FLOAT.filename
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelsNotPreparedError) as info:
        resolve_model_files(store, onnx(), use_quantized=False)
    message = str(info.value)
    assert str(path) in message
    assert "does not match the sha256" in message and "gazeserve models prepare" in message


def test_a_missing_float_model_is_refused(store: ModelStore) -> None:
    (store.model_dir / MESH_FLOAT.filename).unlink()
    with pytest.raises(ModelsNotPreparedError, match=r"face_landmark\.onnx is missing"):
        resolve_model_files(store, onnx(), use_quantized=False)


def test_a_corrupt_manifest_is_refused_clearly(store: ModelStore) -> None:
    (store.model_dir / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ModelsNotPreparedError, match="not a valid manifest"):
        resolve_model_files(store, onnx(), use_quantized=False)


def test_litert_ignores_quantization_with_a_reason(store: ModelStore, caplog) -> None:
    files = resolve_model_files(store, RuntimeKind.LITERT, use_quantized=True)
    assert {p.suffix for p in files.paths.values()} == {".tflite"}
    assert len(files.reasons) == 1 and "LiteRT" in files.reasons[0]
    assert files.reasons[0] in caplog.text
