"""`GazeClient`: the service from plain (blocking) Python code."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from gazeserve.client.errors import GazeConnectionError, GazeServiceError, GazeTimeoutError
from gazeserve.client.images import ImageInput
from gazeserve.client.options import ClientOptions, RetryPolicy
from gazeserve.client.parsing import result_from_dict
from gazeserve.client.streaming import (
    StreamEvent,
    StreamItem,
    StreamOptions,
    StreamSession,
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

_END: Any = object()


class GazeClient:
    """The gazeserve API for blocking code; safe to share between threads (httpx's pool).

    Example:
        ```python
        with GazeClient("http://127.0.0.1:8000", api_key="...") as client:
            result = client.analyze("face.jpg")
            print(result.faces[0].gaze.yaw_deg)
        ```

    Args:
        base_url: The service's URL (default `http://127.0.0.1:8000`).
        api_key: Sent as `Authorization: Bearer <key>` on requests and the WebSocket handshake.
        timeout_s: Per-request timeout; on a stream, the longest wait for an answer.
        retry: Retries on 429/503; `RetryPolicy.none()` to raise at once.
        jpeg_quality: JPEG quality for numpy frames.
        options: All of the above in one `ClientOptions`; keyword arguments given override it.
        http_client: An `httpx.Client` of your own (proxies, TLS, event hooks); it is used as
            given and not closed by this client.
    """

    def __init__(self, base_url: str | None = None, *, api_key: str | None = None,
                 timeout_s: float | None = None, retry: RetryPolicy | None = None,
                 jpeg_quality: int | None = None, options: ClientOptions | None = None,
                 http_client: httpx.Client | None = None) -> None:
        self.options = HttpTransport.merge_options(options, base_url=base_url, api_key=api_key,
                                                   timeout_s=timeout_s, retry=retry,
                                                   jpeg_quality=jpeg_quality)
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=self.options.timeout_s)
        self._transport = HttpTransport(self.options)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Closes the HTTP connections (not an `http_client` passed in)."""
        if self._owns_http:
            self._http.close()

    def analyze(self, image: ImageInput, *, stream_id: str | None = None,
                timestamp_ms: float | None = None, include_landmarks: bool = False,
                max_faces: int = 1, priority: int | None = None) -> GazeResult:
        """Gaze and attention for one image (`POST /v1/gaze`).

        Args:
            image: Encoded bytes (JPEG, PNG, WebP, BMP), a path to such a file, or an H x W x 3
                RGB uint8 array (encoded to JPEG here; needs Pillow or simplejpeg).
            stream_id: Frames of one camera share it: tracking (the detector is skipped while
                the face is followed) and smoothing.
            timestamp_ms: Capture time; within a stream it must not go back (else 409).
            include_landmarks: Also answer the 478 landmarks (`FaceResult.landmarks_px`).
            max_faces: Faces to analyse, at most (1-16).
            priority: Queue priority 0-10, higher first; the service's default (5) if None.

        Raises:
            GazeServiceError: 4xx: the request is wrong (`code` and `message` say how).
            GazeOverloaded: 429/503 after the retries ran out.
            GazeConnectionError: No answer (`GazeTimeoutError` after `timeout_s`).
        """
        call = gaze_call(image, stream_id=stream_id, timestamp_ms=timestamp_ms,
                         include_landmarks=include_landmarks, max_faces=max_faces,
                         priority=priority, jpeg_quality=self.options.jpeg_quality)
        return result_from_dict(self._json(call))

    def analyze_landmarks(self, landmarks: LandmarksInput, width: int, height: int,
                          coordinates: Coordinates = "normalized", *,
                          stream_id: str | None = None,
                          timestamp_ms: float | None = None) -> GazeResult:
        """Gaze and attention from a face's landmarks (`POST /v1/gaze/landmarks`).

        The privacy-preserving mode: the device runs the face mesh, only 478 (or 468) points
        leave it. The result has the same schema as `analyze`.

        Args:
            landmarks: N x 3 (x, y, z) in MediaPipe's FaceMesh index order: a numpy array,
                nested lists, or MediaPipe's landmark objects (`result.face_landmarks[0]`).
            width: Width in pixels of the frame the landmarks were found in.
            height: Its height in pixels.
            coordinates: `normalized` (MediaPipe's [0, 1] x, y; z on x's scale) or `pixels`.
            stream_id: As in `analyze`.
            timestamp_ms: As in `analyze`.

        Raises:
            ValueError: `landmarks` is not N x 3 numbers.
            GazeServiceError: 422 when the service refuses the points (count, range, NaN).
        """
        return result_from_dict(self._json(landmarks_call(
            landmarks, width, height, coordinates, stream_id, timestamp_ms)))

    def calibrate(self, stream_id: str, request: Mapping[str, Any]) -> Any:
        """`POST /v1/streams/{stream_id}/calibration`.

        A thin pass-through: `request` is sent as JSON as it is and the service's JSON answer is
        returned as it is; see the calibration section of docs/api.md for the body.
        """
        return self._json(calibration_call(stream_id, request))

    def health(self) -> dict[str, Any]:
        """`GET /healthz`: `{"status": "ok"}` while the process is alive."""
        answer: dict[str, Any] = self._json(Call("GET", "/healthz", retry=False))
        return answer

    def ready(self) -> dict[str, Any]:
        """`GET /readyz`: `{"status": "ready", "engine", "workers"}`; raises `GazeOverloaded`
        (503 `not_ready`) while models load or the service stops. Not retried."""
        answer: dict[str, Any] = self._json(Call("GET", "/readyz", retry=False))
        return answer

    def stream(self, frames: Iterable[StreamItem], *, max_in_flight: int = 2,
               include_landmarks: bool = False,
               priority: int | None = None) -> Iterator[StreamEvent]:
        """Streams frames over `WS /v1/stream`; yields every answer. See
        `AsyncGazeClient.stream` for the flow control; here the answers are read between frames
        (a source that blocks for its next frame delays the answers already there).

        Raises:
            ValueError: A bad argument (at once, not on the first iteration).
        """
        options = StreamOptions(max_in_flight, include_landmarks, priority)
        return self._stream(frames, options)

    def _stream(self, frames: Iterable[StreamItem],
                options: StreamOptions) -> Iterator[StreamEvent]:
        session = StreamSession(options)
        with self._connect() as ws:
            for control in session.opening_messages():
                ws.send(control)
            source = iter(frames)
            while True:
                while True:  # answers already here first; no room: wait for one
                    event, got = self._receive(ws, session, wait=not session.has_room)
                    if event is not None:
                        yield event
                    if session.has_room and not got:
                        break
                item = next(source, _END)  # room first, then the frame: the newest is sent
                if item is _END:
                    break
                for message in session.frame_messages(
                        prepare_frame(item, self.options.jpeg_quality)):
                    ws.send(message)
            while session.in_flight:
                event, _ = self._receive(ws, session, wait=True)
                if event is not None:
                    yield event

    def _receive(self, ws: ClientConnection, session: StreamSession,
                 wait: bool) -> tuple[StreamEvent | None, bool]:
        """One message's event (or None) and whether a message came; blocks only if `wait`."""
        timeout = self.options.timeout_s if wait else 0
        try:
            message = ws.recv(timeout=timeout)
        except TimeoutError:
            if wait:
                raise GazeTimeoutError(f"no answer for {self.options.timeout_s} s with "
                                       f"{session.in_flight} frame(s) in flight") from None
            return None, False
        except ConnectionClosed as exc:
            raise GazeConnectionError(f"the stream closed with {session.in_flight} frame(s) "
                                      f"unanswered: {exc}") from exc
        return session.on_message(message), True

    @contextlib.contextmanager
    def _connect(self) -> Iterator[ClientConnection]:
        try:
            ws = connect(self.options.ws_url(), additional_headers=self.options.headers(),
                         open_timeout=self.options.timeout_s, **WS_OPTIONS)
        except Exception as exc:
            raise handshake_error(exc, self.options) from exc
        with ws:
            yield ws

    def _json(self, call: Call) -> Any:
        retry = 0
        while True:
            try:
                response = self._http.request(**self._transport.request_args(call))
            except httpx.TransportError as exc:
                raise transport_error(exc, call, self.options) from exc
            try:
                return answer_json(response)
            except GazeServiceError as exc:
                retry += 1
                wait_s = self._transport.retry_wait_s(call, exc, retry)
                if wait_s is None:
                    raise
                time.sleep(wait_s)
