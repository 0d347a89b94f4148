"""Clients that misbehave, against a real server: WebSockets that come and go (some in the middle
of a frame), clients that never read, uploads that trickle, headers that never end, and ten
thousand distinct streams. Afterwards the server's tasks, threads, file descriptors, connections
and streams are back where they started, and it still serves (counts from the test-only
`GET /debug/runtime`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.hardening import DEBUG_ENV, ServerProcess, server_process, small_jpeg, tiny_jpeg
from tests.fuzz.corpus import photo_rgb

pytestmark = pytest.mark.slow

BODY_TIMEOUT_S = 2.0
SEND_TIMEOUT_S = 2.0
STREAM_TTL_S = 3.0
MAX_STREAMS = 1000
DISTINCT_STREAMS = 10_000
ENV = {**DEBUG_ENV, "GAZE_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
       "GAZE_WS_SEND_TIMEOUT_S": str(SEND_TIMEOUT_S), "GAZE_STREAM_TTL_S": str(STREAM_TTL_S),
       "GAZE_MAX_STREAMS": str(MAX_STREAMS), "GAZE_KEEP_ALIVE_S": "2"}


@pytest.fixture(scope="module")
def flaky(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log_path = tmp_path_factory.mktemp("flaky") / "server.log"
    with server_process(ENV, log_path=log_path) as server:
        warm_up(server)
        yield server
    assert "Traceback" not in log_path.read_text(errors="replace")


def warm_up(server: ServerProcess) -> None:
    """Every code path once, so lazily made threads and caches count in the baseline."""
    frame = small_jpeg(photo_rgb(640))
    for _ in range(3):
        with connect(server.ws_url, max_size=None) as ws:
            ws.send(frame)
            ws.recv(timeout=30)
        assert httpx.post(f"{server.url}/v1/gaze", content=frame,
                          headers={"content-type": "image/jpeg"}).status_code == 200


def settled(server: ServerProcess, baseline: dict[str, Any],
            timeout_s: float = 15.0) -> dict[str, Any]:
    """The runtime counts once they are back to the baseline's (or the last seen)."""
    deadline = time.monotonic() + timeout_s
    while True:
        now = server.runtime(collect=True)
        back = (now["asyncio_tasks"] <= baseline["asyncio_tasks"]
                and now["threads"] <= baseline["threads"]
                and now["open_fds"] <= baseline["open_fds"]
                and now["websocket_connections"] == 0
                and now["queue"]["in_flight"] == 0 and now["queue"]["depth"] == 0)
        if back or time.monotonic() > deadline:
            return now
        time.sleep(0.2)


def assert_no_leaks(before: dict[str, Any], after: dict[str, Any]) -> None:
    for name in ("asyncio_tasks", "threads", "open_fds"):
        assert after[name] <= before[name], (name, before[name], after[name])
    assert after["websocket_connections"] == 0
    assert after["queue"]["in_flight"] == 0 and after["queue"]["depth"] == 0


def raw_ws_handshake(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    response = sock.recv(4096)
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def cycle(server: ServerProcess, port: int, frame: bytes, i: int) -> str:
    """One connect/send/disconnect cycle, of a kind chosen by `i`."""
    kind = ("clean", "leave_in_flight", "abort", "mid_frame", "garbage")[i % 5]
    if kind == "mid_frame":
        sock = raw_ws_handshake(port)
        mask = random.randbytes(4)
        # A masked binary frame that announces the whole JPEG, then half of it, then gone.
        header = bytes([0x82, 0x80 | 127]) + len(frame).to_bytes(8, "big") + mask
        half = bytes(b ^ mask[j % 4] for j, b in enumerate(frame[: len(frame) // 2]))
        sock.sendall(header + half)
        sock.close()
        return kind
    with connect(server.ws_url, max_size=None, open_timeout=30) as ws:
        if kind == "garbage":
            ws.send("not json")
            ws.send(b"\x00\x01")
        for _ in range(3):
            ws.send(frame)
        if kind == "clean":
            while json.loads(ws.recv(timeout=30))["type"] != "result":
                pass
        elif kind == "abort":  # no close frame: the TCP connection just ends
            ws.socket.shutdown(socket.SHUT_RDWR)
            ws.socket.close()
    return kind


def run_cycles(server: ServerProcess, count: int) -> None:
    frame = small_jpeg(photo_rgb(640))
    port = int(server.url.rsplit(":", 1)[1])
    with ThreadPoolExecutor(10) as pool:
        kinds = list(pool.map(lambda i: cycle(server, port, frame, i), range(count)))
    assert len(kinds) == count


def test_200_websocket_cycles_leave_nothing_behind(flaky: ServerProcess) -> None:
    run_cycles(flaky, 20)  # thread pools and buffers reach their working size first
    before = settled(flaky, flaky.runtime(collect=True))
    run_cycles(flaky, 200)
    after = settled(flaky, before)
    print(f"ws cycles: before {before}, after {after}")
    assert_no_leaks(before, after)
    assert after["streams"] <= before["streams"], "WebSocket streams are removed on close"
    assert httpx.get(f"{flaky.url}/readyz").status_code == 200


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client-to-server WebSocket frame (RFC 6455 section 5.2), masked as clients must."""
    mask = random.randbytes(4)
    n = len(payload)
    if n < 126:
        length = bytes([0x80 | n])
    elif n < 65536:
        length = bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        length = bytes([0x80 | 127]) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode]) + length + mask + masked


def test_a_client_that_never_reads_is_disconnected(flaky: ServerProcess) -> None:
    """A raw socket with a 4 kB receive buffer that sends frames at 60 fps, asks for 20 kB
    answers (landmarks) and never reads one; once the server's send buffers are full, each
    answer waits GAZE_WS_SEND_TIMEOUT_S, then the session ends and its state is freed."""
    before = flaky.runtime(collect=True)
    frame = masked_frame(0x2, small_jpeg(photo_rgb(640)))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(flaky.url.rsplit(":", 1)[1])))
    sock.sendall(b"GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert sock.recv(12) == b"HTTP/1.1 101"
    sock.sendall(masked_frame(0x1, b'{"type": "config", "include_landmarks": true}'))
    sock.settimeout(0.5)
    stop = threading.Event()

    def send_frames() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):  # the server stopped reading too
                sock.sendall(frame)
            time.sleep(1 / 60)

    sender = threading.Thread(target=send_frames, daemon=True)
    sender.start()
    started = time.monotonic()
    stalled_at = closed_at = None
    processed = -1
    try:
        while time.monotonic() - started < 60:
            counts = flaky.runtime()
            if counts["websocket_connections"] == 0:
                closed_at = time.monotonic()
                break
            if counts["queue"]["frames_processed"] == processed and stalled_at is None:
                stalled_at = time.monotonic()
            processed = counts["queue"]["frames_processed"]
            time.sleep(0.25)
    finally:
        stop.set()
        sender.join()
        sock.close()
    assert closed_at is not None, "the server still serves a client that never reads"
    assert stalled_at is not None and closed_at - stalled_at < SEND_TIMEOUT_S + 5
    print(f"non-reading client: answers stalled after {stalled_at - started:.1f} s, session "
          f"closed {closed_at - stalled_at:.1f} s later")
    assert_no_leaks(before, settled(flaky, before))


def slow_request(port: int, head: bytes, body: bytes, pause_s: float) -> tuple[bytes, float]:
    """Sends `head`, then `body` a few bytes at a time; the answer and when it came."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=BODY_TIMEOUT_S + 10)
    started = time.monotonic()
    sock.sendall(head)
    sock.setblocking(False)
    answer = b""
    for start in range(0, len(body), 64):
        try:
            sock.sendall(body[start:start + 64])
        except (BlockingIOError, OSError):
            break
        time.sleep(pause_s)
        try:
            answer += sock.recv(65536)
        except BlockingIOError:
            continue
        if answer:
            break
    sock.setblocking(True)
    while not answer.endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    sock.close()
    return answer, time.monotonic() - started


@pytest.mark.parametrize("route", ["/v1/gaze", "/v1/gaze/landmarks"])
def test_a_slow_upload_gets_408_while_others_are_served(flaky: ServerProcess, route: str) -> None:
    port = int(flaky.url.rsplit(":", 1)[1])
    body = small_jpeg(photo_rgb(640)) if route == "/v1/gaze" else b'{"landmarks": []}' * 400
    kind = b"image/jpeg" if route == "/v1/gaze" else b"application/json"
    head = (f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n".encode()
            + b"Content-Type: " + kind + b"\r\n\r\n")
    with ThreadPoolExecutor(8) as pool:
        slow = [pool.submit(slow_request, port, head, body, 0.2) for _ in range(8)]
        time.sleep(0.5)
        fast = httpx.post(f"{flaky.url}/v1/gaze", content=body if route == "/v1/gaze"
                          else small_jpeg(photo_rgb(640)), headers={"content-type": "image/jpeg"})
        assert fast.status_code == 200, "slow uploads do not hold up the others"
        answers = [f.result() for f in slow]
    for answer, took_s in answers:
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b"request_timeout" in answer and b"connection: close" in answer.lower()
        assert BODY_TIMEOUT_S <= took_s < BODY_TIMEOUT_S + 3


def test_headers_that_never_end_do_not_block_the_service(flaky: ServerProcess) -> None:
    """A slowloris: uvicorn has no header timeout (see SECURITY.md: put a proxy in front when
    exposed); what it must not do is stop serving everyone else."""
    before = flaky.runtime(collect=True)
    port = int(flaky.url.rsplit(":", 1)[1])
    socks = []
    for _ in range(50):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /v1/gaze HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(sock)
    try:
        started = time.monotonic()
        assert httpx.get(f"{flaky.url}/readyz", timeout=5).status_code == 200
        assert time.monotonic() - started < 1.0
    finally:
        for sock in socks:
            sock.close()
    assert_no_leaks(before, settled(flaky, before))


def test_ten_thousand_streams_are_bounded_and_evicted(flaky: ServerProcess) -> None:
    before = flaky.runtime(collect=True)
    frame = tiny_jpeg()
    peak_streams = 0

    async def drive() -> None:
        nonlocal peak_streams
        # At most the queue (10) plus the workers (2) at once: more would be shed with 503.
        limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
        async with httpx.AsyncClient(base_url=flaky.url, timeout=30, limits=limits) as client:
            ids = iter(range(DISTINCT_STREAMS))

            async def worker() -> None:
                for i in ids:
                    r = await client.post("/v1/gaze", content=frame,
                                          params={"stream_id": f"flaky-{i}"},
                                          headers={"content-type": "image/jpeg"})
                    assert r.status_code == 200, r.text

            async def watch() -> None:
                nonlocal peak_streams
                while True:
                    counts = (await client.get("/debug/runtime")).json()
                    peak_streams = max(peak_streams, counts["streams"])
                    await asyncio.sleep(0.5)

            watcher = asyncio.create_task(watch())
            await asyncio.gather(*(worker() for _ in range(8)))
            watcher.cancel()

    started = time.monotonic()
    asyncio.run(drive())
    took_s = time.monotonic() - started
    during = flaky.runtime(collect=True)
    time.sleep(STREAM_TTL_S + 0.5)
    after = flaky.runtime(collect=True)
    growth_mb = (after["rss_bytes"] - before["rss_bytes"]) / 2**20
    print(f"{DISTINCT_STREAMS} streams in {took_s:.1f} s: peak {peak_streams}, evicted "
          f"{during['streams_evicted'] - before['streams_evicted']}, after the TTL "
          f"{after['streams']}, RSS {growth_mb:+.1f} MiB")
    assert peak_streams <= MAX_STREAMS and during["streams"] <= MAX_STREAMS
    assert during["streams_evicted"] - before["streams_evicted"] >= DISTINCT_STREAMS - MAX_STREAMS
    assert after["streams"] == 0, "idle streams are evicted after GAZE_STREAM_TTL_S"
    assert growth_mb < 50
    assert_no_leaks(before, settled(flaky, before))
