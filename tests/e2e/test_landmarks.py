"""Landmarks in (`POST /v1/gaze/landmarks`, WS `landmarks`): the same answers without the frame."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect


@pytest.fixture(scope="module")
def photo_result(server: str, media: dict[str, Path]) -> dict[str, Any]:
    r = httpx.post(f"{server}/v1/gaze", params={"include": "landmarks"},
                   content=media["grace_hopper.jpg"].read_bytes(),
                   headers={"content-type": "image/jpeg"})
    assert r.status_code == 200
    result: dict[str, Any] = r.json()
    return result


def _body(result: dict[str, Any], coordinates: str = "pixels", count: int = 478) -> dict[str, Any]:
    width, height = result["frame"]["width"], result["frame"]["height"]
    points = result["faces"][0]["landmarks_px"][:count]
    if coordinates == "normalized":
        points = [[x / width, y / height, z / width] for x, y, z in points]
    return {"landmarks": points, "coordinates": coordinates, "width": width, "height": height}


def _assert_same_face(a: dict[str, Any], b: dict[str, Any], irises: bool = True) -> None:
    for angle in ("yaw", "pitch", "roll"):
        assert a["head_pose_deg"][angle] == pytest.approx(b["head_pose_deg"][angle], abs=0.05)
    if irises:
        assert a["head_translation_mm"] == pytest.approx(b["head_translation_mm"], abs=0.5)
    else:  # the distance then comes from the whole face's scale, not the irises'
        assert a["head_translation_mm"] == pytest.approx(b["head_translation_mm"], rel=0.05)
    for side in ("left", "right"):
        assert a["eyes"][side]["openness"] == pytest.approx(b["eyes"][side]["openness"],
                                                            abs=0.002)
        if irises:
            assert a["eyes"][side]["displacement"] == pytest.approx(
                b["eyes"][side]["displacement"], abs=0.002)
    if irises:
        assert a["gaze"]["yaw_deg"] == pytest.approx(b["gaze"]["yaw_deg"], abs=0.05)
        assert a["gaze"]["pitch_deg"] == pytest.approx(b["gaze"]["pitch_deg"], abs=0.05)
    assert a["attention"]["state"] == b["attention"]["state"] or not irises


@pytest.mark.parametrize("coordinates", ["pixels", "normalized"])
def test_landmarks_give_the_same_result_as_the_photo(server: str, photo_result: dict[str, Any],
                                                      coordinates: str) -> None:
    r = httpx.post(f"{server}/v1/gaze/landmarks",
                   json={**_body(photo_result, coordinates), "timestamp_ms": 40})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["schema"] == photo_result["schema"]
    assert result["frame"]["timestamp_ms"] == 40
    assert result["timings_ms"]["detect"] == result["timings_ms"]["landmarks"] == 0
    _assert_same_face(result["faces"][0], photo_result["faces"][0])


def test_468_landmarks_report_missing_irises(server: str, photo_result: dict[str, Any]) -> None:
    r = httpx.post(f"{server}/v1/gaze/landmarks", json=_body(photo_result, count=468))
    assert r.status_code == 200, r.text
    face = r.json()["faces"][0]
    for side in ("left", "right"):
        eye = face["eyes"][side]
        assert eye["iris_center_px"] is None and eye["displacement"] is None
    assert face["gaze"]["displacement"] is None
    _assert_same_face(face, photo_result["faces"][0], irises=False)
    assert math.isfinite(face["head_translation_mm"][2]) and face["head_translation_mm"][2] > 0


def _with(result: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**_body(result), **changes}


@pytest.mark.parametrize(("name", "change", "expected"), [
    ("too few points", {"landmarks": [[0.5, 0.5, 0.0]] * 100}, "478 or 468"),
    ("two values a point", {"landmarks": [[0.5, 0.5]] * 478}, "landmarks"),
    ("out of range", {"coordinates": "normalized", "landmarks": [[3.0, 0.5, 0.0]] * 478},
     "within"),
    ("strings", {"landmarks": [["a", "b", "c"]] * 478}, "landmarks"),
    ("bad coordinates", {"coordinates": "polar"}, "coordinates"),
    ("zero width", {"width": 0}, "width"),
    ("unknown field", {"colour": "blue"}, "colour"),
])
def test_invalid_payloads_get_422(server: str, photo_result: dict[str, Any], name: str,
                                  change: dict[str, Any], expected: str) -> None:
    r = httpx.post(f"{server}/v1/gaze/landmarks", json=_with(photo_result, **change))
    assert r.status_code == 422, (name, r.text)
    assert expected in r.json()["error"]["message"]


def test_nan_is_refused(server: str, photo_result: dict[str, Any]) -> None:
    body = _body(photo_result)
    body["landmarks"][10] = [float("nan"), 1.0, 1.0]
    r = httpx.post(f"{server}/v1/gaze/landmarks", content=json.dumps(body),
                   headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert "finite" in r.json()["error"]["message"]


def test_landmarks_over_the_websocket(server: str, photo_result: dict[str, Any]) -> None:
    with connect(server.replace("http://", "ws://") + "/v1/stream") as ws:
        ws.send(json.dumps({"type": "landmarks", "frame_id": "L1", **_body(photo_result)}))
        message = json.loads(ws.recv(timeout=30))
        assert message["type"] == "result" and message["frame_id"] == "L1"
        _assert_same_face(message["faces"][0], photo_result["faces"][0])
        ws.send(json.dumps({"type": "landmarks", "frame_id": "L2", "landmarks": [[1, 2, 3]]}))
        error = json.loads(ws.recv(timeout=30))
        assert error["type"] == "error" and error["frame_id"] == "L2"
        assert error["error"]["code"] == "invalid_landmarks"
