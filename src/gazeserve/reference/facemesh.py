"""Host side of the reference Face Mesh: runs `facemesh_worker.py` in the MediaPipe venv.

gazeserve is not installed in that venv, so the worker is run by file path with the venv's
interpreter, and request and result cross the process boundary as JSON.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from gazeserve.reference.env import ensure_mediapipe_env

WORKER = Path(__file__).with_name("facemesh_worker.py")

# Landmark counts of the Face Mesh graph: 468 mesh points, plus 10 iris points when refined.
MESH_POINTS = 468
REFINED_POINTS = 478

_STDERR_TAIL_LINES = 20


class ReferenceRunError(RuntimeError):
    """The reference worker failed, timed out, or returned something malformed."""


def run_reference_facemesh(
    images: Sequence[Path],
    refine_landmarks: bool,
    *,
    timeout_s: float = 600.0,
    venv_dir: Path | None = None,
) -> list[NDArray[np.float64] | None]:
    """Runs MediaPipe 0.10.21 Face Mesh (static image mode) on each photo.

    Args:
        images: Photo files cv2 can read.
        refine_landmarks: Adds the 10 iris landmarks (478 points instead of 468).
        timeout_s: Limit for the whole worker run, not counting creating the venv.
        venv_dir: The MediaPipe venv; see `ensure_mediapipe_env` for the default.

    Returns:
        Per image, the first face's landmarks as a (N, 3) array of `[x_px, y_px, z_px]`, with z
        on x's pixel scale as MediaPipe defines it; None where no face was found.

    Raises:
        FileNotFoundError: an image does not exist.
        ReferenceEnvError: the MediaPipe venv could not be made ready.
        ReferenceRunError: the worker failed; the message carries the tail of its stderr.
    """
    paths = [Path(p).absolute() for p in images]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no image at {path}")
    python = ensure_mediapipe_env(venv_dir)
    request = {"images": [str(p) for p in paths], "refine_landmarks": refine_landmarks,
               "static_image_mode": True}
    # -I: the worker must see neither PYTHONPATH nor its own folder (which holds gazeserve code).
    cmd = [str(python), "-I", str(WORKER)]
    try:
        proc = subprocess.run(cmd, input=json.dumps(request), capture_output=True, text=True,
                              check=False, timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise ReferenceRunError(f"reference Face Mesh took longer than {timeout_s:.0f} s on "
                                f"{len(paths)} images") from exc
    if proc.returncode != 0:
        raise ReferenceRunError(f"reference Face Mesh worker exited with {proc.returncode}:\n"
                                f"{_tail(proc.stderr)}")
    expected = REFINED_POINTS if refine_landmarks else MESH_POINTS
    return _parse(proc.stdout, len(paths), expected)


def _parse(stdout: str, n_images: int, n_points: int) -> list[NDArray[np.float64] | None]:
    try:
        faces = json.loads(stdout)["landmarks_px"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ReferenceRunError(f"reference worker wrote no valid result ({exc})") from exc
    if not isinstance(faces, list) or len(faces) != n_images:
        raise ReferenceRunError(f"reference worker did not answer for each of {n_images} images")
    out: list[NDArray[np.float64] | None] = []
    for face in faces:
        if face is None:
            out.append(None)
            continue
        points = np.asarray(face, dtype=np.float64)
        if points.shape != (n_points, 3):
            raise ReferenceRunError(f"reference worker gave landmarks of shape {points.shape}, "
                                    f"expected ({n_points}, 3)")
        out.append(points)
    return out


def _tail(stderr: str) -> str:
    lines = stderr.strip().splitlines()[-_STDERR_TAIL_LINES:]
    return "\n".join(lines) if lines else "(no stderr)"
