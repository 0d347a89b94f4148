"""What gazeserve's delegate expects of the TFLite C ABI: the layout of `tflite_abi.h`.

The delegate library reports sizeof/offsetof of every struct member its header declares
(`gz_abi_layout_json` in delegate.c); the loader compares them with this table, written from
TFLite 2.22's `tensorflow/lite/core/c/common.h` (the runtime in `ai-edge-litert` 2.3.0) for LP64
platforms, before it lets LiteRT call into the library.
"""

from __future__ import annotations

LITERT_DISTRIBUTION = "ai-edge-litert"
EXPECTED_LITERT_VERSION = "2.3.0"
"""The release whose runtime `tflite_abi.h` describes (TFLite 2.22.0-dev)."""

_P = 8  # pointer size on the LP64 platforms the header supports
EXPECTED_LAYOUT: dict[str, int] = {
    "sizeof(void*)": _P, "sizeof(size_t)": 8, "sizeof(int)": 4,
    "sizeof(TfLiteIntArray)": 4, "offsetof(TfLiteIntArray.data)": 4,
    "sizeof(TfLiteQuantizationParams)": 8, "sizeof(TfLiteQuantization)": 16,
    "sizeof(TfLiteTensor)": 112,
    "offsetof(TfLiteTensor.type)": 0, "offsetof(TfLiteTensor.data)": 8,
    "offsetof(TfLiteTensor.dims)": 16, "offsetof(TfLiteTensor.params)": 24,
    "offsetof(TfLiteTensor.allocation_type)": 32, "offsetof(TfLiteTensor.bytes)": 40,
    "offsetof(TfLiteTensor.allocation)": 48, "offsetof(TfLiteTensor.name)": 56,
    "offsetof(TfLiteTensor.delegate)": 64, "offsetof(TfLiteTensor.buffer_handle)": 72,
    "offsetof(TfLiteTensor.data_is_stale)": 76, "offsetof(TfLiteTensor.is_variable)": 77,
    "offsetof(TfLiteTensor.quantization)": 80, "offsetof(TfLiteTensor.sparsity)": 96,
    "offsetof(TfLiteTensor.dims_signature)": 104,
    "sizeof(TfLiteNode)": 80,
    "offsetof(TfLiteNode.inputs)": 0, "offsetof(TfLiteNode.outputs)": 8,
    "offsetof(TfLiteNode.user_data)": 32, "offsetof(TfLiteNode.builtin_data)": 40,
    "offsetof(TfLiteNode.custom_initial_data)": 48,
    "offsetof(TfLiteNode.custom_initial_data_size)": 56, "offsetof(TfLiteNode.delegate)": 64,
    "sizeof(TfLiteRegistration)": 88,
    "offsetof(TfLiteRegistration.init)": 0, "offsetof(TfLiteRegistration.free)": 8,
    "offsetof(TfLiteRegistration.prepare)": 16, "offsetof(TfLiteRegistration.invoke)": 24,
    "offsetof(TfLiteRegistration.builtin_code)": 40,
    "offsetof(TfLiteRegistration.custom_name)": 48, "offsetof(TfLiteRegistration.version)": 56,
    "offsetof(TfLiteRegistration.registration_external)": 64,
    "offsetof(TfLiteRegistration.async_kernel)": 72,
    "offsetof(TfLiteRegistration.inplace_operator)": 80,
    "offsetof(TfLiteContext.tensors_size)": 0, "offsetof(TfLiteContext.GetExecutionPlan)": 8,
    "offsetof(TfLiteContext.tensors)": 16, "offsetof(TfLiteContext.ResizeTensor)": 32,
    "offsetof(TfLiteContext.ReportError)": 40,
    "offsetof(TfLiteContext.GetNodeAndRegistration)": 56,
    "offsetof(TfLiteContext.ReplaceNodeSubsetsWithDelegateKernels)": 64,
    "sizeof(TfLiteDelegateParams)": 32, "offsetof(TfLiteDelegateParams.nodes_to_replace)": 8,
    "sizeof(TfLiteDelegate)": 56,
    "offsetof(TfLiteDelegate.data_)": 0, "offsetof(TfLiteDelegate.Prepare)": 8,
    "offsetof(TfLiteDelegate.flags)": 40, "offsetof(TfLiteDelegate.opaque_delegate_builder)": 48,
}
"""sizeof/offsetof of the structs in TFLite 2.22's `tensorflow/lite/core/c/common.h` on LP64."""


def layout_mismatches(actual: dict[str, int]) -> list[str]:
    """Every entry of `EXPECTED_LAYOUT` the library reports differently, as readable text."""
    return [f"{key} is {actual.get(key)} (expected {value})"
            for key, value in EXPECTED_LAYOUT.items() if actual.get(key) != value]
