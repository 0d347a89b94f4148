"""`/metrics` and `/metrics.json` of a real server, checked by prometheus_client and promtool."""

from __future__ import annotations

import shutil
import subprocess
import sys

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.metrics_text import metric_value
from tests.e2e.server import running_server

STAGES = {"decode", "detect", "landmarks", "iris", "gaze", "queue_wait", "total"}


def _post(url: str, frame: bytes, **params: object) -> httpx.Response:
    return httpx.post(f"{url}/v1/gaze", content=frame, params=params,
                      headers={"content-type": "image/jpeg"}, timeout=30)


def test_prometheus_text_parses_and_moves(server: str, jpeg_frames: list[bytes]) -> None:
    before = httpx.get(f"{server}/metrics").text
    for frame in jpeg_frames[:5]:
        assert _post(server, frame).status_code == 200
    text = httpx.get(f"{server}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert all(name.startswith(("gazeserve_", "process_", "python_")) for name in families)
    assert metric_value(text, "gazeserve_frames_processed_total") - metric_value(
        before, "gazeserve_frames_processed_total") == 5
    stages = {s.labels["stage"] for s in families["gazeserve_stage_seconds"].samples}
    assert stages >= STAGES
    assert metric_value(text, "gazeserve_http_request_seconds_count", route="/v1/gaze",
                        method="POST", status="200") >= 5
    for family in families.values():  # no per-person or per-stream labels
        for sample in family.samples:
            assert "stream_id" not in sample.labels


def test_promtool_accepts_the_exposition(server: str) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make setup-test` installs Debian's prometheus package"
    text = httpx.get(f"{server}/metrics").content
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                            check=False)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_metrics_json_has_the_documented_shape(server: str, jpeg_frames: list[bytes]) -> None:
    assert _post(server, jpeg_frames[0]).status_code == 200
    snapshot = httpx.get(f"{server}/metrics.json").json()
    performance, queue, system = snapshot["performance"], snapshot["queue"], snapshot["system"]
    assert performance["uptime_seconds"] > 0 and performance["total_operations"] > 0
    total = performance["operations"]["total"]
    assert set(total) >= {"avg_time", "p50_time", "p95_time", "p99_time", "total_calls"}
    assert 0 < total["p50_time"] <= total["p99_time"] < 5  # seconds, not milliseconds
    assert set(queue) >= {"frames_received", "frames_processed", "frames_dropped",
                          "avg_processing_time"}
    assert queue["frames_processed"] >= 1
    assert system["cpu_count"] >= 1 and system["recommended_workers"] >= 1


@pytest.mark.slow
def test_two_processes_add_up(jpeg_frames: list[bytes]) -> None:
    with running_server({"MAX_WORKERS": "1"}, args=("--workers", "2")) as url:
        pids = set()
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(40):
                r = client.post("/v1/gaze", content=jpeg_frames[i % len(jpeg_frames)],
                                headers={"content-type": "image/jpeg", "connection": "close"})
                assert r.status_code == 200
                pids.add(client.get("/metrics.json").json()["system"]["pid"])
        text = httpx.get(f"{url}/metrics").text
        assert metric_value(text, "gazeserve_frames_processed_total") == 40
        assert metric_value(text, "gazeserve_inference_workers") == 2
        assert httpx.get(f"{url}/metrics.json").json()["queue"]["frames_processed"] == 40
    assert len(pids) == 2, "both processes served"


def test_bad_setting_stops_start_up_with_one_line() -> None:
    result = subprocess.run([sys.executable, "-m", "gazeserve", "serve"],
                            env={"PATH": "", "MAX_WORKERS": "lots", "HOME": "/nonexistent"},
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "MAX_WORKERS" in lines[0], result.stderr
