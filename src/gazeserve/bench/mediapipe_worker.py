"""MediaPipe 0.10.21's legacy FaceMesh, timed; runs inside the MediaPipe venv, not gazeserve's.

Run by `gazeserve.bench.mediapipe_ref` as `python -I mediapipe_worker.py`, so it may import only
the standard library, numpy and mediapipe. Reads from stdin one JSON header line

    {"count", "height", "width"}

followed by `count` frames of H x W x 3 uint8 RGB pixels back to back, and answers one line
`{"mediapipe": version, "sha256": of the pixels received}`. Then, for each command line

    {"scenario": name, "order": [frame indices], "warmup", "threads"}

it runs that scenario on the frames it holds and answers one line
`{"name", "mode", "threads", "latencies_ms", "wall_s", "faces_found"}` (or `{"error": text}`),
until stdin closes. The host interleaves these with its own scenarios, so slow drifts of the
machine's load touch both sides alike.

Only the FaceMesh calls are timed (`perf_counter_ns` around each): for "new_instance" that is
constructing the FaceMesh, one `process` and closing it; otherwise one `process`.
Scenarios: "new_instance" (a new FaceMesh per frame), "static" (one reused instance,
static_image_mode=True), "tracking" (one reused instance, video mode), "threads" (one tracking
instance per thread; one FaceMesh must never be shared by threads: it crashes or mixes faces).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import traceback
from typing import Any

import numpy as np
from numpy.typing import NDArray

try:
    import mediapipe as mp  # type: ignore[import-not-found]
except ImportError:  # only so mypy and ruff can read this file from gazeserve's own venv
    mp = None

MIN_DETECTION_CONFIDENCE = 0.5
"""FaceMesh's default, stated so runs are comparable."""

Frame = NDArray[np.uint8]


def face_mesh(static_image_mode: bool) -> Any:
    """The configuration the comparison is about: refine_landmarks=True (478 points)."""
    if mp is None:
        raise RuntimeError("mediapipe is not installed in this interpreter")
    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=static_image_mode, max_num_faces=1, refine_landmarks=True,
        min_detection_confidence=MIN_DETECTION_CONFIDENCE)


def _timed_calls(mesh: Any, frames: list[Frame], order: list[int]) -> tuple[list[float], int]:
    latencies: list[float] = []
    faces = 0
    for index in order:
        start = time.perf_counter_ns()
        result = mesh.process(frames[index])
        latencies.append((time.perf_counter_ns() - start) / 1e6)
        faces += bool(result.multi_face_landmarks)
    return latencies, faces


def _warm(mesh: Any, frames: list[Frame], order: list[int], warmup: int) -> None:
    for i in range(warmup):
        mesh.process(frames[order[i % len(order)]])


def new_instance(frames: list[Frame], order: list[int], count: int) -> dict[str, Any]:
    with face_mesh(True) as mesh:  # loads the shared libraries once, untimed
        mesh.process(frames[order[0]])
    latencies: list[float] = []
    faces = 0
    wall = time.perf_counter()
    for index in order[:count]:
        start = time.perf_counter_ns()
        with face_mesh(True) as mesh:
            result = mesh.process(frames[index])
        latencies.append((time.perf_counter_ns() - start) / 1e6)
        faces += bool(result.multi_face_landmarks)
    return _scenario("new_instance", "single", 1, latencies, time.perf_counter() - wall, faces)


def reused(frames: list[Frame], order: list[int], warmup: int, static: bool) -> dict[str, Any]:
    with face_mesh(static) as mesh:
        _warm(mesh, frames, order, warmup)
        wall = time.perf_counter()
        latencies, faces = _timed_calls(mesh, frames, order)
        wall = time.perf_counter() - wall
    return _scenario("static" if static else "tracking", "single" if static else "tracking", 1,
                     latencies, wall, faces)


def threaded(frames: list[Frame], order: list[int], warmup: int, threads: int) -> dict[str, Any]:
    """One tracking instance per thread, every thread over the whole `order`, started together."""
    meshes = [face_mesh(False) for _ in range(threads)]
    results: list[tuple[list[float], int]] = [([], 0)] * threads
    errors: list[Exception] = []
    barrier = threading.Barrier(threads + 1)

    def work(i: int) -> None:
        try:
            _warm(meshes[i], frames, order, warmup)
        except Exception as exc:
            errors.append(exc)
        barrier.wait()
        if not errors:
            try:
                results[i] = _timed_calls(meshes[i], frames, order)
            except Exception as exc:
                errors.append(exc)

    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    wall = time.perf_counter()
    for thread in pool:
        thread.join()
    wall = time.perf_counter() - wall
    for mesh in meshes:
        mesh.close()
    if errors:
        raise errors[0]
    latencies = [v for lat, _ in results for v in lat]
    return _scenario("threads", "tracking", threads, latencies, wall,
                     sum(f for _, f in results))


def _scenario(name: str, mode: str, threads: int, latencies: list[float], wall_s: float,
              faces: int) -> dict[str, Any]:
    return {"name": name, "mode": mode, "threads": threads, "latencies_ms": latencies,
            "wall_s": wall_s, "faces_found": faces}


def _read_frames(stream: Any, header: dict[str, Any]) -> tuple[list[Frame], str]:
    shape = (int(header["height"]), int(header["width"]), 3)
    size = shape[0] * shape[1] * 3
    digest = hashlib.sha256()
    frames: list[Frame] = []
    for _ in range(int(header["count"])):
        data = stream.read(size)
        if len(data) != size:
            raise ValueError(f"expected {size} bytes per frame, got {len(data)}")
        digest.update(data)
        frames.append(np.frombuffer(data, dtype=np.uint8).reshape(shape))
    return frames, digest.hexdigest()


def _run(command: dict[str, Any], frames: list[Frame]) -> dict[str, Any]:
    order = [int(i) for i in command["order"]]
    warmup = int(command.get("warmup", 0))
    name = command["scenario"]
    if name == "new_instance":
        return new_instance(frames, order, len(order))
    if name in ("static", "tracking"):
        return reused(frames, order, warmup, static=name == "static")
    if name == "threads":
        return threaded(frames, order, warmup, int(command["threads"]))
    raise ValueError(f"unknown scenario {name!r}")


def main() -> int:
    stdin = sys.stdin.buffer
    # Native code (TFLite, glog) may write to fd 1; keep the real stdout for the answers only.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    try:
        header = json.loads(stdin.readline())
        frames, sha256 = _read_frames(stdin, header)
        if mp is None:
            raise RuntimeError("mediapipe is not installed in this interpreter")
    except Exception:  # reported to the host, which raises with the tail of stderr
        traceback.print_exc()
        return 1
    _answer(answers, {"mediapipe": mp.__version__, "sha256": sha256})
    for line in stdin:
        try:
            answer = _run(json.loads(line), frames)
        except Exception as exc:
            traceback.print_exc()
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        _answer(answers, answer)
    return 0


def _answer(stream: Any, payload: dict[str, Any]) -> None:
    stream.write(json.dumps(payload) + "\n")
    stream.flush()


if __name__ == "__main__":
    sys.exit(main())
