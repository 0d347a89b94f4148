"""`POST /v1/gaze`, health and readiness against a real server on loopback."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import httpx
import pytest

from tests.e2e.metrics_text import metric_value


def test_raw_jpeg_body(server: str, jpeg_frames: list[bytes]) -> None:
    r = httpx.post(f"{server}/v1/gaze", content=jpeg_frames[0],
                   headers={"content-type": "image/jpeg"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["schema"] == "gazeserve.gaze.v1"
    assert body["face_detected"] is True
    assert body["frame"]["stream_id"] is None
    assert "landmarks_px" not in body["faces"][0]


def test_multipart_png_with_landmarks(server: str, media: dict[str, Path]) -> None:
    png = media["astronaut.png"].read_bytes()
    r = httpx.post(f"{server}/v1/gaze", params={"include": "landmarks", "timestamp_ms": 5},
                   files={"image": ("astronaut.png", png, "image/png")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["faces"][0]["landmarks_px"]) == 478
    assert body["frame"]["timestamp_ms"] == 5


def test_max_faces(server: str, media: dict[str, Path]) -> None:
    r = httpx.post(f"{server}/v1/gaze", params={"max_faces": 5},
                   content=media["multi_face.jpg"].read_bytes(),
                   headers={"content-type": "image/jpeg"})
    assert r.status_code == 200
    assert len(r.json()["faces"]) >= 2


def test_health_ready_docs(server: str) -> None:
    assert httpx.get(f"{server}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server}/readyz").json()
    assert ready["status"] == "ready" and ready["engine"] == "litert"
    assert httpx.get(f"{server}/docs").status_code == 200
    spec = httpx.get(f"{server}/openapi.json").json()
    assert "/v1/gaze" in spec["paths"]


def test_tracking_over_http_skips_the_detector(server: str, jpeg_frames: list[bytes]) -> None:
    before = metric_value(httpx.get(f"{server}/metrics").text, "gazeserve_detector_runs_total")
    with httpx.Client(base_url=server) as client:
        for i in range(200):
            frame = jpeg_frames[i % len(jpeg_frames)]
            r = client.post("/v1/gaze", content=frame, params={"stream_id": "cam-1",
                                                                "timestamp_ms": i * 33},
                            headers={"content-type": "image/jpeg"})
            assert r.status_code == 200, r.text
            assert r.json()["face_detected"], i
    after = metric_value(httpx.get(f"{server}/metrics").text, "gazeserve_detector_runs_total")
    assert after - before <= 20


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk
            + struct.pack(">I", zlib.crc32(chunk)))


BAD_REQUESTS = [
    ("empty body", {"content": b"", "headers": {"content-type": "image/jpeg"}}, 400),
    ("text as jpeg", {"content": b"hello world", "headers": {"content-type": "image/jpeg"}},
     415),
    ("text/plain", {"content": b"hello world", "headers": {"content-type": "text/plain"}}, 415),
    ("truncated jpeg", "truncated", 422),
    ("huge png header", {"content": _png_header(20000, 20000),
                         "headers": {"content-type": "image/png"}}, 413),
    ("over body limit", {"content": b"\xff" * (11 * 1024 * 1024),
                         "headers": {"content-type": "image/jpeg"}}, 413),
    ("unknown include", {"params": {"include": "everything"}}, 422),
    ("priority out of range", {"params": {"priority": 11}}, 422),
    ("unknown query", {"params": {"colour": "blue"}}, 422),
    ("bad stream id", {"params": {"stream_id": "a b/c"}}, 422),
    ("multipart wrong field", "wrong_field", 422),
]


@pytest.mark.parametrize(("name", "request_kwargs", "status"), BAD_REQUESTS,
                         ids=[b[0] for b in BAD_REQUESTS])
def test_bad_input_gets_json_4xx_and_service_stays_ready(
        server: str, jpeg_frames: list[bytes], name: str, request_kwargs: object,
        status: int) -> None:
    if request_kwargs == "truncated":
        kwargs: dict[str, object] = {"content": jpeg_frames[0][:2000],
                                     "headers": {"content-type": "image/jpeg"}}
    elif request_kwargs == "wrong_field":
        kwargs = {"files": {"picture": ("a.jpg", jpeg_frames[0], "image/jpeg")}}
    else:
        kwargs = dict(request_kwargs)  # type: ignore[call-overload]
        kwargs.setdefault("content", jpeg_frames[0])
        kwargs.setdefault("headers", {"content-type": "image/jpeg"})
    r = httpx.post(f"{server}/v1/gaze", **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] and error["message"]
    assert httpx.get(f"{server}/readyz").status_code == 200


def test_unknown_route_is_json_404(server: str) -> None:
    r = httpx.get(f"{server}/v1/nothing")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
