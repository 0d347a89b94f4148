"""`GAZE_BATCHING`: where the service batches across streams."""

from __future__ import annotations

import pytest

from gazeserve.config import Settings, SettingsError, load_settings
from gazeserve.runtime import RuntimeKind
from gazeserve.runtime.providers import CPU, CUDA
from gazeserve.server.service import max_batch_for

GPU_BUILD = [CUDA, CPU]
CPU_BUILD = [CPU]


@pytest.mark.parametrize("mode, runtime, requested, available, expected", [
    ("off", RuntimeKind.ONNX, [], GPU_BUILD, 1),
    ("on", RuntimeKind.LITERT, [], CPU_BUILD, 6),
    ("on", RuntimeKind.ONNX, [], CPU_BUILD, 6),
    ("auto", RuntimeKind.LITERT, [], GPU_BUILD, 1),
    ("auto", RuntimeKind.ONNX, [], CPU_BUILD, 1),
    ("auto", RuntimeKind.ONNX, [], GPU_BUILD, 6),
    ("auto", RuntimeKind.ONNX, [CPU], GPU_BUILD, 1),
])
def test_auto_batches_on_an_accelerator_only(mode: str, runtime: RuntimeKind,
                                             requested: list[str], available: list[str],
                                             expected: int) -> None:
    settings = Settings(gaze_batching=mode, gaze_max_batch=6)
    assert max_batch_for(settings, runtime, requested, available) == expected


def test_a_bad_mode_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAZE_BATCHING", "sometimes")
    with pytest.raises(SettingsError, match="GAZE_BATCHING"):
        load_settings()
