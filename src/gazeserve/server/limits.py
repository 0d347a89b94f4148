"""Limits on request bodies, for every route: how long one may take and how large it may be.

uvicorn times out idle keep-alive connections but not a body in progress, and FastAPI reads a
JSON body whole, whatever its size. `BodyLimitsMiddleware` gives every HTTP request `timeout_s`
from its headers to the end of its body and at most `max_bytes` of it. Past either, the app sees
the client as gone (`http.disconnect`) and whatever it answers becomes `408` or `413`, with
`Connection: close`; a declared `Content-Length` over the limit is refused before any of the
body is read.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gazeserve.server.errors import error_payload


class BodyLimitsMiddleware:
    """Pure ASGI; WebSockets (own size limit) and lifespan pass through."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        if max_bytes < 1 or timeout_s <= 0:
            raise ValueError(f"max_bytes and timeout_s must be positive, got {max_bytes}, "
                             f"{timeout_s}")
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", ())).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, 413)
            return
        deadline = time.monotonic() + self.timeout_s
        received = 0
        body_done = False
        refused: int | None = None  # the status that replaces the app's answer

        async def limited_receive() -> Message:
            nonlocal body_done, received, refused
            if refused is not None:
                return {"type": "http.disconnect"}
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError:
                refused = 408
                return {"type": "http.disconnect"}
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = 413
                    return {"type": "http.disconnect"}
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        answered = False

        async def send_or_replace(message: Message) -> None:
            nonlocal answered
            if refused is None:
                await send(message)
            elif message["type"] == "http.response.start":
                answered = True
                await self._refuse(send, refused)
            # the app's own body for a replaced answer is dropped

        await self.app(scope, limited_receive, send_or_replace)
        if refused is not None and not answered:  # the app answered nothing: answer for it
            await self._refuse(send, refused)

    async def _refuse(self, send: Send, status: int) -> None:
        if status == 413:
            payload = error_payload("payload_too_large", f"the request body exceeds "
                                    f"{self.max_bytes} bytes (GAZE_MAX_BODY_BYTES)")
        else:
            payload = error_payload("request_timeout", f"the request body did not arrive "
                                    f"within GAZE_BODY_TIMEOUT_S ({self.timeout_s:g} s)")
        body = orjson.dumps(payload)
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
