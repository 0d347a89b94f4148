"""Faults against a real server: a frame that fails inside inference, a worker that dies, SIGTERM
with frames in flight, and a start-up without its models.

Failures are injected with the test-only `GAZE_FAULT_INJECTION` (frames that start with a marker
of `gazeserve.server.faults`), inside the worker thread where a pipeline bug would raise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from gazeserve.models.registry import MODELS, default_model_dir
from gazeserve.server.faults import FAULT_KILL_WORKER, FAULT_RAISE, FAULT_SLOW, SLOW_FRAME_S
from tests.e2e.hardening import DEBUG_ENV, ServerProcess, server_process

FAULT_ENV = {**DEBUG_ENV, "GAZE_FAULT_INJECTION": "true", "MAX_QUEUE_SIZE": "16",
             "MAX_FRAME_AGE_MS": "2000"}
DRAIN_S = 5.0
JPEG = {"content-type": "image/jpeg"}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log_path = tmp_path_factory.mktemp("faults") / "server.log"
    with server_process(FAULT_ENV, log_path=log_path) as server:
        yield server


def post(server: ServerProcess, data: bytes) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/gaze", content=data, headers=JPEG, timeout=30)


def recv_json(ws: Any, timeout: float = 30) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(ws.recv(timeout=timeout))
        if message["type"] != "event":
            return message


def test_a_frame_failing_inside_inference_gets_a_json_error_and_the_worker_serves_on(
        faulty: ServerProcess, jpeg_frames: list[bytes]) -> None:
    for i in range(5):
        r = post(faulty, FAULT_RAISE)
        assert r.status_code == 500, r.text
        assert r.json()["error"]["code"] == "internal_error"
        assert post(faulty, jpeg_frames[i]).status_code == 200
    with connect(faulty.ws_url, max_size=None) as ws:
        ws.send(json.dumps({"type": "frame", "frame_id": "bad"}))
        ws.send(FAULT_RAISE)
        error = recv_json(ws)
        assert error["type"] == "error" and error["frame_id"] == "bad"
        assert error["error"]["code"] == "internal_error"
        ws.send(json.dumps({"type": "frame", "frame_id": "good"}))
        ws.send(jpeg_frames[0])
        result = recv_json(ws)
        assert result["type"] == "result" and result["frame_id"] == "good"
    runtime = faulty.runtime()
    assert runtime["inference_worker_restarts"] == 0
    assert runtime["queue"]["frames_failed"] >= 6
    assert httpx.get(f"{faulty.url}/readyz").status_code == 200


def test_a_worker_that_dies_is_replaced(faulty: ServerProcess,
                                        jpeg_frames: list[bytes]) -> None:
    before = faulty.runtime()
    workers = before["inference_workers"]
    for kills in range(1, 3):
        r = post(faulty, FAULT_KILL_WORKER)
        assert r.status_code == 500 and r.json()["error"]["code"] == "internal_error"
        runtime = wait_for(faulty, lambda rt, k=kills: rt["inference_worker_restarts"]
                           >= before["inference_worker_restarts"] + k)
        assert runtime["inference_workers_running"] == workers
    # Every worker serves: more frames at once than workers, all answered.
    with ThreadPoolExecutor(4 * workers) as pool:
        codes = list(pool.map(lambda f: post(faulty, f).status_code, jpeg_frames[:8 * workers]))
    assert codes == [200] * len(codes)
    queue = faulty.runtime()["queue"]
    assert queue["in_flight"] == 0 and queue["depth"] == 0
    assert "inference worker died; restarting it" in faulty.log()


def wait_for(server: ServerProcess, done: Any, timeout_s: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        runtime = server.runtime()
        if done(runtime) or time.monotonic() > deadline:
            assert done(runtime), runtime
            return runtime
        time.sleep(0.05)


@pytest.mark.slow
def test_sigterm_answers_frames_in_flight_then_closes_websockets_with_1001(
        tmp_path: Path, jpeg_frames: list[bytes]) -> None:
    log_path = tmp_path / "server.log"
    with ExitStack() as stack:
        server = stack.enter_context(server_process(
            {**FAULT_ENV, "GAZE_SHUTDOWN_DRAIN_S": str(DRAIN_S)}, log_path=log_path))
        sockets = [stack.enter_context(connect(server.ws_url, max_size=None)) for _ in range(3)]
        # Each socket has a slow frame in a worker (SLOW_FRAME_S) when the signal comes.
        for i, ws in enumerate(sockets):
            ws.send(json.dumps({"type": "frame", "frame_id": f"slow-{i}"}))
            ws.send(FAULT_SLOW + jpeg_frames[i])
        slow_post: dict[str, httpx.Response] = {}
        poster = threading.Thread(target=lambda: slow_post.setdefault(
            "r", post(server, FAULT_SLOW + jpeg_frames[5])))
        poster.start()
        time.sleep(0.3)
        signalled = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        answers = [drain_socket(ws) for ws in sockets]
        poster.join(timeout=30)
        returncode = server.proc.wait(timeout=DRAIN_S + 15)
        exit_s = time.monotonic() - signalled
    for i, (messages, close_code) in enumerate(answers):
        results = [m for m in messages if m["type"] == "result"]
        assert [m["frame_id"] for m in results] == [f"slow-{i}"], messages
        assert results[0]["face_detected"]
        assert close_code == 1001
    assert slow_post["r"].status_code == 200, slow_post["r"].text
    assert returncode in (0, -signal.SIGTERM), log_path.read_text()
    assert exit_s < DRAIN_S + 10
    log = log_path.read_text()
    assert "draining" in log and "Traceback" not in log


def drain_socket(ws: Any) -> tuple[list[dict[str, Any]], int | None]:
    """Every message until the server closes the socket, and its close code."""
    messages = []
    try:
        while True:
            messages.append(json.loads(ws.recv(timeout=SLOW_FRAME_S + DRAIN_S + 10)))
    except ConnectionClosed:
        pass
    return messages, ws.close_code


@pytest.mark.slow
def test_sigterm_refuses_new_frames_while_draining(tmp_path: Path,
                                                   jpeg_frames: list[bytes]) -> None:
    with server_process({**FAULT_ENV, "GAZE_SHUTDOWN_DRAIN_S": str(DRAIN_S)}) as server:
        with connect(server.ws_url, max_size=None) as ws:
            ws.send(json.dumps({"type": "frame", "frame_id": "slow"}))
            ws.send(FAULT_SLOW + jpeg_frames[0])
            time.sleep(0.3)
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            ws.send(json.dumps({"type": "frame", "frame_id": "late"}))
            ws.send(jpeg_frames[1])
            messages, close_code = drain_socket(ws)
        by_id = {m.get("frame_id") or tuple(m.get("frame_ids", ())): m for m in messages}
        assert by_id["slow"]["type"] == "result"
        assert by_id[("late",)] == {"type": "dropped", "frame_ids": ["late"],
                                    "reason": "shutdown"}
        assert close_code == 1001
        server.proc.wait(timeout=DRAIN_S + 15)


def serve_without_models(model_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GAZE_MODEL_DIR": str(model_dir), "GAZE_PORT": "9"}
    return subprocess.run([sys.executable, "-m", "gazeserve", "serve"], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_start_up_without_a_model_fails_fast_with_one_line(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = serve_without_models(tmp_path)
    assert time.monotonic() - started < 15
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: model ") and "missing" in lines[0]
    assert "gazeserve models prepare" in lines[0]


def test_start_up_with_a_corrupt_model_fails_fast_with_one_line(tmp_path: Path) -> None:
    for spec in MODELS.values():
        shutil.copyfile(default_model_dir() / spec.filename, tmp_path / spec.filename)
    victim = tmp_path / next(iter(MODELS.values())).filename
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    proc = serve_without_models(tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "does not match its recorded sha256" in lines[0] and victim.name in lines[0]


def test_uvicorn_factory_without_models_fails_fast_with_one_line(tmp_path: Path) -> None:
    """`uvicorn --factory gazeserve.server.app:app_from_env`, as a deployment may run it."""
    env = {**os.environ, "GAZE_MODEL_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "uvicorn", "--factory", "--port", "9",
                           "gazeserve.server.app:app_from_env"], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model "), proc.stderr
