"""Property tests of request parsing against a real server: every answer is a result or a typed
JSON 4xx, never a 5xx, and the service stays ready.

Bodies for `POST /v1/gaze` (mutated real images, raw and multipart, any content type), landmarks
that pass the schema but are geometrically absurd (all on one point, on a line, huge, flipped),
calibration documents and samples, and WebSocket messages of any shape.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import connect

from gazeserve.server.calibration import CalibrationRequest
from gazeserve.server.landmarks import LandmarksRequest
from tests.e2e.hardening import ServerProcess
from tests.fuzz.corpus import seeds
from tests.fuzz.test_decode_properties import mutated

pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

CLIENT_ERRORS = frozenset({400, 404, 409, 413, 415, 422})
REQUESTS = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=5),
    max_leaves=20)


def check_answer(r: httpx.Response, ok: frozenset[int] = frozenset({200})) -> dict[str, Any]:
    assert r.status_code in ok | CLIENT_ERRORS, (r.status_code, r.text[:300])
    body: dict[str, Any] = r.json()
    if r.status_code != 200:
        assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"]
    return body


@pytest.fixture(scope="module")
def http(fuzz_server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fuzz_server.url, timeout=30) as client:
        yield client


@REQUESTS
@given(body=mutated(), content_type=st.sampled_from(
    ["image/jpeg", "image/png", "image/webp", "application/octet-stream", "image/gif",
     "text/plain", "", "multipart/form-data", "image/jpeg; charset=utf-8"]))
def test_any_image_body(http: httpx.Client, body: bytes, content_type: str) -> None:
    r = http.post("/v1/gaze", content=body, headers={"content-type": content_type})
    check_answer(r)


@REQUESTS
@given(body=mutated(), field=st.sampled_from(["image", "picture", ""]),
       stream_id=st.none() | st.from_regex(r"[A-Za-z0-9._:-]{1,16}", fullmatch=True),
       include=st.none() | st.just("landmarks"), max_faces=st.integers(1, 16))
def test_any_multipart_body(http: httpx.Client, body: bytes, field: str,
                            stream_id: str | None, include: str | None,
                            max_faces: int) -> None:
    params: dict[str, Any] = {"max_faces": max_faces}
    if stream_id:
        params["stream_id"] = stream_id
    if include:
        params["include"] = include
    r = http.post("/v1/gaze", params=params,
                  files={field or "x": ("frame", body, "application/octet-stream")})
    check_answer(r)


@REQUESTS
@given(raw=st.binary(max_size=512), boundary=st.text(
    alphabet=st.characters(codec="ascii", exclude_categories=["Cc", "Zs"]), min_size=0,
    max_size=80))
def test_broken_multipart_framing(http: httpx.Client, raw: bytes, boundary: str) -> None:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
            f"filename=\"a\"\r\n\r\n").encode() + raw + seeds()["baseline.jpg"][:200]
    r = http.post("/v1/gaze", content=body,
                  headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    check_answer(r)


finite = st.floats(-1e6, 1e6, allow_nan=False)


@st.composite
def absurd_landmarks(draw: Any) -> dict[str, Any]:
    """Landmarks that pass the schema but no face could make."""
    count = draw(st.sampled_from([468, 478]))
    shape = draw(st.sampled_from(["random", "one_point", "line", "tiny", "zeros"]))
    if shape == "random":
        unit = st.floats(-0.5, 1.5, allow_nan=False)
        points = draw(st.lists(st.tuples(unit, unit, finite), min_size=count, max_size=count))
    else:
        x, y = draw(st.floats(0, 1)), draw(st.floats(0, 1))
        if shape == "one_point":
            points = [(x, y, 0.0)] * count
        elif shape == "line":
            points = [(i / count, y, 0.0) for i in range(count)]
        elif shape == "tiny":
            points = [(x + 1e-9 * i, y, 1e-9) for i in range(count)]
        else:
            points = [(0.0, 0.0, 0.0)] * count
    return {"landmarks": [list(p) for p in points], "coordinates": "normalized",
            "width": draw(st.integers(1, 20_000)), "height": draw(st.integers(1, 20_000)),
            "stream_id": draw(st.none() | st.sampled_from(["fz-a", "fz-b"]))}


@settings(REQUESTS, max_examples=80)
@given(body=absurd_landmarks())
def test_absurd_landmarks_give_a_result(http: httpx.Client, body: dict[str, Any]) -> None:
    r = http.post("/v1/gaze/landmarks", json=body)
    result = check_answer(r, ok=frozenset({200}))
    if r.status_code == 200:
        assert_finite_or_none(result)


def assert_finite_or_none(value: Any) -> None:
    """The JSON holds no NaN or infinity (orjson would have written them as null)."""
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for item in value.values():
            assert_finite_or_none(item)
    elif isinstance(value, list):
        for item in value:
            assert_finite_or_none(item)


@REQUESTS
@given(body=json_values | st.fixed_dictionaries({}, optional={
    "landmarks": json_values, "coordinates": json_values, "width": json_values,
    "height": json_values, "stream_id": json_values, "timestamp_ms": json_values}))
def test_any_landmarks_json(http: httpx.Client, body: Any) -> None:
    check_answer(http.post("/v1/gaze/landmarks", json=body))
    with contextlib.suppress(ValueError):  # the schema alone: a model or a ValidationError
        LandmarksRequest.model_validate(body)


samples = st.lists(st.fixed_dictionaries({
    "features": st.lists(finite, min_size=0, max_size=14),
    "target_px": st.tuples(finite, finite)}), max_size=30)


@REQUESTS
@given(body=st.fixed_dictionaries({}, optional={
    "screen": st.fixed_dictionaries({"width_px": st.integers(-5, 100_001),
                                     "height_px": st.integers(-5, 100_001)}) | json_values,
    "samples": samples | json_values,
    "calibration": json_values | st.fixed_dictionaries({
        "format": st.just("gazeserve.calibration"), "version": st.integers(0, 3),
        "screen": json_values, "mean": json_values, "scale": json_values,
        "weights_px": json_values, "intercept_px": json_values, "ridge_lambda": json_values,
        "quadratic": json_values})}))
def test_any_calibration_request(http: httpx.Client, body: dict[str, Any]) -> None:
    check_answer(http.post("/v1/streams/fz-cal/calibration", json=body))
    with contextlib.suppress(ValueError):
        CalibrationRequest.model_validate(body)


ws_messages = st.lists(
    st.binary(max_size=64) | mutated() | json_values.map(json.dumps)
    | st.fixed_dictionaries({"type": st.sampled_from(
        ["frame", "landmarks", "config", "calibration", "ping", "auth", "x"])},
        optional={"frame_id": json_values, "timestamp_ms": json_values,
                  "include_landmarks": json_values, "priority": json_values,
                  "action": st.sampled_from(["start", "target", "finish", "cancel", "x"]),
                  "screen": json_values, "target_px": json_values, "t_ms": json_values,
                  "landmarks": json_values, "width": json_values, "height": json_values,
                  "api_key": json_values}).map(json.dumps)
    | st.text(max_size=50),
    min_size=1, max_size=6)


@settings(REQUESTS, max_examples=60)
@given(messages=ws_messages)
def test_any_websocket_messages(fuzz_server: ServerProcess,
                                messages: list[str | bytes]) -> None:
    with connect(fuzz_server.ws_url, max_size=None) as ws:
        for message in messages:
            ws.send(message)
        ws.send(json.dumps({"type": "ping"}))
        while True:  # everything before the ping is answered first; the socket stays open
            answer = json.loads(ws.recv(timeout=30))
            assert answer["type"] in {"result", "dropped", "error", "event", "config",
                                      "calibration", "auth", "pong"}, answer
            if answer["type"] == "error":
                assert answer["error"]["code"] != "internal_error", answer
            if answer["type"] == "pong":
                break
    assert httpx.get(f"{fuzz_server.url}/readyz").status_code == 200
