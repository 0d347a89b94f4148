"""/metrics.json from the Prometheus data: the seed's shape, and bucket-estimated percentiles."""

from __future__ import annotations

import bisect
import math
import random

import pytest
from prometheus_client import CollectorRegistry, Histogram

from gazeserve.observability import (
    STAGE_BUCKETS_S,
    Metrics,
    build_snapshot,
    histogram_quantile,
)


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def bucket_width(value: float, bounds: tuple[float, ...]) -> float:
    i = bisect.bisect_left(bounds, value)
    return bounds[i] - (bounds[i - 1] if i else 0.0)


def test_quantile_interpolates_within_the_bucket_like_prometheus() -> None:
    buckets = [(1.0, 10.0), (2.0, 30.0), (math.inf, 30.0)]

    assert histogram_quantile(0.5, buckets) == pytest.approx(1.25)  # rank 15: 5 of 20 into (1, 2]
    assert histogram_quantile(0.2, buckets) == pytest.approx(0.6)  # first bucket starts at 0
    assert histogram_quantile(1.0, buckets) == pytest.approx(2.0)


def test_quantile_edge_cases() -> None:
    assert histogram_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]) is None
    # Beyond the last finite bound only that bound is known.
    assert histogram_quantile(0.99, [(1.0, 1.0), (math.inf, 10.0)]) == 1.0
    with pytest.raises(ValueError, match="q must"):
        histogram_quantile(1.5, [(math.inf, 1.0)])
    with pytest.raises(ValueError, match="Inf"):
        histogram_quantile(0.5, [(1.0, 1.0)])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_estimates_fall_within_a_bucket_of_the_true_percentile(seed: int) -> None:
    rng = random.Random(seed)
    # Per-frame latencies: log-normal around 8 ms, as a CPU pipeline gives.
    values = [min(0.9, rng.lognormvariate(math.log(0.008), 0.6)) for _ in range(5000)]
    metrics = Metrics()
    for v in values:
        metrics.observe_stage("total", v)

    op = build_snapshot(metrics, None, {})["performance"]["operations"]["total"]

    assert op["total_calls"] == len(values)
    assert op["avg_time"] == pytest.approx(sum(values) / len(values), abs=1e-6)
    for q, key in ((0.5, "p50_time"), (0.95, "p95_time"), (0.99, "p99_time")):
        true = exact_quantile(values, q)
        assert abs(op[key] - true) <= bucket_width(true, STAGE_BUCKETS_S), (key, op[key], true)


def test_snapshot_has_the_seed_shape_in_seconds() -> None:
    metrics = Metrics()
    for _ in range(10):
        metrics.on_submit(5)
    for _ in range(8):
        metrics.on_processed(processing_s=0.04, wait_s=0.002)
        metrics.observe_timings({"decode": 2.0, "detect": 0.0, "landmarks": 6.0, "total": 38.0})
    metrics.on_drop("stale")
    metrics.on_drop("superseded")
    metrics.on_depth(3)
    metrics.observe_detection(faces=1, detector_ran=True)
    start = metrics.registry.get_sample_value("gazeserve_start_time_seconds")
    assert start is not None
    local = {"frames_received": 999, "frames_failed": 1, "in_flight": 2}

    snap = build_snapshot(
        metrics, local, {"cpu_count": 8, "recommended_workers": 4}, now_s=start + 60
    )

    perf = snap["performance"]
    assert perf["uptime_seconds"] == pytest.approx(60.0)
    assert set(perf["operations"]) == {"decode", "landmarks", "total", "queue_wait"}  # ran only
    decode = perf["operations"]["decode"]
    assert set(decode) == {"avg_time", "p50_time", "p95_time", "p99_time", "total_calls"}
    assert decode["avg_time"] == pytest.approx(0.002)
    assert decode["total_calls"] == 8
    assert 0.001 <= decode["p50_time"] <= decode["p95_time"] <= decode["p99_time"] <= 0.002
    assert perf["total_operations"] == 32
    assert perf["faces_detected"] == 1
    assert perf["detector_runs"] == 1

    queue = snap["queue"]
    assert queue["frames_received"] == 10  # from Prometheus, not the local 999
    assert queue["frames_processed"] == 8
    assert queue["frames_dropped"] == 2
    assert queue["dropped_by_reason"] == {"stale": 1, "superseded": 1}
    assert queue["drop_rate"] == pytest.approx(0.2)
    assert queue["depth"] == 3
    assert queue["avg_processing_time"] == pytest.approx(0.04)
    assert queue["avg_wait_time"] == pytest.approx(0.002)
    assert queue["frames_failed"] == 1 and queue["in_flight"] == 2  # local figures kept
    assert snap["system"] == {"cpu_count": 8, "recommended_workers": 4}


def test_snapshot_of_an_idle_service() -> None:
    snap = build_snapshot(Metrics(), None, {})

    assert snap["performance"]["operations"] == {}
    assert snap["performance"]["total_operations"] == 0
    assert snap["queue"]["frames_received"] == 0
    assert snap["queue"]["drop_rate"] == 0.0
    assert snap["queue"]["avg_processing_time"] is None


def test_snapshot_reads_any_registry() -> None:
    registry = CollectorRegistry()
    hist = Histogram("gazeserve_stage_seconds", "", ["stage"], registry=registry, buckets=(0.01,))
    hist.labels("detect").observe(0.005)

    snap = build_snapshot(registry, None, {})

    assert snap["performance"]["operations"]["detect"]["p50_time"] == pytest.approx(0.005)
    assert snap["performance"]["uptime_seconds"] == 0.0  # no start time known
