"""Calibration (REST and the WebSocket's guided run), stream events and summaries, for real."""

from __future__ import annotations

import json
from typing import Any

import httpx
import numpy as np
from websockets.sync.client import connect

SCREEN = {"width_px": 1600, "height_px": 900}


def _synthetic_samples() -> list[dict[str, Any]]:
    """Targets on a 3x3 grid, features that map linearly onto them (plus pose/distance)."""
    rng = np.random.default_rng(3)
    samples = []
    for tx in (100.0, 800.0, 1500.0):
        for ty in (100.0, 450.0, 800.0):
            for _ in range(6):
                dx, dy = (tx - 800) / 2000, (ty - 450) / 2000
                features = [dx, dy, dx, dy, *rng.normal(0, 0.5, 3), 0.0, 0.0, 500.0]
                samples.append({"features": features, "target_px": [tx, ty]})
    return samples


def test_rest_calibration_fits_exports_and_applies(server: str,
                                                   jpeg_frames: list[bytes]) -> None:
    url = f"{server}/v1/streams/cal-rest/calibration"
    r = httpx.post(url, json={"screen": SCREEN, "samples": _synthetic_samples()})
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["points"] == 9 and reply["error_px"] < 5 and reply["error_deg"] < 0.5
    exported = httpx.get(url).json()["calibration"]
    assert httpx.post(url, json={"calibration": exported}).status_code == 200
    frame = httpx.post(f"{server}/v1/gaze", content=jpeg_frames[0],
                       params={"stream_id": "cal-rest"},
                       headers={"content-type": "image/jpeg"}).json()
    point = frame["faces"][0]["gaze"]["screen_point_px"]
    assert point is not None and all(np.isfinite(point))
    assert httpx.delete(url).status_code == 200
    assert httpx.get(url).status_code == 404


def test_rest_calibration_refuses_bad_documents(server: str) -> None:
    url = f"{server}/v1/streams/cal-bad/calibration"
    for body, status in (({"screen": SCREEN, "samples": _synthetic_samples()[:6]}, 422),
                         ({"calibration": {"format": "other"}}, 422),
                         ({"samples": [{"features": [1, 2], "target_px": [1, 2]}]}, 422),
                         ({}, 422)):
        r = httpx.post(url, json=body)
        assert r.status_code == status, r.text
        assert r.json()["error"]["message"]


def _recv(ws: Any, kind: str, others: list[dict[str, Any]]) -> dict[str, Any]:
    """The next message of type `kind`; the ones before it (events) go to `others`."""
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=30))
        if message["type"] == kind:
            return message
        others.append(message)


def test_guided_calibration_and_events_over_the_websocket(server: str,
                                                          jpeg_frames: list[bytes]) -> None:
    events: list[dict[str, Any]] = []
    with connect(server.replace("http://", "ws://") + "/v1/stream", max_size=None) as ws:
        ws.send(json.dumps({"type": "calibration", "action": "start", "screen": SCREEN}))
        assert _recv(ws, "calibration", events)["state"] == "started"
        t_ms = 0.0
        frames = iter(jpeg_frames * 4)
        for tx, ty in [(x, y) for y in (100, 450, 800) for x in (100, 800, 1500)]:
            ws.send(json.dumps({"type": "calibration", "action": "target",
                                "target_px": [tx, ty], "t_ms": t_ms}))
            assert _recv(ws, "calibration", events)["state"] == "target"
            for _ in range(14):  # 14 frames at 30 fps: past the 300 ms settle time
                ws.send(json.dumps({"type": "frame", "timestamp_ms": t_ms}))
                ws.send(next(frames))
                _recv(ws, "result", events)
                t_ms += 33.3
        ws.send(json.dumps({"type": "calibration", "action": "finish"}))
        done = _recv(ws, "calibration", events)
        assert done["state"] == "done", done
        assert done["points"] == 9 and done["error_px"] > 0 and done["error_deg"] > 0
        ws.send(json.dumps({"type": "frame", "timestamp_ms": t_ms}))
        ws.send(jpeg_frames[0])
        result = _recv(ws, "result", events)
        assert result["faces"][0]["gaze"]["screen_point_px"] is not None
        assert "events" not in result
        ws.send(json.dumps({"type": "calibration", "action": "target", "target_px": [1, 1]}))
        failed = _recv(ws, "calibration", events)
        assert failed["state"] == "failed" and "start" in failed["error"]["message"]
    kinds = {e["event"] for e in events if e["type"] == "event"}
    assert "blink" in kinds and "fixation" in kinds, kinds


def test_events_and_summary_over_http(server: str, jpeg_frames: list[bytes]) -> None:
    kinds = set()
    with httpx.Client(base_url=server) as client:
        for i, frame in enumerate(jpeg_frames):
            body = client.post("/v1/gaze", content=frame,
                               params={"stream_id": "ev-http", "timestamp_ms": i * 33.3},
                               headers={"content-type": "image/jpeg"}).json()
            kinds |= {e["event"] for e in body["events"]}
        summary = client.get("/v1/streams/ev-http/summary").json()
    assert "blink" in kinds
    assert summary["frames"] == len(jpeg_frames)
    assert summary["counts"]["blink"] >= 1
    assert summary["observed_s"] > 2.0
