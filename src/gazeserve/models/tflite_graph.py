"""A TFLite flatbuffer read into plain Python values: tensors, constants and operators.

Only what the converter needs, through the `tflite` package (the generated flatbuffer schema
accessors, no TensorFlow). Weight-only compression is undone here, so the converter sees float32
constants: fp16 weights behind DEQUANTIZE ops, and sparse weights behind DENSIFY ops (the
full-range detector), are folded into dense float32 arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tflite

FOLDED_OPS = frozenset({"DEQUANTIZE", "DENSIFY"})
"""Operators that only decompress a constant; they become constants themselves."""

_OPERATOR_NAMES = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_DTYPES: dict[int, np.dtype[Any]] = {
    tflite.TensorType.FLOAT32: np.dtype(np.float32),
    tflite.TensorType.FLOAT16: np.dtype(np.float16),
    tflite.TensorType.INT32: np.dtype(np.int32),
    tflite.TensorType.INT64: np.dtype(np.int64),
    tflite.TensorType.UINT8: np.dtype(np.uint8),
    tflite.TensorType.INT8: np.dtype(np.int8),
}
_OPTION_CLASSES = {
    "CONV_2D": tflite.Conv2DOptions,
    "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
    "MAX_POOL_2D": tflite.Pool2DOptions,
    "ADD": tflite.AddOptions,
    "CONCATENATION": tflite.ConcatenationOptions,
    "RESHAPE": tflite.ReshapeOptions,
    "RESIZE_BILINEAR": tflite.ResizeBilinearOptions,
    "DEPTH_TO_SPACE": tflite.DepthToSpaceOptions,
}
_INDEX_VECTORS = {
    tflite.SparseIndexVector.Int32Vector: tflite.Int32Vector,
    tflite.SparseIndexVector.Uint16Vector: tflite.Uint16Vector,
    tflite.SparseIndexVector.Uint8Vector: tflite.Uint8Vector,
}


class UnsupportedModelError(ValueError):
    """The model uses an operator or feature the converter does not handle."""


@dataclass
class TfliteTensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    constant: npt.NDArray[Any] | None = None
    """The value, for weights and other constants (decompressed to float32 where folded)."""


@dataclass(frozen=True)
class TfliteOp:
    kind: str
    """The builtin operator's name as in the schema (`CONV_2D`, `PRELU`, ...)."""
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: Any = field(repr=False, default=None)
    """The operator's options table (`tflite.Conv2DOptions`, ...), or None."""


@dataclass
class TfliteGraph:
    tensors: list[TfliteTensor]
    ops: list[TfliteOp]
    """Operators in execution order, without the folded DEQUANTIZE/DENSIFY ops."""
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    folded_ops: int = 0


def read_tflite(path: Path) -> TfliteGraph:
    """Reads the first subgraph of a `.tflite` file and folds weight decompression."""
    buf = path.read_bytes()
    model = tflite.Model.GetRootAsModel(buf, 0)
    if model.SubgraphsLength() != 1:
        raise UnsupportedModelError(f"{path.name}: expected one subgraph, "
                                    f"found {model.SubgraphsLength()}")
    graph = model.Subgraphs(0)
    tensors = [_read_tensor(model, graph.Tensors(i), i) for i in range(graph.TensorsLength())]
    ops = []
    folded = 0
    for i in range(graph.OperatorsLength()):
        op = _read_op(model, graph.Operators(i))
        if op.kind in FOLDED_OPS:
            _fold(op, tensors)
            folded += 1
        else:
            ops.append(op)
    return TfliteGraph(tensors, ops, tuple(graph.InputsAsNumpy().tolist()),
                       tuple(graph.OutputsAsNumpy().tolist()), folded)


def _read_tensor(model: Any, tensor: Any, index: int) -> TfliteTensor:
    dtype = _DTYPES.get(tensor.Type())
    name = tensor.Name().decode()
    if dtype is None:
        raise UnsupportedModelError(f"tensor {name}: unsupported type {tensor.Type()}")
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    data = model.Buffers(tensor.Buffer()).DataAsNumpy() if tensor.Buffer() else 0
    constant = None
    if not isinstance(data, int) and data.size:
        flat = np.frombuffer(data.tobytes(), dtype=dtype)
        sparsity = tensor.Sparsity()
        constant = _densify(flat, shape, sparsity) if sparsity else flat.reshape(shape)
    return TfliteTensor(index, name, shape, dtype, constant)


def _read_op(model: Any, op: Any) -> TfliteOp:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    kind = _OPERATOR_NAMES.get(builtin, str(builtin))
    if kind == "CUSTOM":
        kind = f"CUSTOM:{code.CustomCode().decode()}"
    options = None
    table = op.BuiltinOptions()
    if table is not None and kind in _OPTION_CLASSES:
        options = _OPTION_CLASSES[kind]()
        options.Init(table.Bytes, table.Pos)
    inputs = tuple(int(i) for i in op.InputsAsNumpy()) if op.InputsLength() else ()
    outputs = tuple(int(i) for i in op.OutputsAsNumpy())
    return TfliteOp(kind, inputs, outputs, options)


def _fold(op: TfliteOp, tensors: list[TfliteTensor]) -> None:
    source, target = tensors[op.inputs[0]], tensors[op.outputs[0]]
    if source.constant is None:
        raise UnsupportedModelError(f"{op.kind} of the non-constant tensor {source.name}")
    # DENSIFY's input was already densified when read; DEQUANTIZE of fp16 is a plain cast.
    if op.kind == "DEQUANTIZE" and source.dtype != np.float16:
        raise UnsupportedModelError(f"DEQUANTIZE of {source.dtype} tensor {source.name} "
                                    "(only fp16 weights are supported)")
    target.constant = source.constant.astype(target.dtype).reshape(target.shape)


def _densify(values: npt.NDArray[Any], shape: tuple[int, ...], sparsity: Any
             ) -> npt.NDArray[Any]:
    """A sparse constant to a dense array, as TFLite's `FormatConverter::SparseToDense`.

    Dimensions are walked in traversal order; a DENSE one enumerates its size, a SPARSE_CSR one
    its stored indices (`array_segments[parent] .. array_segments[parent + 1]`). Values are stored
    in the order of that walk. Block sparsity is not used by these models and is refused.
    """
    order = [int(d) for d in sparsity.TraversalOrderAsNumpy()]
    if sparsity.BlockMapLength() or sorted(order) != list(range(len(shape))):
        raise UnsupportedModelError("block-sparse tensors are not supported")
    levels: list[tuple[int, npt.NDArray[Any], npt.NDArray[Any]] | int] = []
    for i in range(sparsity.DimMetadataLength()):
        meta = sparsity.DimMetadata(i)
        if meta.Format() == tflite.DimensionType.DENSE:
            levels.append(int(meta.DenseSize()))
        else:
            levels.append((0, _index_vector(meta.ArraySegmentsType(), meta.ArraySegments()),
                           _index_vector(meta.ArrayIndicesType(), meta.ArrayIndices())))
    dense = np.zeros(shape, values.dtype)
    coords = [0] * len(order)
    taken = 0

    def walk(level: int, parent: int) -> None:
        nonlocal taken
        if level == len(order):
            position = [0] * len(shape)
            for i, dim in enumerate(order):
                position[dim] = coords[i]
            dense[tuple(position)] = values[taken]
            taken += 1
            return
        spec = levels[level]
        if isinstance(spec, int):
            for i in range(spec):
                coords[level] = i
                walk(level + 1, parent * spec + i)
        else:
            _, segments, indices = spec
            for i in range(int(segments[parent]), int(segments[parent + 1])):
                coords[level] = int(indices[i])
                walk(level + 1, i)

    walk(0, 0)
    if taken != values.size:
        raise UnsupportedModelError(f"sparse tensor holds {values.size} values, walk used {taken}")
    return dense


def _index_vector(kind: int, table: Any) -> npt.NDArray[Any]:
    vector = _INDEX_VECTORS[kind]()
    vector.Init(table.Bytes, table.Pos)
    return np.asarray(vector.ValuesAsNumpy())
