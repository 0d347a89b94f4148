"""A real Prometheus scraping a real gazeserve server under a little load.

Through Prometheus' HTTP API: the frame counters and latency histograms are there and move,
every Grafana panel query and every alert rule evaluates, and they name only metrics that
Prometheus scraped from gazeserve. Also runs the container's health check against the server.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlparse

import httpx
import pytest

from tests.deploy_support import (
    ALERTS,
    DOCKER,
    PROMETHEUS_OWN_SERIES,
    alert_rules,
    dashboard_queries,
    exported_sample_names,
    metric_names,
    template_variable_metrics,
)
from tests.e2e.prometheus_server import poll, query, running_prometheus, value
from tests.e2e.server import free_port

pytestmark = pytest.mark.slow

FIRST_SCRAPE_TIMEOUT_S = 30.0
FRAMES = 24


@pytest.fixture(scope="module")
def prometheus(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    target = urlparse(server).netloc
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{"job_name": "gazeserve", "static_configs": [{"targets": [target]}]}],
    }
    with running_prometheus(config, tmp_path_factory.mktemp("prometheus")) as url:
        poll(lambda: value(url, 'up{job="gazeserve"}') == 1, FIRST_SCRAPE_TIMEOUT_S,
             "first scrape of gazeserve")
        yield url


@pytest.fixture(scope="module")
def loaded(prometheus: str, server: str, jpeg_frames: list[bytes]) -> str:
    """Prometheus after it has seen FRAMES more frames processed than before the load."""
    total = 'sum(gazeserve_frames_processed_total{job="gazeserve"})'
    before = poll(lambda: value(prometheus, total), 10, "frame counter scraped")
    with httpx.Client(base_url=server, timeout=30) as client:
        for i in range(FRAMES):
            response = client.post("/v1/gaze", content=jpeg_frames[i % len(jpeg_frames)],
                                   params={"stream_id": "prometheus-e2e"},
                                   headers={"content-type": "image/jpeg"})
            assert response.status_code == 200, response.text
    poll(lambda: (value(prometheus, total) or 0) >= before + FRAMES, 15,
         "frames scraped after the load")
    return prometheus


def test_frame_counters_move(loaded: str) -> None:
    for name in ("gazeserve_frames_received_total", "gazeserve_frames_processed_total",
                 "gazeserve_faces_detected_total"):
        increase = value(loaded, f'sum(increase({name}{{job="gazeserve"}}[5m]))')
        assert increase is not None and increase > 0, name
    for name in ("gazeserve_frames_analyzed_total", "gazeserve_frames_with_face_total",
                 "gazeserve_faces_on_screen_total", "gazeserve_blinks_total",
                 "gazeserve_queue_capacity"):
        assert query(loaded, f'{name}{{job="gazeserve"}}'), f"{name} not scraped"


def test_latency_histograms_are_there_and_move(loaded: str) -> None:
    stages = {s["metric"]["stage"] for s in query(
        loaded, 'sum by (stage) (gazeserve_stage_seconds_count{job="gazeserve"})')}
    assert stages >= {"decode", "detect", "landmarks", "iris", "gaze", "queue_wait", "total"}
    p95 = value(loaded, 'histogram_quantile(0.95, sum by (le) (rate('
                        'gazeserve_stage_seconds_bucket{job="gazeserve", stage="total"}[1m])))')
    assert p95 is not None and math.isfinite(p95) and 0 < p95 < 1.0, p95
    # The series of POST /v1/gaze 200 may be new with the load, so its first scraped value is
    # already the total: increase() would miss it.
    requests = value(loaded, 'sum(gazeserve_http_request_seconds_count{'
                             'job="gazeserve", route="/v1/gaze", status="200"})')
    assert requests is not None and requests >= FRAMES


def scraped_names(prometheus: str, server: str) -> set[str]:
    """The names Prometheus holds for gazeserve, and those its /metrics declares (a labelled
    counter such as the drops has no series before its first event)."""
    result = query(prometheus, 'group by (__name__) ({job="gazeserve"})')
    held = {s["metric"]["__name__"] for s in result}
    return held | exported_sample_names(httpx.get(f"{server}/metrics", timeout=10).text)


def test_every_dashboard_query_evaluates_and_the_main_panels_have_data(loaded: str) -> None:
    with_data = {key for key, expr in dashboard_queries().items() if query(loaded, expr)}
    for key in ("Stage latency p95/A", "Frames/s/A", "Active streams/A", "Targets up/A",
                "Engine and runtime in use/A", "Queue depth and capacity/A"):
        assert key in with_data, f"{key}: no data"


def test_dashboard_and_alerts_name_only_scraped_metrics(loaded: str, server: str) -> None:
    scraped = scraped_names(loaded, server) | PROMETHEUS_OWN_SERIES
    used = set(template_variable_metrics())
    for expr in dashboard_queries().values():
        used |= metric_names(expr)
    for rule in alert_rules():
        used |= metric_names(rule["expr"])
    assert used <= scraped, f"not exported by gazeserve: {sorted(used - scraped)}"


def test_alert_rules_load_and_evaluate(loaded: str) -> None:
    def evaluated() -> list[dict[str, object]] | None:
        groups = httpx.get(f"{loaded}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules: list[dict[str, object]] = [r for g in groups for r in g["rules"]]
        done = all(not str(r["lastEvaluation"]).startswith("0001") for r in rules)
        return rules if rules and done else None

    rules = poll(evaluated, 10, "alert rules evaluated")
    assert {r["name"] for r in rules} == {r["alert"] for r in alert_rules()}
    for rule in rules:
        assert rule["health"] == "ok", rule


def run_healthcheck(port: int) -> int:
    env = {**os.environ, "GAZE_PORT": str(port)}
    return subprocess.run([sys.executable, str(DOCKER / "healthcheck.py")], env=env,
                          capture_output=True, timeout=30, check=False).returncode


def test_container_healthcheck_passes_on_a_ready_server(server: str) -> None:
    port = urlparse(server).port
    assert port is not None
    assert run_healthcheck(port) == 0
    assert run_healthcheck(free_port()) == 1


def test_prometheus_kept_scraping(loaded: str) -> None:
    scrapes = value(loaded, 'count_over_time(up{job="gazeserve"}[10m])')
    failed = value(loaded, 'count_over_time((up{job="gazeserve"} == 0)[10m:1s])')
    assert scrapes is not None and scrapes >= 2
    assert failed is None, f"{failed} failed scrapes"
