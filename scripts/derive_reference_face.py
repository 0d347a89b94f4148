"""Writes src/gazeserve/data/reference_face.npy: the 3D face that head pose is fitted to.

Derived by this project alone: gazeserve's own engine finds the 478 landmarks on frontal sample
photos and on their horizontal mirrors; each set is put in the viewer frame of
`gazeserve.gaze.conventions` (x right, y up, z toward the camera) and scaled to millimetres by
its own horizontal iris diameter (11.7 mm). The sets are aligned on their mesh points (0-467) by
generalised Procrustes analysis (rotation and translation, Gower 1975) and averaged; a photo and
its mirror give left-right swapped views of the same face, so the mean is symmetric. Finally the
mean is put in the canonical frame: origin midway between the eyes (mean of the four eye
corners), x from the right eye's centre to the left eye's, z toward the camera as the photos saw
the face (the mean of their directions toward the camera, each along its line of sight, made
perpendicular to x), y = z cross x (up). Zero head pose is thus the mean pose of frontal
portraits; the mirrors make its yaw and roll exactly symmetric. The irises (468-477) are carried
along: portrait subjects look into the lens, so they give where an iris sits when the eye looks
straight ahead.

    python scripts/derive_reference_face.py [--out src/gazeserve/data/reference_face.npy]
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from gazeserve.gaze.conventions import IRIS_DIAMETER_MM
from gazeserve.gaze.eyes import iris_diameter_px
from gazeserve.gaze.landmark_indices import (
    EYE_CORNERS,
    LANDMARK_POINTS,
    LEFT_EYE,
    MESH_POINTS,
    RIGHT_EYE,
)
from gazeserve.gaze.rotations import align_similarity

FRONTAL_PHOTOS = ("grace_hopper.jpg", "astronaut.png", "single_face.jpg")
DEFAULT_OUT = (Path(__file__).resolve().parents[1] / "src" / "gazeserve" / "data"
               / "reference_face.npy")
PROCRUSTES_ROUNDS = 10

Points = NDArray[np.float64]


def landmarks_to_mm(landmarks_px: NDArray[np.floating]) -> Points:
    """The 478 points in the viewer frame (x, -y, -z), mm by the mean horizontal iris diameter,
    origin at the eyes' midpoint."""
    diameter_px = 0.5 * (iris_diameter_px(landmarks_px, RIGHT_EYE)
                         + iris_diameter_px(landmarks_px, LEFT_EYE))
    points = landmarks_px.astype(np.float64) * np.array([1.0, -1.0, -1.0])
    points *= IRIS_DIAMETER_MM / diameter_px
    return points - points[list(EYE_CORNERS)].mean(axis=0)


def procrustes_mean(shapes: Sequence[Points],
                    rounds: int = PROCRUSTES_ROUNDS) -> tuple[Points, Points]:
    """Generalised Procrustes mean: align every shape's mesh points rigidly to the running mean
    (Umeyama's rotation, scale kept at 1 since each shape is already in mm), average, repeat.

    Returns the mean and, for each shape, its viewer z axis (toward its camera) in the mean's
    frame.
    """
    centred = [shape - shape[:MESH_POINTS].mean(axis=0) for shape in shapes]
    mean = centred[0]
    rotations = [np.eye(3)] * len(shapes)
    for _ in range(rounds):
        mesh_mean = mean[:MESH_POINTS] - mean[:MESH_POINTS].mean(axis=0)
        variance = float((mesh_mean**2).sum(axis=1).mean())
        # Rotation taking each shape onto the mean: fit mean -> shape, then invert.
        rotations = [align_similarity(mesh_mean, variance, shape[:MESH_POINTS]).rotation
                     for shape in centred]
        mean = np.mean([shape @ rotation
                        for shape, rotation in zip(centred, rotations, strict=True)], axis=0)
    toward_cameras = np.array([rotation[2] for rotation in rotations])
    return mean, toward_cameras


def canonical_frame(points: Points, toward_camera: Points) -> Points:
    """The points in the reference frame stated in this script's docstring."""
    origin = points[list(EYE_CORNERS)].mean(axis=0)
    right_eye = points[list(RIGHT_EYE.corners)].mean(axis=0)
    left_eye = points[list(LEFT_EYE.corners)].mean(axis=0)
    x_axis = left_eye - right_eye
    x_axis /= np.linalg.norm(x_axis)
    z_axis = toward_camera - (toward_camera @ x_axis) * x_axis
    z_axis /= np.linalg.norm(z_axis)
    y_axis = np.cross(z_axis, x_axis)
    result: Points = (points - origin) @ np.stack([x_axis, y_axis, z_axis], axis=1)
    return result


def derive_reference(landmark_sets: Sequence[NDArray[np.floating]]) -> NDArray[np.float32]:
    """The reference face (478 x 3 float32, mm) from 478-point landmark sets in image pixels,
    each a roughly frontal face looking into the lens."""
    if len(landmark_sets) < 2:
        raise ValueError("need at least a photo and its mirror")
    mean, toward_cameras = procrustes_mean([landmarks_to_mm(lm) for lm in landmark_sets])
    return canonical_frame(mean, toward_cameras.mean(axis=0)).astype(np.float32)


def engine_landmarks(photos: dict[str, Path]) -> list[NDArray[np.float32]]:
    """Our engine's landmarks on each photo and on its horizontal mirror."""
    from gazeserve.gaze.face import GeometryOptions
    from gazeserve.gaze.reference_face import ReferenceFace
    from gazeserve.pipeline import EngineOptions, GazeEngine

    # The geometry stage needs some face model to run; landmarks do not depend on it, so a
    # stand-in (random points) serves while the real one does not exist yet.
    stand_in = ReferenceFace(np.random.default_rng(0).normal(size=(LANDMARK_POINTS, 3)))
    options = EngineOptions(geometry=GeometryOptions(reference=stand_in))
    sets = []
    with GazeEngine.create(options) as engine:
        for name, path in photos.items():
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise SystemExit(f"cannot read {path}")
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            for image in (rgb, np.ascontiguousarray(rgb[:, ::-1])):
                result = engine.process(image, include_landmarks=True)
                if not result.faces or result.faces[0].landmarks_px is None:
                    raise SystemExit(f"the engine found no face in {name}")
                sets.append(result.faces[0].landmarks_px)
    return sets


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    from gazeserve.sample_media import fetch_samples

    samples = fetch_samples()
    reference = derive_reference(engine_landmarks({n: samples[n] for n in FRONTAL_PHOTOS}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, reference)
    args.out.write_bytes(buffer.getvalue())
    mesh = reference[:MESH_POINTS]
    span = mesh.max(axis=0) - mesh.min(axis=0)
    mirrored = mesh * np.array([-1.0, 1.0, 1.0], np.float32)
    asymmetry = np.linalg.norm(mesh[:, None] - mirrored[None], axis=2).min(axis=1)
    print(f"wrote {args.out} ({len(buffer.getvalue())} bytes): extent x/y/z "
          f"{span[0]:.1f}/{span[1]:.1f}/{span[2]:.1f} mm; mirrored points within "
          f"{np.percentile(asymmetry, 95):.2f} mm of a point (95th percentile)")


if __name__ == "__main__":
    main()
