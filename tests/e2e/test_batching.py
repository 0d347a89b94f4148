"""Cross-stream batching in a real server: WebSocket streams at once share batches, and the
batches show in `/readyz`, `/metrics` and `/metrics.json`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.metrics_text import metric_value
from tests.e2e.server import running_server

STREAMS = 4
FRAMES = 15


@pytest.fixture(scope="module")
def batching_server() -> Iterator[str]:
    """ONNX Runtime (split mesh: both models batch) with batching forced on, on this CPU."""
    with running_server({"GAZE_ENGINE": "onnx", "GAZE_BATCHING": "on",
                         "GAZE_MAX_BATCH": str(STREAMS), "GAZE_BATCH_WAIT_MS": "50",
                         "MAX_WORKERS": str(STREAMS), "MAX_FRAME_AGE_MS": "5000"}) as url:
        yield url


def stream_frames(url: str, frames: list[bytes], start: threading.Barrier) -> list[bool]:
    """One stream, one frame in flight at a time; whether each result had a face."""
    found = []
    with connect(url.replace("http://", "ws://") + "/v1/stream", max_size=None) as ws:
        start.wait()
        for i, frame in enumerate(frames):
            ws.send(json.dumps({"type": "frame", "frame_id": i, "timestamp_ms": i * 33.0}))
            ws.send(frame)
            while True:
                message: dict[str, Any] = json.loads(ws.recv(timeout=30))
                if message["type"] != "event":
                    break
            assert message["type"] == "result", message
            found.append(bool(message["face_detected"]))
    return found


def test_streams_at_once_share_batches(batching_server: str, jpeg_frames: list[bytes]) -> None:
    ready = httpx.get(f"{batching_server}/readyz", timeout=10).json()
    assert ready["engine"] == "onnx" and ready["mesh"] == "split"
    assert "face_landmark, iris_landmark" in ready["batching"], ready

    start = threading.Barrier(STREAMS)
    with ThreadPoolExecutor(STREAMS) as pool:
        found = list(pool.map(
            lambda k: stream_frames(batching_server, jpeg_frames[k:k + FRAMES], start),
            range(STREAMS)))
    assert all(all(f) for f in found), found

    text = httpx.get(f"{batching_server}/metrics", timeout=10).text
    mesh_batches = metric_value(text, "gazeserve_batch_size_count", model="face_landmark")
    mesh_crops = metric_value(text, "gazeserve_batch_size_sum", model="face_landmark")
    iris_crops = metric_value(text, "gazeserve_batch_size_sum", model="iris_landmark")
    assert mesh_crops >= STREAMS * FRAMES
    assert iris_crops == 2 * mesh_crops  # both eyes of every face
    assert mesh_batches < mesh_crops, "no batch ever held two streams' faces"

    system = httpx.get(f"{batching_server}/metrics.json", timeout=10).json()["system"]
    batching = system["batching"]
    assert batching["enabled"] and batching["max_batch"] == STREAMS
    assert batching["batches"]["face_landmark"]["crops"] == mesh_crops
