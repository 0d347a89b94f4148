"""Attention mesh (one call, our delegate) against the split mesh + two iris calls, one thread.

    python scripts/bench_attention_mesh.py [--rounds 300]

Both paths run on the same face ROI of a real photo, interleaved round by round so that load on
the machine hits both alike; reports medians and p90 in ms and their ratio, for the bare model
calls and for the whole stage (crop, model, projection, 478-point assembly).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import cv2
import numpy as np

from gazeserve.models import ModelName, ModelStore
from gazeserve.runtime import RuntimeKind, open_session
from gazeserve.runtime.litert_attention import open_attention_session
from gazeserve.sample_media import fetch_samples
from gazeserve.vision.attention_mesh import AttentionMeshModel
from gazeserve.vision.detector import DetectorKind, FaceDetector
from gazeserve.vision.iris import IrisModel, assemble_478, eye_crops
from gazeserve.vision.landmarks import FaceMeshModel, roi_from_detection

WARMUP = 30


def _ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter_ns()
    fn()
    return (time.perf_counter_ns() - start) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--photo", default="grace_hopper.jpg")
    args = parser.parse_args()

    store = ModelStore()
    image = cv2.cvtColor(cv2.imread(str(fetch_samples()[args.photo])), cv2.COLOR_BGR2RGB)
    with open_session(RuntimeKind.LITERT, store.require(ModelName.FACE_DETECTOR_SHORT)) as s:
        roi = roi_from_detection(FaceDetector(s, DetectorKind.SHORT_RANGE).detect(image)[0])

    attention_session = open_attention_session(
        store.require(ModelName.FACE_LANDMARK_WITH_ATTENTION))
    mesh_session = open_session(RuntimeKind.LITERT, store.require(ModelName.FACE_LANDMARK))
    iris_session = open_session(RuntimeKind.LITERT, store.require(ModelName.IRIS_LANDMARK))
    attention = AttentionMeshModel(attention_session)
    mesh, iris = FaceMeshModel(mesh_session), IrisModel(iris_session)

    face_in = {attention_session.inputs[0].name: np.random.default_rng(0).random(
        (1, 192, 192, 3), dtype=np.float32)}
    mesh_in = {mesh_session.inputs[0].name: face_in[attention_session.inputs[0].name]}
    eye_in = {iris_session.inputs[0].name: np.random.default_rng(1).random(
        (1, 64, 64, 3), dtype=np.float32)}

    def split_stage() -> object:
        result = mesh.run(image, roi)
        left, right = eye_crops(result.landmarks_px)
        return assemble_478(result.landmarks_px, iris.run(image, left), iris.run(image, right))

    cases: dict[str, Callable[[], object]] = {
        "attention model call": lambda: attention_session.run(face_in),
        "split: mesh + 2 iris calls": lambda: (mesh_session.run(mesh_in),
                                               iris_session.run(eye_in),
                                               iris_session.run(eye_in)),
        "attention stage (crop..478 px)": lambda: attention.run(image, roi),
        "split stage (crop..478 px)": split_stage,
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for round_ in range(WARMUP + args.rounds):
        for name, fn in cases.items():
            elapsed = _ms(fn)
            if round_ >= WARMUP:
                times[name].append(elapsed)
    for name, values in times.items():
        print(f"{name:32s} median {np.median(values):6.3f} ms   p90 "
              f"{np.percentile(values, 90):6.3f} ms")
    ratio_calls = np.median(times["split: mesh + 2 iris calls"]) / np.median(
        times["attention model call"])
    ratio_stage = np.median(times["split stage (crop..478 px)"]) / np.median(
        times["attention stage (crop..478 px)"])
    print(f"split / attention: model calls {ratio_calls:.2f}x, whole stage {ratio_stage:.2f}x")


if __name__ == "__main__":
    main()
