"""Gaze geometry: pure functions from 478 face landmarks to eyes, head pose, gaze and attention.

Sign conventions are stated once in `gazeserve.gaze.conventions`.
"""

from gazeserve.gaze.attention import NO_FACE_ATTENTION, AttentionRules, assess_attention
from gazeserve.gaze.conventions import IRIS_DIAMETER_MM
from gazeserve.gaze.direction import EyeModel
from gazeserve.gaze.eyes import (
    DEFAULT_CLOSED_THRESHOLD,
    eye_aspect_ratio,
    iris_displacement,
    measure_eye,
)
from gazeserve.gaze.face import FaceGeometry, GeometryOptions, analyze_face
from gazeserve.gaze.headpose import HeadFit, fit_head, head_translation_mm
from gazeserve.gaze.landmark_indices import LEFT_EYE, RIGHT_EYE, EyeIndices
from gazeserve.gaze.reference_face import ReferenceFace, packaged_reference_face
from gazeserve.gaze.screen import ScreenGeometry, ScreenHit, intersect_screen

__all__ = [
    "DEFAULT_CLOSED_THRESHOLD",
    "IRIS_DIAMETER_MM",
    "LEFT_EYE",
    "NO_FACE_ATTENTION",
    "RIGHT_EYE",
    "AttentionRules",
    "EyeIndices",
    "EyeModel",
    "FaceGeometry",
    "GeometryOptions",
    "HeadFit",
    "ReferenceFace",
    "ScreenGeometry",
    "ScreenHit",
    "analyze_face",
    "assess_attention",
    "eye_aspect_ratio",
    "fit_head",
    "head_translation_mm",
    "intersect_screen",
    "iris_displacement",
    "measure_eye",
    "packaged_reference_face",
]
