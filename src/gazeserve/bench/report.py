"""The `gazeserve bench` report: JSON document, ratios, targets, and the terminal tables.

Ratios are always ours / theirs measured in the same run: for latency (p50 per call) lower is
better, for frames/s higher is better. Targets are reported, never enforced.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from gazeserve.bench.inprocess import ScenarioResult, Skipped
from gazeserve.bench.stats import ratio

SCHEMA = "gazeserve.bench.v1"
PACKAGES = ("gazeserve", "numpy", "ai-edge-litert", "onnxruntime", "opencv-python-headless")


@dataclass(frozen=True)
class Target:
    """A goal from the issue, as `ours metric <= or >= limit x theirs`."""

    name: str
    description: str
    ours: Callable[[ScenarioResult], bool]
    theirs: str
    """Name suffix of the MediaPipe scenario (`c.tracking`)."""
    metric: str
    """"latency_p50" (ratio ours/theirs, must be <= limit) or "frames_per_s" (>= limit)."""
    limit: float


BENCH_TARGETS = (
    Target("tracking_p50", "tracking, one stream: p50 <= 0.75 x MediaPipe (c)",
           lambda s: s.mode == "tracking" and s.threads == 1, "c.tracking", "latency_p50", 0.75),
    Target("many_streams_fps", "many streams, N threads: frames/s >= 1.25 x MediaPipe (d)",
           lambda s: s.mode == "tracking" and s.threads > 1, "d.threads", "frames_per_s", 1.25),
    Target("vs_new_instance", "tracking, one stream: >= 8 x faster than MediaPipe (a) (p50)",
           lambda s: s.mode == "tracking" and s.threads == 1, "a.new_instance", "latency_p50",
           1 / 8),
)


def compare(ours: ScenarioResult, theirs: ScenarioResult) -> dict[str, Any]:
    p50 = ratio(ours.latency_ms.p50, theirs.latency_ms.p50)
    fps = ratio(ours.frames_per_s, theirs.frames_per_s)
    return {"ours": ours.name, "theirs": theirs.name,
            "latency_p50_ratio": None if p50 is None else round(p50, 4),
            "frames_per_s_ratio": None if fps is None else round(fps, 4)}


def evaluate_targets(ours: Sequence[ScenarioResult], theirs: Sequence[ScenarioResult],
                     targets: Sequence[Target] = BENCH_TARGETS) -> list[dict[str, Any]]:
    """Each target for each of our engine variants that has the scenario it needs."""
    out = []
    for target in targets:
        reference = next((t for t in theirs if t.name.endswith(target.theirs)), None)
        if reference is None:
            continue
        for scenario in (s for s in ours if target.ours(s)):
            row = compare(scenario, reference)
            if target.metric == "latency_p50":
                value, met = row["latency_p50_ratio"], None
                met = value is not None and value <= target.limit
            else:
                value = row["frames_per_s_ratio"]
                met = value is not None and value >= target.limit
            out.append({"target": target.name, "description": target.description,
                        "ours": scenario.name, "theirs": reference.name,
                        "metric": target.metric, "ratio": value, "limit": round(target.limit, 4),
                        "met": met})
    return out


def machine_info() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"cpu_count": os.cpu_count(), "machine": platform.machine(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "platform": platform.platform(), "python": sys.version.split()[0],
            "versions": versions}


@dataclass
class BenchReport:
    source: str
    frames_unique: int
    frames_per_run: int
    width: int
    height: int
    sha256: str
    warmup: int
    rounds: int
    ours: list[ScenarioResult]
    skipped: list[Skipped]
    mediapipe: list[ScenarioResult] | None = None
    mediapipe_version: str | None = None
    created_utc: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(
        timespec="seconds"))
    machine: dict[str, Any] = field(default_factory=machine_info)

    def ratios(self) -> list[dict[str, Any]]:
        return [compare(o, t) for o in self.ours for t in self.mediapipe or []]

    def targets(self) -> list[dict[str, Any]]:
        return evaluate_targets(self.ours, self.mediapipe or [])

    def to_dict(self) -> dict[str, Any]:
        machine = dict(self.machine)
        if self.mediapipe_version:
            machine["versions"] = {**machine["versions"], "mediapipe": self.mediapipe_version}
        return {
            "schema": SCHEMA,
            "created_utc": self.created_utc,
            "machine": machine,
            "input": {"source": self.source, "frames_unique": self.frames_unique,
                      "frames_per_run": self.frames_per_run, "width": self.width,
                      "height": self.height, "sha256": self.sha256,
                      "warmup_frames": self.warmup, "rounds": self.rounds},
            "ours": [s.to_dict() for s in self.ours],
            "skipped": [{"name": s.name, "reason": s.reason} for s in self.skipped],
            "mediapipe": None if self.mediapipe is None else [s.to_dict()
                                                             for s in self.mediapipe],
            "ratios": self.ratios(),
            "targets": self.targets(),
        }


def _ms(value: float) -> str:
    return f"{value:.2f}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def render(report: BenchReport, console: Any) -> None:
    """Prints the tables on a rich console."""
    from rich.table import Table

    # Stages that never ran in-process (decode: the frames are decoded beforehand) add nothing.
    stage_names = [name for name in (report.ours[0].stages_ms if report.ours else {})
                   if name != "total" and any(s.stages_ms[name].max > 0 for s in report.ours)]
    title = (f"gazeserve bench: {report.frames_per_run} frames per thread of "
             f"{report.width}x{report.height} ({report.frames_unique} unique), "
             f"{report.machine['cpu_count']} CPUs")
    table = Table(title=title, title_justify="left")
    table.add_column("scenario", overflow="fold")
    for name in stage_names:
        table.add_column(f"{name} p50/95/99 ms", justify="right")
    table.add_column("call p50/95/99 ms", justify="right")
    table.add_column("frames/s", justify="right")
    table.add_column("detector", justify="right")
    for s in report.ours:
        stages = [_triple(s.stages_ms[name].p50, s.stages_ms[name].p95, s.stages_ms[name].p99)
                  for name in stage_names]
        detector = "-" if s.detector_runs is None else f"{s.detector_runs / s.frames:.0%}"
        table.add_row(s.label, *stages, _triple(s.latency_ms.p50, s.latency_ms.p95,
                                                s.latency_ms.p99),
                      f"{s.frames_per_s:.1f}", detector)
    for s in report.mediapipe or []:
        table.add_row(s.label, *["" for _ in stage_names],
                      _triple(s.latency_ms.p50, s.latency_ms.p95, s.latency_ms.p99),
                      f"{s.frames_per_s:.1f}", "")
    console.print(table)
    for skipped in report.skipped:
        console.print(f"[yellow]skipped {skipped.name}[/]: {skipped.reason}")
    if report.mediapipe:
        _render_ratios(report, console)


def _triple(a: float, b: float, c: float) -> str:
    return f"{_ms(a)} / {_ms(b)} / {_ms(c)}"


def _render_ratios(report: BenchReport, console: Any) -> None:
    from rich.table import Table

    theirs = report.mediapipe or []
    table = Table(title="ours / MediaPipe, same frames, same run: p50 latency ratio (lower is "
                        "better) | frames/s ratio (higher is better)", title_justify="left")
    table.add_column("ours", overflow="fold")
    for t in theirs:
        table.add_column(t.label, justify="right", overflow="fold")
    for o in report.ours:
        cells = []
        for t in theirs:
            row = compare(o, t)
            cells.append(f"{_x(row['latency_p50_ratio'])} | {_x(row['frames_per_s_ratio'])}")
        table.add_row(o.label, *cells)
    console.print(table)
    targets = Table(title="targets", title_justify="left")
    for column in ("target", "ours", "theirs", "ratio", "limit", "met"):
        targets.add_column(column, overflow="fold")
    for row in report.targets():
        sign = "<=" if row["metric"] == "latency_p50" else ">="
        met = "[green]yes[/]" if row["met"] else "[red]no[/]"
        targets.add_row(row["description"], row["ours"], row["theirs"],
                        f"{row['metric']} {_x(row['ratio'])}", f"{sign} {row['limit']:.3g}",
                        met)
    console.print(targets)
