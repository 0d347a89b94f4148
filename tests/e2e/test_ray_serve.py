"""deploy/ray/serve_app.py on a real local Ray cluster: two replicas of the same FastAPI app.

One cluster for the module (`ray.init(num_cpus=2)`, about 10 s), Ray's HTTP proxy on a free
loopback port. Real frames over HTTP and a WebSocket; both replicas must serve; a stream with the
session header stays on one replica; /metrics sums both replicas.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from tests.deploy_support import DEPLOY
from tests.e2e.metrics_text import metric_value
from tests.e2e.server import free_port

pytestmark = [
    pytest.mark.slow,
    # Ray 2.60 itself still uses pydantic v1-style Field arguments.
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
]

REPLICAS = 2


def load_serve_app() -> ModuleType:
    """deploy/ray/serve_app.py as a module (deploy/ is not a package)."""
    spec = importlib.util.spec_from_file_location("gazeserve_serve_app",
                                                  DEPLOY / "ray" / "serve_app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def serve_url() -> Iterator[str]:
    import ray
    from ray import serve

    metrics_dirs = set(Path(tempfile.gettempdir()).glob("gazeserve-ray-metrics-*"))
    serve_app = load_serve_app()
    options = serve_app.RayServeOptions(num_replicas=REPLICAS, cpus_per_replica=1)
    replica_env = {**os.environ, "MAX_WORKERS": "1", "MAX_QUEUE_SIZE": "16",
                   "MAX_FRAME_AGE_MS": "1000"}
    ray.init(num_cpus=REPLICAS, include_dashboard=False, log_to_driver=False)
    try:
        # Chosen once Ray's own processes hold their ports.
        port = free_port()
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        serve.run(serve_app.build_app(options, env=replica_env), name="gazeserve",
                  route_prefix="/")
        yield f"http://127.0.0.1:{port}"
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]
        ray.shutdown()
        for directory in set(Path(tempfile.gettempdir()).glob("gazeserve-ray-metrics-*")):
            if directory not in metrics_dirs:
                shutil.rmtree(directory, ignore_errors=True)


def post(client: httpx.Client, frame: bytes, **kwargs: Any) -> httpx.Response:
    headers = {"content-type": "image/jpeg", **kwargs.pop("headers", {})}
    response = client.post("/v1/gaze", content=frame, headers=headers, **kwargs)
    assert response.status_code == 200, response.text
    return response


def test_lifespan_ran_in_every_replica(serve_url: str) -> None:
    with httpx.Client(base_url=serve_url, timeout=30) as client:
        readiness = [client.get("/readyz") for _ in range(16)]
    assert all(r.status_code == 200 for r in readiness)
    assert len({r.headers["x-gazeserve-replica"] for r in readiness}) == REPLICAS


def test_http_frames_are_served_by_both_replicas(serve_url: str,
                                                 jpeg_frames: list[bytes]) -> None:
    with httpx.Client(base_url=serve_url, timeout=30) as client:
        responses = [post(client, jpeg_frames[i % len(jpeg_frames)]) for i in range(16)]
        pids = {client.get("/metrics.json").json()["system"]["pid"] for _ in range(16)}
    assert all(r.json()["face_detected"] for r in responses)
    assert len({r.headers["x-gazeserve-replica"] for r in responses}) == REPLICAS
    assert len(pids) == REPLICAS


def test_a_stream_with_the_session_header_stays_on_one_replica(
        serve_url: str, jpeg_frames: list[bytes]) -> None:
    replicas = set()
    with httpx.Client(base_url=serve_url, timeout=30) as client:
        for i in range(10):
            response = post(client, jpeg_frames[i], params={"stream_id": "cam-7"},
                            headers={"x-session-id": "cam-7"})
            assert response.json()["frame"]["stream_id"] == "cam-7"
            replicas.add(response.headers["x-gazeserve-replica"])
    assert len(replicas) == 1


def test_websocket_frames_come_back_in_order(serve_url: str, jpeg_frames: list[bytes]) -> None:
    url = serve_url.replace("http://", "ws://") + "/v1/stream"
    with connect(url, max_size=None, open_timeout=30) as ws:
        for i, frame in enumerate(jpeg_frames[:12]):
            ws.send(json.dumps({"type": "frame", "frame_id": i, "timestamp_ms": i * 33.3}))
            ws.send(frame)
            message = json.loads(ws.recv(timeout=30))
            while message["type"] == "event":  # fixations, blinks: not what this test counts
                message = json.loads(ws.recv(timeout=30))
            assert message["type"] == "result", message
            assert message["frame_id"] == i
            assert message["face_detected"]
            assert message["frame"]["stream_id"].startswith("ws-")


def test_metrics_sum_over_the_replicas(serve_url: str, jpeg_frames: list[bytes]) -> None:
    frames = "gazeserve_frames_processed_total"
    with httpx.Client(base_url=serve_url, timeout=30) as client:
        before = metric_value(client.get("/metrics").text, frames)
        # 16 requests each: all on one replica by chance has odds of 2 in 65,536.
        replicas = {post(client, frame).headers["x-gazeserve-replica"]
                    for frame in jpeg_frames[:16]}
        scrapes = [client.get("/metrics") for _ in range(16)]
    assert len(replicas) == REPLICAS
    assert len({s.headers["x-gazeserve-replica"] for s in scrapes}) == REPLICAS
    # Whichever replica answers reports the same figure: the frames of both replicas.
    assert {metric_value(s.text, frames) for s in scrapes} == {before + 16}
    workers = {metric_value(s.text, "gazeserve_inference_workers") for s in scrapes}
    assert workers == {REPLICAS}


def test_options_from_the_environment() -> None:
    serve_app = load_serve_app()
    options = serve_app.RayServeOptions.from_env({
        "GAZE_RAY_NUM_REPLICAS": "auto", "GAZE_RAY_MAX_REPLICAS": "6",
        "GAZE_RAY_MAX_ONGOING_REQUESTS": "32", "GAZE_RAY_TARGET_ONGOING_REQUESTS": "4",
        "MAX_WORKERS": "2", "GAZE_RAY_STREAM_AFFINITY": "false"})
    deployment = options.deployment_options({"MAX_WORKERS": "2"})
    assert deployment["max_ongoing_requests"] == 32
    assert "num_replicas" not in deployment
    autoscaling = deployment["autoscaling_config"]
    assert (autoscaling.min_replicas, autoscaling.max_replicas) == (1, 6)
    assert autoscaling.target_ongoing_requests == 4
    assert deployment["ray_actor_options"]["num_cpus"] == 2.0
    assert "request_router_config" not in deployment
    fixed = serve_app.RayServeOptions.from_env({"GAZE_RAY_NUM_REPLICAS": "3"})
    assert fixed.deployment_options({})["num_replicas"] == 3
    assert "request_router_config" in fixed.deployment_options({})


@pytest.mark.parametrize(("env", "message"), [
    ({"GAZE_RAY_NUM_REPLICAS": "0"}, "GAZE_RAY_NUM_REPLICAS"),
    ({"GAZE_RAY_NUM_REPLICAS": "many"}, "GAZE_RAY_NUM_REPLICAS"),
    ({"GAZE_RAY_MIN_REPLICAS": "5", "GAZE_RAY_MAX_REPLICAS": "2"}, "GAZE_RAY_MIN_REPLICAS"),
    ({"GAZE_RAY_TARGET_ONGOING_REQUESTS": "100"}, "GAZE_RAY_TARGET_ONGOING_REQUESTS"),
    ({"GAZE_RAY_STREAM_AFFINITY": "maybe"}, "GAZE_RAY_STREAM_AFFINITY"),
])
def test_bad_options_name_the_variable(env: dict[str, str], message: str) -> None:
    serve_app = load_serve_app()
    with pytest.raises(serve_app.RayServeOptionsError, match=message):
        serve_app.RayServeOptions.from_env(env)


def test_replicas_get_the_settings_and_a_fresh_metrics_folder() -> None:
    serve_app = load_serve_app()
    env = {"MAX_WORKERS": "1", "GAZE_LOG_LEVEL": "debug", "HOME": "/root", "RAY_ADDRESS": "x"}
    first = serve_app.replica_environment(True, env)
    second = serve_app.replica_environment(True, env)
    assert first["MAX_WORKERS"] == "1" and first["GAZE_LOG_LEVEL"] == "debug"
    assert "HOME" not in first and "RAY_ADDRESS" not in first
    assert first["PROMETHEUS_MULTIPROC_DIR"] != second["PROMETHEUS_MULTIPROC_DIR"]
    assert "PROMETHEUS_MULTIPROC_DIR" not in serve_app.replica_environment(False, env)
