"""`WS /v1/stream` against a real server: order, drops, control messages, bad messages."""

from __future__ import annotations

import json
from typing import Any

import httpx
from websockets.sync.client import connect

MAX_FRAME_AGE_MS = 300  # as the server fixture sets it


def _ws_url(server: str) -> str:
    return server.replace("http://", "ws://") + "/v1/stream"


def _recv(ws: Any) -> dict[str, Any]:
    """The next message that is not a stream event (blinks and fixations come as they end)."""
    while True:
        message = ws.recv(timeout=30)
        assert isinstance(message, str)
        decoded: dict[str, Any] = json.loads(message)
        if decoded["type"] != "event":
            return decoded


def test_results_come_in_order_with_client_ids(server: str, jpeg_frames: list[bytes]) -> None:
    with connect(_ws_url(server), max_size=None) as ws:
        for i, frame in enumerate(jpeg_frames[:30]):
            ws.send(json.dumps({"type": "frame", "frame_id": f"f{i}", "timestamp_ms": i * 33.3}))
            ws.send(frame)
            message = _recv(ws)
            assert message["type"] == "result", message
            assert message["frame_id"] == f"f{i}"
            assert message["frame"]["timestamp_ms"] == i * 33.3
            assert message["face_detected"]
            assert message["frame"]["stream_id"].startswith("ws-")


def test_fast_sender_gets_drops_reported_and_no_stale_results(
        server: str, jpeg_frames: list[bytes]) -> None:
    sent = list(range(120))
    with connect(_ws_url(server), max_size=None) as ws:
        for i in sent:
            ws.send(json.dumps({"type": "frame", "frame_id": i}))
            ws.send(jpeg_frames[i % len(jpeg_frames)])
        results, dropped, reasons = [], [], set()
        while len(results) + len(dropped) < len(sent):
            message = _recv(ws)
            if message["type"] == "result":
                results.append(message)
            elif message["type"] == "dropped":
                dropped += message["frame_ids"]
                reasons.add(message["reason"])
    ids = [m["frame_id"] for m in results]
    assert ids == sorted(ids), "results out of order"
    assert sorted(ids + dropped) == sent, "every frame is answered exactly once"
    assert dropped and reasons <= {"superseded", "stale"}
    assert results[-1]["frame_id"] == sent[-1], "the newest frame is always processed"
    assert all(m["wait_ms"] <= MAX_FRAME_AGE_MS for m in results)


def test_control_messages(server: str, jpeg_frames: list[bytes]) -> None:
    with connect(_ws_url(server), max_size=None) as ws:
        ws.send(json.dumps({"type": "config", "include_landmarks": True, "priority": 9}))
        ack = _recv(ws)
        assert ack["type"] == "config" and ack["config"]["include_landmarks"] is True
        ws.send(jpeg_frames[0])
        result = _recv(ws)
        assert len(result["faces"][0]["landmarks_px"]) == 478
        ws.send(json.dumps({"type": "ping"}))
        assert _recv(ws) == {"type": "pong"}


def test_bad_messages_get_errors_and_the_socket_stays_open(
        server: str, jpeg_frames: list[bytes]) -> None:
    with connect(_ws_url(server), max_size=None) as ws:
        for bad in ("not json", json.dumps({"type": "teleport"}), json.dumps([1, 2]),
                    json.dumps({"type": "config", "priority": 99})):
            ws.send(bad)
            assert _recv(ws)["type"] == "error"
        ws.send(b"\x00\x01 not an image")
        error = _recv(ws)
        assert error["type"] == "error" and error["error"]["code"] == "unsupported_media_type"
        ws.send(b"\xff" * (11 * 1024 * 1024))
        assert _recv(ws)["error"]["code"] == "payload_too_large"
        ws.send(jpeg_frames[0])
        assert _recv(ws)["type"] == "result"
    assert httpx.get(f"{server}/readyz").status_code == 200


def test_abusive_client_is_disconnected(server: str) -> None:
    with connect(_ws_url(server), max_size=None) as ws:
        for _ in range(25):
            try:
                ws.send("garbage")
            except Exception:
                break
        codes = []
        try:
            while True:
                ws.recv(timeout=10)
        except Exception:
            codes.append(ws.close_code)
        assert codes == [1008]
    assert httpx.get(f"{server}/readyz").status_code == 200
