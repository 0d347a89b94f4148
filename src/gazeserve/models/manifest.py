"""Models derived from the TFLite files (ONNX float32, ONNX INT8) and their manifest.

The manifest (`derived_models.json` in the model folder) records, for each derived file, its
sha256, the sha256 of the TFLite file it came from, the tools that made it, and its measured
parity against the LiteRT float model on held-back crops. A derived file is trusted only while
its sha256 matches the manifest and its source still matches the registry.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gazeserve.models.registry import MODELS, ModelName
from gazeserve.models.wheels import write_atomically

MANIFEST_NAME = "derived_models.json"
MANIFEST_FORMAT = 1
OPSET = 17
"""The ONNX opset the converter emits (ONNX Runtime >= 1.14 runs it)."""
CONVERTER_VERSION = "1"
"""Bump when the converter's output changes, so `models prepare` rebuilds derived models."""

DERIVED_SOURCES = (ModelName.FACE_DETECTOR_SHORT, ModelName.FACE_DETECTOR_FULL,
                   ModelName.FACE_LANDMARK, ModelName.IRIS_LANDMARK)
"""The TFLite models converted to ONNX: every model the split pipeline runs."""


class Precision(enum.StrEnum):
    FLOAT32 = "float32"
    INT8 = "int8"


@dataclass(frozen=True)
class DerivedSpec:
    source: ModelName
    precision: Precision

    @property
    def filename(self) -> str:
        suffix = "" if self.precision is Precision.FLOAT32 else f".{self.precision.value}"
        return f"{self.source.value}{suffix}.onnx"


DERIVED: tuple[DerivedSpec, ...] = tuple(
    DerivedSpec(source, precision) for source in DERIVED_SOURCES for precision in Precision)


@dataclass(frozen=True)
class Parity:
    """A derived model against the LiteRT float model on held-back real crops.

    Point errors are Euclidean x, y distances in the model's input pixels (192 for the mesh,
    64 for the iris model, 128/192 for the detectors' boxes and keypoints).
    """

    samples: int
    max_abs_error: float
    """Largest absolute difference over every output value."""
    mean_px: float
    max_px: float
    max_score_error: float | None = None
    """Largest difference of the face score / presence probability; None for the iris model."""


@dataclass(frozen=True)
class ManifestEntry:
    file: str
    source: str
    source_sha256: str
    sha256: str
    precision: Precision
    converter: str
    """What made it, with versions: e.g. `gazeserve-tflite2onnx 1; onnxruntime 1.31.1`."""
    parity: Parity
    accepted: bool
    reason: str = ""
    """Why it was rejected; empty when accepted."""
    build_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ManifestEntry:
        fields = dict(data)
        fields["precision"] = Precision(fields["precision"])
        fields["parity"] = Parity(**fields["parity"])
        return cls(**fields)


class ManifestError(ValueError):
    """The manifest cannot be read."""


@dataclass
class Manifest:
    entries: dict[str, ManifestEntry] = field(default_factory=dict)
    """By file name."""

    @staticmethod
    def path_in(model_dir: Path) -> Path:
        return model_dir / MANIFEST_NAME

    @classmethod
    def load(cls, model_dir: Path) -> Manifest:
        """The folder's manifest; empty when there is none. Raises `ManifestError` if corrupt."""
        path = cls.path_in(model_dir)
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
            if data.get("format") != MANIFEST_FORMAT:
                raise ManifestError(f"{path}: unknown format {data.get('format')!r}")
            return cls({name: ManifestEntry.from_json(e) for name, e in data["models"].items()})
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestError(f"{path} is not a valid manifest ({exc}); run `gazeserve "
                                "models prepare` to rebuild the derived models") from exc

    def save(self, model_dir: Path) -> None:
        data = {"format": MANIFEST_FORMAT,
                "models": {name: e.to_json() for name, e in sorted(self.entries.items())}}
        write_atomically(self.path_in(model_dir), (json.dumps(data, indent=2) + "\n").encode())

    def get(self, spec: DerivedSpec) -> ManifestEntry | None:
        return self.entries.get(spec.filename)


def source_sha256(spec: DerivedSpec) -> str:
    return MODELS[spec.source].sha256
