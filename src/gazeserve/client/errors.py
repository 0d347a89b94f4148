"""What the client raises. Every exception derives from `GazeClientError`.

The service answers errors as `{"error": {"code", "message"}}` with an HTTP status; the client
turns them into `GazeServiceError` (or `GazeOverloaded` for 429/503, after its retries ran out).
"""

from __future__ import annotations


class GazeClientError(Exception):
    """Base class of everything the client raises."""


class GazeServiceError(GazeClientError):
    """The service answered with an error.

    Attributes:
        status: HTTP status (for a WebSocket error message: 0, the socket has no status).
        code: The service's stable machine-readable code, e.g. `invalid_request`.
        message: The service's one-line explanation.
        retry_after_s: The `Retry-After` the service sent, in seconds; None when it sent none.
    """

    def __init__(self, status: int, code: str, message: str,
                 retry_after_s: float | None = None) -> None:
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s


class GazeOverloaded(GazeServiceError):  # noqa: N818 (the name the API promises)
    """429 or 503: the service shed the request (queue full, stale frame, not ready).

    Raised once the client's `RetryPolicy` gave up; `retry_after_s` says when to try again.
    """


class GazeConnectionError(GazeClientError):
    """The service could not be reached, or the connection broke before an answer."""


class GazeTimeoutError(GazeConnectionError):
    """No answer within the client's `timeout_s`."""


class GazeProtocolError(GazeClientError):
    """The service's answer is not what this client understands (not JSON, another schema)."""


class ImageEncodingError(GazeClientError, ValueError):
    """A frame could not be turned into an encoded image (bad array, no JPEG encoder)."""
