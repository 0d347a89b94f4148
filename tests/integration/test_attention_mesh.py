"""The attention face mesh on stock LiteRT with our C delegate: real model, real photos.

- each custom op, in place inside the real model, against the NumPy references;
- all 478 landmarks against MediaPipe 0.10.21's own FaceMesh (refine_landmarks=True, which runs
  this same model) on the committed goldens;
- the load-time self-check refuses broken builds with a reason, and the stored test vector
  agrees with the current build;
- create/run/destroy cycles and four threads give bit-identical outputs and free what they
  allocate.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from flatbuffers import flexbuffers

from gazeserve.models import ModelName, ModelStore
from gazeserve.native import build
from gazeserve.native.build import Fault, Variant
from gazeserve.runtime import RuntimeKind, open_session
from gazeserve.runtime.litert_attention import (
    SELF_CHECK_TOLERANCE_PX,
    AttentionSession,
    DelegateUnavailable,
    NativeLibrary,
    attention_mesh_status,
    load_self_check_vector,
    open_attention_session,
)
from gazeserve.vision.attention_mesh import AttentionMeshModel
from gazeserve.vision.detector import DetectorKind, FaceDetector
from gazeserve.vision.landmarks import roi_from_detection
from gazeserve.vision.roi import RotatedRect
from tests.unit.native.mediapipe_ops_reference import (
    delegate_library,
    landmarks_to_transform_matrix,
    sample_coordinates,
    transform_landmarks,
    transform_tensor_bilinear,
)

PHOTOS = ["grace_hopper.jpg", "astronaut.png", "single_face.jpg"]
MEAN_BOUND_IOD = 0.005
"""All 478 points: mean distance to MediaPipe's <= 0.5% of the inter-ocular distance."""
IRIS_BOUND_IOD = 0.01
"""Each of the 10 iris points within 1% of the inter-ocular distance of MediaPipe's."""
IN_PLACE_ATOL = 1e-4
"""Custom ops in place vs float64 references: matrix entries and feature values (float32)."""
LANDMARK_ATOL_PX = 1e-3
"""TransformLandmarks outputs are crop pixels up to 192: float32 rounding stays below this."""


def _iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[33, :2] - points[263, :2]))


@pytest.fixture(scope="module")
def library() -> Path:
    return delegate_library()


@pytest.fixture(scope="module")
def model_path() -> Path:
    return ModelStore().require(ModelName.FACE_LANDMARK_WITH_ATTENTION)


@pytest.fixture(scope="module")
def session(model_path: Path, library: Path) -> Iterator[AttentionSession]:
    with open_attention_session(model_path, library) as s:
        yield s


@pytest.fixture(scope="module")
def rois(photos) -> dict[str, RotatedRect]:
    store = ModelStore()
    with open_session(RuntimeKind.LITERT, store.require(ModelName.FACE_DETECTOR_SHORT)) as s:
        detector = FaceDetector(s, DetectorKind.SHORT_RANGE)
        return {name: roi_from_detection(detector.detect(photos[name])[0]) for name in PHOTOS}


def test_delegate_claims_the_eleven_custom_op_nodes(session: AttentionSession) -> None:
    report = session.library.report(session._delegate._get_native_delegate_pointer())
    claimed = report["last"]["claimed"]
    assert report["claimed_nodes"] == 11 and report["last"]["error"] == ""
    assert [c["op"] for c in claimed] == (["Landmarks2TransformMatrix"] * 3
                                          + ["TransformTensorBilinear"] * 3
                                          + ["TransformLandmarks"] * 5)
    assert claimed[0]["options"]["left_rotation_idx"] == 61  # the lips: mouth corners
    assert claimed[0]["options"]["subset_size"] == 80


# ------------------------------------------------------------------------------------------
# Each op in place, on the tensors the real model feeds it

def _custom_options(model_path: Path) -> dict[int, dict[str, object]]:
    """The custom ops' options read from the model file with the `flatbuffers` package."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(model_path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    options = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        if model.OperatorCodes(op.OpcodeIndex()).CustomCode() and op.CustomOptionsLength():
            options[i] = flexbuffers.Loads(bytes(op.CustomOptionsAsNumpy()))
    return options


@pytest.mark.filterwarnings("ignore:Warning. Enabling `experimental_preserve_all_tensors`")
@pytest.mark.parametrize("source", ["self-check crop", "grace_hopper.jpg"])
def test_custom_ops_in_place_match_references(model_path, library, photos, rois,
                                              source: str) -> None:
    from ai_edge_litert.interpreter import Interpreter, load_delegate

    if source == "self-check crop":
        inp = load_self_check_vector().input
    else:
        from gazeserve.vision.roi import crop

        inp = (crop(photos[source], rois[source], 192, 192).astype(np.float32) / 255)[None]
    interpreter = Interpreter(model_path=str(model_path), num_threads=1,
                              experimental_delegates=[load_delegate(str(library))],
                              experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], inp)
    interpreter.invoke()
    options = _custom_options(model_path)
    checked = {"Landmarks2TransformMatrix": 0, "TransformTensorBilinear": 0,
               "TransformLandmarks": 0}
    for op in interpreter._get_ops_details():
        if op["op_name"] not in checked:
            continue
        args = [interpreter.get_tensor(int(i))[0] for i in op["inputs"]]
        out = interpreter.get_tensor(int(op["outputs"][0]))[0]
        if op["op_name"] == "Landmarks2TransformMatrix":
            o = options[op["index"]]
            expected = landmarks_to_transform_matrix(
                args[0], o["left_rotation_idx"], o["right_rotation_idx"], o["subset_idxs"],
                o["output_width"], o["output_height"], o["scale_x"], o["scale_y"],
                o["target_rotation_radians"])
            np.testing.assert_allclose(out, expected, rtol=0, atol=IN_PLACE_ATOL)
        elif op["op_name"] == "TransformTensorBilinear":
            feature, matrix = args[0], args[1].reshape(4, 4)
            expected = transform_tensor_bilinear(feature, matrix, *out.shape[:2])
            src = sample_coordinates(matrix, *out.shape[:2])
            assert ((src >= 1e-3) & (src <= np.array(feature.shape[1::-1]) - 1 - 1e-3)).all()
            np.testing.assert_allclose(out, expected, rtol=0, atol=IN_PLACE_ATOL)
        else:
            expected = transform_landmarks(args[0], args[1].reshape(4, 4))
            np.testing.assert_allclose(out, expected, rtol=0, atol=LANDMARK_ATOL_PX)
        checked[op["op_name"]] += 1
    assert checked == {"Landmarks2TransformMatrix": 3, "TransformTensorBilinear": 3,
                       "TransformLandmarks": 5}


# ------------------------------------------------------------------------------------------
# Landmarks against MediaPipe

@pytest.mark.parametrize("name", PHOTOS)
def test_landmarks_match_mediapipe(session, photos, goldens, rois, name: str) -> None:
    result = AttentionMeshModel(session).run(photos[name], rois[name])
    ours = result.landmarks_px
    theirs = np.asarray(goldens[name]["refine_true"], np.float32)
    assert ours.shape == theirs.shape == (478, 3)
    assert result.presence > 0.99
    iod = _iod(theirs)
    error = np.linalg.norm(ours[:, :2] - theirs[:, :2], axis=1) / iod
    assert error.mean() <= MEAN_BOUND_IOD
    assert error[468:].max() <= IRIS_BOUND_IOD
    assert np.abs(ours[:, 2] - theirs[:, 2]).mean() / iod <= MEAN_BOUND_IOD


def test_blank_crop_has_no_face(session) -> None:
    blank = np.full((480, 640, 3), 128, np.uint8)
    result = AttentionMeshModel(session).run(blank, RotatedRect(320, 240, 300, 300))
    assert result.presence < 0.5


def test_model_without_attention_outputs_is_refused(library) -> None:
    plain = ModelStore().require(ModelName.FACE_LANDMARK)
    with open_session(RuntimeKind.LITERT, plain) as s, pytest.raises(ValueError, match="output"):
        AttentionMeshModel(s)


# ------------------------------------------------------------------------------------------
# The self-check and the fallback it drives

def test_stored_test_vector_matches_this_build(session) -> None:
    vector = load_self_check_vector()
    outputs = session.run({session.inputs[0].name: vector.input})
    assert set(outputs) == set(vector.outputs)
    for name, expected in vector.outputs.items():
        assert np.abs(outputs[name] - expected).max() <= SELF_CHECK_TOLERANCE_PX / 10, name


def test_numerically_wrong_delegate_is_refused(model_path, caplog) -> None:
    broken = build.build(Variant(fault=Fault.SHIFTED_SAMPLES))
    with pytest.raises(DelegateUnavailable, match="self-check inference disagrees") as info:
        open_attention_session(model_path, broken)
    assert "output_" in info.value.reason  # names the output that moved
    with caplog.at_level(logging.WARNING):
        available, reason = attention_mesh_status(model_path, broken)
    assert not available and reason == info.value.reason
    assert "split pipeline" in caplog.text and reason in caplog.text


def test_header_that_disagrees_with_runtime_is_refused_before_use(model_path) -> None:
    broken = build.build(Variant(fault=Fault.TENSOR_LAYOUT))
    library = NativeLibrary(broken)
    live = library.live_objects()
    with pytest.raises(DelegateUnavailable, match=r"struct layout.*sizeof\(TfLiteTensor\) is 120"):
        open_attention_session(model_path, broken)
    assert library.live_objects() == live  # refused before any delegate was created


def test_missing_or_foreign_library_is_refused_with_a_reason(model_path, tmp_path) -> None:
    with pytest.raises(DelegateUnavailable, match="cannot load"):
        open_attention_session(model_path, tmp_path / "libnothing.so")
    with pytest.raises(DelegateUnavailable, match="not gazeserve's delegate"):
        open_attention_session(model_path, Path("libm.so.6"))


def test_model_without_the_custom_ops_is_refused(library) -> None:
    plain = ModelStore().require(ModelName.FACE_LANDMARK)
    with pytest.raises(DelegateUnavailable, match=r"claimed .*0.* custom-op nodes"):
        open_attention_session(plain, library)


def test_options_the_delegate_cannot_read_are_refused(model_path, library, tmp_path) -> None:
    """A model whose Landmarks2TransformMatrix options lack `subset_idxs`: the delegate claims
    nothing, LiteRT refuses the delegate, and the reason is the delegate's own."""
    data = model_path.read_bytes()
    assert data.count(b"subset_idxs") == 3
    broken = tmp_path / "attention_without_subset.tflite"
    broken.write_bytes(data.replace(b"subset_idxs", b"subset_idxZ"))
    with pytest.raises(DelegateUnavailable, match="subset_idxs' missing"):
        open_attention_session(broken, library)


def test_status_without_prepared_models(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GAZE_MODEL_DIR", str(tmp_path))
    available, reason = attention_mesh_status()
    assert not available and "models prepare" in reason


def test_status_of_a_working_delegate(model_path, library) -> None:
    available, reason = attention_mesh_status(model_path, library)
    assert available, reason
    assert attention_mesh_status(model_path, library) == (available, reason)  # cached


# ------------------------------------------------------------------------------------------
# Lifetime and threads

def _outputs(session: AttentionSession, inp: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in session.run({session.inputs[0].name: inp}).items()}


def _inputs(count: int) -> list[np.ndarray]:
    base = load_self_check_vector().input
    rng = np.random.default_rng(3)
    return [np.clip(base + rng.normal(0, 0.02, base.shape), 0, 1).astype(np.float32)
            for _ in range(count)]


@pytest.mark.slow
def test_create_run_destroy_cycles_are_identical_and_free_everything(model_path,
                                                                     library) -> None:
    native = NativeLibrary(library)
    inputs = _inputs(3)
    gc.collect()
    live = native.live_objects()
    reference = None
    for _ in range(25):
        with open_attention_session(model_path, library) as s:
            runs = [_outputs(s, x) for x in inputs]
        if reference is None:
            reference = runs
        for got, want in zip(runs, reference, strict=True):
            for name in want:
                np.testing.assert_array_equal(got[name], want[name])
    gc.collect()
    assert native.live_objects() == live


@pytest.mark.slow
def test_four_threads_with_their_own_interpreters_agree(model_path, library) -> None:
    inputs = _inputs(4)
    with open_attention_session(model_path, library) as s:
        reference = [_outputs(s, x) for x in inputs]
    errors: list[BaseException] = []
    results: dict[int, list[dict[str, np.ndarray]]] = {}

    def work(thread: int) -> None:
        try:
            with open_attention_session(model_path, library) as own:
                results[thread] = [_outputs(own, inputs[(thread + i) % 4]) for i in range(40)]
        except BaseException as exc:  # delivered to the main thread's assertion
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for thread, runs in results.items():
        for i, got in enumerate(runs):
            want = reference[(thread + i) % 4]
            for name in want:
                np.testing.assert_array_equal(got[name], want[name])
