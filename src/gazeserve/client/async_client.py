"""`AsyncGazeClient`: the service from asyncio (httpx for HTTP, websockets for streams)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from gazeserve.client.errors import GazeConnectionError, GazeServiceError, GazeTimeoutError
from gazeserve.client.images import ImageInput
from gazeserve.client.options import ClientOptions, RetryPolicy
from gazeserve.client.parsing import result_from_dict
from gazeserve.client.streaming import (
    StreamEvent,
    StreamItem,
    StreamOptions,
    StreamSession,
    needs_thread,
    prepare_frame,
)
from gazeserve.client.transport import (
    WS_OPTIONS,
    HttpTransport,
    handshake_error,
    transport_error,
)
from gazeserve.client.wire import (
    Call,
    Coordinates,
    LandmarksInput,
    answer_json,
    calibration_call,
    gaze_call,
    landmarks_call,
)
from gazeserve.results import GazeResult


class AsyncGazeClient:
    """The gazeserve API for asyncio code.

    Example:
        ```python
        async with AsyncGazeClient("http://127.0.0.1:8000") as client:
            result = await client.analyze("face.jpg")
            async for event in client.stream(camera_frames()):
                ...
        ```

    Args:
        base_url: The service's URL.
        api_key: Sent as `Authorization: Bearer <key>`.
        timeout_s: Per-request timeout; on a stream, the longest wait for an answer.
        retry: Retries on 429/503; `RetryPolicy.none()` to raise at once.
        jpeg_quality: JPEG quality for numpy frames.
        http_client: An `httpx.AsyncClient` of your own (proxies, TLS, event hooks); it is used
            as given and not closed by this client.
    """

    def __init__(self, base_url: str | None = None, *, api_key: str | None = None,
                 timeout_s: float | None = None, retry: RetryPolicy | None = None,
                 jpeg_quality: int | None = None, options: ClientOptions | None = None,
                 http_client: httpx.AsyncClient | None = None) -> None:
        self.options = HttpTransport.merge_options(options, base_url=base_url, api_key=api_key,
                                                   timeout_s=timeout_s, retry=retry,
                                                   jpeg_quality=jpeg_quality)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self.options.timeout_s)
        self._transport = HttpTransport(self.options)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Closes the HTTP connections (not an `http_client` passed in)."""
        if self._owns_http:
            await self._http.aclose()

    async def analyze(self, image: ImageInput, *, stream_id: str | None = None,
                      timestamp_ms: float | None = None, include_landmarks: bool = False,
                      max_faces: int = 1, priority: int | None = None) -> GazeResult:
        """Gaze and attention for one image (`POST /v1/gaze`); see `GazeClient.analyze`."""
        if needs_thread(image):
            call = await asyncio.to_thread(
                gaze_call, image, stream_id=stream_id, timestamp_ms=timestamp_ms,
                include_landmarks=include_landmarks, max_faces=max_faces, priority=priority,
                jpeg_quality=self.options.jpeg_quality)
        else:
            call = gaze_call(image, stream_id=stream_id, timestamp_ms=timestamp_ms,
                             include_landmarks=include_landmarks, max_faces=max_faces,
                             priority=priority, jpeg_quality=self.options.jpeg_quality)
        return result_from_dict(await self._json(call))

    async def analyze_landmarks(self, landmarks: LandmarksInput, width: int, height: int,
                                coordinates: Coordinates = "normalized", *,
                                stream_id: str | None = None,
                                timestamp_ms: float | None = None) -> GazeResult:
        """Gaze and attention from a face's landmarks (`POST /v1/gaze/landmarks`); see
        `GazeClient.analyze_landmarks`."""
        return result_from_dict(await self._json(landmarks_call(
            landmarks, width, height, coordinates, stream_id, timestamp_ms)))

    async def calibrate(self, stream_id: str, request: Mapping[str, Any]) -> Any:
        """`POST /v1/streams/{stream_id}/calibration`, the request passed through as JSON; see
        `GazeClient.calibrate`."""
        return await self._json(calibration_call(stream_id, request))

    async def health(self) -> dict[str, Any]:
        """`GET /healthz`: `{"status": "ok"}` while the process is alive."""
        answer: dict[str, Any] = await self._json(Call("GET", "/healthz", retry=False))
        return answer

    async def ready(self) -> dict[str, Any]:
        """`GET /readyz`: `{"status": "ready", "engine", "workers"}`; raises `GazeOverloaded`
        (503 `not_ready`) while models load or the service stops. Not retried."""
        answer: dict[str, Any] = await self._json(Call("GET", "/readyz", retry=False))
        return answer

    def stream(self, frames: AsyncIterable[StreamItem] | Iterable[StreamItem], *,
               max_in_flight: int = 2, include_landmarks: bool = False,
               priority: int | None = None) -> AsyncIterator[StreamEvent]:
        """Streams frames over `WS /v1/stream`; yields every answer as it arrives.

        A frame is taken from `frames` only while fewer than `max_in_flight` frames are
        unanswered, and a frame counts as answered when its event is yielded: a slow consumer
        slows the sender too, and nothing piles up. Results come in the order frames were sent;
        frames the service dropped come as `DroppedFrames`, per-frame errors as `StreamError`;
        every frame sent is answered by exactly one of them.

        `frames` may be a plain iterable (a list, a generator); a live source that blocks while
        waiting for the next frame should be an async iterable. Close the iterator early with
        `contextlib.aclosing(client.stream(...))`.

        Raises:
            GazeConnectionError: The socket could not open, or closed with frames in flight.
            GazeTimeoutError: No answer for `timeout_s` while frames were in flight.
            GazeServiceError: The handshake was refused (e.g. 401, 503).
            ValueError: A bad argument (at once, not on the first iteration).
        """
        options = StreamOptions(max_in_flight, include_landmarks, priority)
        return self._stream(frames, options)

    async def _stream(self, frames: AsyncIterable[StreamItem] | Iterable[StreamItem],
                      options: StreamOptions) -> AsyncIterator[StreamEvent]:
        session = StreamSession(options)
        max_in_flight = options.max_in_flight
        inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        room = asyncio.Semaphore(max_in_flight)
        async with self._connect() as ws:
            for control in session.opening_messages():
                await ws.send(control)
            tasks = [asyncio.create_task(self._send_frames(ws, frames, session, room, inbox)),
                     asyncio.create_task(_receive(ws, inbox))]
            try:
                sending = True
                while sending or session.in_flight:
                    kind, value = await self._next(inbox, session)
                    if kind == "message":
                        before = session.in_flight
                        event = session.on_message(value)
                        for _ in range(before - session.in_flight):
                            room.release()
                        if event is not None:
                            yield event
                    elif kind == "sent":
                        sending = value
                    elif kind == "failed":
                        raise value
                    elif kind == "closed":
                        raise GazeConnectionError(f"the stream closed with {session.in_flight} "
                                                  f"frame(s) unanswered: {value}")
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _next(self, inbox: asyncio.Queue[tuple[str, Any]],
                    session: StreamSession) -> tuple[str, Any]:
        if not session.in_flight:
            return await inbox.get()  # waiting for the source, not the service
        try:
            return await asyncio.wait_for(inbox.get(), self.options.timeout_s)
        except TimeoutError:
            raise GazeTimeoutError(f"no answer for {self.options.timeout_s} s with "
                                   f"{session.in_flight} frame(s) in flight") from None

    async def _send_frames(self, ws: ClientConnection,
                           frames: AsyncIterable[StreamItem] | Iterable[StreamItem],
                           session: StreamSession, room: asyncio.Semaphore,
                           inbox: asyncio.Queue[tuple[str, Any]]) -> None:
        try:
            async with contextlib.aclosing(_aiter(frames)) as source:
                while True:
                    await room.acquire()  # room first, then the frame: the newest is sent
                    item = await anext(source, _END)
                    if item is _END:
                        break
                    await self._send_frame(ws, item, session)
                    await inbox.put(("sent", True))
        except ConnectionClosed:
            return  # the receiver reports it
        except Exception as exc:
            await inbox.put(("failed", exc))
            return
        await inbox.put(("sent", False))

    async def _send_frame(self, ws: ClientConnection, item: StreamItem,
                          session: StreamSession) -> None:
        if needs_thread(item):
            prepared = await asyncio.to_thread(prepare_frame, item, self.options.jpeg_quality)
        else:
            prepared = prepare_frame(item, self.options.jpeg_quality)
        for message in session.frame_messages(prepared):
            await ws.send(message)

    @contextlib.asynccontextmanager
    async def _connect(self) -> AsyncIterator[ClientConnection]:
        try:
            ws = await connect(self.options.ws_url(), additional_headers=self.options.headers(),
                               open_timeout=self.options.timeout_s, **WS_OPTIONS)
        except Exception as exc:
            raise handshake_error(exc, self.options) from exc
        async with ws:
            yield ws

    async def _json(self, call: Call) -> Any:
        retry = 0
        while True:
            try:
                response = await self._http.request(**self._transport.request_args(call))
            except httpx.TransportError as exc:
                raise transport_error(exc, call, self.options) from exc
            try:
                return answer_json(response)
            except GazeServiceError as exc:
                retry += 1
                wait_s = self._transport.retry_wait_s(call, exc, retry)
                if wait_s is None:
                    raise
                await asyncio.sleep(wait_s)


async def _receive(ws: ClientConnection, inbox: asyncio.Queue[tuple[str, Any]]) -> None:
    try:
        async for message in ws:
            await inbox.put(("message", message))
    except ConnectionClosed:
        pass
    await inbox.put(("closed", f"close code {ws.close_code} {ws.close_reason or ''}".strip()))


_END: Any = object()


async def _aiter(frames: AsyncIterable[StreamItem] | Iterable[StreamItem]
                 ) -> AsyncGenerator[StreamItem, None]:
    if isinstance(frames, AsyncIterable):
        async for item in frames:
            yield item
    else:
        for item in frames:
            yield item
