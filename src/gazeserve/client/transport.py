"""What the sync and async clients share around the wire: options, request arguments, the retry
decision, and transport failures translated into the client's exceptions."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import httpx
import orjson
from websockets.exceptions import InvalidStatus

from gazeserve.client.errors import (
    GazeClientError,
    GazeConnectionError,
    GazeOverloaded,
    GazeServiceError,
    GazeTimeoutError,
)
from gazeserve.client.options import ClientOptions, RetryPolicy
from gazeserve.client.wire import Call

log = logging.getLogger("gazeserve.client")

WS_OPTIONS: dict[str, Any] = {
    # Frames are JPEG/PNG already: compressing them again costs CPU for nothing.
    "compression": None,
    # A result with landmarks is ~30 kB; the service never sends more than this.
    "max_size": 4 * 1024 * 1024,
}


class HttpTransport:
    """Request arguments and retry decisions for one client's options."""

    def __init__(self, options: ClientOptions) -> None:
        self.options = options

    @staticmethod
    def merge_options(options: ClientOptions | None, *, base_url: str | None,
                      api_key: str | None, timeout_s: float | None, retry: RetryPolicy | None,
                      jpeg_quality: int | None) -> ClientOptions:
        """`options` (or the defaults) with the keyword arguments given on top, validated."""
        given: dict[str, Any] = {k: v for k, v in (("base_url", base_url), ("api_key", api_key),
                                   ("timeout_s", timeout_s), ("retry", retry),
                                   ("jpeg_quality", jpeg_quality)) if v is not None}
        return replace(options or ClientOptions(), **given)

    def request_args(self, call: Call) -> dict[str, Any]:
        """Keyword arguments of `httpx.(Async)Client.request` for one call."""
        return {"method": call.method, "url": self.options.url(call.path),
                "params": call.params or None, "content": call.content,
                "headers": {**self.options.headers(), **call.headers},
                "timeout": self.options.timeout_s}

    def retry_wait_s(self, call: Call, error: GazeServiceError, retry: int) -> float | None:
        """Seconds to wait before retry `retry` (1-based) of a failed call; None to raise."""
        if not call.retry or error.status not in self.options.retry.statuses:
            return None
        wait_s = self.options.retry.wait_s(retry, error.retry_after_s)
        if wait_s is not None:
            log.info("%s %s: %d %s, retry %d in %.2f s", call.method, call.path, error.status,
                     error.code, retry, wait_s)
        return wait_s


def transport_error(exc: httpx.TransportError, call: Call,
                    options: ClientOptions) -> GazeConnectionError:
    """The client's exception for a request that got no answer."""
    where = f"{call.method} {options.url(call.path)}"
    if isinstance(exc, httpx.TimeoutException):
        return GazeTimeoutError(f"{where}: no answer within {options.timeout_s} s ({exc!r})")
    return GazeConnectionError(f"{where}: {exc!r}")


def handshake_error(exc: Exception, options: ClientOptions) -> GazeClientError:
    """The client's exception for a WebSocket that did not open."""
    where = options.ws_url()
    if isinstance(exc, InvalidStatus):
        response = exc.response
        code, message = "http_error", f"the WebSocket handshake was refused ({where})"
        try:
            error = orjson.loads(response.body or b"")["error"]
            code, message = str(error["code"]), str(error["message"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass
        retry_after = response.headers.get("Retry-After")
        retry_after_s = float(retry_after) if retry_after and retry_after.isdigit() else None
        kind = GazeOverloaded if response.status_code in options.retry.statuses \
            else GazeServiceError
        return kind(response.status_code, code, message, retry_after_s)
    if isinstance(exc, TimeoutError):
        return GazeTimeoutError(f"{where}: the WebSocket did not open within {options.timeout_s} s")
    return GazeConnectionError(f"{where}: {exc!r}")
