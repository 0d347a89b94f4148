"""Prometheus config and alert rules: promtool checks them and runs their unit tests.

Every alert has a case in alerts_test.yml where it fires and one where it must not, reads only
metrics that gazeserve exports, and has a runbook section in docs/operations.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from tests.deploy_support import (
    ALERTS,
    ALERTS_TEST,
    OPERATIONS_DOC,
    PROMETHEUS_DIR,
    PROMETHEUS_OWN_SERIES,
    alert_rules,
    exported_names,
    load_yaml,
    metric_names,
)

EXPECTED_ALERTS = {
    "GazeserveDown",                    # service down
    "GazeserveTargetMissing",           # service down: not even a target
    "GazeserveFrameLatencyHigh",        # p95 frame latency
    "GazeserveFrameDropRateHigh",       # frame drop rate
    "GazeserveHttpErrorRateHigh",       # HTTP error rate
    "GazeserveQueueSaturated",          # queue saturation
    "GazeserveNoFacesOnActiveStreams",  # a broken camera pipeline
}


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> str:
    exe = shutil.which("promtool")
    assert exe, "promtool missing: `make setup-test` installs Debian's prometheus package"
    result = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                            check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output



def test_config_and_rules_are_valid() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in promtool("check", "rules", ALERTS.name)


def test_alert_unit_tests_pass() -> None:
    assert "SUCCESS" in promtool("test", "rules", ALERTS_TEST.name)


def test_the_alerts_asked_for_are_there() -> None:
    assert {rule["alert"] for rule in alert_rules()} == EXPECTED_ALERTS


def test_every_alert_is_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for case in load_yaml(ALERTS_TEST)["tests"]:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert firing == EXPECTED_ALERTS
    assert quiet == EXPECTED_ALERTS


def test_alerts_read_only_metrics_gazeserve_exports() -> None:
    exported = exported_names() | PROMETHEUS_OWN_SERIES
    for rule in alert_rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= exported, f"{rule['alert']}: {sorted(names - exported)} not exported"


def test_alerts_select_the_gazeserve_job() -> None:
    for rule in alert_rules():
        selectors = re.findall(r"[a-z_]+\{([^}]*)\}", rule["expr"])
        assert selectors and all('job="gazeserve"' in s for s in selectors), rule["alert"]


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda r: r["alert"])
def test_every_alert_says_what_it_means_and_where_the_runbook_is(rule: dict[str, Any]) -> None:
    labels, annotations = rule["labels"], rule["annotations"]
    assert labels["severity"] in {"critical", "warning"}
    assert annotations["summary"] and annotations["description"]
    anchor = rule["alert"].lower()
    assert annotations["runbook"] == f"docs/operations.md#{anchor}"
    headings = {line.lstrip("#").strip().lower() for line in
                OPERATIONS_DOC.read_text().splitlines() if line.startswith("#")}
    assert anchor in headings, f"docs/operations.md has no section '{rule['alert']}'"


def test_metric_name_scanner() -> None:
    expr = ('histogram_quantile(0.95, sum by (job, le) (rate(a_bucket{job="x", le="0.5"}[5m])))'
            ' / on (job) group_left b_total offset 1m > 1e-3 and absent(up{job="gazeserve"})')
    assert metric_names(expr) == {"a_bucket", "b_total", "up"}
