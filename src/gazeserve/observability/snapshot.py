"""The ``/metrics.json`` figures, computed from the same Prometheus data as ``/metrics``.

Reading the collected families (rather than keeping separate counters) makes the JSON agree with
the Prometheus exposition and, in multiprocess mode, add up over all workers.

Percentiles are estimates from the histogram buckets, interpolated linearly within the bucket
that holds the rank, as Prometheus' ``histogram_quantile()`` does: an estimate is off by at
most the width of its bucket (see ``STAGE_BUCKETS_S``), and one beyond the last finite bound
is reported as that bound. Times are in seconds.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gazeserve.observability.metrics import Stage

_DIGITS = 6  # microseconds


@dataclass
class HistogramData:
    """One histogram series (or several merged): cumulative counts by upper bound, sum, count."""

    cumulative: dict[float, float] = field(default_factory=dict)
    sum: float = 0.0
    count: float = 0.0

    @property
    def buckets(self) -> list[tuple[float, float]]:
        """``(upper_bound, cumulative_count)`` pairs, in order, ``+Inf`` last."""
        return sorted(self.cumulative.items())

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        return histogram_quantile(q, self.buckets) if self.cumulative else None


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """Estimates the ``q``-quantile from cumulative buckets, as Prometheus does.

    Args:
        q: The quantile, 0 to 1.
        buckets: ``(upper_bound, cumulative_count)`` pairs, including ``+Inf``.

    Returns:
        The estimate, or ``None`` when there are no observations.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"q must be within [0, 1], got {q}")
    ordered = sorted(buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        raise ValueError("the buckets must include +Inf")
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    index = next(i for i, (_, cumulative) in enumerate(ordered) if cumulative >= rank)
    upper, cumulative = ordered[index]
    if math.isinf(upper):
        # Beyond the last finite bound nothing is known but that bound.
        return ordered[-2][0] if len(ordered) > 1 else None
    if index == 0:
        lower, below = (0.0 if upper > 0 else upper), 0.0
    else:
        lower, below = ordered[index - 1]
    in_bucket = cumulative - below
    if in_bucket <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / in_bucket


def build_snapshot(
    source: Collector,
    queue_stats: Mapping[str, Any] | None,
    system: Mapping[str, Any],
    *,
    now_s: float | None = None,
) -> dict[str, Any]:
    """The ``/metrics.json`` document.

    Args:
        source: What to read; a :class:`~gazeserve.observability.Metrics` (all workers in
            multiprocess mode) or any registry.
        queue_stats: This worker's queue statistics, if it has a queue. Its keys are kept, but
            the counters, times and depth are replaced by the figures over all workers.
        system: Copied as it is (``cpu_count``, ``recommended_workers``, ...).
        now_s: Unix time for the uptime; now by default.

    Returns:
        ``{"performance": {"uptime_seconds", "total_operations", "faces_detected",
        "detector_runs", "operations": {name: {"avg_time", "p50_time", "p95_time",
        "p99_time", "total_calls"}}}, "queue": {"frames_received", "frames_processed",
        "frames_dropped", "dropped_by_reason", "drop_rate", "depth", "avg_processing_time",
        "p95_processing_time", "avg_wait_time", ...}, "system": {...}}``; operations that have
        not run are left out, and times with no observation are ``None``.
    """
    families = _Families(source.collect())
    now_s = time.time() if now_s is None else now_s

    stages = families.histograms("gazeserve_stage_seconds", "stage")
    operations = {
        name: {
            "avg_time": _round(hist.mean),
            "p50_time": _round(hist.quantile(0.50)),
            "p95_time": _round(hist.quantile(0.95)),
            "p99_time": _round(hist.quantile(0.99)),
            "total_calls": int(hist.count),
        }
        for name, hist in sorted(stages.items())
        if hist.count > 0
    }
    start_s = families.minimum("gazeserve_start_time_seconds")
    start_s = now_s if start_s is None else start_s
    performance = {
        "uptime_seconds": round(max(0.0, now_s - start_s), 3),
        "total_operations": sum(int(hist.count) for hist in stages.values()),
        "faces_detected": int(families.value("gazeserve_faces_detected_total")),
        "detector_runs": int(families.value("gazeserve_detector_runs_total")),
        "operations": operations,
    }

    received = int(families.value("gazeserve_frames_received_total"))
    dropped_by_reason = {
        reason: int(n)
        for reason, n in sorted(families.by_label("gazeserve_frames_dropped_total", "reason"))
    }
    dropped = sum(dropped_by_reason.values())
    processing = families.histograms("gazeserve_frame_processing_seconds").get("", HistogramData())
    wait = stages.get(Stage.QUEUE_WAIT, HistogramData())
    queue = dict(queue_stats or {})
    queue.update(
        frames_received=received,
        frames_processed=int(families.value("gazeserve_frames_processed_total")),
        frames_dropped=dropped,
        dropped_by_reason=dropped_by_reason,
        drop_rate=round(dropped / received, 4) if received else 0.0,
        depth=int(families.value("gazeserve_queue_depth")),
        avg_processing_time=_round(processing.mean),
        p95_processing_time=_round(processing.quantile(0.95)),
        avg_wait_time=_round(wait.mean),
    )
    return {"performance": performance, "queue": queue, "system": dict(system)}


class _Families:
    """The samples of collected families, by sample name."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self._samples: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
        for family in families:
            for sample in family.samples:
                self._samples[sample.name].append((sample.labels, sample.value))

    def value(self, name: str) -> float:
        """The sum of a sample over its series (the single value of an unlabelled one), or 0."""
        return sum(v for _, v in self._samples.get(name, []))

    def minimum(self, name: str) -> float | None:
        values = [v for _, v in self._samples.get(name, [])]
        return min(values) if values else None

    def by_label(self, name: str, label: str) -> list[tuple[str, float]]:
        return [(labels[label], v) for labels, v in self._samples.get(name, [])]

    def histograms(self, name: str, label: str | None = None) -> dict[str, HistogramData]:
        """The series of a histogram by the value of ``label`` (``""`` when unlabelled)."""
        series: dict[str, HistogramData] = defaultdict(HistogramData)

        def key(labels: Mapping[str, str]) -> str:
            return labels.get(label, "") if label else ""

        for labels, v in self._samples.get(f"{name}_bucket", []):
            counts = series[key(labels)].cumulative
            le = float(labels["le"])
            counts[le] = counts.get(le, 0.0) + v
        for labels, v in self._samples.get(f"{name}_sum", []):
            series[key(labels)].sum += v
        for labels, v in self._samples.get(f"{name}_count", []):
            series[key(labels)].count += v
        return dict(series)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, _DIGITS)
