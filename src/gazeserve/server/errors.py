"""Every error the service answers is JSON `{"error": {"code", "message"}}` with a fitting status.

Bad input is the client's to fix (4xx) and leaves the service healthy; a 500 means a bug here.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from gazeserve.imaging.errors import (
    CorruptImageError,
    EmptyImageError,
    ImageDecodeError,
    ImageTooLargeError,
    UnsupportedImageError,
)

log = logging.getLogger("gazeserve.server")


class ApiError(Exception):
    """An error answer: HTTP status, a stable machine-readable code, and a one-line message."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


_DECODE_ERRORS: tuple[tuple[type[ImageDecodeError], int, str], ...] = (
    (EmptyImageError, 400, "empty_body"),
    (UnsupportedImageError, 415, "unsupported_media_type"),
    (ImageTooLargeError, 413, "image_too_large"),
    (CorruptImageError, 422, "corrupt_image"),
)


def from_decode_error(exc: ImageDecodeError) -> ApiError:
    for kind, status, code in _DECODE_ERRORS:
        if isinstance(exc, kind):
            return ApiError(status, code, str(exc))
    return ApiError(422, "undecodable_image", str(exc))


def error_payload(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(error: ApiError) -> Response:
    return Response(orjson.dumps(error_payload(error.code, error.message)),
                    status_code=error.status, media_type="application/json",
                    headers=error.headers)


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 408: "request_timeout", 409: "conflict",
                 413: "payload_too_large", 415: "unsupported_media_type", 422: "invalid_request",
                 429: "rate_limited", 503: "overloaded"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> Response:
        return error_response(exc)

    @app.exception_handler(ImageDecodeError)
    async def _decode_error(_: Request, exc: ImageDecodeError) -> Response:
        return error_response(from_decode_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"
        return error_response(ApiError(422, "invalid_request", message))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return error_response(ApiError(exc.status_code, code, str(exc.detail),
                                       dict(exc.headers or {})))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(ApiError(500, "internal_error",
                                       "internal error; the service is still running"))
