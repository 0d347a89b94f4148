"""`prepare_derived_models` from scratch in an empty folder: every float32 model converts and
matches LiteRT, INT8 models are calibrated and judged, the manifest records it all, and a second
run rebuilds only what changed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gazeserve.models import ModelStore
from gazeserve.models.derived import DerivedState, derived_statuses, prepare_derived_models
from gazeserve.models.manifest import DERIVED, DERIVED_SOURCES, MANIFEST_NAME, Precision
from gazeserve.models.quantize import FLOAT_BOUND
from gazeserve.models.registry import MODELS
from gazeserve.models.sample_crops import CropSet
from gazeserve.models.wheels import sha256_of


@pytest.mark.slow
def test_prepare_builds_records_and_is_idempotent(derived_store: ModelStore, crops: CropSet,
                                                  media: dict[str, Path], tmp_path: Path) -> None:
    for name in DERIVED_SOURCES:
        shutil.copy2(derived_store.path(name), tmp_path / MODELS[name].filename)
    store = ModelStore(tmp_path, derived_store.wheel_cache)

    statuses = prepare_derived_models(store, media, crops=crops)
    assert [s.spec for s in statuses] == list(DERIVED)
    assert all(s.built for s in statuses)
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())["models"]
    for s in statuses:
        entry = manifest[s.spec.filename]
        assert entry["sha256"] == sha256_of(tmp_path / s.spec.filename)
        assert entry["source_sha256"] == MODELS[s.spec.source].sha256
        assert entry["parity"]["samples"] > 0
        if s.spec.precision is Precision.FLOAT32:
            assert s.state is DerivedState.OK
            assert entry["parity"]["max_px"] <= FLOAT_BOUND.max_px
        else:
            assert s.state in (DerivedState.OK, DerivedState.REJECTED)
            assert entry["accepted"] == (s.state is DerivedState.OK)
            assert entry["accepted"] or entry["reason"]
            assert entry["extra"]["calibration_inputs"] > 0

    again = prepare_derived_models(store, media, crops=crops)
    assert not any(s.built for s in again)
    assert [s.state for s in again] == [s.state for s in statuses]

    damaged = next(s for s in statuses if s.spec.precision is Precision.INT8)
    (tmp_path / damaged.spec.filename).write_bytes(b"not a model")
    assert next(s for s in derived_statuses(store) if s.spec == damaged.spec).state \
        is DerivedState.STALE
    rebuilt = prepare_derived_models(store, media, crops=crops)
    assert [s.spec for s in rebuilt if s.built] == [damaged.spec]
    assert all(s.state in (DerivedState.OK, DerivedState.REJECTED) for s in rebuilt)
