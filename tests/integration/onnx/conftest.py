"""Shared fixtures for the ONNX tests: the derived models (built once by `models prepare`, or
here on first use), and real crops cut by our own engine from the sample media."""

from __future__ import annotations

from pathlib import Path

import pytest

from gazeserve.models import ModelStore
from gazeserve.models.derived import DerivedState, prepare_derived_models
from gazeserve.models.sample_crops import CropSet, collect_crops


@pytest.fixture(scope="session")
def derived_store(media: dict[str, Path]) -> ModelStore:
    """The default model folder with every derived model up to date (a no-op after
    `make setup`; about 20 s on 2 cores the first time)."""
    store = ModelStore()
    store.prepare()
    statuses = prepare_derived_models(store, media)
    bad = [f"{s.spec.filename}: {s.state} {s.message}" for s in statuses
           if s.state not in (DerivedState.OK, DerivedState.REJECTED)]
    assert not bad, bad
    return store


@pytest.fixture(scope="session")
def crops(derived_store: ModelStore, media: dict[str, Path]) -> CropSet:
    return collect_crops(derived_store, media)
