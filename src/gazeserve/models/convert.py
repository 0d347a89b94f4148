"""TFLite to ONNX for the operators MediaPipe's face models use: the project's own converter.

Why our own: `tf2onnx --tflite` imports TensorFlow (about 1.4 GB), and `tflite2onnx` has had no
release since 2022, needs the landmark model's fp16 weights folded by hand first, fixes the batch
at 1 and turns the input to NCHW. The face models use a dozen operators, so emitting them
directly with `onnx.helper` is short and leaves nothing to patch afterwards:

- the input keeps TFLite's NHWC layout (`[batch, H, W, 3]`, what the vision code feeds) and is
  transposed once inside the graph; activations are NCHW inside, as ONNX's Conv wants;
- the batch dimension is symbolic (`batch`), and every Reshape copies it (`0`) instead of
  hard-coding 1, so batched outputs equal single ones;
- PReLU is written as `Relu(x) + a * Min(x, 0)`: identical outputs, and ONNX Runtime's CPU
  PReLU kernel took 44-54% of the landmark and iris models' time (FINDINGS.md);
- input and output names are the TFLite model's, so the vision code finds the same tensors.

Unknown operators raise `UnsupportedModelError` naming them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from gazeserve.models.manifest import CONVERTER_VERSION, OPSET
from gazeserve.models.tflite_graph import (
    TfliteGraph,
    TfliteOp,
    TfliteTensor,
    UnsupportedModelError,
    read_tflite,
)

BATCH_DIM = "batch"

_NHWC_TO_NCHW = [0, 3, 1, 2]
_NCHW_TO_NHWC = [0, 2, 3, 1]
_PADDING_SAME = 0
_ACTIVATIONS = {0: None, 1: "Relu", 3: "Relu6", 2: "ReluN1To1"}


class _Emitter:
    """Builds the ONNX graph; tracks which 4-D tensors are held NCHW."""

    def __init__(self, graph: TfliteGraph) -> None:
        self.graph = graph
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.names: dict[int, str] = {}
        self.nchw: set[int] = set()
        self._converted: dict[tuple[int, bool], str] = {}
        self._counter = 0

    # -- names and constants -------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        self._counter += 1
        return f"{hint}_{self._counter}"

    def const(self, value: npt.NDArray[Any], hint: str = "const") -> str:
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        out = output or self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def tensor(self, index: int) -> TfliteTensor:
        return self.graph.tensors[index]

    def constant(self, index: int) -> npt.NDArray[Any]:
        value = self.tensor(index).constant
        if value is None:
            raise UnsupportedModelError(f"expected a constant for {self.tensor(index).name}")
        return value

    # -- layouts ---------------------------------------------------------------------------
    def as_nchw(self, index: int) -> str:
        """The tensor as NCHW (transposing a plain NHWC 4-D tensor once, then reusing it)."""
        if index in self.nchw:
            return self.names[index]
        if len(self.tensor(index).shape) != 4:
            raise UnsupportedModelError(f"{self.tensor(index).name} is not 4-D")
        key = (index, True)
        if key not in self._converted:
            self._converted[key] = self.node("Transpose", [self.names[index]],
                                             perm=_NHWC_TO_NCHW)
        return self._converted[key]

    def as_plain(self, index: int) -> str:
        """The tensor in TFLite's own layout (NHWC for 4-D)."""
        if index not in self.nchw:
            return self.names[index]
        key = (index, False)
        if key not in self._converted:
            self._converted[key] = self.node("Transpose", [self.names[index]],
                                             perm=_NCHW_TO_NHWC)
        return self._converted[key]

    def set_output(self, index: int, name: str, nchw: bool) -> None:
        self.names[index] = name
        if nchw:
            self.nchw.add(index)

    def activation(self, name: str, fused: int) -> str:
        kind = _ACTIVATIONS.get(fused, "unknown")
        if kind is None:
            return name
        if kind == "Relu":
            return self.node("Relu", [name])
        if kind == "Relu6":
            return self.node("Clip", [name, self.const(np.array(0, np.float32)),
                                      self.const(np.array(6, np.float32))])
        if kind == "ReluN1To1":
            return self.node("Clip", [name, self.const(np.array(-1, np.float32)),
                                      self.const(np.array(1, np.float32))])
        raise UnsupportedModelError(f"fused activation {fused} is not supported")


def _same_pads(size: int, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite SAME padding: output ceil(size / stride), the odd pixel at the end."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return total // 2, total - total // 2


def _spatial_pads(e: _Emitter, op: TfliteOp, kh: int, kw: int, dh: int = 1, dw: int = 1
                  ) -> list[int]:
    if op.options.Padding() != _PADDING_SAME:
        return [0, 0, 0, 0]
    _, height, width, _ = e.tensor(op.inputs[0]).shape
    top, bottom = _same_pads(height, kh, op.options.StrideH(), dh)
    left, right = _same_pads(width, kw, op.options.StrideW(), dw)
    return [top, left, bottom, right]


def _conv(e: _Emitter, op: TfliteOp, depthwise: bool) -> None:
    weights = e.constant(op.inputs[1]).astype(np.float32)
    o = op.options
    dh, dw = o.DilationHFactor(), o.DilationWFactor()
    if depthwise:  # [1, kh, kw, C * M] -> [C * M, 1, kh, kw], one group per input channel
        kernel = weights.transpose(3, 0, 1, 2)
        groups = e.tensor(op.inputs[0]).shape[3]
    else:  # [O, kh, kw, I] -> [O, I, kh, kw]
        kernel = weights.transpose(0, 3, 1, 2)
        groups = 1
    kh, kw = kernel.shape[2:]
    inputs = [e.as_nchw(op.inputs[0]), e.const(kernel, "weight")]
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        inputs.append(e.const(e.constant(op.inputs[2]).astype(np.float32), "bias"))
    out = e.node("Conv", inputs, kernel_shape=[kh, kw], strides=[o.StrideH(), o.StrideW()],
                 dilations=[dh, dw], pads=_spatial_pads(e, op, kh, kw, dh, dw), group=groups)
    e.set_output(op.outputs[0], e.activation(out, o.FusedActivationFunction()), True)


def _max_pool(e: _Emitter, op: TfliteOp) -> None:
    o = op.options
    kh, kw = o.FilterHeight(), o.FilterWidth()
    out = e.node("MaxPool", [e.as_nchw(op.inputs[0])], kernel_shape=[kh, kw],
                 strides=[o.StrideH(), o.StrideW()], pads=_spatial_pads(e, op, kh, kw))
    e.set_output(op.outputs[0], e.activation(out, o.FusedActivationFunction()), True)


def _binary_operand(e: _Emitter, index: int, nchw: bool) -> str:
    tensor = e.tensor(index)
    if tensor.constant is None:
        return e.as_nchw(index) if nchw else e.as_plain(index)
    value = tensor.constant.astype(np.float32)
    if nchw:  # broadcast from NHWC's trailing axes to NCHW's
        value = np.broadcast_to(value, (1,) * (4 - value.ndim) + value.shape)
        value = value.transpose(0, 3, 1, 2)
    return e.const(value)


def _add(e: _Emitter, op: TfliteOp) -> None:
    nchw = all(i in e.nchw or e.tensor(i).constant is not None for i in op.inputs) and \
        len(e.tensor(op.outputs[0]).shape) == 4
    a, b = (_binary_operand(e, i, nchw) for i in op.inputs)
    out = e.node("Add", [a, b])
    e.set_output(op.outputs[0], e.activation(out, op.options.FusedActivationFunction()), nchw)


def _relu(e: _Emitter, op: TfliteOp) -> None:
    nchw = op.inputs[0] in e.nchw
    e.set_output(op.outputs[0], e.node("Relu", [e.names[op.inputs[0]]]), nchw)


def _prelu(e: _Emitter, op: TfliteOp) -> None:
    x = e.as_nchw(op.inputs[0])
    alpha = _binary_operand(e, op.inputs[1], True)
    positive = e.node("Relu", [x])
    negative = e.node("Mul", [e.node("Min", [x, e.const(np.zeros((), np.float32))]), alpha])
    e.set_output(op.outputs[0], e.node("Add", [positive, negative]), True)


def _pad(e: _Emitter, op: TfliteOp) -> None:
    pads = e.constant(op.inputs[1]).astype(np.int64)  # [[before, after]] per NHWC axis
    if pads.shape != (4, 2) or pads[0].any():
        raise UnsupportedModelError("PAD: only 4-D padding of the spatial and channel axes")
    nchw_pads = pads[_NHWC_TO_NCHW]
    out = e.node("Pad", [e.as_nchw(op.inputs[0]),
                         e.const(np.concatenate([nchw_pads[:, 0], nchw_pads[:, 1]]))],
                 mode="constant")
    e.set_output(op.outputs[0], out, True)


def _reshape(e: _Emitter, op: TfliteOp) -> None:
    shape = list(e.tensor(op.outputs[0]).shape)
    if shape[0] != 1 or e.tensor(op.inputs[0]).shape[0] != 1:
        raise UnsupportedModelError("RESHAPE that moves the batch axis")
    shape[0] = 0  # copy the (dynamic) batch instead of hard-coding 1
    out = e.node("Reshape", [e.as_plain(op.inputs[0]), e.const(np.array(shape, np.int64))])
    e.set_output(op.outputs[0], out, False)


def _concatenation(e: _Emitter, op: TfliteOp) -> None:
    rank = len(e.tensor(op.outputs[0]).shape)
    axis = op.options.Axis() % rank
    nchw = rank == 4 and all(i in e.nchw for i in op.inputs)
    if nchw:
        axis = _NCHW_TO_NHWC.index(axis)
    inputs = [e.names[i] if nchw else e.as_plain(i) for i in op.inputs]
    out = e.node("Concat", inputs, axis=axis)
    e.set_output(op.outputs[0], e.activation(out, op.options.FusedActivationFunction()), nchw)


def _resize_bilinear(e: _Emitter, op: TfliteOp) -> None:
    _, height, width, _ = e.tensor(op.inputs[0]).shape
    new_h, new_w = (int(v) for v in e.constant(op.inputs[1]))
    o = op.options
    if o.AlignCorners():
        mode = "align_corners"
    elif o.HalfPixelCenters():
        mode = "half_pixel"
    else:
        mode = "asymmetric"
    scales = np.array([1, 1, new_h / height, new_w / width], np.float32)
    out = e.node("Resize", [e.as_nchw(op.inputs[0]), "", e.const(scales)], mode="linear",
                 coordinate_transformation_mode=mode)
    e.set_output(op.outputs[0], out, True)


def _depth_to_space(e: _Emitter, op: TfliteOp) -> None:
    # TensorFlow's depth_to_space orders the channels depth-column-row: ONNX mode DCR.
    out = e.node("DepthToSpace", [e.as_nchw(op.inputs[0])],
                 blocksize=op.options.BlockSize(), mode="DCR")
    e.set_output(op.outputs[0], out, True)


_HANDLERS: dict[str, Callable[[_Emitter, TfliteOp], None]] = {
    "CONV_2D": lambda e, op: _conv(e, op, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda e, op: _conv(e, op, depthwise=True),
    "MAX_POOL_2D": _max_pool,
    "ADD": _add,
    "RELU": _relu,
    "PRELU": _prelu,
    "PAD": _pad,
    "RESHAPE": _reshape,
    "CONCATENATION": _concatenation,
    "RESIZE_BILINEAR": _resize_bilinear,
    "DEPTH_TO_SPACE": _depth_to_space,
}
SUPPORTED_OPS = frozenset(_HANDLERS)


def tflite_to_onnx(graph: TfliteGraph, model_name: str) -> onnx.ModelProto:
    """The ONNX model (opset 17, NHWC input, dynamic batch) for a read TFLite graph."""
    unsupported = sorted({op.kind for op in graph.ops} - SUPPORTED_OPS)
    if unsupported:
        raise UnsupportedModelError(f"{model_name}: unsupported operators {unsupported}")
    e = _Emitter(graph)
    inputs = []
    for index in graph.inputs:
        tensor = graph.tensors[index]
        e.names[index] = tensor.name
        inputs.append(helper.make_tensor_value_info(tensor.name, TensorProto.FLOAT,
                                                    [BATCH_DIM, *tensor.shape[1:]]))
    for op in graph.ops:
        _HANDLERS[op.kind](e, op)
    outputs = []
    for index in graph.outputs:
        tensor = graph.tensors[index]
        e.node("Identity", [e.as_plain(index)], tensor.name)
        outputs.append(helper.make_tensor_value_info(tensor.name, TensorProto.FLOAT,
                                                     [BATCH_DIM, *tensor.shape[1:]]))
    onnx_graph = helper.make_graph(e.nodes, model_name, inputs, outputs, e.initializers)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="gazeserve", producer_version=CONVERTER_VERSION)
    model.ir_version = 8  # readable by every ONNX Runtime since 1.10
    onnx.checker.check_model(model, full_check=True)
    return model


def optimize_onnx(source: Path, dest: Path) -> None:
    """ONNX Runtime's offline graph optimisation at its portable level (`ORT_ENABLE_BASIC`).

    Basic optimisations (constant folding, Pad/BatchNorm/Add fusion into Conv, redundant node
    removal) emit only standard ONNX operators, so the result runs on every execution provider;
    the provider-specific fusions happen again when a session loads it.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = str(dest)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def convert_tflite(source: Path, dest: Path) -> None:
    """Converts `source` (.tflite) to an optimised float32 ONNX model at `dest`."""
    model = tflite_to_onnx(read_tflite(source), source.stem)
    raw = dest.with_name(f".{dest.name}.raw")
    try:
        onnx.save(model, raw)
        optimize_onnx(raw, dest)
    finally:
        raw.unlink(missing_ok=True)
