"""The client's options and its retry policy, validated when they are built."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:8000"
RETRY_STATUSES = frozenset({429, 503})
"""The statuses with which the service sheds load (`Retry-After` tells when to come back)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded, jittered exponential backoff on 429/503 that honours `Retry-After`.

    The wait before retry n (n = 1, 2, ...) is `max(retry_after_s, backoff_s * 2**(n-1))`, capped
    at `max_backoff_s` unless `Retry-After` asks for more, then multiplied by a random factor in
    `[1, 1 + jitter]` so that clients turned away together do not return together. It is never
    shorter than the service's `Retry-After`.

    Attributes:
        max_attempts: Attempts in all, the first included; 1 disables retries.
        backoff_s: The first wait when the service sent no `Retry-After`.
        max_backoff_s: Cap on the exponential part of the wait.
        jitter: Spread of the random factor (0 = none).
        max_retry_after_s: A `Retry-After` longer than this is not waited for: the error is
            raised at once, with `retry_after_s` set, for the caller to decide.
        statuses: The statuses that are retried.
    """

    max_attempts: int = 4
    backoff_s: float = 0.2
    max_backoff_s: float = 5.0
    jitter: float = 0.25
    max_retry_after_s: float = 30.0
    statuses: frozenset[int] = RETRY_STATUSES

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int) \
                or self.max_attempts < 1:
            raise ValueError(f"max_attempts must be an int >= 1, got {self.max_attempts!r}")
        for name in ("backoff_s", "max_backoff_s", "jitter", "max_retry_after_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.max_backoff_s < self.backoff_s:
            raise ValueError(f"max_backoff_s ({self.max_backoff_s}) must be >= backoff_s "
                             f"({self.backoff_s})")

    @classmethod
    def none(cls) -> RetryPolicy:
        """No retries: the first 429/503 raises `GazeOverloaded`."""
        return cls(max_attempts=1)

    def wait_s(self, retry: int, retry_after_s: float | None,
               rng: random.Random | None = None) -> float | None:
        """Seconds to wait before retry `retry` (1-based); None when not to retry."""
        if retry >= self.max_attempts:
            return None
        if retry_after_s is not None and retry_after_s > self.max_retry_after_s:
            return None
        backoff = min(self.max_backoff_s, self.backoff_s * 2.0 ** (retry - 1))
        base = max(retry_after_s or 0.0, backoff)
        draw = rng.random() if rng is not None else random.random()
        return base * (1.0 + self.jitter * draw)


@dataclass(frozen=True)
class ClientOptions:
    """Where the service is and how to talk to it.

    Attributes:
        base_url: `http://` or `https://` URL of the service (a path prefix is kept, for a
            service behind a proxy); the WebSocket URL is derived from it.
        api_key: Sent as `Authorization: Bearer <key>` on every request and on the WebSocket
            handshake. Never shown in `repr`.
        timeout_s: Per-request timeout (connect, read, write), and on a stream the longest wait
            for an answer while frames are in flight.
        retry: When and how to retry 429/503.
        jpeg_quality: Quality used to encode numpy frames (1-100).
    """

    base_url: str = DEFAULT_URL
    api_key: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be an http:// or https:// URL, got {self.base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"base_url must not carry a query or fragment: {self.base_url!r}")
        if not isinstance(self.timeout_s, (int, float)) or not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be a number > 0, got {self.timeout_s!r}")
        if isinstance(self.jpeg_quality, bool) or not isinstance(self.jpeg_quality, int) \
                or not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"jpeg_quality must be an int from 1 to 100, got "
                             f"{self.jpeg_quality!r}")
        if self.api_key is not None and (not self.api_key or any(
                c in self.api_key for c in "\r\n")):
            raise ValueError("api_key must be a non-empty string on one line")

    def url(self, path: str) -> str:
        """The absolute URL of a route, e.g. `url("/v1/gaze")`."""
        return self.base_url.rstrip("/") + path

    def ws_url(self, path: str = "/v1/stream") -> str:
        """The WebSocket URL of a route: `ws://` for `http://`, `wss://` for `https://`."""
        scheme, rest = self.url(path).split("://", 1)
        return ("wss" if scheme == "https" else "ws") + "://" + rest

    def headers(self) -> dict[str, str]:
        """Headers sent with every request and on the WebSocket handshake."""
        if self.api_key is None:
            return {}
        return {"Authorization": f"Bearer {self.api_key}"}
