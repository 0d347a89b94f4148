"""One real server for the end-to-end tier, plus encoded frames of a real face video."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import video_frames
from tests.e2e.server import running_server


def encode_jpeg(rgb: np.ndarray, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="session")
def jpeg_frames(media: dict[str, Path]) -> list[bytes]:
    return [encode_jpeg(f) for f in video_frames(media["single_face.mp4"])]


@pytest.fixture(scope="session")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server") / "server.log"


@pytest.fixture(scope="session")
def server(server_log: Path) -> Iterator[str]:
    with running_server({"MAX_QUEUE_SIZE": "16", "MAX_FRAME_AGE_MS": "300"},
                        log_path=server_log) as url:
        yield url
