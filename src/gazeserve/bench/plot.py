"""PNG charts of a bench or load-test report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gazeserve.bench.report import BenchReport

_OURS = "#1f77b4"
_THEIRS = "#7f7f7f"
"""MediaPipe in grey: the stage colours (tab10) stay ours."""


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_bench(report: BenchReport, path: Path) -> None:
    """Per-stage p50 latency as stacked bars (MediaPipe: its whole call) and frames/s bars."""
    plt = _pyplot()
    scenarios = report.ours + (report.mediapipe or [])
    labels = [s.label.replace(", ", "\n", 1) for s in scenarios]
    stage_names = [n for n in (report.ours[0].stages_ms if report.ours else {})
                   if n != "total" and any(s.stages_ms[n].max > 0 for s in report.ours)]
    height = max(4.0, 0.55 * len(scenarios) + 1.5)
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, height), sharey=True)
    positions = list(range(len(scenarios)))
    bottoms = [0.0] * len(scenarios)
    colors = plt.get_cmap("tab10").colors
    for i, name in enumerate(stage_names):
        widths = [s.stages_ms[name].p50 if name in s.stages_ms else 0.0 for s in scenarios]
        left.barh(positions, widths, left=bottoms, color=colors[i % len(colors)], label=name)
        bottoms = [b + w for b, w in zip(bottoms, widths, strict=True)]
    theirs = [s.latency_ms.p50 if not s.stages_ms else 0.0 for s in scenarios]
    left.barh(positions, theirs, color=_THEIRS, hatch="//", label="MediaPipe call")
    calls = [s.latency_ms.p50 for s in scenarios]
    left.scatter(calls, positions, marker="|", s=200, color="black", label="call p50", zorder=3)
    left.set_xlabel("ms per frame (stage p50; | = whole call p50)")
    left.set_yticks(positions, labels, fontsize=8)
    left.invert_yaxis()
    left.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=4)
    left.set_title("latency per frame")
    fps = [s.frames_per_s for s in scenarios]
    right.barh(positions, fps, color=[_THEIRS if not s.stages_ms else _OURS for s in scenarios])
    for y, value in zip(positions, fps, strict=True):
        right.text(value, y, f" {value:.0f}", va="center", fontsize=8)
    right.set_xlabel("frames/s (all threads)")
    right.set_title("throughput")
    fig.suptitle(f"gazeserve bench, {report.width}x{report.height}, "
                 f"{report.machine['cpu_count']} CPUs, {report.created_utc}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_loadtest(runs: list[dict[str, Any]], path: Path) -> None:
    """Latency over the run and its distribution, for each run (ours, then MediaPipe's)."""
    plt = _pyplot()
    fig, (timeline, histogram, resources) = plt.subplots(1, 3, figsize=(16, 4.5))
    p99s = [run["latency_ms"]["p99"] for run in runs if run["samples"]]
    upper = 1.3 * max(p99s, default=1.0) or 1.0
    bins = [upper * i / 60 for i in range(61)]
    for i, run in enumerate(runs):
        color = _OURS if i == 0 else _THEIRS
        samples = run["samples"]
        label = run["target"]
        timeline.scatter([s[0] for s in samples], [s[1] for s in samples], s=4, color=color,
                         label=label, alpha=0.6)
        histogram.hist([min(s[1], upper) for s in samples], bins=bins, color=color, alpha=0.6,
                       label=label)
        server = run.get("server") or {}
        trace = server.get("trace") or []
        if trace:
            resources.plot([t[0] for t in trace[1:]], [t[1] for t in trace[1:]], color=color,
                           label=f"{label} CPU %")
    timeline.set_xlabel("s of load on the service")
    timeline.set_ylabel("latency ms")
    timeline.set_title("latency over the run")
    timeline.legend(fontsize=8)
    histogram.set_xlabel(f"latency ms (clipped at {upper:.0f})")
    histogram.set_title("latency distribution")
    histogram.legend(fontsize=8)
    resources.set_xlabel("s of load on the service")
    resources.set_ylabel("server CPU % (100 = one core)")
    resources.set_title("server CPU")
    if resources.get_legend_handles_labels()[0]:
        resources.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
