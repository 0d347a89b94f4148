"""Model files: where they come from, where they live, and how they are checked."""

from gazeserve.models.registry import MODELS, ModelName, ModelSpec, default_model_dir
from gazeserve.models.store import ModelsNotPreparedError, ModelStore

__all__ = ["MODELS", "ModelName", "ModelSpec", "ModelStore", "ModelsNotPreparedError",
           "default_model_dir"]
