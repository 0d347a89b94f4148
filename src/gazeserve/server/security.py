"""Access control: API keys, per-key rate limits and stream caps, and which routes stay open.

Keys are compared in constant time: each candidate's SHA-256 is compared with every configured
key's digest by `hmac.compare_digest`, all of them every time, so neither the position of a
matching key nor the length of a key shows in the answer's timing. A key never appears in a log,
a metric or an answer; a client is named by its key's label (`key-` and 8 hex digits of the
key's SHA-256), or by its address where no keys are configured.

Settings (SECURITY.md): `GAZE_API_KEYS`, `GAZE_PUBLIC_READYZ`, `GAZE_PUBLIC_METRICS`,
`GAZE_RATE_LIMIT_PER_S`, `GAZE_RATE_LIMIT_BURST`, `GAZE_MAX_STREAMS_PER_KEY`, `GAZE_CORS_ORIGINS`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from gazeserve.config import Settings
from gazeserve.server.errors import error_payload

IDENTITY_SCOPE_KEY = "gazeserve.identity"
"""Where the middleware leaves the caller's identity in the ASGI scope."""

ALWAYS_PUBLIC = frozenset({"/healthz", "/", "/docs", "/docs/oauth2-redirect", "/redoc",
                           "/openapi.json", "/favicon.ico"})
PUBLIC_PREFIXES = ("/static/",)
"""The demo page and the API's documentation: nothing of a person, and the page asks for a key."""
METRICS_PATHS = frozenset({"/metrics", "/metrics.json"})
RATE_LIMITED_PREFIX = "/v1/"
"""Only the API counts against a rate limit; probes and scrapes do not."""
MAX_TRACKED_CLIENTS = 10_000
"""Rate-limit buckets kept at once (least recently used dropped first): bounded memory when
clients are told apart by address."""
AUTH_HINT = "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class ApiKeys:
    """The configured keys, by digest; none means the service is open."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(k) for k in keys)

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def identify(self, candidate: str | None) -> str | None:
        """The label of the key `candidate` is, or None; in time independent of which matched."""
        if candidate is None:
            return None
        digest = _digest(candidate)
        found = None
        for known in self._digests:  # no early exit: every key is compared every time
            if hmac.compare_digest(digest, known):
                found = known
        return None if found is None else f"key-{found.hex()[:8]}"


def key_from_headers(headers: Mapping[str, str]) -> str | None:
    """The key in `Authorization: Bearer <key>` or `X-API-Key: <key>` (lower-case names)."""
    authorization = headers.get("authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    key = headers.get("x-api-key", "").strip()
    return key or None


@dataclass
class TokenBucket:
    """`rate_per_s` tokens a second up to `burst`; each request or frame takes one."""

    rate_per_s: float
    burst: int
    tokens: float = field(init=False)
    updated_s: float = field(init=False, default=-math.inf)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now_s: float) -> float:
        """0 when a token was taken, else the seconds until one will be there."""
        if self.updated_s > -math.inf:
            self.tokens = min(self.burst, self.tokens + (now_s - self.updated_s) * self.rate_per_s)
        self.updated_s = now_s
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s


class RateLimiter:
    """One token bucket per identity; a rate of 0 turns limiting off."""

    def __init__(self, rate_per_s: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s < 0 or burst < 1:
            raise ValueError(f"rate_per_s must be >= 0 and burst >= 1, got {rate_per_s}, {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0

    def take(self, identity: str) -> float:
        """0 when allowed, else the seconds to wait (for a `Retry-After`)."""
        if not self.enabled:
            return 0.0
        bucket = self._buckets.pop(identity, None) or TokenBucket(self.rate_per_s, self.burst)
        self._buckets[identity] = bucket
        while len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        return bucket.take(self._clock())


class StreamSlots:
    """Open WebSocket streams per identity, at most `limit` each (0: no cap)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, identity: str) -> bool:
        count = self._open.get(identity, 0)
        if self.limit and count >= self.limit:
            return False
        self._open[identity] = count + 1
        return True

    def release(self, identity: str) -> None:
        count = self._open.get(identity, 0) - 1
        if count > 0:
            self._open[identity] = count
        else:
            self._open.pop(identity, None)

    def open_streams(self) -> int:
        return sum(self._open.values())


class AccessPolicy:
    """Who may call what, built once from the settings and shared by HTTP and WebSocket."""

    def __init__(self, keys: ApiKeys, *, public_readyz: bool = True, public_metrics: bool = False,
                 rate_limiter: RateLimiter | None = None, stream_slots: StreamSlots | None = None,
                 cors_origins: Sequence[str] = ()) -> None:
        self.keys = keys
        self.public_readyz = public_readyz
        self.public_metrics = public_metrics
        self.rate_limiter = rate_limiter or RateLimiter(0.0, 1)
        self.stream_slots = stream_slots or StreamSlots(0)
        self.cors_origins = tuple(cors_origins)

    @classmethod
    def from_settings(cls, settings: Settings) -> AccessPolicy:
        return cls(ApiKeys(settings.api_keys), public_readyz=settings.gaze_public_readyz,
                   public_metrics=settings.gaze_public_metrics,
                   rate_limiter=RateLimiter(settings.gaze_rate_limit_per_s,
                                            settings.rate_limit_burst),
                   stream_slots=StreamSlots(settings.gaze_max_streams_per_key),
                   cors_origins=settings.cors_origins)

    def is_public(self, path: str) -> bool:
        if not self.keys.enabled or path in ALWAYS_PUBLIC or path.startswith(PUBLIC_PREFIXES):
            return True
        if path == "/readyz":
            return self.public_readyz
        return path in METRICS_PATHS and self.public_metrics

    def origin_allowed(self, origin: str | None, host: str | None) -> bool:
        """Whether a browser page from `origin` may open the WebSocket (CORS does not cover it).

        No `Origin` (not a browser), the service's own pages, and configured origins may.
        """
        if origin is None:
            return True
        if "*" in self.cors_origins or origin in self.cors_origins:
            return True
        return host is not None and urlsplit(origin).netloc.lower() == host.lower()


def identity_of(scope: Scope, key_label: str | None) -> str:
    """The key's label, or the client's address where no key identified the caller."""
    if key_label is not None:
        return key_label
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:unknown"


def scope_headers(scope: Scope) -> dict[str, str]:
    """The request's headers, names lower-case (the last of repeated headers wins)."""
    return {name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers", ())}


class AccessControlMiddleware:
    """Pure ASGI: 401 without a valid key, 429 over the rate limit; WebSockets pass through
    (`gazeserve.server.websocket` authenticates them, by header or first message)."""

    def __init__(self, app: ASGIApp, policy: AccessPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if scope.get("method") == "OPTIONS" or self.policy.is_public(path):
            await self.app(scope, receive, send)
            return
        label = None
        if self.policy.keys.enabled:
            label = self.policy.keys.identify(key_from_headers(scope_headers(scope)))
            if label is None:
                await _reject(send, 401, "unauthorized", f"a valid API key is required; "
                              f"{AUTH_HINT}", {"www-authenticate": 'Bearer realm="gazeserve"'})
                return
        identity = identity_of(scope, label)
        if path.startswith(RATE_LIMITED_PREFIX):
            wait_s = self.policy.rate_limiter.take(identity)
            if wait_s > 0:
                await _reject(send, 429, "rate_limited", "too many requests for this API key; "
                              "retry after the time in Retry-After",
                              {"retry-after": str(max(1, math.ceil(wait_s)))})
                return
        scope[IDENTITY_SCOPE_KEY] = identity
        await self.app(scope, receive, send)


async def _reject(send: Send, status: int, code: str, message: str,
                  headers: Mapping[str, str]) -> None:
    body = orjson.dumps(error_payload(code, message))
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           *((k.encode(), v.encode()) for k, v in headers.items())]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
