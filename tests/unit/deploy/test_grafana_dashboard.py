"""The Grafana dashboard and its provisioning, without a Grafana server (none is installable).

Every panel query parses (promtool checks it as a recording rule), reads only metrics gazeserve
exports, and the panels asked for are there. tests/e2e/test_prometheus_scrape.py evaluates the
same queries on a real Prometheus scraping a real server.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from tests.deploy_support import (
    GRAFANA_DIR,
    PROMETHEUS_OWN_SERIES,
    dashboard_panels,
    dashboard_queries,
    exported_names,
    load_dashboard,
    load_yaml,
    metric_names,
    template_variable_metrics,
)


def test_every_panel_query_parses(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make setup-test` installs Debian's prometheus package"
    queries = dashboard_queries()
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:query_{i}", "expr": expr} for i, expr in enumerate(queries.values())
    ]}]}
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_queries_read_only_metrics_gazeserve_exports() -> None:
    exported = exported_names() | PROMETHEUS_OWN_SERIES
    for key, expr in dashboard_queries().items():
        names = metric_names(expr)
        assert names, key
        assert names <= exported, f"{key}: {sorted(names - exported)} not exported"
    assert template_variable_metrics() <= exported


@pytest.mark.parametrize(("what", "needle"), [
    ("latency p50 by stage", "histogram_quantile(0.5, sum by (le, stage) (rate(gazeserve_stage"),
    ("latency p95 by stage", "histogram_quantile(0.95, sum by (le, stage) (rate(gazeserve_stage"),
    ("latency p99 by stage", "histogram_quantile(0.99, sum by (le, stage) (rate(gazeserve_stage"),
    ("frames/s", "rate(gazeserve_frames_processed_total"),
    ("drops by reason", "sum by (reason) (rate(gazeserve_frames_dropped_total"),
    ("queue depth", "gazeserve_queue_depth"),
    ("active streams", "gazeserve_active_streams"),
    ("faces detected %", "gazeserve_frames_with_face_total"),
    ("on-screen share", "gazeserve_faces_on_screen_total"),
    ("attention state distribution", "sum by (state) (rate(gazeserve_attention_state_total"),
    ("blink rate", "gazeserve_blinks_total"),
    ("engine and runtime in use", "gazeserve_build_info"),
])
def test_the_panels_asked_for_are_there(what: str, needle: str) -> None:
    assert any(needle in expr for expr in dashboard_queries().values()), what


def test_dashboard_structure() -> None:
    dashboard = load_dashboard()
    panels = dashboard_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert dashboard["uid"] == "gazeserve"
    for panel in panels:
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert set(variables) == {"datasource", "job", "instance"}


def test_provisioned_datasource_is_the_dashboards_default() -> None:
    datasource = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    assert datasource["datasources"][0]["uid"] == variables["datasource"]["current"]["value"]
    assert datasource["datasources"][0]["type"] == variables["datasource"]["query"]
