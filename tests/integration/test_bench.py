"""`gazeserve bench` end to end on a few frames of a real face video: the JSON report has every
field, and (slow) the MediaPipe comparison runs on the very same frames. Nothing here times
anything: a benchmark reports figures, a test only checks that they are produced."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from gazeserve.bench.frames import frame_order, load_frames
from gazeserve.bench.inprocess import engine_variants
from gazeserve.cli import app
from gazeserve.results import StageTimings

runner = CliRunner()

FRAMES = 20
SCENARIO_KEYS = {"name", "label", "engine", "mode", "threads", "frames", "wall_s", "frames_per_s",
                 "latency_ms", "stages_ms", "faces_found", "detector_runs"}
SUMMARY_KEYS = {"count", "mean", "p50", "p95", "p99", "max"}
STAGES = {f.name for f in dataclasses.fields(StageTimings)}


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def check_scenario(scenario: dict[str, object], frames: int) -> None:
    assert set(scenario) == SCENARIO_KEYS
    assert scenario["frames"] == frames * scenario["threads"]  # type: ignore[operator]
    latency = scenario["latency_ms"]
    assert isinstance(latency, dict) and set(latency) == SUMMARY_KEYS
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert scenario["frames_per_s"] > 0  # type: ignore[operator]
    assert scenario["faces_found"] == scenario["frames"]  # one face in every frame


def test_frame_order_goes_back_and_forth() -> None:
    assert frame_order(4, 10) == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert frame_order(1, 3) == [0, 0, 0]


def test_engine_variants_come_from_what_the_code_offers() -> None:
    variants, skipped = engine_variants()
    names = {v.name for v in variants} | {s.name for s in skipped}
    assert {"litert-split", "litert-split+int8"} <= names
    variants, skipped = engine_variants(wanted=["litert", "nosuchruntime", "litert-nosuchmesh"])
    assert [v.name for v in variants] == ["litert"]
    reasons = {s.name: s.reason for s in skipped}
    assert "RuntimeKind offers" in reasons["nosuchruntime"]
    assert "no mesh 'nosuchmesh'" in reasons["litert-nosuchmesh"]


def test_a_batch_suffix_gives_the_variant_cross_stream_batches() -> None:
    variants, skipped = engine_variants(wanted=["onnx-split+int8:batch4", "litert:batchX",
                                                "litert:batch0"])
    assert [(v.name, v.options.max_batch, v.options.use_quantized) for v in variants] == \
        [("onnx-split+int8:batch4", 4, True)]
    reasons = {s.name: s.reason for s in skipped}
    assert "whole number" in reasons["litert:batchX"]
    assert "whole number" in reasons["litert:batch0"]


def test_bench_reports_every_scenario(media: dict[str, Path], tmp_path: Path) -> None:
    report_path, plot_path = tmp_path / "bench.json", tmp_path / "bench.png"
    result = invoke("bench", "--frames", str(FRAMES), "--warmup", "2", "--rounds", "2",
                    "--threads", "2", "--json", str(report_path), "--plot", str(plot_path))
    assert result.exit_code == 0, result.output
    assert "call p50/95/99 ms" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["schema"] == "gazeserve.bench.v1"
    assert set(report) == {"schema", "created_utc", "machine", "input", "ours", "skipped",
                           "mediapipe", "ratios", "targets"}
    assert report["input"]["frames_per_run"] == FRAMES
    assert report["input"]["sha256"] == load_frames(media["single_face.mp4"]).sha256
    assert report["mediapipe"] is None and report["ratios"] == [] and report["targets"] == []
    # Every variant this version offers either ran (in each mode, on 1 and 2 threads) or was
    # skipped with its reason (e.g. the attention mesh where its delegate is not built).
    offered, _ = engine_variants()
    ran = {s["engine"] for s in report["ours"]}
    assert "litert-split" in ran
    assert ran | {s["name"] for s in report["skipped"]} >= {v.name for v in offered}
    assert all(s["reason"] for s in report["skipped"])
    names = {s["name"] for s in report["ours"]}
    assert names == {f"ours.{v}.{m}.{t}t" for v in ran for m in ("tracking", "single")
                     for t in (1, 2)}
    for scenario in report["ours"]:
        check_scenario(scenario, FRAMES)
        assert set(scenario["stages_ms"]) == STAGES
        for summary in scenario["stages_ms"].values():
            assert set(summary) == SUMMARY_KEYS
        if scenario["mode"] == "single":
            assert scenario["detector_runs"] == scenario["frames"]
        else:  # tracking: the detector runs on a stream's first frame, then rarely
            assert scenario["detector_runs"] < scenario["frames"] / 2
    assert plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_bad_input_is_one_line_error(tmp_path: Path) -> None:
    result = invoke("bench", "--input", str(tmp_path / "missing.mp4"), "--frames", "2")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


@pytest.mark.slow
def test_bench_against_mediapipe_on_the_same_frames(tmp_path: Path) -> None:
    report_path = tmp_path / "bench.json"
    result = invoke("bench", "--engine", "litert-split", "--mode", "tracking", "--frames",
                    str(FRAMES), "--rounds", "2",
                    "--warmup", "2", "--threads", "2", "--new-instance-frames", "3",
                    "--against", "mediapipe", "--json", str(report_path))
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert report["machine"]["versions"]["mediapipe"] == "0.10.21"
    theirs = {s["name"]: s for s in report["mediapipe"]}
    assert set(theirs) == {"mediapipe.a.new_instance", "mediapipe.b.static",
                           "mediapipe.c.tracking", "mediapipe.d.threads"}
    assert theirs["mediapipe.a.new_instance"]["frames"] == 3
    for name in ("mediapipe.b.static", "mediapipe.c.tracking", "mediapipe.d.threads"):
        check_scenario(theirs[name], FRAMES)
    assert len(report["ratios"]) == len(report["ours"]) * 4
    for row in report["ratios"]:
        assert row["latency_p50_ratio"] > 0 and row["frames_per_s_ratio"] > 0
    assert {t["target"] for t in report["targets"]} == {
        "tracking_p50", "many_streams_fps", "vs_new_instance"}
    assert all(isinstance(t["met"], bool) for t in report["targets"])
