"""The 468-point face mesh: ROI from a detection or from the previous frame, crop, model, project.

Follows MediaPipe's `face_detection_front_detection_to_roi.pbtxt`, `face_landmark_cpu.pbtxt`,
`tensors_to_face_landmarks.pbtxt` and `face_landmark_landmarks_to_roi.pbtxt`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gazeserve.vision.crop_model import CropModel
from gazeserve.vision.detector import Detection
from gazeserve.vision.roi import (
    FloatArray,
    ImageRGB,
    RotatedRect,
    project_to_image,
    rect_from_points,
    rotation_to_target,
    transform_rect,
)

MESH_POINTS = 468
ROI_SCALE = 1.5
"""Both ROI subgraphs enlarge the face box 1.5x (RectTransformationCalculator scale_x/y)."""
PRESENCE_THRESHOLD = 0.5
"""Face-presence probability below which the crop holds no face (ThresholdingCalculator)."""
TRACKING_EYE_START, TRACKING_EYE_END = 33, 263
"""Outer eye corners that set the tracking ROI's rotation (face_landmark_landmarks_to_roi)."""


@dataclass(frozen=True)
class MeshResult:
    landmarks_px: FloatArray
    """468 x 3: x, y in image pixels, z in pixels on x's scale (smaller is nearer the camera)."""
    presence: float
    roi: RotatedRect


def roi_from_detection(detection: Detection) -> RotatedRect:
    """Detection -> face ROI: box centre and size, rotated so the eye line is level, 1.5x, square.

    MediaPipe `face_detection_front_detection_to_roi.pbtxt` (keypoints 0 -> 1, target 0 deg).
    """
    x0, y0, x1, y1 = detection.box_px
    rect = RotatedRect((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0,
                       rotation_to_target(detection.keypoints_px[0], detection.keypoints_px[1]))
    return transform_rect(rect, ROI_SCALE, ROI_SCALE)


def roi_from_landmarks(landmarks_px: FloatArray) -> RotatedRect:
    """Previous frame's mesh -> this frame's ROI (face_landmark_landmarks_to_roi.pbtxt)."""
    points = landmarks_px[:MESH_POINTS, :2]
    return rect_from_points(points, points[TRACKING_EYE_START], points[TRACKING_EYE_END],
                            ROI_SCALE)


class FaceMeshModel(CropModel):
    """`face_landmark.tflite`: 192 x 192 RGB in [0, 1] -> 468 points + presence logit."""

    def run(self, image: ImageRGB, roi: RotatedRect) -> MeshResult:
        presence_logit, mesh = self.infer(image, roi)
        raw = mesh.reshape(MESH_POINTS, 3) / np.float32(self.input_size)
        logit = min(100.0, max(-100.0, float(presence_logit.flat[0])))
        presence = 1.0 / (1.0 + math.exp(-logit))
        return MeshResult(project_to_image(raw, roi), presence, roi)
