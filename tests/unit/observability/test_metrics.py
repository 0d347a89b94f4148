"""The Metrics object with the real prometheus_client: values after observations, exposition."""

from __future__ import annotations

import logging
import math
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from gazeserve import __version__
from gazeserve.observability import (
    ENV_VAR,
    STAGE_BUCKETS_S,
    BuildInfo,
    Metrics,
    Stage,
    render_prometheus,
    use_metrics,
)


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_stage_histogram_counts_sums_and_buckets() -> None:
    metrics = Metrics()
    metrics.observe_stage(Stage.DECODE, 0.0012)
    metrics.observe_stage("decode", 0.004)
    metrics.observe_stage("image_preprocessing", 0.0009)  # a timer's own name

    assert sample(metrics, "gazeserve_stage_seconds_count", stage="decode") == 2
    assert sample(metrics, "gazeserve_stage_seconds_sum", stage="decode") == pytest.approx(0.0052)
    assert sample(metrics, "gazeserve_stage_seconds_bucket", stage="decode", le="0.001") == 0
    assert sample(metrics, "gazeserve_stage_seconds_bucket", stage="decode", le="0.002") == 1
    assert sample(metrics, "gazeserve_stage_seconds_bucket", stage="decode", le="0.005") == 2
    assert sample(metrics, "gazeserve_stage_seconds_bucket", stage="decode", le="+Inf") == 2
    assert sample(metrics, "gazeserve_stage_seconds_count", stage="image_preprocessing") == 1


def test_every_stage_exists_at_zero_before_the_first_frame() -> None:
    metrics = Metrics()
    for stage in Stage:
        assert sample(metrics, "gazeserve_stage_seconds_count", stage=stage) == 0


def test_stage_buckets_resolve_half_a_millisecond_to_a_second() -> None:
    assert STAGE_BUCKETS_S[0] == 0.0005
    assert STAGE_BUCKETS_S[-1] == 1.0
    assert list(STAGE_BUCKETS_S) == sorted(set(STAGE_BUCKETS_S))


def test_observe_timings_converts_ms_and_skips_stages_that_did_not_run() -> None:
    metrics = Metrics()
    timings_ms = {"decode": 1.5, "detect": 0.0, "landmarks": 4.0, "total": 7.25}

    metrics.observe_timings(timings_ms)

    assert sample(metrics, "gazeserve_stage_seconds_sum", stage="decode") == pytest.approx(0.0015)
    assert sample(metrics, "gazeserve_stage_seconds_sum", stage="total") == pytest.approx(0.00725)
    assert sample(metrics, "gazeserve_stage_seconds_count", stage="detect") == 0


def test_frame_counters_and_gauges() -> None:
    metrics = Metrics()
    for _ in range(5):
        metrics.frame_received()
    metrics.frame_dropped("stale")
    metrics.frame_dropped("stale")
    metrics.frame_dropped("queue_full")
    metrics.frame_processed(0.02, wait_s=0.003)
    metrics.frame_processed(0.01)  # not queued: no wait observed
    metrics.observe_detection(faces=2, detector_ran=True)
    metrics.observe_detection(faces=1, detector_ran=False)
    metrics.set_queue_depth(4)
    metrics.set_active_streams(3)
    metrics.set_inference_workers(2)

    assert sample(metrics, "gazeserve_frames_received_total") == 5
    assert sample(metrics, "gazeserve_frames_dropped_total", reason="stale") == 2
    assert sample(metrics, "gazeserve_frames_dropped_total", reason="queue_full") == 1
    assert sample(metrics, "gazeserve_frames_processed_total") == 2
    assert sample(metrics, "gazeserve_frame_processing_seconds_sum") == pytest.approx(0.03)
    assert sample(metrics, "gazeserve_stage_seconds_count", stage="queue_wait") == 1
    assert sample(metrics, "gazeserve_faces_detected_total") == 3
    assert sample(metrics, "gazeserve_detector_runs_total") == 1
    assert sample(metrics, "gazeserve_queue_depth") == 4
    assert sample(metrics, "gazeserve_active_streams") == 3
    assert sample(metrics, "gazeserve_inference_workers") == 2

    with pytest.raises(ValueError, match="faces"):
        metrics.observe_detection(faces=-1, detector_ran=False)


def test_queue_listener_protocol() -> None:
    metrics = Metrics()

    metrics.on_submit(priority=7)
    metrics.on_submit(priority=0)
    metrics.on_drop("superseded")
    metrics.on_processed(processing_s=0.015, wait_s=0.004)
    metrics.on_depth(1)

    assert sample(metrics, "gazeserve_frames_received_total") == 2
    assert sample(metrics, "gazeserve_frames_dropped_total", reason="superseded") == 1
    assert sample(metrics, "gazeserve_frames_processed_total") == 1
    assert sample(metrics, "gazeserve_frame_processing_seconds_sum") == pytest.approx(0.015)
    assert sample(metrics, "gazeserve_stage_seconds_sum", stage="queue_wait") == pytest.approx(
        0.004
    )
    assert sample(metrics, "gazeserve_queue_depth") == 1


def test_http_methods_outside_the_standard_set_are_other() -> None:
    metrics = Metrics()
    metrics.observe_http("/v1/gaze", "post", 200, 0.01)
    metrics.observe_http("/v1/gaze", "BREW", 405, 0.001)

    name = "gazeserve_http_request_seconds_count"
    assert sample(metrics, name, route="/v1/gaze", method="POST", status="200") == 1
    assert sample(metrics, name, route="/v1/gaze", method="other", status="405") == 1


def test_build_info_and_start_time() -> None:
    metrics = Metrics(BuildInfo(version="9.9.9", engine="litert", runtime="ai-edge-litert 2.3.0"))

    labels = {"version": "9.9.9", "engine": "litert", "runtime": "ai-edge-litert 2.3.0"}
    assert sample(metrics, "gazeserve_build_info", **labels) == 1
    start = sample(metrics, "gazeserve_start_time_seconds")
    assert start is not None and start > 1.6e9

    with pytest.raises(ValueError, match="engine"):
        BuildInfo(engine="")


def test_build_info_set_once_the_engine_is_known_replaces_the_series() -> None:
    metrics = Metrics()
    assert build_series(metrics) == []

    metrics.set_build_info(engine="litert", runtime="ai-edge-litert 2.3.0")
    metrics.set_build_info(engine="onnx", runtime="onnxruntime 1.20")

    assert build_series(metrics) == [
        ({"version": __version__, "engine": "onnx", "runtime": "onnxruntime 1.20"}, 1.0)
    ]
    with pytest.raises(ValueError, match="runtime"):
        metrics.set_build_info(engine="onnx", runtime="")


def build_series(metrics: Metrics) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in metrics.registry.collect()
        if family.name == "gazeserve_build_info"
        for s in family.samples
    ]


def test_several_objects_keep_separate_registries() -> None:
    first, second = Metrics(), Metrics()
    first.frame_received()

    assert sample(first, "gazeserve_frames_received_total") == 1
    assert sample(second, "gazeserve_frames_received_total") == 0
    assert first.multiprocess_dir is None


def test_rendered_text_parses_and_carries_no_unbounded_labels() -> None:
    metrics = Metrics(BuildInfo(engine="litert"))
    metrics.observe_timings({"decode": 2.0, "total": 8.0})
    metrics.on_drop("stale")
    metrics.observe_http("/v1/streams/{stream_id}", "GET", 200, 0.003)

    body, content_type = render_prometheus(metrics)

    assert content_type.startswith("text/plain; version=0.0.4")
    previous = use_metrics(metrics)
    try:
        assert b'gazeserve_stage_seconds_sum{stage="decode"} 0.002' in render_prometheus()[0]
    finally:
        use_metrics(previous)
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    ours = {name for name in families if name.startswith("gazeserve_")}
    assert {
        "gazeserve_stage_seconds",
        "gazeserve_http_request_seconds",
        "gazeserve_frame_processing_seconds",
        "gazeserve_frames_received",
        "gazeserve_frames_processed",
        "gazeserve_frames_dropped",
        "gazeserve_faces_detected",
        "gazeserve_detector_runs",
        "gazeserve_queue_depth",
        "gazeserve_active_streams",
        "gazeserve_inference_workers",
        "gazeserve_start_time_seconds",
        "gazeserve_build_info",
    } <= ours
    assert families["gazeserve_stage_seconds"].type == "histogram"
    assert families["gazeserve_frames_dropped"].type == "counter"
    assert families["gazeserve_queue_depth"].type == "gauge"
    allowed = {"stage", "le", "route", "method", "status", "reason", "state", "version", "engine",
               "runtime"}
    for name in ours:
        for s in families[name].samples:
            assert set(s.labels) <= allowed, s
    decode_sum = next(
        s.value
        for s in families["gazeserve_stage_seconds"].samples
        if s.name == "gazeserve_stage_seconds_sum" and s.labels["stage"] == "decode"
    )
    assert math.isclose(decode_sum, 0.002)


def test_openmetrics_is_served_when_prometheus_asks_for_it() -> None:
    metrics = Metrics()
    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"

    body, content_type = render_prometheus(metrics, accept=accept)

    assert content_type.startswith("application/openmetrics-text")
    families = {f.name: f.type for f in openmetrics_families(body.decode())}
    assert families["gazeserve_stage_seconds"] == "histogram"
    assert families["gazeserve_frames_received"] == "counter"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_promtool_accepts_the_exposition() -> None:
    metrics = Metrics(BuildInfo(engine="litert", runtime="ai-edge-litert 2.3.0"))
    metrics.observe_timings({"decode": 2.0, "detect": 3.0, "total": 8.0})
    metrics.on_submit(5)
    metrics.on_drop("stale")
    metrics.on_processed(0.01, 0.002)
    metrics.observe_http("/v1/gaze", "POST", 200, 0.012)
    body, _ = render_prometheus(metrics)

    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )

    assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()


def test_a_directory_set_after_import_keeps_metrics_in_memory_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # This process imported prometheus_client without the variable: values stay in memory, so
    # reading the (empty) directory would lose them.
    monkeypatch.setenv(ENV_VAR, str(tmp_path))

    with caplog.at_level(logging.WARNING, logger="gazeserve.observability.metrics"):
        metrics = Metrics()
    metrics.frame_received()

    assert metrics.multiprocess_dir is None
    assert "set after prometheus_client was imported" in caplog.text
    body, _ = render_prometheus(metrics)
    assert b"gazeserve_frames_received_total 1.0" in body
    assert list(tmp_path.iterdir()) == []


def test_rendering_needs_metrics() -> None:
    previous = use_metrics(None)
    try:
        with pytest.raises(RuntimeError, match="use_metrics"):
            render_prometheus()
    finally:
        use_metrics(previous)
