"""The request-timing middleware on a tiny real FastAPI app, driven in-process over ASGI.

HTTP goes through httpx's ASGI transport. The WebSocket conversation is driven with plain ASGI
messages: starlette's TestClient warns (an error here) unless the separate httpx2 is installed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Response, WebSocket
from fastapi.responses import StreamingResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gazeserve.observability import Metrics, RequestTimingMiddleware

HTTP = "gazeserve_http_request_seconds"


async def static_files(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"<html></html>"})


def make_app(metrics: Metrics) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/gaze")
    async def gaze(response: Response) -> dict[str, bool]:
        response.status_code = 201
        return {"face_detected": False}

    @app.get("/v1/streams/{stream_id}")
    async def stream_info(stream_id: str) -> dict[str, str]:
        return {"stream_id": stream_id}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("inference failed")

    @app.get("/chunks")
    async def chunks() -> StreamingResponse:
        async def parts() -> AsyncIterator[bytes]:
            for i in range(3):
                await asyncio.sleep(0.005)
                yield f"part {i}\n".encode()

        return StreamingResponse(parts(), media_type="text/plain")

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        await ws.accept()
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                await ws.send_bytes(message["bytes"][::-1])
            else:
                await ws.send_text(f"echo {message['text']}")

    app.router.routes.append(Mount("/static", app=static_files))
    app.add_middleware(RequestTimingMiddleware, metrics=metrics)
    return app


def count(metrics: Metrics, route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return metrics.registry.get_sample_value(f"{HTTP}_count", labels) or 0.0


def http_series(metrics: Metrics) -> set[tuple[str, str, str]]:
    return {
        (s.labels["route"], s.labels["method"], s.labels["status"])
        for family in metrics.registry.collect()
        if family.name == HTTP
        for s in family.samples
        if s.name == f"{HTTP}_count"
    }


async def drive(app: FastAPI) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return [
            await client.post(
                "/v1/gaze", content=b"\xff\xd8", headers={"content-type": "image/jpeg"}
            ),
            await client.get("/v1/streams/alice"),
            await client.get("/v1/streams/bob"),
            await client.get("/no/such/path/12345"),
            await client.post("/v1/streams/carol"),
            await client.get("/boom"),
            await client.get("/chunks"),
            await client.get("/static/app.js"),
        ]


def test_requests_are_recorded_by_route_template_method_and_status() -> None:
    metrics = Metrics()

    responses = asyncio.run(drive(make_app(metrics)))

    assert [r.status_code for r in responses] == [201, 200, 200, 404, 405, 500, 200, 200]
    assert responses[6].text == "part 0\npart 1\npart 2\n"  # streaming passes through
    assert count(metrics, "/v1/gaze", "POST", "201") == 1
    assert count(metrics, "/v1/streams/{stream_id}", "GET", "200") == 2  # never the raw path
    assert count(metrics, "other", "GET", "404") == 1
    assert count(metrics, "/v1/streams/{stream_id}", "POST", "405") == 1
    assert count(metrics, "/boom", "GET", "500") == 1
    assert count(metrics, "/chunks", "GET", "200") == 1
    assert count(metrics, "/static/{path}", "GET", "200") == 1
    assert http_series(metrics) == {
        ("/v1/gaze", "POST", "201"),
        ("/v1/streams/{stream_id}", "GET", "200"),
        ("other", "GET", "404"),
        ("/v1/streams/{stream_id}", "POST", "405"),
        ("/boom", "GET", "500"),
        ("/chunks", "GET", "200"),
        ("/static/{path}", "GET", "200"),
    }
    chunks_sum = metrics.registry.get_sample_value(
        f"{HTTP}_sum", {"route": "/chunks", "method": "GET", "status": "200"}
    )
    assert chunks_sum is not None and chunks_sum >= 0.015  # timed until the last chunk


async def websocket_conversation(app: ASGIApp, incoming: list[Message]) -> list[Message]:
    """Connects to ``/v1/stream``, sends ``incoming``, then disconnects; returns what came back."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    for message in [{"type": "websocket.connect"}, *incoming]:
        inbox.put_nowait(message)
    sent: list[Message] = []
    replies_expected = len(incoming)

    async def receive() -> Message:
        return await inbox.get()

    async def send(message: Message) -> None:
        sent.append(message)
        if sum(m["type"] == "websocket.send" for m in sent) == replies_expected:
            inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    scope: Scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": "/v1/stream",
        "raw_path": b"/v1/stream",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test")],
        "subprotocols": [],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    await asyncio.wait_for(app(scope, receive, send), timeout=10)
    return sent


def test_websocket_passes_through_untouched() -> None:
    metrics = Metrics()
    incoming: list[Message] = [
        {"type": "websocket.receive", "text": "calibrate"},
        {"type": "websocket.receive", "bytes": b"\x01\x02\x03"},
    ]

    sent = asyncio.run(websocket_conversation(make_app(metrics), incoming))

    assert sent == [
        {"type": "websocket.accept", "subprotocol": None, "headers": []},
        {"type": "websocket.send", "text": "echo calibrate"},
        {"type": "websocket.send", "bytes": b"\x03\x02\x01"},
    ]
    assert http_series(metrics) == set()
