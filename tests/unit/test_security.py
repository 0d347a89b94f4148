"""Access control's parts in isolation: keys, token buckets, stream slots, public routes, origin
checks, log redaction and the settings that configure them."""

from __future__ import annotations

import logging

import pytest

from gazeserve.config import SettingsError, load_settings
from gazeserve.server.logs import RedactFrames
from gazeserve.server.run import is_loopback
from gazeserve.server.security import (
    MAX_TRACKED_CLIENTS,
    AccessPolicy,
    ApiKeys,
    RateLimiter,
    StreamSlots,
    TokenBucket,
    key_from_headers,
)

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-fedcba9876543210"


def test_keys_identify_by_a_label_that_is_not_the_key() -> None:
    keys = ApiKeys([KEY_A, KEY_B])
    a, b = keys.identify(KEY_A), keys.identify(KEY_B)
    assert a and b and a != b and a.startswith("key-") and KEY_A not in a
    for wrong in (None, "", KEY_A[:-1], KEY_A + "x", KEY_A.upper()):
        assert keys.identify(wrong) is None
    assert not ApiKeys([]).enabled and ApiKeys([]).identify(KEY_A) is None


def test_the_key_comes_from_either_header() -> None:
    assert key_from_headers({"authorization": f"Bearer {KEY_A}"}) == KEY_A
    assert key_from_headers({"authorization": f"bearer  {KEY_A} "}) == KEY_A
    assert key_from_headers({"x-api-key": KEY_B}) == KEY_B
    assert key_from_headers({"authorization": f"Basic {KEY_A}"}) is None
    assert key_from_headers({}) is None


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    bucket = TokenBucket(rate_per_s=2.0, burst=3)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert bucket.take(0.5) == 0.0  # one token back after 1/rate
    assert bucket.take(0.5) > 0
    assert [bucket.take(100.0) for _ in range(3)] == [0.0] * 3, "refills to the burst only"
    assert bucket.take(100.0) > 0


def test_rate_limiter_is_per_identity_and_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(1.0, 1, clock=lambda: now[0])
    assert limiter.take("a") == 0.0 and limiter.take("a") > 0
    assert limiter.take("b") == 0.0
    for i in range(MAX_TRACKED_CLIENTS + 10):
        limiter.take(f"client-{i}")
    assert len(limiter._buckets) == MAX_TRACKED_CLIENTS
    off = RateLimiter(0.0, 1)
    assert not off.enabled and all(off.take("a") == 0.0 for _ in range(100))


def test_stream_slots_cap_each_identity() -> None:
    slots = StreamSlots(2)
    assert slots.acquire("a") and slots.acquire("a") and not slots.acquire("a")
    assert slots.acquire("b")
    slots.release("a")
    assert slots.acquire("a") and slots.open_streams() == 3
    for _ in range(3):
        slots.release("a")
        slots.release("b")
    assert slots.open_streams() == 0
    unlimited = StreamSlots(0)
    assert all(unlimited.acquire("a") for _ in range(1000))


def test_public_routes() -> None:
    open_service = AccessPolicy(ApiKeys([]))
    assert open_service.is_public("/v1/gaze") and open_service.is_public("/metrics")
    keyed = AccessPolicy(ApiKeys([KEY_A]))
    for path in ("/healthz", "/readyz", "/", "/static/app.js", "/openapi.json", "/docs"):
        assert keyed.is_public(path), path
    for path in ("/v1/gaze", "/v1/streams/a/summary", "/metrics", "/metrics.json",
                 "/debug/runtime", "/static"):
        assert not keyed.is_public(path), path
    closed = AccessPolicy(ApiKeys([KEY_A]), public_readyz=False, public_metrics=True)
    assert not closed.is_public("/readyz") and closed.is_public("/metrics")


def test_websocket_origins() -> None:
    policy = AccessPolicy(ApiKeys([]), cors_origins=["https://app.example"])
    assert policy.origin_allowed(None, "127.0.0.1:8000"), "not a browser"
    assert policy.origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000"), "own page"
    assert policy.origin_allowed("https://app.example", "127.0.0.1:8000")
    assert not policy.origin_allowed("https://evil.example", "127.0.0.1:8000")
    assert not policy.origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8000")
    assert AccessPolicy(ApiKeys([]), cors_origins=["*"]).origin_allowed("https://x.y", "h")


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.DEBUG, __file__, 1, msg, args, None)


class FakeFrame:
    class opcode:  # noqa: N801 (as websockets' Opcode member)
        name = "BINARY"

    data = b"\xff\xd8\xff\xe0 a face"


def test_log_redaction_keeps_sizes_and_drops_payloads_and_keys() -> None:
    redact = RedactFrames()
    frame = record("< %s", FakeFrame())
    assert redact.filter(frame)
    assert frame.getMessage() == "< BINARY [11 bytes, payload not logged]"
    header = record("< %s: %s", "Authorization", f"Bearer {KEY_A}")
    assert redact.filter(header) and KEY_A not in header.getMessage()
    other = record("< %s: %s", "host", "127.0.0.1:8000")
    assert redact.filter(other) and other.getMessage() == "< host: 127.0.0.1:8000"


def test_loopback_hosts() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "::1", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.2", "::", "example.com"))


def test_settings_for_access_control() -> None:
    settings = load_settings(gaze_api_keys=f" {KEY_A},{KEY_B} ,",
                             gaze_cors_origins="https://a.example, http://b.example:3000",
                             gaze_rate_limit_per_s=5.0)
    assert settings.api_keys == (KEY_A, KEY_B)
    assert settings.cors_origins == ("https://a.example", "http://b.example:3000")
    assert settings.rate_limit_burst == 10
    assert KEY_A not in repr(settings) and KEY_A not in str(settings.model_dump())


@pytest.mark.parametrize("overrides", [
    {"gaze_api_keys": "short"},
    {"gaze_api_keys": f"{KEY_A},has a space 0123456789"},
    {"gaze_cors_origins": "https://a.example/path"},
    {"gaze_cors_origins": "a.example"},
    {"gaze_rate_limit_per_s": -1},
    {"gaze_max_streams_per_key": -1},
])
def test_bad_access_settings_stop_start_up_without_echoing_keys(
        overrides: dict[str, object]) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(**overrides)
    assert KEY_A not in str(refused.value)
