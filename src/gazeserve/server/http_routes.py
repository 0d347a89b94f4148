"""HTTP routes: one frame per request, health, readiness and metrics."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import AsyncGenerator
from dataclasses import asdict
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from gazeserve.observability import render_prometheus
from gazeserve.observability.snapshot import build_snapshot
from gazeserve.scheduling.frame_queue import DropReason, FrameDropped, QueueFullError
from gazeserve.server import calibration
from gazeserve.server.errors import ApiError
from gazeserve.server.landmarks import DegenerateLandmarksError, LandmarksRequest
from gazeserve.server.schemas import (
    CalibrationReplyModel,
    DeletedModel,
    GazeResultModel,
    HealthModel,
    ReadyModel,
    SummaryModel,
    responses,
)
from gazeserve.server.service import GazeService
from gazeserve.streams import STREAM_ID_PATTERN, StreamOrderError

router = APIRouter()

IMAGE_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/webp", "image/bmp",
                         "application/octet-stream"})
GAZE_QUERY = frozenset({"stream_id", "timestamp_ms", "priority", "include", "max_faces"})


def service_of(request: Request) -> GazeService:
    service: GazeService = request.app.state.service
    return service


def json_response(payload: object, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json",
                    headers=headers)


def server_timing(started_ns: int, pipeline_ms: float) -> dict[str, str]:
    """`Server-Timing`: the request's time in the service (body read to answer) and the
    pipeline's part of it, in ms; the rest is the wait in the queue."""
    total_ms = (time.perf_counter_ns() - started_ns) / 1e6
    return {"Server-Timing": f"total;dur={total_ms:.2f}, pipeline;dur={pipeline_ms:.2f}"}


# Every route behind the API's access control may answer 401 (no key) and 429 (rate limit);
# every route with a body 400 (unparsable), 408 (too slow) and 413 (too large).
_ACCESS = (401, 429)
_BODY = (400, 408, 413)


@router.post(
    "/v1/gaze",
    summary="Gaze and attention for one frame",
    responses=responses(GazeResultModel, 400, 408, 409, 413, 415, 422, 503, *_ACCESS),
    openapi_extra={"requestBody": {"required": True, "content": {
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/webp": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["image"],
            "properties": {"image": {"type": "string", "format": "binary"}}}},
    }}},
)
async def post_gaze(
    request: Request,
    stream_id: Annotated[str | None, Query(pattern=STREAM_ID_PATTERN,
                                           description="Enables tracking and smoothing")] = None,
    timestamp_ms: Annotated[float | None, Query(ge=0, description="Client capture time")] = None,
    priority: Annotated[int, Query(ge=0, le=10, description="Higher is served first")] = 5,
    include: Annotated[Literal["landmarks"] | None, Query()] = None,
    max_faces: Annotated[int, Query(ge=1, le=16)] = 1,
) -> Response:
    """Accepts a raw image body (`image/jpeg|png|webp`) or a multipart field `image`."""
    unknown = sorted(set(request.query_params) - GAZE_QUERY)
    if unknown:
        raise ApiError(422, "invalid_request", f"unknown query parameter {unknown[0]!r}")
    service = service_of(request)
    data = await read_image_body(request, service.settings.gaze_max_body_bytes)
    started_ns = time.perf_counter_ns()
    stream = service.stream(stream_id)
    try:
        result = await service.analyze(data, stream=stream, timestamp_ms=timestamp_ms,
                                       priority=priority, include_landmarks=include is not None,
                                       max_faces=max_faces)
    except FrameDropped as exc:
        raise api_error_for_drop(exc) from None
    except StreamOrderError as exc:
        raise ApiError(409, "out_of_order", str(exc)) from None
    return json_response(result.to_dict(), headers=server_timing(started_ns,
                                                                 result.timings_ms.total))


@router.post("/v1/gaze/landmarks", summary="Gaze and attention from client-side landmarks",
             responses=responses(GazeResultModel, 409, 422, 503, *_BODY, *_ACCESS))
async def post_gaze_landmarks(request: Request, body: LandmarksRequest) -> Response:
    """The privacy-preserving mode: the device runs the face mesh, the service never sees a face.

    Everything after the mesh runs here (eyes, head pose, gaze, attention) and answers the same
    result schema, with no detector or landmark timings.
    """
    service = service_of(request)
    started_ns = time.perf_counter_ns()
    try:
        result = await service.analyze_landmarks(
            body.points_px(), body.width, body.height, stream=service.stream(body.stream_id),
            timestamp_ms=body.timestamp_ms)
    except FrameDropped as exc:
        raise api_error_for_drop(exc) from None
    except StreamOrderError as exc:
        raise ApiError(409, "out_of_order", str(exc)) from None
    except DegenerateLandmarksError as exc:
        raise ApiError(422, "invalid_landmarks", str(exc)) from None
    return json_response(result.to_dict(), headers=server_timing(started_ns,
                                                                 result.timings_ms.total))


StreamIdPath = Annotated[str, Path(pattern=STREAM_ID_PATTERN)]


@router.post("/v1/streams/{stream_id}/calibration", summary="Calibrate a stream to the screen",
             responses=responses(CalibrationReplyModel, 422, *_BODY, *_ACCESS))
async def post_calibration(request: Request, stream_id: StreamIdPath,
                           body: calibration.CalibrationRequest) -> Response:
    """Fits samples (features + screen target) or imports an exported calibration.

    Answers the calibration with its error on held-back targets in px and degrees; results of
    the stream then carry `gaze.screen_point_px` and a calibrated `on_screen`.
    """
    stream = service_of(request).stream(stream_id)
    assert stream is not None
    try:
        fitted = await calibration.from_request(body)
    except ValueError as exc:
        raise ApiError(422, "invalid_calibration", str(exc)) from None
    await calibration.set_calibration(stream, fitted)
    return json_response(calibration.calibration_reply(fitted))


@router.get("/v1/streams/{stream_id}/calibration", summary="Export a stream's calibration",
            responses=responses(CalibrationReplyModel, 404, 422, *_ACCESS))
async def get_calibration(request: Request, stream_id: StreamIdPath) -> Response:
    stream = service_of(request).stream(stream_id)
    fitted = stream.signals.calibration if stream is not None else None
    if fitted is None:
        raise ApiError(404, "not_found", f"stream {stream_id!r} has no calibration")
    return json_response(calibration.calibration_reply(fitted))


@router.delete("/v1/streams/{stream_id}/calibration", summary="Forget a stream's calibration",
               responses=responses(DeletedModel, 422, *_ACCESS))
async def delete_calibration(request: Request, stream_id: StreamIdPath) -> Response:
    stream = service_of(request).stream(stream_id)
    assert stream is not None
    await calibration.set_calibration(stream, None)
    return json_response({"status": "deleted"})


@router.get("/v1/streams/{stream_id}/summary", summary="Blinks, fixations and on-screen share",
            responses=responses(SummaryModel, 422, *_ACCESS))
async def get_summary(request: Request, stream_id: StreamIdPath) -> Response:
    stream = service_of(request).stream(stream_id)
    assert stream is not None
    summary = await calibration.locked(stream, stream.signals.events.summary)
    return json_response({"stream_id": stream_id, "frames": stream.frames, **summary})


def api_error_for_drop(exc: FrameDropped) -> ApiError:
    """Shed load: 503 with Retry-After, or 409 when a newer frame of the stream replaced it."""
    if isinstance(exc, QueueFullError):
        retry = str(max(1, math.ceil(exc.retry_after_s)))
        return ApiError(503, "overloaded", "the frame queue is full; retry later",
                        {"Retry-After": retry})
    if exc.reason == DropReason.SUPERSEDED:
        return ApiError(409, "superseded", "a newer frame of the same stream replaced this one")
    if exc.reason == DropReason.SHUTDOWN:
        return ApiError(503, "shutting_down", "the service is shutting down; retry on another "
                        "instance", {"Retry-After": "1", "Connection": "close"})
    if exc.reason == DropReason.STALE:
        return ApiError(503, "frame_stale", "the frame waited longer than MAX_FRAME_AGE_MS; "
                        "the service is busy", {"Retry-After": "1"})
    return ApiError(503, "unavailable", f"frame dropped ({exc.reason})", {"Retry-After": "1"})


async def read_image_body(request: Request, max_bytes: int) -> bytes:
    """The image bytes of a raw or multipart body, refusing more than `max_bytes`.

    The body is read into memory only (never a temporary file); `BodyLimitsMiddleware` ends a
    body that takes longer than `GAZE_BODY_TIMEOUT_S` (408).
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    multipart = content_type == "multipart/form-data"
    if not multipart and content_type not in IMAGE_TYPES:
        shown = content_type or "none"
        raise ApiError(415, "unsupported_media_type",
                       f"content type {shown!r} is not an image; send image/jpeg, image/png, "
                       "image/webp or multipart/form-data with a field 'image'")
    body = await _read_body(request, max_bytes + (MULTIPART_OVERHEAD_BYTES if multipart else 0),
                            max_bytes)
    if multipart:
        return await _read_multipart(request, body, max_bytes)
    if not body:
        raise ApiError(400, "empty_body", "the request body is empty; send an image")
    return body


async def _read_body(request: Request, limit: int, max_bytes: int) -> bytes:
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _too_large(max_bytes)
    except ClientDisconnect:
        raise ApiError(400, "client_disconnected", "the client went away during the upload") \
            from None
    return bytes(body)


MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for a multipart body's boundaries and part headers around an image of the limit."""


class _InMemoryMultiPartParser(MultiPartParser):
    """Starlette's parser, its file parts kept in memory: by default a part over 1 MiB is
    spooled to a temporary file, and a person's frame must never reach the disk. The body is
    already in memory and bounded, so this adds no memory."""

    spool_max_size = sys.maxsize


async def _read_multipart(request: Request, body: bytes, max_bytes: int) -> bytes:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body
        yield b""

    parser = _InMemoryMultiPartParser(request.headers, stream(), max_files=1, max_fields=8,
                                      max_part_size=max_bytes)
    try:
        form = await parser.parse()
    except Exception as exc:  # python-multipart and starlette raise several kinds
        raise ApiError(400, "bad_multipart", f"could not parse the multipart body: "
                       f"{_one_line(exc)}") from None
    try:
        upload = form.get("image")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "invalid_request",
                           "multipart field 'image' (a file) is required")
        data = await upload.read(max_bytes + 1)
    finally:
        await form.close()
    if len(data) > max_bytes:
        raise _too_large(max_bytes)
    if not data:
        raise ApiError(400, "empty_body", "the 'image' field is empty; send an image")
    return data


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _too_large(max_bytes: int) -> ApiError:
    return ApiError(413, "payload_too_large",
                    f"the body exceeds GAZE_MAX_BODY_BYTES ({max_bytes} bytes)")


@router.get("/healthz", summary="Alive", responses=responses(HealthModel))
async def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/readyz", summary="Models loaded and warm, workers running",
            responses=responses(ReadyModel, 401, 503))
async def readyz(request: Request) -> Response:
    service = service_of(request)
    if not service.ready:
        raise ApiError(503, "not_ready", "models are loading or the service is stopping",
                       {"Retry-After": "1"})
    return json_response({"status": "ready", "engine": service.runtime.value,
                          "mesh": service.engine.mesh_kind.value,
                          "mesh_reason": service.engine.mesh_reason,
                          "batching": service.engine.batching_reason,
                          "workers": service.settings.max_workers})


@router.get("/metrics", summary="Prometheus text exposition", responses={
    200: {"content": {"text/plain": {"schema": {"type": "string"}},
                      "application/openmetrics-text": {"schema": {"type": "string"}}}},
    **responses(None, 401)})
async def metrics(request: Request) -> Response:
    body, content_type = render_prometheus(accept=request.headers.get("accept"))
    return Response(body, media_type=content_type)


@router.get("/metrics.json", summary="The same figures as JSON (latencies in seconds)",
            responses={200: {"content": {"application/json": {"schema": {"type": "object"}}}},
                       **responses(None, 401)})
async def metrics_json(request: Request) -> Response:
    service = service_of(request)
    snapshot = build_snapshot(service.metrics, asdict(service.queue.stats()),
                              service.system_info())
    return json_response(snapshot)
