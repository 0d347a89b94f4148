"""Requests and answers on the wire, shared by the sync and the async client.

Builds each route's request (path, query, body, headers) and turns an answer into JSON or the
fitting exception; the clients only add the transport and the retry loop.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, TypeAlias
from urllib.parse import quote

import httpx
import numpy as np
import numpy.typing as npt
import orjson

from gazeserve.client.errors import (
    GazeOverloaded,
    GazeProtocolError,
    GazeServiceError,
)
from gazeserve.client.images import ImageInput, encoded_image
from gazeserve.client.options import RETRY_STATUSES

Coordinates: TypeAlias = Literal["normalized", "pixels"]
LandmarksInput: TypeAlias = npt.ArrayLike | Sequence[Any]
"""N x 3 numbers (a numpy array or nested lists), or MediaPipe landmark objects (`.x .y .z`)."""


@dataclass(frozen=True)
class Call:
    """One HTTP request, ready to send (and to send again on a retry)."""

    method: str
    path: str
    params: dict[str, str | int | float] = field(default_factory=dict)
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry: bool = True
    """False for probes (`/readyz`): their 503 is the answer, not a reason to wait."""


def gaze_call(image: ImageInput, *, stream_id: str | None, timestamp_ms: float | None,
              include_landmarks: bool, max_faces: int, priority: int | None,
              jpeg_quality: int) -> Call:
    """`POST /v1/gaze` with a raw image body."""
    _check_int("max_faces", max_faces, 1)
    if priority is not None:
        _check_int("priority", priority, 0, 10)
    data, content_type = encoded_image(image, jpeg_quality)
    params: dict[str, str | int | float] = {}
    if stream_id is not None:
        params["stream_id"] = stream_id
    if timestamp_ms is not None:
        params["timestamp_ms"] = timestamp_ms
    if include_landmarks:
        params["include"] = "landmarks"
    if max_faces != 1:
        params["max_faces"] = max_faces
    if priority is not None:
        params["priority"] = priority
    return Call("POST", "/v1/gaze", params, data, {"Content-Type": content_type})


def landmarks_body(landmarks: LandmarksInput, width: int, height: int,
                   coordinates: Coordinates, stream_id: str | None,
                   timestamp_ms: float | None) -> dict[str, Any]:
    """The `POST /v1/gaze/landmarks` body (also the WebSocket `landmarks` message's fields).

    Only the shape is checked here (N points of x, y, z); the service judges the values and
    answers 422 with its reason.
    """
    body: dict[str, Any] = {"landmarks": landmark_array(landmarks), "coordinates": coordinates,
                            "width": width, "height": height}
    if stream_id is not None:
        body["stream_id"] = stream_id
    if timestamp_ms is not None:
        body["timestamp_ms"] = timestamp_ms
    return body


def landmarks_call(landmarks: LandmarksInput, width: int, height: int,
                   coordinates: Coordinates, stream_id: str | None,
                   timestamp_ms: float | None) -> Call:
    """`POST /v1/gaze/landmarks`."""
    body = landmarks_body(landmarks, width, height, coordinates, stream_id, timestamp_ms)
    return Call("POST", "/v1/gaze/landmarks", content=dumps(body),
                headers={"Content-Type": "application/json"})


def calibration_call(stream_id: str, request: Mapping[str, Any]) -> Call:
    """`POST /v1/streams/{stream_id}/calibration` with the request passed through as JSON."""
    if not stream_id:
        raise ValueError("stream_id must be a non-empty string")
    return Call("POST", f"/v1/streams/{quote(stream_id, safe='')}/calibration",
                content=dumps(dict(request)), headers={"Content-Type": "application/json"})


def landmark_array(landmarks: LandmarksInput) -> npt.NDArray[np.float32]:
    """N x 3 float32 from an array, nested lists, or objects with `.x .y .z`."""
    if isinstance(landmarks, Sequence) and landmarks and hasattr(landmarks[0], "x"):
        objects: Sequence[Any] = landmarks
        landmarks = [(p.x, p.y, p.z) for p in objects]
    try:
        points = np.asarray(landmarks, np.float32)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"landmarks must be N x 3 numbers: {exc}") from None
    if points.ndim != 2 or points.shape[1] != 3:
        raise ValueError(f"landmarks must be N x 3 (x, y, z), got shape {points.shape}")
    return points


def dumps(payload: Any) -> bytes:
    """JSON bytes; numpy arrays are written directly (NaN becomes null, which the service
    refuses with 422)."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def answer_json(response: httpx.Response) -> Any:
    """The JSON of a successful answer, or the exception for an error answer."""
    if response.is_success:
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise GazeProtocolError(f"{response.request.method} {response.request.url.path}: "
                                    f"answer is not JSON") from None
    raise service_error(response)


def service_error(response: httpx.Response) -> GazeServiceError:
    """The exception for an error answer: the service's `{"error": {code, message}}` when
    present, else the status and the start of the body (a proxy's HTML page, say)."""
    code, message = "http_error", response.reason_phrase or "error"
    try:
        error = orjson.loads(response.content)["error"]
        code, message = str(error["code"]), str(error["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        text = response.text.strip()
        if text:
            message = text[:200]
    kind = GazeOverloaded if response.status_code in RETRY_STATUSES else GazeServiceError
    return kind(response.status_code, code, message, retry_after_s(response.headers))


def retry_after_s(headers: httpx.Headers) -> float | None:
    """`Retry-After` in seconds (delta-seconds or an HTTP date); None when absent or unreadable."""
    value = headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            return None
        seconds = (when - datetime.now(UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _check_int(name: str, value: object, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an int {bounds}, got {value!r}")
