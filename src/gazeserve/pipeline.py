"""One frame through the stages: detect (or track), mesh, irises, geometry.

`GazeEngine` holds models and nothing per call: per-stream state lives in `StreamState`, and
each thread borrows its own set of interpreters from a pool, so one engine serves many threads
and streams at once.
"""

from __future__ import annotations

import enum
import queue
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ParamSpec, Self, TypeVar

import numpy as np
import numpy.typing as npt

from gazeserve.gaze.face import FaceGeometry, GeometryOptions, analyze_face
from gazeserve.gaze.nominal_iris import with_nominal_irises
from gazeserve.gaze.quality import assess_quality
from gazeserve.imaging.decode import DEFAULT_MAX_PIXELS, decode_image
from gazeserve.models import ModelName, ModelStore
from gazeserve.models.selection import ModelFiles, resolve_model_files
from gazeserve.results import EyeResult, FaceResult, FrameInfo, GazeResult, StageTimings
from gazeserve.runtime import InferenceSession, RuntimeKind, open_session
from gazeserve.runtime.batched import (
    BATCHABLE_STAGES,
    Batching,
    BatchListener,
    batches_correctly,
)
from gazeserve.runtime.litert_attention import (
    DelegateUnavailable,
    attention_mesh_status,
    open_attention_session,
)
from gazeserve.runtime.providers import CPU, available_providers, choose_providers
from gazeserve.scheduling.batcher import BatcherOptions
from gazeserve.streams import StreamState
from gazeserve.vision.attention_mesh import AttentionMeshModel, MeshResult478
from gazeserve.vision.detector import Detection, DetectorKind, FaceDetector, merge_detections
from gazeserve.vision.iris import IrisModel, assemble_478, eye_crops
from gazeserve.vision.landmarks import (
    PRESENCE_THRESHOLD,
    FaceMeshModel,
    MeshResult,
    roi_from_detection,
    roi_from_landmarks,
)
from gazeserve.vision.roi import RotatedRect, bounding_box_px

ImageRGB = npt.NDArray[np.uint8]

MAX_FACES_LIMIT = 16


class MeshKind(enum.StrEnum):
    """Which face mesh produces the 478 points."""

    AUTO = "auto"
    """`attention` where its delegate loads and passes its self-check, else `split`."""
    ATTENTION = "attention"
    """MediaPipe's one-pass attention mesh (LiteRT + gazeserve's custom-op delegate)."""
    SPLIT = "split"
    """The face mesh plus the iris model on each eye: every runtime can run it."""


P = ParamSpec("P")
T = TypeVar("T")


class InvalidImageError(ValueError):
    """The array handed to `process` is not an H x W x 3 uint8 image."""


@dataclass(frozen=True)
class EngineOptions:
    """How the engine loads and runs its models. Validated when built."""

    model_dir: Path | None = None
    runtime: RuntimeKind = RuntimeKind.LITERT
    num_threads: int = 1
    """Threads per interpreter; one per call measured best on 2 shared cores."""
    max_faces: int = 1
    """Faces reported per single image; a stream tracks its largest face."""
    full_range_fallback: bool = True
    """For single images, also run the full-range detector when the short-range one finds
    fewer than `max_faces` faces (small or distant faces, which MediaPipe's FaceMesh misses)."""
    refine_eyes: bool = True
    """Replace the mesh's eye regions with the iris model's closer estimate (MediaPipe's iris
    tracking does the same); False keeps the 468 mesh points exactly as the mesh model gives
    them (MediaPipe FaceMesh with refine_landmarks=False)."""
    mesh: MeshKind = MeshKind.AUTO
    """Attention mesh or split mesh + iris; `refine_eyes` applies to the split mesh only."""
    max_pixels: int = DEFAULT_MAX_PIXELS
    geometry: GeometryOptions = field(default_factory=GeometryOptions)
    use_quantized: bool = False
    """INT8 models where present, verified and accepted (ONNX Runtime only); else float32,
    with the reason logged and kept in `GazeEngine.model_files.reasons`."""
    providers: tuple[str, ...] = ()
    """ONNX Runtime providers, best first (`GAZE_PROVIDERS`); empty chooses automatically."""
    max_batch: int = 1
    """Frames whose face (and eye) crops run as one batch when several threads process frames
    at once (`GAZE_MAX_BATCH`); 1 runs each frame's crops alone. Only models that batch right
    on the runtime are batched (`runtime.batched.batches_correctly`), so never the attention
    mesh, nor LiteRT's iris model."""
    batch_wait_ms: float = 2.0
    """Longest a crop waits for other frames' crops to join its batch (`GAZE_BATCH_WAIT_MS`);
    a batch holding every frame in the engine runs at once."""

    def __post_init__(self) -> None:
        if self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1, got {self.num_threads}")
        BatcherOptions(self.max_batch, self.batch_wait_ms)  # raises, naming the setting
        if not 1 <= self.max_faces <= MAX_FACES_LIMIT:
            raise ValueError(
                f"max_faces must be between 1 and {MAX_FACES_LIMIT}, got {self.max_faces}")
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels must be positive, got {self.max_pixels}")
        object.__setattr__(self, "runtime", RuntimeKind(self.runtime))
        object.__setattr__(self, "providers", tuple(self.providers))
        object.__setattr__(self, "mesh", MeshKind(self.mesh))


class _Models:
    """One thread's interpreters for every stage."""

    def __init__(self, store: ModelStore, files: ModelFiles, options: EngineOptions,
                 providers: list[str] | None, mesh_kind: MeshKind, batching: Batching) -> None:
        def session(name: ModelName) -> InferenceSession:
            return batching.session(name) or open_session(
                options.runtime, files.paths[name], options.num_threads, providers)

        self._sessions = [
            session(ModelName.FACE_DETECTOR_SHORT),
            session(ModelName.FACE_DETECTOR_FULL),
            session(ModelName.FACE_LANDMARK),
            session(ModelName.IRIS_LANDMARK),
        ]
        short, full, mesh, iris = self._sessions
        self.detector = FaceDetector(short, DetectorKind.SHORT_RANGE)
        self.full_range_detector = FaceDetector(full, DetectorKind.FULL_RANGE)
        self.mesh = FaceMeshModel(mesh)
        self.iris = IrisModel(iris)
        self.attention: AttentionMeshModel | None = None
        if mesh_kind is MeshKind.ATTENTION:
            attention = open_attention_session(
                store.require(ModelName.FACE_LANDMARK_WITH_ATTENTION))
            self._sessions.append(attention)
            self.attention = AttentionMeshModel(attention)

    def run_mesh(self, image: ImageRGB, roi: RotatedRect) -> MeshResult | MeshResult478:
        return (self.attention or self.mesh).run(image, roi)

    def close(self) -> None:
        for s in self._sessions:
            s.close()


class GazeEngine:
    """Gaze and attention from RGB frames. Thread-safe; create it once and share it."""

    def __init__(self, options: EngineOptions, store: ModelStore,
                 batch_listener: BatchListener | None = None) -> None:
        self.options = options
        self._store = store
        self._idle: queue.SimpleQueue[_Models] = queue.SimpleQueue()
        self._all: list[_Models] = []
        self._closed = False
        self.mesh_kind, self.mesh_reason = _choose_mesh(options, store)
        self.providers = _providers_for(options)
        """ONNX Runtime providers, best first (None for LiteRT)."""
        self.model_files = resolve_model_files(
            store, options.runtime, options.use_quantized,
            self.providers[0] if self.providers else CPU)
        self.batching, self.batching_reason = self._new_batching(batch_listener)
        self._release(self._new_models())  # load once now: a bad model fails at creation

    @classmethod
    def create(cls, options: EngineOptions | None = None,
               batch_listener: BatchListener | None = None) -> GazeEngine:
        """`batch_listener` is told each cross-stream batch's model and size (metrics)."""
        options = options or EngineOptions()
        return cls(options, ModelStore(options.model_dir), batch_listener)

    def new_stream(self, stream_id: str | None = None) -> StreamState:
        return StreamState(stream_id) if stream_id else StreamState()

    def process_bytes(self, data: bytes, stream: StreamState | None = None,
                      timestamp_ms: float | None = None, include_landmarks: bool = False,
                      max_faces: int | None = None) -> GazeResult:
        """Decodes an encoded image (JPEG, PNG, WebP) and processes it."""
        start = time.perf_counter_ns()
        image = decode_image(data, max_pixels=self.options.max_pixels)
        decode_ms = (time.perf_counter_ns() - start) / 1e6
        return self.process(image, stream, timestamp_ms, include_landmarks, max_faces,
                            decode_ms=decode_ms)

    def process(self, image_rgb: ImageRGB, stream: StreamState | None = None,
                timestamp_ms: float | None = None, include_landmarks: bool = False,
                max_faces: int | None = None, decode_ms: float = 0.0) -> GazeResult:
        """One frame. With a stream, tracking carries over from its previous frame.

        `max_faces` overrides the engine's option for this single image (streams track one).
        """
        _check_image(image_rgb)
        if max_faces is not None and not 1 <= max_faces <= MAX_FACES_LIMIT:
            raise ValueError(
                f"max_faces must be between 1 and {MAX_FACES_LIMIT}, got {max_faces}")
        if self._closed:
            raise RuntimeError("engine is closed")
        faces_wanted = max_faces or self.options.max_faces
        if stream is None:
            return self._process(image_rgb, None, timestamp_ms, include_landmarks, faces_wanted,
                                 decode_ms)
        with stream.lock:
            stream.check_timestamp(timestamp_ms)
            return self._process(image_rgb, stream, timestamp_ms, include_landmarks, 1, decode_ms)

    def process_landmarks(self, landmarks_px: npt.NDArray[np.floating[Any]], width: int,
                          height: int, stream: StreamState | None = None,
                          timestamp_ms: float | None = None) -> GazeResult:
        """Everything after the mesh, for landmarks a client computed itself (478 or 468 x 3
        in image pixels, z on x's scale): the frame never reaches the service.

        With 468 points the irises are unknown: gaze is then the head's direction and the
        result reports the iris fields as missing.
        """
        points = np.asarray(landmarks_px, np.float32)
        if points.ndim != 2 or points.shape[0] not in (468, 478) or points.shape[1] != 3:
            raise ValueError(f"expected 478 or 468 landmarks of 3 values, got shape "
                             f"{points.shape}")
        if width < 1 or height < 1:
            raise ValueError(f"width and height must be positive, got {width} x {height}")
        if stream is None:
            return self._process_landmarks(points, width, height, None, timestamp_ms)
        with stream.lock:
            stream.check_timestamp(timestamp_ms)
            return self._process_landmarks(points, width, height, stream, timestamp_ms)

    def _process_landmarks(self, points: npt.NDArray[np.float32], width: int, height: int,
                           stream: StreamState | None, timestamp_ms: float | None) -> GazeResult:
        start = time.perf_counter_ns()
        has_irises = points.shape[0] == 478
        full = points if has_irises else with_nominal_irises(points)
        geometry = analyze_face(full, (width, height), self.options.geometry,
                                irises_measured=has_irises)
        face = _face_result(geometry, 1.0, full)
        if not has_irises:
            face = replace(face, left_eye=_without_iris(face.left_eye),
                           right_eye=_without_iris(face.right_eye),
                           gaze=replace(face.gaze, displacement=None))
        timings = StageTimings()
        faces: list[FaceResult] = [face]
        events: list[dict[str, Any]] = []
        if stream is not None:
            stream.frames += 1
            faces, events = self._observe(stream, faces, None, (width, height), timestamp_ms,
                                          timings)
        else:
            faces = [replace(face, quality=assess_quality(face, (width, height)))]
        timings.gaze = timings.total = (time.perf_counter_ns() - start) / 1e6
        frame = FrameInfo(width, height, timestamp_ms, stream.stream_id if stream else None)
        return GazeResult(frame, faces, timings, False, events)

    def warm_up(self) -> None:
        """Runs every model once, so the first real frame does not pay for lazy set-up."""
        blank = np.zeros((192, 192, 3), np.uint8)
        roi = RotatedRect(96.0, 96.0, 192.0, 192.0)
        self.batching.warm_up()
        with self._lease() as models:
            models.detector.detect(blank)
            models.full_range_detector.detect(blank)
            mesh = models.run_mesh(blank, roi)
            if models.attention is None:
                models.iris.run_pair(blank, *eye_crops(mesh.landmarks_px))

    def _process(self, image: ImageRGB, stream: StreamState | None, timestamp_ms: float | None,
                 include_landmarks: bool, max_faces: int, decode_ms: float) -> GazeResult:
        timings = StageTimings(decode=decode_ms)
        start = time.perf_counter_ns()
        height, width = image.shape[:2]
        with self._lease() as models, self.batching.frame() as batched_stages:
            meshes, detector_ran = self._meshes(models, image, stream, max_faces, timings)
            batched_stages.passed(ModelName.FACE_LANDMARK)
            faces = [self._face(models, image, mesh, timings, include_landmarks)
                     for mesh in meshes]
        events: list[dict[str, Any]] = []
        if stream is not None:
            stream.frames += 1
            stream.detector_runs += detector_ran
            stream.roi = roi_from_landmarks(meshes[0].landmarks_px) if meshes else None
            faces, events = self._observe(stream, faces, image, (width, height), timestamp_ms,
                                          timings)
        else:
            faces = [replace(f, quality=assess_quality(f, (width, height))) for f in faces]
        timings.total = decode_ms + (time.perf_counter_ns() - start) / 1e6
        frame = FrameInfo(width, height, timestamp_ms, stream.stream_id if stream else None)
        return GazeResult(frame, faces, timings, detector_ran, events)

    @staticmethod
    def _observe(stream: StreamState, faces: list[FaceResult], image: ImageRGB | None,
                 frame_size: tuple[int, int], timestamp_ms: float | None, timings: StageTimings
                 ) -> tuple[list[FaceResult], list[dict[str, Any]]]:
        """The stream's signals (calibration, smoothing, quality, events) on its tracked face."""
        start = time.perf_counter_ns()
        face, events = stream.signals.observe(faces[0] if faces else None, image, frame_size,
                                              stream.frame_time_s(timestamp_ms))
        timings.gaze += (time.perf_counter_ns() - start) / 1e6
        return ([face] if face is not None else []), events

    def _meshes(self, models: _Models, image: ImageRGB, stream: StreamState | None,
                max_faces: int, timings: StageTimings
                ) -> tuple[list[MeshResult | MeshResult478], bool]:
        if stream is not None and stream.roi is not None:
            mesh = _timed(timings, "landmarks", models.run_mesh, image, stream.roi)
            if mesh.presence >= PRESENCE_THRESHOLD:
                return [mesh], False
            stream.reset_tracking()
        detections = _timed(timings, "detect", models.detector.detect, image)
        if len(detections) < max_faces and stream is None and self.options.full_range_fallback:
            distant = _timed(timings, "detect", models.full_range_detector.detect, image)
            detections = merge_detections(detections, distant)
        meshes: list[MeshResult | MeshResult478] = []
        for detection in _choose(detections, stream is not None, max_faces):
            mesh = _timed(timings, "landmarks", models.run_mesh, image,
                          roi_from_detection(detection))
            if mesh.presence >= PRESENCE_THRESHOLD:
                meshes.append(mesh)
        return meshes, True

    def _face(self, models: _Models, image: ImageRGB, mesh: MeshResult | MeshResult478,
              timings: StageTimings, include_landmarks: bool) -> FaceResult:
        if isinstance(mesh, MeshResult478):  # irises came with the mesh
            landmarks = mesh.landmarks_px
        else:
            start = time.perf_counter_ns()
            left, right = models.iris.run_pair(image, *eye_crops(mesh.landmarks_px))
            landmarks = assemble_478(mesh.landmarks_px, left, right, self.options.refine_eyes)
            timings.iris += (time.perf_counter_ns() - start) / 1e6
        start = time.perf_counter_ns()
        height, width = image.shape[:2]
        geometry = analyze_face(landmarks, (width, height), self.options.geometry)
        face = _face_result(geometry, mesh.presence, landmarks, include_landmarks)
        timings.gaze += (time.perf_counter_ns() - start) / 1e6
        return face

    @contextmanager
    def _lease(self) -> Iterator[_Models]:
        try:
            models = self._idle.get_nowait()
        except queue.Empty:
            models = self._new_models()
        try:
            yield models
        finally:
            self._release(models)

    def _new_models(self) -> _Models:
        models = _Models(self._store, self.model_files, self.options, self.providers,
                         self.mesh_kind, self.batching)
        self._all.append(models)
        return models

    def _release(self, models: _Models) -> None:
        self._idle.put(models)

    @property
    def interpreter_sets(self) -> int:
        """How many per-thread model sets exist (one per thread that ran at the same time)."""
        return len(self._all)

    def _new_batching(self, listener: BatchListener | None) -> tuple[Batching, str]:
        """The cross-stream batched models, and why these (for logs and `/readyz`)."""
        options = self.options
        if options.max_batch <= 1:
            return Batching(), "off (max_batch 1)"
        if self.mesh_kind is MeshKind.ATTENTION:
            return Batching(), "off: the attention mesh runs one crop per call"
        names = [n for n in BATCHABLE_STAGES if batches_correctly(options.runtime, n)]
        sessions = {n: open_session(options.runtime, self.model_files.paths[n],
                                    options.num_threads, self.providers, batchable=True)
                    for n in names}
        reason = (f"up to {options.max_batch} frames per batch, waiting up to "
                  f"{options.batch_wait_ms:g} ms: {', '.join(n.value for n in names)}")
        unbatched = [n.value for n in BATCHABLE_STAGES if n not in names]
        if unbatched:
            reason += f" ({', '.join(unbatched)} not: {options.runtime} batches it wrongly)"
        return Batching(sessions, BatcherOptions(options.max_batch, options.batch_wait_ms),
                        listener), reason

    def close(self) -> None:
        self._closed = True
        for models in self._all:
            models.close()
        self.batching.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _choose_mesh(options: EngineOptions, store: ModelStore) -> tuple[MeshKind, str]:
    """The mesh this engine runs, and why (logged by `attention_mesh_status` when refused)."""
    if options.mesh is MeshKind.SPLIT:
        return MeshKind.SPLIT, "split mesh requested"
    if options.runtime is not RuntimeKind.LITERT:
        reason = f"the attention mesh runs on LiteRT only, not {options.runtime}"
    else:
        available, reason = attention_mesh_status(
            store.path(ModelName.FACE_LANDMARK_WITH_ATTENTION))
        if available:
            return MeshKind.ATTENTION, reason
    if options.mesh is MeshKind.ATTENTION:
        raise DelegateUnavailable(reason)
    return MeshKind.SPLIT, reason


def _providers_for(options: EngineOptions) -> list[str] | None:
    if options.runtime is not RuntimeKind.ONNX:
        return None
    return choose_providers(available_providers(), options.providers)


def _check_image(image: object) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 \
            or image.dtype != np.uint8:
        desc = (f"{image.dtype} array of shape {image.shape}" if isinstance(image, np.ndarray)
                else type(image).__name__)
        raise InvalidImageError(f"expected an H x W x 3 uint8 RGB array, got {desc}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InvalidImageError("image has no pixels")


def _face_result(geometry: FaceGeometry, score: float, landmarks_px: npt.NDArray[np.float32],
                 include_landmarks: bool = False) -> FaceResult:
    """The reported face: its geometry, its score and box, the landmarks if asked for."""
    return FaceResult(
        score=score, box_px=bounding_box_px(landmarks_px), head_pose=geometry.head_pose,
        head_translation_mm=geometry.head_translation_mm, left_eye=geometry.left_eye,
        right_eye=geometry.right_eye, gaze=geometry.gaze, on_screen=geometry.on_screen,
        attention=geometry.attention,
        landmarks_px=landmarks_px if include_landmarks else None)


def _without_iris(eye: EyeResult) -> EyeResult:
    return replace(eye, iris_center_px=None, iris_radius_px=None, displacement=None)


def _choose(detections: list[Detection], tracking: bool, max_faces: int) -> list[Detection]:
    """A stream follows its largest face; an image reports its best `max_faces`."""
    if tracking:
        return sorted(detections, key=lambda d: -d.area_px)[:1]
    return detections[:max_faces]


def _timed(timings: StageTimings, stage: str, fn: Callable[P, T], *args: P.args,
           **kwargs: P.kwargs) -> T:
    """Calls fn and adds its duration to one stage's timing."""
    start = time.perf_counter_ns()
    try:
        return fn(*args, **kwargs)
    finally:
        setattr(timings, stage, getattr(timings, stage) + (time.perf_counter_ns() - start) / 1e6)


__all__ = ["EngineOptions", "GazeEngine", "InvalidImageError", "RotatedRect", "StreamState"]
