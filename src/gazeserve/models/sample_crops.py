"""Real model inputs for INT8 calibration and parity checks, made by our own engine.

The engine tracks the face through the sample video (and finds the faces in the sample photos);
the crops are then cut with the pipeline's own functions (`roi_from_landmarks`,
`roi_from_detection`, `eye_crops`) and fed through the vision classes on recording LiteRT
sessions, so each tensor is exactly what the pipeline hands a model, normalisation included,
and the LiteRT float outputs come with it as the reference.

Split: every 4th video frame and all photos (other people, other light) are held back for
parity; the other video frames calibrate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gazeserve.models.registry import ModelName
from gazeserve.models.store import ModelStore
from gazeserve.runtime.base import InferenceSession, Tensor, TensorSpec

Batch = npt.NDArray[np.float32]
VIDEO = "single_face.mp4"
PHOTOS = ("grace_hopper.jpg", "astronaut.png", "single_face.jpg", "multi_face.jpg")
HOLD_BACK_EVERY = 4


class RecordingSession:
    """An `InferenceSession` that keeps every input it is given (and its outputs)."""

    accepts_batches = False  # one crop per call, so each recorded input is one crop

    def __init__(self, inner: InferenceSession) -> None:
        self._inner = inner
        self.inputs_seen: list[Tensor] = []
        self.outputs_seen: list[dict[str, Tensor]] = []

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return self._inner.inputs

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return self._inner.outputs

    def run(self, inputs: dict[str, Tensor]) -> dict[str, Tensor]:
        (value,) = inputs.values()
        out = self._inner.run(inputs)
        self.inputs_seen.append(value[0].copy())
        self.outputs_seen.append({k: v.copy() for k, v in out.items()})
        return out

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> RecordingSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class CropSet:
    """Inputs (N x H x W x 3 float32, as fed to the model) per model, split in two."""

    calibration: dict[ModelName, list[Tensor]] = field(default_factory=dict)
    held_back: dict[ModelName, list[Tensor]] = field(default_factory=dict)

    def calibration_batch(self, name: ModelName) -> Batch:
        return np.stack(self.calibration[name]).astype(np.float32)

    def held_back_batch(self, name: ModelName) -> Batch:
        return np.stack(self.held_back[name]).astype(np.float32)

    def counts(self) -> dict[str, tuple[int, int]]:
        return {n.value: (len(self.calibration.get(n, [])), len(self.held_back.get(n, [])))
                for n in self.calibration}


def collect_crops(store: ModelStore, media: dict[str, Path] | None = None) -> CropSet:
    """Runs the engine on the sample video and photos and returns the crops per model."""
    from gazeserve.imaging.decode import decode_image
    from gazeserve.imaging.video import iter_video_frames
    from gazeserve.pipeline import EngineOptions, GazeEngine, MeshKind
    from gazeserve.runtime.litert import LiteRTSession
    from gazeserve.sample_media import fetch_samples
    from gazeserve.vision.detector import DetectorKind, FaceDetector, merge_detections
    from gazeserve.vision.iris import IrisModel, eye_crops
    from gazeserve.vision.landmarks import FaceMeshModel, roi_from_detection, roi_from_landmarks

    media = media or fetch_samples()
    recorders = {name: RecordingSession(LiteRTSession(store.require(name)))
                 for name in (ModelName.FACE_DETECTOR_SHORT, ModelName.FACE_DETECTOR_FULL,
                              ModelName.FACE_LANDMARK, ModelName.IRIS_LANDMARK)}
    short = FaceDetector(recorders[ModelName.FACE_DETECTOR_SHORT], DetectorKind.SHORT_RANGE)
    full = FaceDetector(recorders[ModelName.FACE_DETECTOR_FULL], DetectorKind.FULL_RANGE)
    mesh_model = FaceMeshModel(recorders[ModelName.FACE_LANDMARK])
    iris_model = IrisModel(recorders[ModelName.IRIS_LANDMARK])
    crops = CropSet()

    def frames() -> Iterator[tuple[npt.NDArray[np.uint8], bool, bool]]:
        """(image, held back, part of a video stream)."""
        for frame in iter_video_frames(media[VIDEO]):
            yield frame.rgb, frame.index % HOLD_BACK_EVERY == HOLD_BACK_EVERY - 1, True
        for name in PHOTOS:
            yield decode_image(media[name].read_bytes()), True, False

    # The split mesh: the pipeline ONNX Runtime serves, whose crops these models receive.
    options = EngineOptions(model_dir=store.model_dir, max_faces=4, mesh=MeshKind.SPLIT)
    with GazeEngine.create(options) as engine:
        stream = engine.new_stream()
        for image, held_back, in_stream in frames():
            marks = {name: len(r.inputs_seen) for name, r in recorders.items()}
            result = engine.process(image, stream if in_stream else None,
                                    include_landmarks=True)
            detections = merge_detections(short.detect(image), full.detect(image))
            rois = [roi_from_landmarks(face.landmarks_px) for face in result.faces
                    if face.landmarks_px is not None]
            rois += [roi_from_detection(d) for d in detections[:len(rois)]]
            for roi in rois:
                mesh = mesh_model.run(image, roi)
                for eye in eye_crops(mesh.landmarks_px):
                    iris_model.run(image, eye)
            target = crops.held_back if held_back else crops.calibration
            for name, recorder in recorders.items():
                target.setdefault(name, []).extend(recorder.inputs_seen[marks[name]:])
    for recorder in recorders.values():
        recorder.close()
    return crops
