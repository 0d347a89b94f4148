"""The derived ONNX models against LiteRT on real crops; batching, where it is right and where
it is not; the ONNX Runtime session wrapper on the real CPU provider."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gazeserve.models import ModelStore
from gazeserve.models.manifest import DERIVED, DERIVED_SOURCES, DerivedSpec, Precision
from gazeserve.models.registry import ModelName
from gazeserve.models.sample_crops import CropSet
from gazeserve.runtime.litert import LiteRTSession
from gazeserve.runtime.onnx import OnnxSession
from gazeserve.runtime.providers import CPU, available_providers, choose_providers

FLOAT_TOLERANCE = 1e-3
"""Largest absolute difference allowed on any output value of a float32 conversion."""
SCORE_CLIP = 100.0
"""Detector logits are clipped to +-100 before the sigmoid (DetectorConfig.score_clip); beyond
that, values of -250 differ by float32 rounding (2e-3 measured) and mean the same zero score."""
DETECTORS = (ModelName.FACE_DETECTOR_SHORT, ModelName.FACE_DETECTOR_FULL)
BATCH = 8


def onnx_path(store: ModelStore, name: ModelName, precision: Precision) -> Path:
    return store.model_dir / DerivedSpec(name, precision).filename


def comparable(name: ModelName, outputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if name not in DETECTORS:
        return outputs
    return {k: np.clip(v, -SCORE_CLIP, SCORE_CLIP) if v.shape[-1] == 1 else v
            for k, v in outputs.items()}


@pytest.mark.parametrize("name", DERIVED_SOURCES, ids=str)
def test_float_model_matches_litert_on_real_crops(derived_store: ModelStore, crops: CropSet,
                                                  name: ModelName) -> None:
    inputs = crops.held_back_batch(name)
    with LiteRTSession(derived_store.require(name)) as litert, \
            OnnxSession(onnx_path(derived_store, name, Precision.FLOAT32)) as ort:
        assert [(s.name, s.shape) for s in ort.inputs] == \
            [(s.name, s.shape) for s in litert.inputs]
        assert sorted((s.name, s.shape) for s in ort.outputs) == \
            sorted((s.name, s.shape) for s in litert.outputs)
        input_name = litert.inputs[0].name
        worst = 0.0
        for x in inputs:
            expected = comparable(name, litert.run({input_name: x[None]}))
            got = comparable(name, ort.run({input_name: x[None]}))
            worst = max(worst, *(float(np.abs(got[k] - expected[k]).max()) for k in expected))
    assert worst <= FLOAT_TOLERANCE, f"{name}: {worst}"


@pytest.mark.parametrize("spec", DERIVED, ids=lambda s: s.filename)
def test_batched_outputs_equal_single_outputs(derived_store: ModelStore, crops: CropSet,
                                              spec: DerivedSpec) -> None:
    inputs = crops.held_back_batch(spec.source)[:BATCH]
    assert len(inputs) == BATCH
    with OnnxSession(derived_store.model_dir / spec.filename) as session:
        input_name = session.inputs[0].name
        batched = session.run({input_name: inputs})
        for i in range(BATCH):
            single = session.run({input_name: inputs[i:i + 1]})
            for key, value in single.items():
                assert batched[key].shape[0] == BATCH
                np.testing.assert_allclose(batched[key][i:i + 1], value, rtol=0, atol=1e-4)


def litert_batched(path: Path, inputs: np.ndarray) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], list(inputs.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], inputs)
    interpreter.invoke()
    return {o["name"]: interpreter.get_tensor(o["index"])
            for o in interpreter.get_output_details()}


@pytest.mark.parametrize("name", [*DETECTORS, ModelName.IRIS_LANDMARK], ids=str)
def test_litert_batching_is_wrong_for_the_detectors_and_the_iris_model(
        derived_store: ModelStore, crops: CropSet, name: ModelName) -> None:
    """Their Reshape ops hard-code a batch of 1: a batch of 8 comes back folded into one item
    (8x the anchors, 8x the points), so these models must never be batched on LiteRT."""
    inputs = crops.held_back_batch(name)[:BATCH]
    outputs = litert_batched(derived_store.require(name), inputs)
    with LiteRTSession(derived_store.require(name)) as session:
        single = session.run({session.inputs[0].name: inputs[:1]})
    for key, value in outputs.items():
        assert value.shape[0] == 1, "LiteRT batching now keeps the batch: revisit the batcher"
        assert value.size == BATCH * single[key].size


def test_litert_batching_is_right_for_the_mesh_model(derived_store: ModelStore,
                                                     crops: CropSet) -> None:
    name = ModelName.FACE_LANDMARK
    inputs = crops.held_back_batch(name)[:BATCH]
    outputs = litert_batched(derived_store.require(name), inputs)
    with LiteRTSession(derived_store.require(name)) as session:
        for i in range(BATCH):
            for key, value in session.run({session.inputs[0].name: inputs[i:i + 1]}).items():
                np.testing.assert_allclose(outputs[key][i:i + 1], value, rtol=0, atol=1e-4)


def test_the_cpu_provider_is_chosen_and_reported(derived_store: ModelStore) -> None:
    available = available_providers()
    assert CPU in available
    path = onnx_path(derived_store, ModelName.IRIS_LANDMARK, Precision.FLOAT32)
    with OnnxSession(path) as session:  # automatic choice
        assert session.provider == choose_providers(available)[0]
    with OnnxSession(path, providers=[CPU]) as session:
        assert session.provider == CPU
        assert session.providers == (CPU,)


def test_threads_do_not_change_the_outputs(derived_store: ModelStore, crops: CropSet) -> None:
    name = ModelName.FACE_LANDMARK
    x = crops.held_back_batch(name)[:2]
    path = onnx_path(derived_store, name, Precision.FLOAT32)
    with OnnxSession(path, num_threads=1) as one, OnnxSession(path, num_threads=2) as two:
        a = one.run({one.inputs[0].name: x})
        b = two.run({two.inputs[0].name: x})
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=0, atol=1e-4)


def test_session_misuse(derived_store: ModelStore) -> None:
    path = onnx_path(derived_store, ModelName.IRIS_LANDMARK, Precision.FLOAT32)
    with pytest.raises(ValueError, match="num_threads"):
        OnnxSession(path, num_threads=0)
    session = OnnxSession(path)
    session.close()
    with pytest.raises(RuntimeError, match="closed"):
        session.run({session.inputs[0].name: np.zeros((1, 64, 64, 3), np.float32)})
