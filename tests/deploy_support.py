"""The deployment files (deploy/) read for tests: Dockerfiles, alert rules, the Grafana dashboard.

Shared by the unit checks (tests/unit/deploy) and the end-to-end checks against a real
Prometheus (tests/e2e/test_prometheus_scrape.py).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
DOCKER = DEPLOY / "docker"
DOCKERFILES = (DOCKER / "Dockerfile", DOCKER / "Dockerfile.gpu", DOCKER / "Dockerfile.optimized")
COMPOSE = DEPLOY / "compose.yaml"
PROMETHEUS_DIR = DEPLOY / "prometheus"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERTS_TEST = PROMETHEUS_DIR / "alerts_test.yml"
GRAFANA_DIR = DEPLOY / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "gazeserve.json"
OPERATIONS_DOC = REPO / "docs" / "operations.md"

GRAFANA_VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$job": "gazeserve",
    "$instance": ".*",
}
"""What Grafana would put in place of its variables, for evaluating the panels' queries."""

PROMETHEUS_OWN_SERIES = frozenset({"up"})
"""Series that Prometheus makes for every target; every other name must come from /metrics."""


# --- Dockerfiles --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """The instructions of a Dockerfile, continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append(Instruction(keyword.upper(), " ".join(args.split())))
    assert not pending, f"{path} ends with a continuation line"
    return instructions


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form instruction (ENTRYPOINT, CMD)."""
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def env_assignments(args: str) -> dict[str, str]:
    """`ENV A=1 B="x y"` as a dict."""
    pairs = {}
    for token in shlex.split(args):
        name, sep, value = token.partition("=")
        assert sep, f"ENV {args!r}: use NAME=value"
        pairs[name] = value
    return pairs


def copy_sources(args: str) -> tuple[list[str], str, str | None]:
    """`COPY [--from=stage] src... dest` as (sources, dest, stage)."""
    tokens = shlex.split(args)
    stage = None
    flags = [t for t in tokens if t.startswith("--")]
    for flag in flags:
        if flag.startswith("--from="):
            stage = flag.split("=", 1)[1]
    paths = [t for t in tokens if not t.startswith("--")]
    return paths[:-1], paths[-1], stage


def shell_commands(run_args: str) -> list[list[str]]:
    """The simple commands of a RUN instruction's shell line (split at `&&`, `||`, `;`, `()`)."""
    lexer = shlex.shlex(run_args, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token and set(token) <= set("&|;()"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [cmd for cmd in commands if cmd]


def gazeserve_commands(run_args: str) -> list[list[str]]:
    """Our commands in a RUN instruction, as arguments of `python -m`.

    `gazeserve models prepare ...` gives `["gazeserve", "models", "prepare", ...]`;
    `python -m gazeserve.native.build` gives `["gazeserve.native.build"]`.
    """
    ours = []
    for cmd in shell_commands(run_args):
        if cmd[0] == "gazeserve":
            ours.append(cmd)
        elif cmd[0].startswith("python") and cmd[1:2] == ["-m"] and cmd[2].startswith("gazeserve"):
            ours.append(cmd[2:])
    return ours


def pip_install_extras(run_args: str) -> set[str]:
    """The extras of the project (`.[a,b]`) that a RUN instruction's `pip install` names."""
    extras: set[str] = set()
    for cmd in shell_commands(run_args):
        if cmd[:2] == ["pip", "install"]:
            for arg in cmd[2:]:
                match = re.fullmatch(r"\.\[([\w,-]+)\]", arg)
                if match:
                    extras.update(match.group(1).split(","))
    return extras


def dockerignore_allows(relative: str, patterns: list[str]) -> bool:
    """Whether a path is sent in the build context under these .dockerignore patterns.

    The last pattern matching the path or one of its parent folders decides; `!` re-includes.
    """
    parts = Path(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    allowed = True
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        if body.startswith("**/"):
            matched = any(fnmatch(Path(c).name, body[3:]) or fnmatch(c, body[3:])
                          for c in candidates)
        else:
            matched = any(fnmatch(c, body) for c in candidates)
        if matched:
            allowed = negate
    return allowed


def dockerignore_patterns() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


# --- Prometheus rules and Grafana dashboard ------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def alert_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for group in load_yaml(ALERTS)["groups"]:
        rules.extend(rule for rule in group["rules"] if "alert" in rule)
    return rules


def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def dashboard_panels(dashboard: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every panel, those nested in collapsed rows included."""
    dashboard = dashboard or load_dashboard()
    panels: list[dict[str, Any]] = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels


def grafana_to_promql(expr: str) -> str:
    """A panel query with Grafana's variables replaced (longest names first)."""
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def dashboard_queries() -> dict[str, str]:
    """`"panel title/refId" -> PromQL` for every panel query, ready to evaluate."""
    queries = {}
    for panel in dashboard_panels():
        for target in panel.get("targets", []):
            key = f"{panel['title']}/{target['refId']}"
            queries[key] = grafana_to_promql(target["expr"])
    return queries


def template_variable_metrics() -> set[str]:
    """Metric names in the template variables' `label_values(metric{...}, label)` queries."""
    names = set()
    for variable in load_dashboard()["templating"]["list"]:
        query = variable.get("definition", "")
        match = re.match(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)", query)
        if match:
            names.add(match.group(1))
    return names


_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                       "group_left", "group_right", "inf", "nan", "atan2"})


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads.

    A small scanner, enough for the expressions in deploy/: strings, label matchers, ranges,
    grouping clauses and numbers are removed; a remaining identifier not followed by `(` and not
    a keyword is a metric name.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+\w+", " ", text)
    text = re.sub(r"(?<![A-Za-z_:])\d+(\.\d+)?([eE][+-]?\d+)?", " ", text)
    names: set[str] = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        following = text[match.end():].lstrip()
        if following.startswith("(") or name.lower() in _KEYWORDS:
            continue
        names.add(name)
    return names


SAMPLE_SUFFIXES = {"counter": ("_total", "_created"),
                   "histogram": ("_bucket", "_sum", "_count", "_created"),
                   "summary": ("_sum", "_count", "_created"), "gauge": ("",), "info": ("_info",)}


def exported_sample_names(exposition: str) -> set[str]:
    """The sample names a /metrics text exports (`x_bucket`, `x_total`, ... as scraped).

    A labelled family with no series yet (no frame dropped so far) counts too: its series
    appear with the first event, under the names its type gives them.
    """
    from prometheus_client.parser import text_string_to_metric_families

    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(sample.name for sample in family.samples)
        names.update(family.name + suffix for suffix in SAMPLE_SUFFIXES.get(family.type, ("",)))
    return names


def exported_names() -> set[str]:
    """Sample names of a fresh Metrics object, as /metrics shows them."""
    from gazeserve.observability import Metrics, render_prometheus

    metrics = Metrics()
    metrics.set_build_info(engine="litert", runtime="litert")
    metrics.observe_http("/v1/gaze", "POST", 200, 0.01)
    metrics.frame_dropped("stale")
    return exported_sample_names(render_prometheus(metrics)[0].decode())
