"""BlazeFace face detection: letterbox, SSD anchors, box and keypoint decoding, weighted NMS.

Parameters are those of MediaPipe's `face_detection_short_range.pbtxt` and
`face_detection_full_range.pbtxt` (SsdAnchorsCalculator, TensorsToDetectionsCalculator,
NonMaxSuppressionCalculator); the functions below say which node each one reimplements.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from gazeserve.runtime.base import InferenceSession
from gazeserve.vision.roi import FloatArray, ImageRGB, RotatedRect, crop, project_to_image


class DetectorKind(enum.StrEnum):
    SHORT_RANGE = "short_range"
    FULL_RANGE = "full_range"


@dataclass(frozen=True)
class DetectorConfig:
    """One BlazeFace variant's graph options."""

    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    min_score: float
    min_scale: float = 0.1484375
    max_scale: float = 0.75
    num_keypoints: int = 6
    score_clip: float = 100.0
    nms_iou: float = 0.3


DETECTOR_CONFIGS = {
    DetectorKind.SHORT_RANGE: DetectorConfig(128, (8, 16, 16, 16), 1.0, 0.5),
    DetectorKind.FULL_RANGE: DetectorConfig(192, (4,), 0.0, 0.6),
}


@dataclass(frozen=True)
class Detection:
    """One face, in image pixels.

    `keypoints_px` (6 x 2) in BlazeFace order: the eye on the image's left, the eye on the
    image's right, nose tip, mouth centre, the ear tragions (image left, then image right).
    """

    score: float
    box_px: tuple[float, float, float, float]
    keypoints_px: FloatArray

    @property
    def area_px(self) -> float:
        x0, y0, x1, y1 = self.box_px
        return max(0.0, x1 - x0) * max(0.0, y1 - y0)


@cache
def ssd_anchors(config: DetectorConfig) -> FloatArray:
    """Anchor centres (N x 2, normalised) as MediaPipe's `SsdAnchorsCalculator`.

    With `fixed_anchor_size` every anchor is 1 x 1, so only centres matter. Consecutive layers
    with the same stride share a grid; each layer adds one anchor per aspect ratio (only 1.0
    here) plus one for the interpolated scale when that option is positive.
    """
    centres: list[FloatArray] = []
    layer = 0
    while layer < len(config.strides):
        stride = config.strides[layer]
        per_cell = 0
        while layer < len(config.strides) and config.strides[layer] == stride:
            per_cell += 1 + (config.interpolated_scale_aspect_ratio > 0)
            layer += 1
        grid = int(np.ceil(config.input_size / stride))
        ys, xs = np.meshgrid((np.arange(grid) + 0.5) / grid, (np.arange(grid) + 0.5) / grid,
                             indexing="ij")
        cell = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
        centres.append(np.repeat(cell, per_cell, axis=0))
    return np.concatenate(centres)


def letterbox_rect(width: int, height: int) -> RotatedRect:
    """The whole image padded to a square, as `ImageToTensorCalculator` with keep_aspect_ratio."""
    side = float(max(width, height))
    return RotatedRect(width / 2, height / 2, side, side)


def decode_detections(regressors: FloatArray, scores_logit: FloatArray,
                      config: DetectorConfig) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Raw tensors -> (scores N, boxes N x 4 as x0 y0 x1 y1, keypoints N x K x 2), normalised.

    MediaPipe `TensorsToDetectionsCalculator` with reverse_output_order (x, y, w, h), scales
    equal to the input size, sigmoid scores clipped at +-score_clip, min_score_thresh.
    """
    logits = np.clip(scores_logit.reshape(-1).astype(np.float64), -config.score_clip,
                     config.score_clip)
    scores = 1.0 / (1.0 + np.exp(-logits))
    keep = np.flatnonzero(scores >= config.min_score)
    anchors = ssd_anchors(config)[keep]
    raw = regressors.reshape(-1, regressors.shape[-1])[keep] / np.float32(config.input_size)
    centre = raw[:, 0:2] + anchors
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    k = config.num_keypoints
    keypoints = raw[:, 4:4 + 2 * k].reshape(-1, k, 2) + anchors[:, None, :]
    return scores[keep].astype(np.float32), boxes.astype(np.float32), keypoints.astype(np.float32)


def _iou(box: FloatArray, boxes: FloatArray) -> FloatArray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = np.prod(box[2:] - box[:2])
    areas = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def weighted_nms(scores: FloatArray, boxes: FloatArray, keypoints: FloatArray,
                 iou_threshold: float) -> list[tuple[float, FloatArray, FloatArray]]:
    """MediaPipe `NonMaxSuppressionCalculator`, algorithm WEIGHTED, IoU overlap.

    The best remaining detection absorbs every other with IoU above the threshold; its box and
    keypoints become the score-weighted mean of the group, its score stays the best one's.
    """
    order = np.argsort(-scores, kind="stable")
    remaining = order
    kept = []
    while remaining.size:
        best = remaining[0]
        overlap = _iou(boxes[best], boxes[remaining])
        group = remaining[overlap > iou_threshold]
        weights = scores[group][:, None]
        total = float(weights.sum())
        box = (boxes[group] * weights).sum(axis=0) / total
        kps = (keypoints[group] * weights[:, :, None]).sum(axis=0) / total
        kept.append((float(scores[best]), box, kps))
        remaining = remaining[overlap <= iou_threshold]
    return kept


def merge_detections(primary: list[Detection], extra: list[Detection],
                     iou_threshold: float = 0.3) -> list[Detection]:
    """`primary` plus each of `extra` that overlaps none of them, best score first.

    Joins the short-range detector's faces with the full-range detector's small ones.
    """
    merged = list(primary)
    for candidate in extra:
        box = np.asarray(candidate.box_px, np.float32)
        if not merged or _iou(box, np.array([d.box_px for d in merged], np.float32)).max() \
                <= iou_threshold:
            merged.append(candidate)
    return sorted(merged, key=lambda d: -d.score)


class FaceDetector:
    """One BlazeFace model on one session (not thread-safe, as its session)."""

    def __init__(self, session: InferenceSession, kind: DetectorKind) -> None:
        self.config = DETECTOR_CONFIGS[kind]
        self._session = session
        self._input_name = session.inputs[0].name
        names = [o.name for o in session.outputs]
        # Outputs: regressors (N x 16) and classificators (N x 1); tell them apart by width.
        self._regressors, self._classificators = sorted(
            names, key=lambda n: -dict((o.name, o.shape[-1]) for o in session.outputs)[n])

    def detect(self, image: ImageRGB) -> list[Detection]:
        """All faces in `image` (H x W x 3 RGB uint8), best first, in image pixels."""
        height, width = image.shape[:2]
        size = self.config.input_size
        rect = letterbox_rect(width, height)
        tensor = crop(image, rect, size, size, border=cv2.BORDER_CONSTANT)
        inp = (tensor.astype(np.float32) * (2.0 / 255.0) - 1.0)[None]
        out = self._session.run({self._input_name: inp})
        scores, boxes, keypoints = decode_detections(out[self._regressors],
                                                     out[self._classificators], self.config)
        detections = []
        for score, box, kps in weighted_nms(scores, boxes, keypoints, self.config.nms_iou):
            corners = project_to_image(np.array([[box[0], box[1], 0], [box[2], box[3], 0]],
                                                np.float32), rect)
            kps_px = project_to_image(np.c_[kps, np.zeros(len(kps), np.float32)], rect)[:, :2]
            (x0, y0), (x1, y1) = corners[:, :2].tolist()
            detections.append(Detection(score, (x0, y0, x1, y1), kps_px))
        return detections
