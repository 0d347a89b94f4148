"""Provider and engine choice as pure functions of given provider lists."""

from __future__ import annotations

import pytest

from gazeserve.runtime.factory import RuntimeKind
from gazeserve.runtime.providers import (
    COREML,
    CPU,
    CUDA,
    DIRECTML,
    OPENVINO,
    TENSORRT,
    ProviderError,
    choose_providers,
    parse_providers,
)
from gazeserve.runtime.selection import resolve_engine

AZURE = "AzureExecutionProvider"  # what the CPU wheel offers besides CPU
CPU_BUILD = [AZURE, CPU]
GPU_BUILD = [TENSORRT, CUDA, CPU]

needs_onnx_kind = pytest.mark.skipif(
    "onnx" not in {k.value for k in RuntimeKind},
    reason="RuntimeKind.ONNX arrives with the factory integration (issue 4)")


@pytest.mark.parametrize("available, expected", [
    (CPU_BUILD, [CPU]),
    (GPU_BUILD, [TENSORRT, CUDA, CPU]),
    ([CPU, CUDA, TENSORRT], [TENSORRT, CUDA, CPU]),  # our order, not the build's
    ([CPU, DIRECTML, OPENVINO], [OPENVINO, DIRECTML, CPU]),
    ([COREML, CPU], [COREML, CPU]),
    ([CUDA, "SomeNewExecutionProvider", CPU], [CUDA, CPU]),
])
def test_automatic_choice_follows_the_preferred_order(available: list[str],
                                                      expected: list[str]) -> None:
    assert choose_providers(available, None) == expected
    assert choose_providers(available, []) == expected


def test_requested_providers_are_kept_in_order_with_cpu_appended() -> None:
    assert choose_providers(GPU_BUILD, [CUDA]) == [CUDA, CPU]
    assert choose_providers(GPU_BUILD, ["cuda", "tensorrt"]) == [CUDA, TENSORRT, CPU]
    assert choose_providers(GPU_BUILD, [CPU]) == [CPU]


def test_a_requested_provider_the_build_lacks_is_a_clear_error() -> None:
    with pytest.raises(ProviderError) as info:
        choose_providers(CPU_BUILD, ["cuda"])
    message = str(info.value)
    assert CUDA in message and "offers AzureExecutionProvider, CPUExecutionProvider" in message
    assert "gazeserve[gpu]" in message


def test_a_build_without_known_providers_is_an_error() -> None:
    with pytest.raises(ProviderError, match="none of the known providers"):
        choose_providers([AZURE], None)


def test_gaze_providers_parsing_accepts_short_and_full_names() -> None:
    assert parse_providers(None) == []
    assert parse_providers("  ") == []
    assert parse_providers("cuda, CPUExecutionProvider") == [CUDA, CPU]
    assert parse_providers("TRT,dml,openvino,coreml") == [TENSORRT, DIRECTML, OPENVINO, COREML]


def test_auto_picks_litert_on_a_cpu_only_build() -> None:
    kind, reason = resolve_engine("auto", CPU_BUILD)
    assert kind is RuntimeKind.LITERT
    assert "no accelerator" in reason
    kind, reason = resolve_engine("auto", [])
    assert kind is RuntimeKind.LITERT and "not installed" in reason


@needs_onnx_kind
def test_auto_picks_onnx_when_an_accelerator_is_offered() -> None:
    kind, reason = resolve_engine("auto", GPU_BUILD)
    assert kind.value == "onnx"
    assert CUDA in reason


def test_auto_keeps_litert_while_the_onnx_models_are_not_prepared() -> None:
    kind, reason = resolve_engine("auto", GPU_BUILD, onnx_models_ready=False)
    assert kind is RuntimeKind.LITERT
    assert "models prepare" in reason


@needs_onnx_kind
def test_forced_engines() -> None:
    assert resolve_engine("litert", GPU_BUILD)[0] is RuntimeKind.LITERT
    assert resolve_engine("ONNX", CPU_BUILD)[0].value == "onnx"


def test_forcing_onnx_without_onnxruntime_and_unknown_engines_are_errors() -> None:
    with pytest.raises(ValueError, match="onnxruntime is not installed"):
        resolve_engine("onnx", [])
    with pytest.raises(ValueError, match="auto, litert, onnx"):
        resolve_engine("tensorflow", CPU_BUILD)
