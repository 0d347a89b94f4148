"""How far a derived model's outputs are from the LiteRT float model's, in the model's pixels.

Outputs are told apart by size, as the vision code does: the mesh's 1404 values are 468 x, y, z
points and its single value the face-presence logit; the iris model's 213 and 15 values are
71 and 5 points; a detector's 16 values per anchor are its box centre, size and 6 keypoints
(8 x, y pairs) and its single value the score logit. Points are in the model's input pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from gazeserve.models.manifest import Parity
from gazeserve.models.registry import ModelName
from gazeserve.runtime.base import Tensor

Outputs = dict[str, Tensor]
Runner = Callable[[Tensor], Outputs]

DETECTOR_MIN_SCORE = {ModelName.FACE_DETECTOR_SHORT: 0.5, ModelName.FACE_DETECTOR_FULL: 0.6}
"""The detectors' score thresholds (DetectorConfig.min_score): anchors the reference scores at
or above these are the ones whose boxes the pipeline uses, so only they are compared."""


def _sigmoid(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    return 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100.0, 100.0)))


def _by_size(outputs: Outputs) -> list[Tensor]:
    return [outputs[k] for k in sorted(outputs, key=lambda k: outputs[k][0].size)]


def _points_and_scores(model: ModelName, candidate: Outputs, reference: Outputs
                       ) -> tuple[npt.NDArray[np.float64], float | None]:
    """Point distances (px) and the largest score difference (probability) for one input."""
    small_c, large_c = _by_size(candidate)
    small_r, large_r = _by_size(reference)
    if model is ModelName.IRIS_LANDMARK:
        diff = np.concatenate([large_c.reshape(-1, 3) - large_r.reshape(-1, 3),
                               small_c.reshape(-1, 3) - small_r.reshape(-1, 3)])
        return np.linalg.norm(diff[:, :2], axis=1), None
    score_error = float(np.abs(_sigmoid(small_c) - _sigmoid(small_r)).max())
    if model is ModelName.FACE_LANDMARK:
        diff = large_c.reshape(-1, 3) - large_r.reshape(-1, 3)
        return np.linalg.norm(diff[:, :2], axis=1), score_error
    keep = _sigmoid(small_r.reshape(-1)) >= DETECTOR_MIN_SCORE[model]
    rows = (large_c.reshape(-1, 16) - large_r.reshape(-1, 16))[keep]
    return np.linalg.norm(rows.reshape(-1, 8, 2), axis=2).ravel(), score_error


def measure_parity(model: ModelName, candidate: Runner, reference: Sequence[Outputs],
                   inputs: npt.NDArray[np.float32]) -> Parity:
    """Runs `candidate` on each input (one at a time) against the recorded reference outputs."""
    if len(reference) != len(inputs) or not len(inputs):
        raise ValueError("need one reference output per input, and at least one input")
    distances = []
    max_abs = 0.0
    score_error: float | None = None
    for x, ref in zip(inputs, reference, strict=True):
        out = candidate(x[None])
        max_abs = max(max_abs, *(float(np.abs(out[k] - ref[k]).max()) for k in ref))
        points, score = _points_and_scores(model, out, ref)
        distances.append(points)
        if score is not None:
            score_error = max(score_error or 0.0, score)
    d = np.concatenate(distances)
    return Parity(samples=len(inputs), max_abs_error=max_abs,
                  mean_px=float(d.mean()) if d.size else 0.0,
                  max_px=float(d.max()) if d.size else 0.0, max_score_error=score_error)
