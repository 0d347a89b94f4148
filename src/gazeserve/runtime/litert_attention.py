"""The attention face mesh on stock LiteRT, its MediaPipe custom ops run by our C delegate.

`open_attention_session(model_path)` loads `gazeserve/native`'s delegate into a plain LiteRT
`Interpreter` (one thread) and refuses it, raising `DelegateUnavailable(reason)`, unless all of
these hold:

1. the installed `ai-edge-litert` is the version our C header was written for;
2. the struct sizes and offsets compiled into the library are the ones expected for that
   version's TFLite C ABI (`gazeserve.native.abi.EXPECTED_LAYOUT`);
3. what the delegate read through those structs matches the interpreter's own view of the graph
   (node inputs and outputs, tensor names, shapes, types, byte sizes) and it claimed exactly the
   model's 11 custom-op nodes;
4. one inference on a stored crop reproduces the stored outputs within `SELF_CHECK_TOLERANCE_PX`.

`attention_mesh_status()` runs that check once per process and says whether the attention mesh
is usable and, if not, why: the engine then uses the split mesh + iris pipeline.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.resources
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gazeserve.native.abi import (
    EXPECTED_LITERT_VERSION,
    LITERT_DISTRIBUTION,
    layout_mismatches,
)
from gazeserve.runtime.base import Tensor
from gazeserve.runtime.litert import LiteRTSession, check_threads

logger = logging.getLogger(__name__)

CUSTOM_OP_NODES = {"Landmarks2TransformMatrix": 3, "TransformTensorBilinear": 3,
                   "TransformLandmarks": 5}
"""The custom-op nodes of `face_landmark_with_attention.tflite` the delegate must claim."""

SELF_CHECK_VECTOR = "data/attention_selfcheck.npz"
SELF_CHECK_TOLERANCE_PX = 0.01
"""Largest allowed |difference| of any output (landmarks in 192-px crop pixels, the presence
logit) from the stored test vector. Legitimate variation measured here (two threads, or LiteRT's
reference kernels instead of XNNPACK) stays below 0.0002 px; a wrong op moves the refined points
by tenths of a pixel or more."""

class DelegateUnavailable(RuntimeError):  # noqa: N818 - the name the pipeline imports
    """The attention mesh's delegate cannot be used here; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_SYMBOLS = ("tflite_plugin_create_delegate", "tflite_plugin_destroy_delegate",
            "gz_abi_layout_json", "gz_delegate_report_json", "gz_live_objects")


class NativeLibrary:
    """The delegate's shared library, loaded with ctypes for its introspection functions."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._lib = ctypes.CDLL(str(path))
        except OSError as exc:
            raise DelegateUnavailable(f"cannot load {path.name}: {exc}") from exc
        missing = [name for name in _SYMBOLS if not hasattr(self._lib, name)]
        if missing:
            raise DelegateUnavailable(f"{path.name} is not gazeserve's delegate (no {missing})")
        self._lib.gz_abi_layout_json.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self._lib.gz_abi_layout_json.restype = ctypes.c_int
        self._lib.gz_delegate_report_json.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                                      ctypes.c_size_t]
        self._lib.gz_delegate_report_json.restype = ctypes.c_int
        self._lib.gz_live_objects.argtypes = []
        self._lib.gz_live_objects.restype = ctypes.c_long

    def layout(self) -> dict[str, int]:
        data: dict[str, int] = json.loads(self._text(self._lib.gz_abi_layout_json))
        return data

    def report(self, delegate_pointer: int) -> dict[str, Any]:
        """What the delegate read from the runtime in its last Prepare (see delegate.c)."""
        data: dict[str, Any] = json.loads(self._text(
            lambda buf, size: self._lib.gz_delegate_report_json(delegate_pointer, buf, size)))
        return data

    def live_objects(self) -> int:
        """Delegates and kernels this library has allocated and not yet freed."""
        return int(self._lib.gz_live_objects())

    @staticmethod
    def _text(fill: Callable[[ctypes.Array[ctypes.c_char], int], int]) -> str:
        size = 1 << 16
        while True:
            buf = ctypes.create_string_buffer(size)
            needed = int(fill(buf, size))
            if needed < 0:
                raise DelegateUnavailable("the delegate library returned no report")
            if needed < size:
                return buf.value.decode()
            size = needed + 1


def check_layout(library: NativeLibrary) -> None:
    """Raises `DelegateUnavailable` when the library's struct layout is not the expected one."""
    wrong = layout_mismatches(library.layout())
    if wrong:
        raise DelegateUnavailable(
            "the delegate's struct layout disagrees with the TFLite C ABI of "
            f"{LITERT_DISTRIBUTION} {EXPECTED_LITERT_VERSION}: " + "; ".join(wrong[:4]))


def check_runtime_version() -> None:
    try:
        version = importlib.metadata.version(LITERT_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise DelegateUnavailable(f"{LITERT_DISTRIBUTION} is not installed") from exc
    if version != EXPECTED_LITERT_VERSION:
        raise DelegateUnavailable(
            f"the delegate's C header was written for {LITERT_DISTRIBUTION} "
            f"{EXPECTED_LITERT_VERSION}, found {version}")


def default_library_path() -> Path:
    """The library built from the installed sources, or `DelegateUnavailable` if not built."""
    from gazeserve.native import build

    path = build.library_path()
    if not path.is_file():
        raise DelegateUnavailable(
            f"the attention delegate is not built ({path} is missing); run "
            "`python -m gazeserve.native.build` (part of `make setup`)")
    return path


class AttentionSession(LiteRTSession):
    """The attention face mesh in one LiteRT interpreter with our delegate (one thread).

    Same interface as `LiteRTSession`. Not thread-safe: one session per thread.
    """

    def __init__(self, model_path: Path, library_path: Path | None = None,
                 num_threads: int = 1) -> None:
        check_threads(num_threads)
        if not Path(model_path).is_file():
            raise DelegateUnavailable(
                f"model {model_path} is missing; run `gazeserve models prepare`")
        check_runtime_version()
        path = library_path or default_library_path()
        self.library = NativeLibrary(path)
        check_layout(self.library)  # before the runtime ever calls into the library

        from ai_edge_litert.interpreter import Interpreter, load_delegate

        try:
            self._delegate: Any = load_delegate(str(path))
        except (ValueError, OSError) as exc:
            raise DelegateUnavailable(f"LiteRT cannot load {path.name}: {exc}") from exc
        try:
            self._interpreter: Any = Interpreter(
                model_path=str(model_path), num_threads=num_threads,
                experimental_delegates=[self._delegate])
        except (ValueError, RuntimeError) as exc:
            raise DelegateUnavailable(
                f"LiteRT rejected the delegate: {self._report_error() or exc}") from exc
        self._check_graph()
        try:
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise DelegateUnavailable(f"LiteRT cannot prepare the model: {exc}") from exc
        self._bind(self._interpreter)
        self._check_test_vector()

    def close(self) -> None:
        # The interpreter (which holds our kernels) must go before the delegate it points to.
        super().close()
        self._delegate = None

    def _report_error(self) -> str:
        try:
            return str(self.library.report(self._delegate._get_native_delegate_pointer())
                       ["last"]["error"])
        except (DelegateUnavailable, KeyError, TypeError):
            return ""

    def _check_graph(self) -> None:
        """The delegate's view of the claimed nodes against the interpreter's own."""
        report = self.library.report(self._delegate._get_native_delegate_pointer())
        last = report.get("last") or {}
        if last.get("error"):
            raise DelegateUnavailable(f"the delegate refused the model: {last['error']}")
        claimed = last.get("claimed", [])
        counts = {op: sum(1 for c in claimed if c["op"] == op) for op in CUSTOM_OP_NODES}
        if counts != CUSTOM_OP_NODES or report.get("claimed_nodes") != len(claimed):
            raise DelegateUnavailable(
                f"the delegate claimed {counts} custom-op nodes, expected {CUSTOM_OP_NODES}")
        tensors = {d["index"]: d for d in self._interpreter.get_tensor_details()}
        if last.get("tensors_size") != len(tensors):
            raise DelegateUnavailable(
                f"the delegate sees {last.get('tensors_size')} tensors, LiteRT {len(tensors)}")
        ops = {d["index"]: d for d in self._interpreter._get_ops_details()}
        for node in claimed:
            mismatch = _node_mismatch(node, ops.get(node["node"]), tensors)
            if mismatch:
                raise DelegateUnavailable(
                    f"the delegate misreads node {node['node']} ({node['op']}): {mismatch}")

    def _check_test_vector(self) -> None:
        vector = load_self_check_vector()
        outputs = self.run({self._inputs[0].name: vector.input})
        for name, expected in vector.outputs.items():
            actual = outputs.get(name)
            if actual is None or actual.shape != expected.shape:
                raise DelegateUnavailable(f"self-check: output {name} is missing or misshapen")
            diff = float(np.max(np.abs(actual.astype(np.float64) - expected)))
            if not diff <= SELF_CHECK_TOLERANCE_PX:  # also catches NaN
                raise DelegateUnavailable(
                    f"self-check inference disagrees with the stored test vector: {name} "
                    f"differs by up to {diff:.3g} (tolerance {SELF_CHECK_TOLERANCE_PX})")


def _node_mismatch(node: dict[str, Any], op: dict[str, Any] | None,
                   tensors: dict[int, dict[str, Any]]) -> str:
    if op is None:
        return "LiteRT has no such node"
    if op["op_name"] != node["op"]:
        return f"LiteRT calls it {op['op_name']}"
    for side in ("inputs", "outputs"):
        ours = [t["index"] for t in node[side]]
        if ours != [int(i) for i in op[side]]:
            return f"{side} {ours} != {list(op[side])}"
        for seen in node[side]:
            detail = tensors[seen["index"]]
            shape = [int(d) for d in detail["shape"]]
            size = int(np.prod(shape)) * np.dtype(detail["dtype"]).itemsize
            if (seen["name"], seen["dims"], seen["bytes"]) != (detail["name"], shape, size) or \
                    np.dtype(detail["dtype"]) != np.float32 or seen["type"] != 1:
                return f"tensor {seen['index']} read as {seen}, LiteRT has {detail['name']} " \
                       f"{shape} {np.dtype(detail['dtype'])}"
    return ""


class SelfCheckVector:
    """The stored crop and the outputs the attention model must give for it."""

    def __init__(self, input_tensor: Tensor, outputs: dict[str, np.ndarray[Any, Any]]) -> None:
        self.input = input_tensor
        self.outputs = outputs


def load_self_check_vector() -> SelfCheckVector:
    """`data/attention_selfcheck.npz`: a 96 x 96 face crop shown to the model at 192 x 192
    (each pixel repeated 2 x 2) and the model's outputs for it (see
    `scripts/make_attention_selfcheck.py`)."""
    resource = importlib.resources.files("gazeserve").joinpath(SELF_CHECK_VECTOR)
    with resource.open("rb") as fh, np.load(fh) as data:
        crop = data["crop_96_u8"]
        outputs = {key[len("out:"):]: data[key].astype(np.float64)
                   for key in data.files if key.startswith("out:")}
    return SelfCheckVector(self_check_input(crop), outputs)


def self_check_input(crop_96_u8: np.ndarray[Any, Any]) -> Tensor:
    """96 x 96 x 3 uint8 -> the model's [1, 192, 192, 3] float input in [0, 1]."""
    big = np.repeat(np.repeat(crop_96_u8, 2, axis=0), 2, axis=1)
    return (big.astype(np.float32) * np.float32(1.0 / 255.0))[None]


def open_attention_session(model_path: Path, library_path: Path | None = None
                           ) -> AttentionSession:
    """The attention mesh with our delegate, checked; `DelegateUnavailable` if it cannot be.

    Always one thread per call: two threads per interpreter were unstable on two cores.
    """
    return AttentionSession(model_path, library_path, num_threads=1)


_status_lock = threading.Lock()
_status: dict[tuple[Path, Path | None], tuple[bool, str]] = {}


def attention_mesh_status(model_path: Path | None = None, library_path: Path | None = None
                          ) -> tuple[bool, str]:
    """Whether the attention mesh can run here, and if not why; checked once per process.

    `model_path` defaults to the prepared `face_landmark_with_attention.tflite`. The first call
    for a model (and library) opens and closes one checked session; a refusal is logged once,
    as a warning, with its reason.
    """
    if model_path is None:
        from gazeserve.models import ModelName, ModelsNotPreparedError, ModelStore

        try:
            model_path = ModelStore().require(ModelName.FACE_LANDMARK_WITH_ATTENTION)
        except ModelsNotPreparedError as exc:
            return False, str(exc)
    key = (Path(model_path).resolve(), library_path)
    with _status_lock:
        if key not in _status:
            try:
                with open_attention_session(key[0], library_path):
                    pass
                _status[key] = (True, "attention face mesh available (LiteRT + gazeserve "
                                      "custom-op delegate, self-check passed)")
            except DelegateUnavailable as exc:
                _status[key] = (False, exc.reason)
                logger.warning("attention face mesh unavailable, using the split pipeline: %s",
                               exc.reason)
        return _status[key]

