"""What `gazeserve analyze` was given: videos, image files and folders of images, as inputs to
analyse one by one; and the report folder they are written to."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gazeserve.imaging.video import is_video_path
from gazeserve.report.summary import SourceKind

IMAGE_EXTENSIONS: Final = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
LOOSE_IMAGES_NAME: Final = "images"
"""The report subfolder of the image files given one by one on the command line."""


class ReportDirError(ValueError):
    """The report folder cannot be used (a file, or not empty without `--overwrite`)."""


@dataclass(frozen=True)
class AnalysisInput:
    """One video, or a set of images, reported together."""

    kind: SourceKind
    label: str
    """The path as given (a video, a folder), or "images" for loose image files."""
    paths: tuple[Path, ...]
    name: str
    """Its report's subfolder name (unique among the inputs)."""


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def expand_inputs(paths: Sequence[Path], group_images: bool) -> list[AnalysisInput]:
    """Videos one input each; a folder is one input of its images (sorted, not recursive);
    image files one input each, or all in one input when `group_images` (a report).

    Paths that are neither a video nor a folder count as images: reading them reports what is
    wrong (missing, unreadable, not an image).
    """
    inputs: list[AnalysisInput] = []
    loose: list[Path] = []
    loose_at: int | None = None
    names: set[str] = set()

    def add(kind: SourceKind, label: str, files: tuple[Path, ...], stem: str) -> None:
        inputs.append(AnalysisInput(kind, label, files, _unique(stem, names)))

    for path in paths:
        if is_video_path(path):
            add(SourceKind.VIDEO, str(path), (path,), path.stem)
        elif path.is_dir():
            images = tuple(sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p)))
            add(SourceKind.IMAGES, str(path), images, path.resolve().name or "images")
        elif group_images:
            loose_at = len(inputs) if loose_at is None else loose_at
            loose.append(path)
        else:
            add(SourceKind.IMAGES, str(path), (path,), path.stem)
    if loose:
        assert loose_at is not None
        inputs.insert(loose_at, AnalysisInput(SourceKind.IMAGES, LOOSE_IMAGES_NAME, tuple(loose),
                                              _unique(LOOSE_IMAGES_NAME, names)))
    return inputs


def prepare_report_dir(folder: Path, overwrite: bool) -> None:
    """Creates the report folder (and its parents); an existing one must be empty unless
    `overwrite`, which replaces the report's files and leaves any other file alone.

    Raises:
        ReportDirError: `folder` is a file, or is not empty and `overwrite` is False.
        OSError: it cannot be created.
    """
    if folder.exists() and not folder.is_dir():
        raise ReportDirError(f"{folder} exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ReportDirError(f"{folder} is not empty; choose another folder, or pass "
                             "--overwrite to write the report into it")
    folder.mkdir(parents=True, exist_ok=True)


def _unique(stem: str, taken: set[str]) -> str:
    """A safe folder name from `stem`, distinct from those `taken` (then taken too)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or "input"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name)
    return name
