"""Cross-stream batching in the engine, on the real models: streams processed at once share
batches, every result equals the unbatched engine's, and nothing waits for a frame that will
not come."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from gazeserve import GazeEngine
from gazeserve.models import ModelStore
from gazeserve.models.registry import ModelName
from gazeserve.pipeline import EngineOptions, MeshKind
from gazeserve.runtime import RuntimeKind
from gazeserve.runtime.batched import Batching, batches_correctly
from gazeserve.runtime.litert import LiteRTSession
from gazeserve.runtime.onnx import OnnxSession
from gazeserve.scheduling.batcher import BatcherOptions
from tests.conftest import video_frames

STREAMS = 4
FRAMES = 12
PATIENT_MS = 1000.0
"""A wait no batch should sit out: batches close because every expected frame is there."""
SAME_PX = 1e-3


@pytest.fixture(scope="module")
def frames(media: dict[str, Path]) -> list[np.ndarray]:
    return video_frames(media["single_face.mp4"], FRAMES + STREAMS)


class SizeLog:
    """The batch listener: every batch's model and crop count."""

    def __init__(self) -> None:
        self.sizes: list[tuple[ModelName, int]] = []
        self._lock = threading.Lock()

    def __call__(self, model: ModelName, crops: int) -> None:
        with self._lock:
            self.sizes.append((model, crops))

    def largest(self, model: ModelName) -> int:
        return max((n for m, n in self.sizes if m is model), default=0)


def run_streams(engine: GazeEngine, frames: list[np.ndarray]) -> list[list[np.ndarray]]:
    """STREAMS streams at once, one thread each, each starting at its own frame."""
    barrier = threading.Barrier(STREAMS)

    def one(k: int) -> list[np.ndarray]:
        stream = engine.new_stream(f"s{k}")
        barrier.wait()
        out = []
        for i in range(FRAMES):
            result = engine.process(frames[k + i], stream, timestamp_ms=i * 33.0,
                                    include_landmarks=True)
            assert result.faces and result.faces[0].landmarks_px is not None
            out.append(result.faces[0].landmarks_px)
        return out

    with ThreadPoolExecutor(STREAMS) as pool:
        return list(pool.map(one, range(STREAMS)))


@pytest.fixture(scope="module", params=[RuntimeKind.LITERT, RuntimeKind.ONNX], ids=str)
def runtime(request: pytest.FixtureRequest, derived_store: ModelStore) -> RuntimeKind:
    kind: RuntimeKind = request.param
    return kind


def options(runtime: RuntimeKind, max_batch: int = 1) -> EngineOptions:
    return EngineOptions(runtime=runtime, mesh=MeshKind.SPLIT, max_batch=max_batch,
                         batch_wait_ms=PATIENT_MS)


@pytest.fixture(scope="module")
def unbatched(runtime: RuntimeKind, frames: list[np.ndarray]) -> list[list[np.ndarray]]:
    with GazeEngine.create(options(runtime)) as engine:
        assert not engine.batching.enabled
        return run_streams(engine, frames)


def test_streams_share_batches_and_get_the_unbatched_results(
        runtime: RuntimeKind, frames: list[np.ndarray],
        unbatched: list[list[np.ndarray]]) -> None:
    sizes = SizeLog()
    with GazeEngine.create(options(runtime, STREAMS), batch_listener=sizes) as engine:
        batched = run_streams(engine, frames)
        stats = engine.batching.stats()
    for a, b in zip(batched, unbatched, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x, y, rtol=0, atol=SAME_PX)
    mesh = stats[ModelName.FACE_LANDMARK.value]
    assert mesh.frames == STREAMS * FRAMES
    assert sizes.largest(ModelName.FACE_LANDMARK) == STREAMS, sizes.sizes
    assert mesh.batches < mesh.frames
    if runtime is RuntimeKind.ONNX:
        iris = stats[ModelName.IRIS_LANDMARK.value]
        assert iris.crops == 2 * iris.frames == 2 * STREAMS * FRAMES  # both eyes, one item
        assert sizes.largest(ModelName.IRIS_LANDMARK) == 2 * STREAMS
    else:
        assert ModelName.IRIS_LANDMARK.value not in stats  # LiteRT batches it wrongly
        assert "iris_landmark not" in engine.batching_reason


def test_a_lone_stream_never_waits_for_a_batch(runtime: RuntimeKind,
                                               frames: list[np.ndarray]) -> None:
    """With a 1 s wait, each frame would take a second if the batch waited for company."""
    with GazeEngine.create(options(runtime, 8)) as engine:
        stream = engine.new_stream("alone")
        start = time.monotonic()
        for i in range(8):
            assert engine.process(frames[i], stream, timestamp_ms=i * 33.0).faces
        assert time.monotonic() - start < 4 * PATIENT_MS / 1000


def test_a_frame_without_a_face_releases_the_batch_waiting_for_it(
        runtime: RuntimeKind, frames: list[np.ndarray]) -> None:
    """A blank frame is expected at the mesh stage until its detector finds nothing; then the
    tracked stream's batch must run at once, not after the 1 s wait."""
    blank = np.zeros_like(frames[0])
    with GazeEngine.create(options(runtime, 2)) as engine:
        def faces(image: np.ndarray, stream_id: str) -> int:
            stream = engine.new_stream(stream_id)
            return sum(len(engine.process(image, stream, timestamp_ms=i * 33.0).faces)
                       for i in range(6))

        start = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            found = list(pool.map(faces, [frames[0], blank], ["face", "blank"]))
        elapsed = time.monotonic() - start
    assert found == [6, 0]
    assert elapsed < 4 * PATIENT_MS / 1000


def test_several_faces_of_one_image_batch_alongside_streams(
        runtime: RuntimeKind, media: dict[str, Path]) -> None:
    """A single image runs the mesh once per face, each time still counted as expected."""
    from tests.conftest import read_rgb

    group = read_rgb(media["multi_face.jpg"])
    with GazeEngine.create(options(runtime)) as plain:
        expected = plain.process(group, max_faces=4, include_landmarks=True)
    with GazeEngine.create(options(runtime, 4)) as engine, ThreadPoolExecutor(2) as pool:
        results = list(pool.map(
            lambda _: engine.process(group, max_faces=4, include_landmarks=True), range(2)))
    assert len(expected.faces) >= 2
    for result in results:
        assert len(result.faces) == len(expected.faces)
        for got, want in zip(result.faces, expected.faces, strict=True):
            assert got.landmarks_px is not None and want.landmarks_px is not None
            np.testing.assert_allclose(got.landmarks_px, want.landmarks_px, rtol=0,
                                       atol=SAME_PX)


def test_the_attention_mesh_is_never_batched(derived_store: ModelStore) -> None:
    with GazeEngine.create(EngineOptions(mesh=MeshKind.AUTO, max_batch=8)) as engine:
        if engine.mesh_kind is MeshKind.ATTENTION:
            assert not engine.batching.enabled
            assert "attention mesh" in engine.batching_reason
        else:  # no delegate on this machine: the split mesh batches instead
            assert engine.batching.enabled


@pytest.fixture
def iris_batching(derived_store: ModelStore) -> Iterator[Batching]:
    from gazeserve.models.manifest import DerivedSpec, Precision

    path = derived_store.model_dir / DerivedSpec(ModelName.IRIS_LANDMARK,
                                                 Precision.FLOAT32).filename
    batching = Batching({ModelName.IRIS_LANDMARK: OnnxSession(path)},
                        BatcherOptions(max_batch=2, max_wait_ms=PATIENT_MS))
    yield batching
    batching.close()


def test_a_failing_batch_fails_each_of_its_callers_and_the_next_batch_runs(
        iris_batching: Batching) -> None:
    session = iris_batching.session(ModelName.IRIS_LANDMARK)
    assert session is not None
    name = session.inputs[0].name
    good = {name: np.zeros((2, 64, 64, 3), np.float32)}
    bad = {name: np.zeros((1, 63, 64, 3), np.float32)}  # cannot join the others

    def call(inputs: dict[str, np.ndarray]) -> object:
        with iris_batching.frame():
            try:
                return session.run(inputs)
            except Exception as exc:  # numpy's ValueError, or ONNX Runtime's InvalidArgument
                return exc

    barrier = threading.Barrier(2)

    def at_once(inputs: dict[str, np.ndarray]) -> object:
        barrier.wait()
        return call(inputs)

    with ThreadPoolExecutor(2) as pool:
        outcomes = list(pool.map(at_once, [good, bad]))
    kinds = Counter("ok" if isinstance(o, dict) else "failed" for o in outcomes)
    # Both joined one batch and both failed, or (a slow thread) each ran alone: then only the
    # bad one failed. Either way the good input is never answered with the wrong rows.
    assert kinds in (Counter({"failed": 2}), Counter({"ok": 1, "failed": 1}))
    assert not isinstance(outcomes[1], dict)
    result = call(good)
    assert isinstance(result, dict)
    assert all(v.shape[0] == 2 for v in result.values())


def test_a_session_that_cannot_batch_is_refused(derived_store: ModelStore) -> None:
    assert not batches_correctly(RuntimeKind.LITERT, ModelName.IRIS_LANDMARK)
    with pytest.raises(ValueError, match="cannot be batched"):
        Batching({ModelName.IRIS_LANDMARK:
                  LiteRTSession(derived_store.require(ModelName.IRIS_LANDMARK))})


def test_a_batchable_litert_mesh_session_gives_each_item_its_single_result(
        derived_store: ModelStore) -> None:
    path = derived_store.require(ModelName.FACE_LANDMARK)
    rng = np.random.default_rng(7)
    inputs = rng.random((3, 192, 192, 3), np.float32)
    with LiteRTSession(path, batchable=True) as batched, LiteRTSession(path) as single:
        name = single.inputs[0].name
        together = batched.run({name: inputs})
        for i in range(3):
            for key, value in single.run({name: inputs[i:i + 1]}).items():
                np.testing.assert_allclose(together[key][i:i + 1], value, rtol=0, atol=1e-4)
        assert batched.run({name: inputs[:1]}).keys() == together.keys()
