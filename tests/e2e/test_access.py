"""Access control against a real server: API keys on every route and the WebSocket, per-key
stream caps and rate limits, CORS and the WebSocket's origin check."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.e2e.hardening import ServerProcess, server_process

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-fedcba9876543210"
APP_ORIGIN = "https://app.example"
MAX_STREAMS = 2
KEYS_ENV = {"GAZE_API_KEYS": f"{KEY_A}, {KEY_B}", "GAZE_MAX_STREAMS_PER_KEY": str(MAX_STREAMS),
            "GAZE_CORS_ORIGINS": APP_ORIGIN, "GAZE_WS_AUTH_TIMEOUT_S": "1"}
JPEG = {"content-type": "image/jpeg"}


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log_path = tmp_path_factory.mktemp("access") / "server.log"
    with server_process(KEYS_ENV, log_path=log_path) as server:
        yield server


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def recv(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=30))
        if message["type"] != "event":
            return message


def test_api_routes_need_a_valid_key(keyed: ServerProcess, jpeg_frames: list[bytes]) -> None:
    url = f"{keyed.url}/v1/gaze"
    for headers in ({}, bearer("not-a-key-0123456789"), {"x-api-key": KEY_A[:-1]},
                    {"authorization": f"Basic {KEY_A}"}):
        r = httpx.post(url, content=jpeg_frames[0], headers={**JPEG, **headers})
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"].startswith("Bearer")
    for headers in (bearer(KEY_A), {"x-api-key": KEY_B}, {"authorization": f"bearer {KEY_B}"}):
        r = httpx.post(url, content=jpeg_frames[0], headers={**JPEG, **headers})
        assert r.status_code == 200, r.text
        assert r.json()["face_detected"]
    assert httpx.get(f"{keyed.url}/v1/streams/s1/summary").status_code == 401
    assert httpx.get(f"{keyed.url}/v1/streams/s1/summary",
                     headers=bearer(KEY_A)).status_code == 200


def test_probes_docs_and_the_demo_page_stay_open(keyed: ServerProcess) -> None:
    for path in ("/healthz", "/readyz", "/", "/static/app.js", "/static/gazeserve.js",
                 "/openapi.json", "/docs"):
        assert httpx.get(f"{keyed.url}{path}").status_code == 200, path
    schemes = httpx.get(f"{keyed.url}/openapi.json").json()["components"]["securitySchemes"]
    assert set(schemes) == {"bearer", "apiKey"}
    # Metrics are closed by default when keys are on (GAZE_PUBLIC_METRICS=false).
    for path in ("/metrics", "/metrics.json"):
        assert httpx.get(f"{keyed.url}{path}").status_code == 401, path
        assert httpx.get(f"{keyed.url}{path}", headers=bearer(KEY_A)).status_code == 200, path


def test_public_readyz_and_metrics_are_configurable(tmp_path_factory: pytest.TempPathFactory
                                                    ) -> None:
    env = {**KEYS_ENV, "GAZE_PUBLIC_READYZ": "false", "GAZE_PUBLIC_METRICS": "true"}
    with server_process(env, ready_headers=bearer(KEY_A)) as server:
        assert httpx.get(f"{server.url}/readyz").status_code == 401
        assert httpx.get(f"{server.url}/readyz", headers=bearer(KEY_B)).status_code == 200
        assert httpx.get(f"{server.url}/metrics").status_code == 200
        assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_websocket_key_in_a_header(keyed: ServerProcess, jpeg_frames: list[bytes]) -> None:
    with connect(keyed.ws_url, max_size=None, additional_headers=bearer(KEY_A)) as ws:
        ws.send(jpeg_frames[0])
        assert recv(ws)["type"] == "result"
    with pytest.raises(InvalidStatus) as refused:
        connect(keyed.ws_url, additional_headers=bearer("wrong-key-0123456789"))
    assert refused.value.response.status_code == 403


def test_websocket_key_in_the_first_message(keyed: ServerProcess,
                                            jpeg_frames: list[bytes]) -> None:
    with connect(keyed.ws_url, max_size=None) as ws:
        assert recv(ws) == {"type": "auth", "status": "required"}
        ws.send(json.dumps({"type": "auth", "api_key": KEY_B}))
        assert recv(ws) == {"type": "auth", "status": "ok"}
        ws.send(jpeg_frames[0])
        assert recv(ws)["type"] == "result"


@pytest.mark.parametrize("first", [
    json.dumps({"type": "auth", "api_key": "wrong-key-0123456789"}),
    json.dumps({"type": "auth"}),
    json.dumps({"type": "ping"}),
    "not json",
    b"\xff\xd8\xff binary before auth",
    None,  # nothing at all: the auth timeout
])
def test_websocket_without_a_valid_first_message_is_closed(keyed: ServerProcess,
                                                           first: str | bytes | None) -> None:
    with connect(keyed.ws_url, max_size=None) as ws:
        assert recv(ws)["status"] == "required"
        if first is not None:
            ws.send(first)
        error = recv(ws)
        assert error["type"] == "error" and error["error"]["code"] == "unauthorized"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1008


def test_streams_per_key_are_capped(keyed: ServerProcess, jpeg_frames: list[bytes]) -> None:
    with ExitStack() as stack:
        open_a = [stack.enter_context(connect(keyed.ws_url, max_size=None,
                                              additional_headers=bearer(KEY_A)))
                  for _ in range(MAX_STREAMS)]
        with connect(keyed.ws_url, additional_headers=bearer(KEY_A)) as extra:
            error = recv(extra)
            assert error["error"]["code"] == "too_many_streams"
            with pytest.raises(ConnectionClosed):
                extra.recv(timeout=10)
            assert extra.close_code == 1013
        with connect(keyed.ws_url, max_size=None, additional_headers=bearer(KEY_B)) as other:
            other.send(jpeg_frames[0])
            assert recv(other)["type"] == "result", "another key is not affected"
        open_a[0].close()
        deadline = time.monotonic() + 5
        while True:  # the server frees the slot once it sees the close
            with connect(keyed.ws_url, max_size=None, additional_headers=bearer(KEY_A)) as ws:
                ws.send(json.dumps({"type": "ping"}))
                answer = recv(ws)
            if answer == {"type": "pong"} or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert answer == {"type": "pong"}


def test_cors_is_closed_except_to_configured_origins(keyed: ServerProcess) -> None:
    preflight = {"access-control-request-method": "POST",
                 "access-control-request-headers": "authorization,content-type"}
    ok = httpx.options(f"{keyed.url}/v1/gaze", headers={"origin": APP_ORIGIN, **preflight})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == APP_ORIGIN
    evil = httpx.options(f"{keyed.url}/v1/gaze",
                         headers={"origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in evil.headers
    r = httpx.get(f"{keyed.url}/healthz", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    r = httpx.get(f"{keyed.url}/v1/streams/s/summary",
                  headers={"origin": APP_ORIGIN, **bearer(KEY_A)})
    assert r.headers["access-control-allow-origin"] == APP_ORIGIN


def test_websocket_from_another_origin_is_refused(keyed: ServerProcess) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(keyed.ws_url, origin="https://evil.example",  # type: ignore[arg-type]
                additional_headers=bearer(KEY_A))
    assert refused.value.response.status_code == 403
    for origin in (APP_ORIGIN, keyed.url):  # configured, and the service's own pages
        with connect(keyed.ws_url, origin=origin,  # type: ignore[arg-type]
                     additional_headers=bearer(KEY_A)) as ws:
            ws.send(json.dumps({"type": "ping"}))
            assert recv(ws) == {"type": "pong"}


def test_without_keys_cors_and_foreign_websockets_are_closed_too(server: str) -> None:
    preflight = {"origin": "https://evil.example", "access-control-request-method": "POST"}
    r = httpx.options(f"{server}/v1/gaze", headers=preflight)
    assert "access-control-allow-origin" not in r.headers
    ws_url = server.replace("http://", "ws://") + "/v1/stream"
    with pytest.raises(InvalidStatus):
        connect(ws_url, origin="https://evil.example")  # type: ignore[arg-type]
    with connect(ws_url, origin=server) as ws:  # type: ignore[arg-type]
        ws.send(json.dumps({"type": "auth", "api_key": "anything-at-all-123"}))
        assert recv(ws) == {"type": "auth", "status": "ok"}, "no keys: auth is a no-op"


def test_rate_limit_per_key_answers_429_with_retry_after(
        tmp_path_factory: pytest.TempPathFactory, jpeg_frames: list[bytes]) -> None:
    env = {**KEYS_ENV, "GAZE_RATE_LIMIT_PER_S": "2", "GAZE_RATE_LIMIT_BURST": "4"}
    with server_process(env) as server, httpx.Client(base_url=server.url) as client:
        codes = [client.get("/v1/streams/s/summary", headers=bearer(KEY_A)).status_code
                 for _ in range(8)]
        assert codes[:4] == [200] * 4 and 429 in codes[4:], codes
        limited = client.get("/v1/streams/s/summary", headers=bearer(KEY_A))
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        # Another key has its own bucket; probes are never limited.
        assert client.get("/v1/streams/s/summary", headers=bearer(KEY_B)).status_code == 200
        assert all(client.get("/healthz").status_code == 200 for _ in range(10))
        time.sleep(1.1)  # two tokens back
        assert client.get("/v1/streams/s/summary", headers=bearer(KEY_A)).status_code == 200
        # Frames over WebSocket draw on the same bucket and are dropped, reported.
        time.sleep(2.1)
        with connect(server.ws_url, max_size=None, additional_headers=bearer(KEY_B)) as ws:
            for i in range(10):
                ws.send(json.dumps({"type": "frame", "frame_id": i}))
                ws.send(jpeg_frames[i])
            answers, answered = [], set()
            while len(answered) < 10:
                answers.append(recv(ws))
                answered.update(answers[-1].get("frame_ids", [answers[-1].get("frame_id")]))
        limited = [m for m in answers if m.get("reason") == "rate_limited"]
        assert sum(len(m["frame_ids"]) for m in limited) >= 4, answers
        assert all(m["retry_after_s"] > 0 for m in limited)
        assert any(m["type"] == "result" for m in answers)
