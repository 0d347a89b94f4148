"""The model files gazeserve uses, with the sha256 each must have.

All come from the `mediapipe==0.10.21` wheel (Apache-2.0), the last release that ships them.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path

MEDIAPIPE_WHEEL = "mediapipe==0.10.21"


class ModelName(enum.StrEnum):
    FACE_DETECTOR_SHORT = "face_detection_short_range"
    FACE_DETECTOR_FULL = "face_detection_full_range_sparse"
    FACE_LANDMARK = "face_landmark"
    FACE_LANDMARK_WITH_ATTENTION = "face_landmark_with_attention"
    IRIS_LANDMARK = "iris_landmark"


@dataclass(frozen=True)
class ModelSpec:
    name: ModelName
    wheel_member: str
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name.value}.tflite"


_MODULES = "mediapipe/modules"

MODELS: dict[ModelName, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            ModelName.FACE_DETECTOR_SHORT,
            f"{_MODULES}/face_detection/face_detection_short_range.tflite",
            "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
        ),
        ModelSpec(
            ModelName.FACE_DETECTOR_FULL,
            f"{_MODULES}/face_detection/face_detection_full_range_sparse.tflite",
            "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
        ),
        ModelSpec(
            ModelName.FACE_LANDMARK,
            f"{_MODULES}/face_landmark/face_landmark.tflite",
            "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
        ),
        ModelSpec(
            ModelName.FACE_LANDMARK_WITH_ATTENTION,
            f"{_MODULES}/face_landmark/face_landmark_with_attention.tflite",
            "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4",
        ),
        ModelSpec(
            ModelName.IRIS_LANDMARK,
            f"{_MODULES}/iris_landmark/iris_landmark.tflite",
            "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
        ),
    )
}


def default_cache_dir() -> Path:
    """The user's cache folder for gazeserve (XDG_CACHE_HOME honoured)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gazeserve"


def default_model_dir() -> Path:
    """`GAZE_MODEL_DIR` when set, else `models/` under the user's cache."""
    env = os.environ.get("GAZE_MODEL_DIR")
    return Path(env).expanduser() if env else default_cache_dir() / "models"
