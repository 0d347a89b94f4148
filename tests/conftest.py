"""Shared fixtures: real sample media, the MediaPipe goldens, one engine per session."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from gazeserve.sample_media import fetch_samples

GOLDENS = Path(__file__).parent / "goldens" / "mediapipe_facemesh.json"


@pytest.fixture(scope="session")
def media() -> dict[str, Path]:
    return fetch_samples()


def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None, path
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


@pytest.fixture(scope="session")
def photos(media: dict[str, Path]) -> dict[str, np.ndarray]:
    names = ("grace_hopper.jpg", "astronaut.png", "single_face.jpg")
    return {name: read_rgb(media[name]) for name in names}


@pytest.fixture(scope="session")
def goldens() -> dict[str, dict[str, object]]:
    data: dict[str, dict[str, object]] = json.loads(GOLDENS.read_text())["images"]
    return data


@pytest.fixture(scope="session")
def engine() -> Iterator[object]:
    from gazeserve import GazeEngine

    with GazeEngine.create() as eng:
        yield eng


def video_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    from gazeserve.imaging.video import iter_video_frames

    frames = []
    for frame in iter_video_frames(path):
        frames.append(frame.rgb)
        if limit is not None and len(frames) >= limit:
            break
    return frames
