"""Frames and landmarks never reach the disk or the logs: every route and the WebSocket, driven at
DEBUG, with API keys on.

The server runs with its own empty HOME, XDG_CACHE_HOME, TMPDIR and working folder (the models
and the native delegate come from their usual folders through GAZE_MODEL_DIR and
GAZE_NATIVE_DIR); afterwards they hold nothing new (ONNX Runtime's telemetry, which would keep
a device id and a database in the cache and a session file in TMPDIR, is off). Meanwhile a
watcher polls the server's open file descriptors and records every regular file it holds open
for writing, which catches temporary files deleted right after use (a multipart upload spooled
to /tmp, say). The log at DEBUG must carry no image bytes (raw, hex or base64), no landmark
array and no key.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image
from websockets.sync.client import connect

from gazeserve.models.registry import default_model_dir
from gazeserve.native.build import native_cache_dir
from tests.e2e.hardening import ServerProcess, server_process

KEY = "privacy-key-0123456789abcdef"
AUTH = {"authorization": f"Bearer {KEY}"}
WRITE_FLAGS = 0o1 | 0o2  # O_WRONLY | O_RDWR
LANDMARK_ARRAY = re.compile(r"\[\s*\[\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?\s*,\s*-?\d+(\.\d+)?"
                            r"\s*\]\s*,\s*\[")
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"RIFF", b"JFIF", b"Exif")


class WriteWatcher:
    """Polls `/proc/<pid>/fd` for regular files the process holds open for writing."""

    def __init__(self, pid: int, allowed: list[Path]) -> None:
        self.pid = pid
        self.allowed = [str(p) for p in allowed]
        self.seen: set[str] = set()
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WriteWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        fd_dir = Path(f"/proc/{self.pid}/fd")
        while not self._stop.is_set():
            self.polls += 1
            try:
                fds = os.listdir(fd_dir)
            except OSError:
                return
            for fd in fds:
                try:
                    target = os.readlink(fd_dir / fd)
                    flags = int(Path(f"/proc/{self.pid}/fdinfo/{fd}").read_text().split(
                        "flags:")[1].split()[0], 8)
                except (OSError, IndexError, ValueError):
                    continue
                if (target.startswith("/") and not target.startswith(("/dev/", "/proc/"))
                        and flags & WRITE_FLAGS
                        and not any(target.startswith(a) for a in self.allowed)):
                    self.seen.add(target)
            self._stop.wait(0.005)


def snapshot(*folders: Path) -> set[str]:
    return {str(p) for folder in folders for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """A real face in a PNG over 1 MiB: Starlette spools such multipart parts to disk."""
    from tests.fuzz.corpus import photo_rgb

    rgb = cv2.resize(photo_rgb(512), None, fx=2, fy=2)
    noise = np.random.default_rng(0).integers(0, 24, rgb.shape, dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb + noise).save(out, format="PNG")
    assert out.tell() > 1024 * 1024
    return out.getvalue()


def drive_everything(server: ServerProcess, frames: list[bytes], big_png: bytes,
                     webp: bytes) -> dict[str, Any]:
    """Every route and the WebSocket, with the payloads a person's camera would send."""
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=30) as http:
        jpeg = {"content-type": "image/jpeg"}
        result = http.post("/v1/gaze", content=frames[0], headers=jpeg,
                           params={"include": "landmarks", "stream_id": "p-1"}).json()
        assert result["face_detected"]
        assert http.post("/v1/gaze", files={"image": ("f.png", big_png, "image/png")},
                         params={"include": "landmarks"}).status_code == 200
        assert http.post("/v1/gaze", content=webp,
                         headers={"content-type": "image/webp"}).status_code == 200
        assert http.post("/v1/gaze", content=frames[1][:3000], headers=jpeg).status_code == 422
        landmarks = result["faces"][0]["landmarks_px"]
        body = {"landmarks": landmarks, "coordinates": "pixels", "width": 640,
                "height": result["frame"]["height"], "stream_id": "p-2"}
        body["width"] = result["frame"]["width"]
        assert http.post("/v1/gaze/landmarks", json=body).status_code == 200
        bad = {**body, "landmarks": landmarks[:470]}
        assert http.post("/v1/gaze/landmarks", json=bad).status_code == 422
        samples = [{"features": [dx / 2000, dy / 2000, dx / 2000, dy / 2000, 0.1 * k, -0.1 * k,
                                 0.05 * k, 0.0, 0.0, 500.0], "target_px": [800 + dx, 450 + dy]}
                   for dx in (-700, 0, 700) for dy in (-350, 0, 350) for k in range(6)]
        screen = {"width_px": 1600, "height_px": 900}
        assert http.post("/v1/streams/p-1/calibration",
                         json={"screen": screen, "samples": samples}).status_code == 200
        assert http.get("/v1/streams/p-1/calibration").status_code == 200
        assert http.get("/v1/streams/p-1/summary").status_code == 200
        assert http.delete("/v1/streams/p-1/calibration").status_code == 200
        for path in ("/healthz", "/readyz", "/metrics", "/metrics.json", "/", "/static/app.js",
                     "/openapi.json", "/docs"):
            assert http.get(path).status_code == 200, path
    with connect(server.ws_url, max_size=None) as ws:
        ws.send(json.dumps({"type": "auth", "api_key": KEY}))
        ws.send(json.dumps({"type": "config", "include_landmarks": True}))
        ws.send(json.dumps({"type": "calibration", "action": "start", "screen": screen}))
        for i, frame in enumerate(frames[:12]):
            ws.send(json.dumps({"type": "frame", "frame_id": i, "timestamp_ms": 33.0 * i}))
            ws.send(frame)
            if i == 4:
                ws.send(json.dumps({"type": "calibration", "action": "target",
                                    "target_px": [800, 450]}))
        ws.send(json.dumps({"type": "landmarks", **{k: body[k] for k in
                            ("landmarks", "coordinates", "width", "height")},
                            "timestamp_ms": 1000.0}))
        ws.send(webp)
        ws.send(b"\xff\xd8\xff\xe0 truncated")
        ws.send(json.dumps({"type": "calibration", "action": "finish"}))
        ws.send(json.dumps({"type": "ping"}))
        while json.loads(ws.recv(timeout=30))["type"] != "pong":
            pass
    with connect(server.ws_url, max_size=None, additional_headers=AUTH) as ws:  # key in a header
        ws.send(frames[0])
        assert json.loads(ws.recv(timeout=30))["type"] == "result"
    return result


@pytest.mark.slow
def test_no_frame_landmark_or_key_reaches_logs_or_disk(
        tmp_path: Path, jpeg_frames: list[bytes], big_png: bytes) -> None:
    home, cache, tmp, cwd = (tmp_path / name for name in ("home", "cache", "tmp", "cwd"))
    for folder in (home, cache, tmp, cwd):
        folder.mkdir()
    log_path = tmp_path / "server.log"
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(cache), "TMPDIR": str(tmp),
           "GAZE_MODEL_DIR": str(default_model_dir()), "GAZE_NATIVE_DIR": str(native_cache_dir()),
           "GAZE_LOG_LEVEL": "debug", "GAZE_API_KEYS": KEY, "GAZE_PUBLIC_METRICS": "false"}
    ok, webp_buf = cv2.imencode(".webp", cv2.imdecode(np.frombuffer(jpeg_frames[2], np.uint8),
                                                      cv2.IMREAD_COLOR))
    assert ok
    webp = webp_buf.tobytes()
    before = snapshot(home, cache, tmp, cwd)
    base_env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    with (server_process(env, log_path=log_path, cwd=cwd, base_env=base_env) as server,
          WriteWatcher(server.proc.pid, [log_path]) as watcher):
        result = drive_everything(server, jpeg_frames, big_png, webp)
    assert watcher.polls > 10
    assert watcher.seen == set(), "the server wrote files"
    assert snapshot(home, cache, tmp, cwd) == before == set()

    log = log_path.read_bytes()
    text = log.decode(errors="replace")
    assert " DEBUG " in text or "DEBUG:" in text, "the log is not at DEBUG"
    assert "payload not logged" in text, "WebSocket frames are logged, redacted"
    for signature in IMAGE_SIGNATURES:
        assert signature not in log
        assert signature.hex() not in text.lower()
    for frame in (*jpeg_frames[:12], big_png, webp):
        for start in range(0, 12, 3):  # base64 at any alignment of the first bytes
            assert base64.b64encode(frame[start:start + 12]).decode() not in text
    assert "/9j/" not in text and "iVBORw0KGgo" not in text  # JPEG and PNG starts in base64
    assert not LANDMARK_ARRAY.search(text), "a landmark array is in the log"
    first = result["faces"][0]["landmarks_px"][0]
    assert f"{first[0]}, {first[1]}" not in text and f"{first[0]},{first[1]}" not in text
    assert KEY not in text and KEY.encode().hex() not in text
