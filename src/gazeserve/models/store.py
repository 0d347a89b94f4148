"""The model directory: prepare (download, extract, verify), list and verify files in it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gazeserve.models.registry import (
    MEDIAPIPE_WHEEL,
    MODELS,
    ModelName,
    ModelSpec,
    default_cache_dir,
    default_model_dir,
)
from gazeserve.models.wheels import download_wheel, extract_member, sha256_of


class ModelsNotPreparedError(RuntimeError):
    """A model file is missing or does not match its sha256."""


@dataclass(frozen=True)
class ModelStatus:
    spec: ModelSpec
    path: Path
    present: bool
    verified: bool

    @property
    def state(self) -> str:
        if not self.present:
            return "missing"
        return "ok" if self.verified else "checksum mismatch"


class ModelStore:
    """A folder of model files named by `ModelSpec.filename`."""

    def __init__(self, model_dir: Path | None = None, wheel_cache: Path | None = None) -> None:
        self.model_dir = Path(model_dir) if model_dir else default_model_dir()
        self.wheel_cache = Path(wheel_cache) if wheel_cache else default_cache_dir() / "wheels"

    def path(self, name: ModelName) -> Path:
        return self.model_dir / MODELS[name].filename

    def status(self) -> list[ModelStatus]:
        result = []
        for spec in MODELS.values():
            path = self.model_dir / spec.filename
            present = path.is_file()
            result.append(ModelStatus(spec, path, present,
                                      present and sha256_of(path) == spec.sha256))
        return result

    def prepare(self) -> list[ModelStatus]:
        """Makes every model file present and verified; downloads the wheel only when needed."""
        missing = [s.spec for s in self.status() if not s.verified]
        if missing:
            wheel = download_wheel(MEDIAPIPE_WHEEL, self.wheel_cache)
            for spec in missing:
                extract_member(wheel, spec.wheel_member, self.model_dir / spec.filename,
                               spec.sha256)
        return self.status()

    def require_all(self) -> None:
        """Raises `ModelsNotPreparedError` for the first model that is missing or corrupt."""
        for name in MODELS:
            self.require(name)

    def require(self, name: ModelName) -> Path:
        """The verified path of one model, or a clear error that says what to run."""
        path = self.path(name)
        if not path.is_file():
            raise ModelsNotPreparedError(
                f"model {path.name} is missing from {self.model_dir}; run `gazeserve models "
                "prepare` (or `make setup`)"
            )
        if sha256_of(path) != MODELS[name].sha256:
            raise ModelsNotPreparedError(
                f"model {path} does not match its recorded sha256; run `gazeserve models "
                "prepare` to replace it"
            )
        return path
