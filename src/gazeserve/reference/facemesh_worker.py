"""MediaPipe 0.10.21 Face Mesh on still images; runs inside the MediaPipe venv, not gazeserve's.

Run by `gazeserve.reference.facemesh` as `python -I facemesh_worker.py`, so it may import only
the standard library, numpy, cv2 and mediapipe. Reads a JSON request on stdin:

    {"images": [paths], "refine_landmarks": bool, "static_image_mode": true}

and writes `{"mediapipe": version, "landmarks_px": [...]}` to stdout, with per image the first
face's landmarks as `[[x_px, y_px, z_px], ...]` (z on x's pixel scale) or null when no face.
Errors go to stderr with a non-zero exit status.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

try:
    import mediapipe as mp  # type: ignore[import-not-found]
except ImportError:  # only so mypy and ruff can read this file from gazeserve's own venv
    mp = None

# Face Mesh's default face detection threshold, stated so runs are comparable.
MIN_DETECTION_CONFIDENCE = 0.5


def landmarks_px(
    images_rgb: Iterable[NDArray[np.uint8]],
    refine_landmarks: bool,
    static_image_mode: bool = True,
) -> list[NDArray[np.float64] | None]:
    """Face Mesh landmarks of the first face in each RGB image, in pixels.

    MediaPipe returns x, y normalised by width and height and z normalised by width; we scale
    all three back so z stays on x's scale. With `static_image_mode=False` the images are taken
    as consecutive video frames (tracking between them), as in MediaPipe.
    """
    if mp is None:
        raise RuntimeError("mediapipe is not installed in this interpreter")
    out: list[NDArray[np.float64] | None] = []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=static_image_mode,
        max_num_faces=1,
        refine_landmarks=refine_landmarks,
        min_detection_confidence=MIN_DETECTION_CONFIDENCE,
    ) as mesh:
        for rgb in images_rgb:
            result = mesh.process(rgb)
            if not result.multi_face_landmarks:
                out.append(None)
                continue
            h, w = rgb.shape[:2]
            norm = np.array([[p.x, p.y, p.z] for p in result.multi_face_landmarks[0].landmark],
                            dtype=np.float64)
            out.append(norm * np.array([w, h, w], dtype=np.float64))
    return out


def read_rgb(path: Path) -> NDArray[np.uint8]:
    """Reads a photo with cv2 and converts BGR to the RGB MediaPipe expects."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"cv2 could not read {path}")
    return np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def _handle(request: dict[str, Any]) -> dict[str, Any]:
    images = [read_rgb(Path(p)) for p in request["images"]]
    faces = landmarks_px(images, bool(request["refine_landmarks"]),
                         bool(request.get("static_image_mode", True)))
    return {
        "mediapipe": mp.__version__,
        "landmarks_px": [None if f is None else f.tolist() for f in faces],
    }


def main() -> int:
    request = json.load(sys.stdin)
    # Native code (TFLite, glog) may write to fd 1; keep the real stdout for the JSON answer only.
    result_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        answer = _handle(request)
    except Exception:  # reported to the host, which raises with the tail of stderr
        traceback.print_exc()
        return 1
    with os.fdopen(result_fd, "w") as stdout:
        json.dump(answer, stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
