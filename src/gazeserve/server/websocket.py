"""`WS /v1/stream`: binary messages are frames, text messages are JSON control.

Per connection: one stream state (tracking), at most one frame in flight and one waiting; a
frame that arrives while another waits replaces it (latest wins) and the replaced one is
reported as dropped. Results go out in the order frames were sent.

Client -> server
  binary                                  an encoded frame (JPEG, PNG, WebP)
  {"type": "frame", "frame_id", "timestamp_ms"}   metadata for the next binary frame
  {"type": "landmarks", "landmarks", "coordinates", "width", "height", "frame_id"?,
   "timestamp_ms"?}   a face's landmarks instead of a frame (see POST /v1/gaze/landmarks)
  {"type": "config", "include_landmarks", "priority"}
  {"type": "calibration", "action": "start", "screen": {"width_px", "height_px"}}
  {"type": "calibration", "action": "target", "target_px": [x, y], "t_ms"?}  a dot is shown
  {"type": "calibration", "action": "finish" | "cancel"}
  {"type": "ping"}
  {"type": "auth", "api_key"}   with GAZE_API_KEYS, the first message (unless a header carried
                                the key: `Authorization: Bearer` or `X-API-Key`); else answered ok
Server -> client
  {"type": "auth", "status": "required" | "ok"}   "required" at once when keys are on and no
      header carried one; a missing, wrong or late key then closes the socket (1008)
  {"type": "result", "frame_id", "server_ms", "wait_ms", ...result schema v1}
      server_ms: from the frame's arrival to its result; wait_ms: the part spent waiting
  {"type": "dropped", "frame_ids": [...], "reason": "superseded" | "stale" | "queue_full" | ...}
  {"type": "error", "frame_id"?, "error": {"code", "message"}}
  {"type": "event", "event": "blink" | "fixation" | "on_screen" | "off_screen", "t_ms", ...}
  {"type": "calibration", "state": "started" | "target" | "done" | "failed" | "cancelled",
   on done "error_px", "error_deg", "points", "calibration"}
  {"type": "config", "config": {...}}, {"type": "pong"}

Close codes: 1008 too many invalid messages, no or a wrong API key, a page from an origin not
allowed, or a client that does not read its answers; 1013 too many streams for one key; 1001
the server shuts down (after answering the frames in flight).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from gazeserve.gaze.filters import TimestampOrderError
from gazeserve.imaging.errors import ImageDecodeError
from gazeserve.scheduling.frame_queue import DropReason, FrameDropped
from gazeserve.server import calibration
from gazeserve.server.errors import error_payload, from_decode_error
from gazeserve.server.landmarks import DegenerateLandmarksError, LandmarksRequest
from gazeserve.server.security import AUTH_HINT, identity_of, key_from_headers
from gazeserve.server.service import GazeService
from gazeserve.streams import StreamOrderError

router = APIRouter()
log = logging.getLogger("gazeserve.websocket")

MAX_CONSECUTIVE_ERRORS = 20
"""Bad messages in a row before the connection is closed as abusive (1008)."""
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013
CLOSE_TIMEOUT_S = 2.0
"""How long a close frame may wait on a client that does not read."""
RATE_LIMITED = "rate_limited"
"""The `dropped` reason of a frame over the key's rate limit."""


class ClientNotReading(Exception):  # noqa: N818 (a state of the client, not our error)
    """An answer could not be written within GAZE_WS_SEND_TIMEOUT_S."""


@dataclass
class _Frame:
    data: bytes | LandmarksRequest
    frame_id: Any
    timestamp_ms: float | None
    received_s: float = field(default_factory=time.monotonic)


class _Session:
    def __init__(self, service: GazeService, websocket: WebSocket, identity: str) -> None:
        self.service = service
        self.ws = websocket
        self.identity = identity
        self.stream = service.stream(f"ws-{id(self):x}-{next(_ids)}")
        self.include_landmarks = False
        self.priority = 5
        self._next_meta: dict[str, Any] = {}
        self._pending: collections.deque[_Frame] = collections.deque()
        self._in_work = False
        self._frame_ready = asyncio.Event()
        self._send_lock = asyncio.Lock()
        self._sequence = itertools.count()
        self._errors_in_a_row = 0
        self._closing = False

    @property
    def idle(self) -> bool:
        return not self._pending and not self._in_work

    async def close_going_away(self) -> None:
        """Shutdown: the frames in flight were answered (or the drain deadline passed)."""
        await self._close(GOING_AWAY, "server shutting down")

    async def run(self) -> None:
        self.service.connections.add(self)
        processor = asyncio.create_task(self._process_frames(), name="gazeserve-ws-frames")
        receiver = asyncio.create_task(self._receive(), name="gazeserve-ws-receive")
        try:
            # Either ends the session: the client left or misbehaved (receiver), or it stopped
            # reading its answers (processor, on a send timeout).
            await asyncio.wait({processor, receiver}, return_when=asyncio.FIRST_COMPLETED)
            for task in (receiver, processor):
                if task.done() and not task.cancelled() and isinstance(task.exception(),
                                                                       ClientNotReading):
                    log.info("closing a WebSocket whose client does not read its answers")
                    await self._close(POLICY_VIOLATION, "client does not read its answers")
        finally:
            for task in (receiver, processor):
                task.cancel()
            await asyncio.gather(receiver, processor, return_exceptions=True)
            self.service.connections.discard(self)
            if self.stream is not None:
                self.service.streams.remove(self.stream.stream_id)

    async def _receive(self) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    return
                if message.get("bytes") is not None:
                    await self._on_frame(message["bytes"])
                elif message.get("text") is not None:
                    await self._on_text(message["text"])
                if self._errors_in_a_row >= MAX_CONSECUTIVE_ERRORS:
                    await self._close(POLICY_VIOLATION, "too many invalid messages")
                    return

    async def _close(self, code: int, reason: str) -> None:
        """Sends the close frame once; gives up on a client that does not read."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self.ws.close(code=code, reason=reason)

    async def _on_landmarks(self, message: dict[str, Any]) -> None:
        fields = {k: v for k, v in message.items() if k not in ("type", "frame_id")}
        frame_id = message.get("frame_id", next(self._sequence))
        try:
            request = LandmarksRequest.model_validate(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            await self._error("invalid_landmarks", f"{where}: {first['msg']}" if where
                              else first["msg"], frame_id)
            return
        await self._enqueue(_Frame(request, frame_id, request.timestamp_ms))

    async def _on_frame(self, data: bytes) -> None:
        meta, self._next_meta = self._next_meta, {}
        frame_id = meta.get("frame_id", next(self._sequence))
        limit = self.service.settings.gaze_max_body_bytes
        if len(data) > limit:
            await self._error("payload_too_large",
                              f"frame of {len(data)} bytes exceeds GAZE_MAX_BODY_BYTES ({limit})",
                              frame_id)
            return
        if not data:
            await self._error("empty_body", "empty binary message; send an encoded image",
                              frame_id)
            return
        await self._enqueue(_Frame(data, frame_id, meta.get("timestamp_ms")))

    async def _enqueue(self, frame: _Frame) -> None:
        """The frame waits for the one in flight; a newer one replaces it (latest wins).

        Two may wait while nothing is in flight: frames sent back to back reach the socket
        together, before the processor has taken the first.
        """
        self._errors_in_a_row = 0
        refused = self._refusal()
        if refused is not None:
            await self._send({"type": "dropped", "frame_ids": [frame.frame_id], **refused})
            return
        self._pending.append(frame)
        waiting = 1 if self._in_work else 2
        replaced = [self._pending.popleft().frame_id
                    for _ in range(max(0, len(self._pending) - waiting))]
        self._frame_ready.set()
        if replaced:
            await self._send({"type": "dropped", "frame_ids": replaced,
                              "reason": DropReason.SUPERSEDED.value})

    def _refusal(self) -> dict[str, Any] | None:
        """Why a new frame is not taken at all: shutting down, or over the key's rate limit."""
        if self.service.draining or self._closing:
            return {"reason": DropReason.SHUTDOWN.value}
        wait_s = self.service.access.rate_limiter.take(self.identity)
        if wait_s > 0:
            return {"reason": RATE_LIMITED, "retry_after_s": round(wait_s, 3)}
        return None

    async def _on_text(self, text: str) -> None:
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            await self._error("invalid_message", "text messages must be JSON control messages; "
                              "send frames as binary messages")
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "frame":
            await self._on_frame_meta(message)
        elif kind == "landmarks":
            await self._on_landmarks(message)
        elif kind == "config":
            await self._on_config(message)
        elif kind == "calibration":
            await self._on_calibration(message)
        elif kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "auth":  # already authenticated, or no keys configured
            await self._send({"type": "auth", "status": "ok"})
        else:
            await self._error("invalid_message", f"unknown message type {kind!r}; expected "
                              "'frame', 'landmarks', 'config', 'calibration' or 'ping'")

    async def _on_calibration(self, message: dict[str, Any]) -> None:
        """The guided run: start (screen), a target per dot shown, finish (fit); or cancel."""
        action = message.get("action")
        stream = self.stream
        assert stream is not None
        try:
            if action == "start":
                await calibration.start(stream, calibration.ScreenModel.model_validate(
                    message.get("screen")))
                await self._send({"type": "calibration", "state": "started"})
            elif action == "target":
                x, y = message["target_px"]
                t_ms = message.get("t_ms")
                await calibration.show_target(stream, (float(x), float(y)),
                                              None if t_ms is None else float(t_ms))
                await self._send({"type": "calibration", "state": "target",
                                  "target_px": [x, y]})
            elif action == "finish":
                fitted = await calibration.finish(stream)
                await self._send({"type": "calibration", "state": "done",
                                  **calibration.calibration_reply(fitted)})
            elif action == "cancel":
                await calibration.cancel(stream)
                await self._send({"type": "calibration", "state": "cancelled"})
            else:
                await self._error("invalid_message", f"unknown calibration action {action!r}; "
                                  "expected 'start', 'target', 'finish' or 'cancel'")
        except (ValueError, TypeError, KeyError, ValidationError) as exc:
            self._errors_in_a_row += 1
            await self._send({"type": "calibration", "state": "failed",
                              **error_payload("invalid_calibration", _one_line(exc))})

    async def _on_frame_meta(self, message: dict[str, Any]) -> None:
        frame_id = message.get("frame_id")
        timestamp = message.get("timestamp_ms")
        if frame_id is not None and not isinstance(frame_id, (int, str)):
            await self._error("invalid_message", "frame_id must be an integer or a string")
            return
        if timestamp is not None and (isinstance(timestamp, bool)
                                      or not isinstance(timestamp, (int, float))):
            await self._error("invalid_message", "timestamp_ms must be a number")
            return
        self._next_meta = {k: v for k, v in (("frame_id", frame_id),
                                             ("timestamp_ms", timestamp)) if v is not None}

    async def _on_config(self, message: dict[str, Any]) -> None:
        include = message.get("include_landmarks", self.include_landmarks)
        priority = message.get("priority", self.priority)
        if not isinstance(include, bool):
            await self._error("invalid_message", "include_landmarks must be true or false")
            return
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 10:
            await self._error("invalid_message", "priority must be an integer from 0 to 10")
            return
        self.include_landmarks, self.priority = include, priority
        await self._send({"type": "config", "config": {
            "include_landmarks": include, "priority": priority,
            "stream_id": self.stream.stream_id if self.stream else None}})

    async def _process_frames(self) -> None:
        while True:
            await self._frame_ready.wait()
            self._frame_ready.clear()
            while self._pending:
                frame = self._pending.popleft()
                self._in_work = True
                try:
                    await self._process(frame)
                finally:
                    self._in_work = False

    async def _process(self, frame: _Frame) -> None:
        try:
            if isinstance(frame.data, LandmarksRequest):
                request = frame.data
                result = await self.service.analyze_landmarks(
                    request.points_px(), request.width, request.height, stream=self.stream,
                    timestamp_ms=frame.timestamp_ms, priority=self.priority,
                    frame_id=frame.frame_id, arrived_at=frame.received_s)
            else:
                result = await self.service.analyze(
                    frame.data, stream=self.stream, timestamp_ms=frame.timestamp_ms,
                    priority=self.priority, include_landmarks=self.include_landmarks,
                    frame_id=frame.frame_id, arrived_at=frame.received_s)
        except FrameDropped as exc:
            await self._send({"type": "dropped", "frame_ids": [frame.frame_id],
                              "reason": str(exc.reason)})
        except ImageDecodeError as exc:
            api = from_decode_error(exc)
            await self._error(api.code, api.message, frame.frame_id)
        except (StreamOrderError, TimestampOrderError) as exc:
            await self._error("out_of_order", str(exc), frame.frame_id)
        except DegenerateLandmarksError as exc:
            await self._error("invalid_landmarks", str(exc), frame.frame_id)
        except Exception:  # a bug for this frame only: answer it, keep serving the socket
            log.exception("frame %r failed", frame.frame_id)
            await self._error("internal_error", "this frame could not be processed; the "
                              "connection is still open", frame.frame_id)
        else:
            done = time.monotonic()
            server_ms = (done - frame.received_s) * 1000
            payload = result.to_dict()
            events = payload.pop("events")
            await self._send({"type": "result", "frame_id": frame.frame_id,
                              "server_ms": round(server_ms, 2),
                              "wait_ms": round(server_ms - result.timings_ms.total, 2),
                              **payload})
            for event in events:
                await self._send(event)

    async def _error(self, code: str, message: str, frame_id: Any = None) -> None:
        self._errors_in_a_row += 1
        payload: dict[str, Any] = {"type": "error", **error_payload(code, message)}
        if frame_id is not None:
            payload["frame_id"] = frame_id
        await self._send(payload)

    async def _send(self, payload: dict[str, Any]) -> None:
        timeout_s = self.service.settings.gaze_ws_send_timeout_s
        try:
            async with asyncio.timeout(timeout_s):
                async with self._send_lock:
                    await self.ws.send_text(orjson.dumps(payload).decode())
        except TimeoutError:
            raise ClientNotReading(f"an answer waited over {timeout_s:g} s") from None


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


_ids = itertools.count()


@router.websocket("/v1/stream")
async def stream_socket(websocket: WebSocket) -> None:
    service: GazeService = websocket.app.state.service
    access = service.access
    headers = websocket.headers
    if not access.origin_allowed(headers.get("origin"), headers.get("host")):
        await websocket.close(code=POLICY_VIOLATION, reason="origin not allowed")  # 403
        return
    label = None
    header_key = key_from_headers(headers)
    if access.keys.enabled and header_key is not None:
        label = access.keys.identify(header_key)
        if label is None:
            await websocket.close(code=POLICY_VIOLATION, reason="unauthorized")  # 403
            return
    await websocket.accept()
    if service.draining:
        await websocket.close(code=GOING_AWAY, reason="server shutting down")
        return
    if access.keys.enabled and label is None:
        label = await _authenticate(websocket, service)
        if label is None:
            return
    identity = identity_of(websocket.scope, label)
    if not access.stream_slots.acquire(identity):
        await _refuse(websocket, TRY_AGAIN_LATER, "too_many_streams",
                      f"this key already has {access.stream_slots.limit} streams open "
                      "(GAZE_MAX_STREAMS_PER_KEY); close one first")
        return
    try:
        await _Session(service, websocket, identity).run()
    finally:
        access.stream_slots.release(identity)


async def _authenticate(websocket: WebSocket, service: GazeService) -> str | None:
    """The first message must be `{"type": "auth", "api_key": ...}`: browsers cannot set
    headers on a WebSocket. The key's label, or None once the socket is closed."""
    timeout_s = service.settings.gaze_ws_auth_timeout_s
    await websocket.send_text('{"type":"auth","status":"required"}')
    try:
        async with asyncio.timeout(timeout_s):
            message = await websocket.receive()
    except TimeoutError:
        await _refuse(websocket, POLICY_VIOLATION, "unauthorized",
                      f"no auth message within {timeout_s:g} s; {AUTH_HINT}, or send "
                      '{"type": "auth", "api_key": "<key>"} first')
        return None
    if message["type"] == "websocket.disconnect":
        return None
    key = None
    with contextlib.suppress(orjson.JSONDecodeError, TypeError):
        payload = orjson.loads(message.get("text") or b"")
        if isinstance(payload, dict) and payload.get("type") == "auth":
            candidate = payload.get("api_key")
            key = candidate if isinstance(candidate, str) else None
    label = service.access.keys.identify(key)
    if label is None:
        await _refuse(websocket, POLICY_VIOLATION, "unauthorized",
                      "the first message must be {\"type\": \"auth\", \"api_key\": \"<key>\"} "
                      "with a valid key")
        return None
    await websocket.send_text('{"type":"auth","status":"ok"}')
    return label


async def _refuse(websocket: WebSocket, code: int, error: str, message: str) -> None:
    """An error message, then the close (both given up on a client that does not read)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await websocket.send_text(orjson.dumps({"type": "error",
                                                    **error_payload(error, message)}).decode())
            await websocket.close(code=code, reason=error)
