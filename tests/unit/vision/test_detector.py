"""SSD anchors and weighted NMS against MediaPipe's documented counts and rules."""

from __future__ import annotations

import numpy as np
import pytest

from gazeserve.vision.detector import (
    DETECTOR_CONFIGS,
    DetectorKind,
    decode_detections,
    letterbox_rect,
    ssd_anchors,
    weighted_nms,
)


@pytest.mark.parametrize(("kind", "count"), [(DetectorKind.SHORT_RANGE, 896),
                                             (DetectorKind.FULL_RANGE, 2304)])
def test_anchor_counts_match_the_models(kind: DetectorKind, count: int) -> None:
    anchors = ssd_anchors(DETECTOR_CONFIGS[kind])
    assert anchors.shape == (count, 2)
    assert (anchors > 0).all() and (anchors < 1).all()


def test_short_range_anchor_layout() -> None:
    anchors = ssd_anchors(DETECTOR_CONFIGS[DetectorKind.SHORT_RANGE])
    # 16x16 grid with 2 anchors per cell, then 8x8 with 6; row-major, x fastest.
    np.testing.assert_allclose(anchors[0], anchors[1])
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[512], [0.5 / 8, 0.5 / 8])
    np.testing.assert_allclose(anchors[518], [1.5 / 8, 0.5 / 8])


def test_decode_keeps_scores_above_threshold_and_offsets_from_anchors() -> None:
    config = DETECTOR_CONFIGS[DetectorKind.SHORT_RANGE]
    regressors = np.zeros((1, 896, 16), np.float32)
    logits = np.full((1, 896, 1), -10.0, np.float32)
    logits[0, 520, 0] = 5.0
    regressors[0, 520, :4] = [12.8, 0.0, 25.6, 25.6]  # dx = 0.1, w = h = 0.2
    scores, boxes, keypoints = decode_detections(regressors, logits, config)
    assert scores.shape == (1,) and scores[0] == pytest.approx(1 / (1 + np.exp(-5)))
    anchor = ssd_anchors(config)[520]
    np.testing.assert_allclose(boxes[0], [anchor[0], anchor[1] - 0.1, anchor[0] + 0.2,
                                          anchor[1] + 0.1], atol=1e-6)
    np.testing.assert_allclose(keypoints[0], np.tile(anchor, (6, 1)), atol=1e-6)


def test_huge_logits_do_not_overflow() -> None:
    config = DETECTOR_CONFIGS[DetectorKind.SHORT_RANGE]
    logits = np.full((1, 896, 1), -1e30, np.float32)
    scores, _, _ = decode_detections(np.zeros((1, 896, 16), np.float32), logits, config)
    assert scores.size == 0


def test_weighted_nms_merges_overlaps_and_keeps_the_rest() -> None:
    scores = np.array([0.9, 0.6, 0.8], np.float32)
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    keypoints = np.zeros((3, 6, 2), np.float32)
    kept = weighted_nms(scores, boxes, keypoints, 0.3)
    assert [k[0] for k in kept] == pytest.approx([0.9, 0.8])
    np.testing.assert_allclose(kept[0][1], [0.4, 0, 10.4, 10], atol=1e-5)
    np.testing.assert_allclose(kept[1][1], boxes[2])


def test_letterbox_is_a_centred_square() -> None:
    rect = letterbox_rect(640, 480)
    assert (rect.center_x_px, rect.center_y_px, rect.width_px, rect.height_px) == (
        320, 240, 640, 640)
