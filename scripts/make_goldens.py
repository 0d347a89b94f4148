"""Writes tests/goldens/mediapipe_facemesh.json: MediaPipe 0.10.21 Face Mesh on the sample photos.

Run with gazeserve's own interpreter; the MediaPipe reference venv is created on first use:

    python scripts/make_goldens.py [--out tests/goldens/mediapipe_facemesh.json]

Each photo gets two landmark sets, `refine_false` (468 mesh points) and `refine_true` (478,
with the iris), as `[x_px, y_px, z_px]` rounded to 0.01 px; z is on x's pixel scale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from gazeserve.models.wheels import sha256_of, write_atomically
from gazeserve.reference import MEDIAPIPE_VERSION, run_reference_facemesh
from gazeserve.sample_media import fetch_samples

GOLDEN_PHOTOS = ("grace_hopper.jpg", "astronaut.png", "single_face.jpg")
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "tests" / "goldens" / "mediapipe_facemesh.json"
DECIMALS = 2  # 0.01 px: far below the tolerances the tests compare with

# One landmark per line: `[x,y,z]` lists that json.dumps(indent=...) spread over four lines.
_POINT = re.compile(r"\[\s*(-?[\d.eE+-]+),\s*(-?[\d.eE+-]+),\s*(-?[\d.eE+-]+)\s*\]")


def build_goldens(photos: dict[str, Path]) -> dict[str, object]:
    """Runs the reference twice (without and with iris refinement) on every photo."""
    names = list(photos)
    paths = [photos[n] for n in names]
    plain = run_reference_facemesh(paths, refine_landmarks=False)
    refined = run_reference_facemesh(paths, refine_landmarks=True)
    images: dict[str, object] = {}
    for name, path, pts_plain, pts_refined in zip(names, paths, plain, refined, strict=True):
        if pts_plain is None or pts_refined is None:
            raise SystemExit(f"MediaPipe found no face in {name}; it cannot serve as a golden")
        height, width = _size(path)
        images[name] = {
            "width": width,
            "height": height,
            "sha256": sha256_of(path),
            "refine_false": _rounded(pts_plain),
            "refine_true": _rounded(pts_refined),
        }
    return {"mediapipe": MEDIAPIPE_VERSION, "generated_by": "scripts/make_goldens.py",
            "images": images}


def to_json(goldens: dict[str, object]) -> str:
    """Compact but diffable: structure indented, each landmark on one line."""
    return _POINT.sub(r"[\1,\2,\3]", json.dumps(goldens, indent=1)) + "\n"


def _size(path: Path) -> tuple[int, int]:
    # Decoded as the worker decodes it (cv2 applies EXIF orientation), so bounds checks agree.
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SystemExit(f"cv2 could not read {path}")
    return int(image.shape[0]), int(image.shape[1])


def _rounded(points: NDArray[np.float64]) -> list[list[float]]:
    return [[round(float(v), DECIMALS) for v in point] for point in points]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the JSON")
    args = parser.parse_args(argv)
    samples = fetch_samples()
    goldens = build_goldens({name: samples[name] for name in GOLDEN_PHOTOS})
    text = to_json(goldens)
    write_atomically(args.out, text.encode())
    args.out.chmod(0o644)  # write_atomically's temporary file is private
    print(f"wrote {args.out} ({len(text.encode()) / 1024:.0f} KiB, {len(GOLDEN_PHOTOS)} photos)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
