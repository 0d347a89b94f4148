"""`gazeserve doctor`'s report on this machine, and its rendering."""

from __future__ import annotations

import io
import json

from rich.console import Console

from gazeserve.config import recommended_workers
from gazeserve.doctor import doctor_report, render_doctor
from gazeserve.models import ModelStore
from gazeserve.models.manifest import DERIVED


def test_report_and_rendering(derived_store: ModelStore) -> None:
    report = doctor_report(derived_store.model_dir, engine="auto", use_quantized=True)
    json.dumps(report)  # plain values only
    assert report["packages"]["onnxruntime"] and report["packages"]["ai-edge-litert"]
    runtime = report["runtime"]
    assert "CPUExecutionProvider" in runtime["available_providers"]
    assert runtime["chosen_providers"][-1] == "CPUExecutionProvider"
    assert runtime["engine"] == "litert" and "no accelerator" in runtime["engine_reason"]
    assert report["cpu"]["recommended_workers"] == recommended_workers()
    assert report["jpeg"]["simplejpeg"]["usable"] is True
    assert "usable" in report["jpeg"]["libturbojpeg"]
    derived = {m["file"]: m for m in report["models"]["derived"]}
    assert set(derived) == {s.filename for s in DERIVED}
    assert all(m["sha256"] and m["parity"] for m in derived.values())
    assert report["models"]["selected"]["reasons"]  # LiteRT ignores USE_QUANTIZED_MODEL

    out = io.StringIO()
    render_doctor(report, Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    for expected in ("CPUExecutionProvider", "face_landmark.int8.onnx", "recommended workers",
                     "simplejpeg", "libturbojpeg", "engine"):
        assert expected in text


def test_an_unavailable_requested_provider_is_reported_not_raised(
        derived_store: ModelStore) -> None:
    report = doctor_report(derived_store.model_dir, providers="cuda")
    assert "CUDAExecutionProvider" in report["runtime"]["provider_error"]
