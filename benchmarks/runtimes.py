"""Runtimes side by side, in one run on this machine: LiteRT float32, ONNX Runtime float32 and
ONNX Runtime INT8, per model, at batch 1 and 8, on 1 and 2 threads; plus conversion time.

    python benchmarks/runtimes.py [--rounds 7] [--round-s 0.25] [--json out.json]

Inputs are real crops from `collect_crops` (what the pipeline feeds each model). Every
configuration is warmed up, then measured in interleaved rounds (so a burst of load on a shared
host hits all of them alike); the table gives the median over rounds of the mean ms per call, ms
per image, and the ratio to LiteRT float32 at batch 1 on the same thread count. LiteRT batch 8
is measured only for the mesh model: the detectors' and iris model's Reshape ops hard-code a
batch of 1, so LiteRT returns wrong outputs for them (tests/integration/onnx/test_onnx_models.py).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gazeserve.models import ModelStore
from gazeserve.models.derived import DerivedState, derived_statuses, prepare_derived_models
from gazeserve.models.manifest import DERIVED_SOURCES, DerivedSpec, Precision
from gazeserve.models.registry import ModelName
from gazeserve.models.sample_crops import collect_crops

ENGINES = ("litert fp32", "ort fp32", "ort int8")
BATCHES = (1, 8)
THREADS = (1, 2)
LITERT_BATCHES_RIGHT = {ModelName.FACE_LANDMARK}


@dataclass
class Row:
    model: str
    engine: str
    threads: int
    batch: int
    ms_per_call: float | None = None
    ms_per_image: float | None = None
    vs_litert: float | None = None
    note: str = ""


def litert_runner(path: Path, threads: int, batch: int) -> Callable[[np.ndarray], Any]:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    index = interpreter.get_input_details()[0]["index"]
    if batch != 1:
        shape = [batch, *interpreter.get_input_details()[0]["shape"][1:]]
        interpreter.resize_tensor_input(index, shape)
    interpreter.allocate_tensors()
    outputs = [o["index"] for o in interpreter.get_output_details()]

    def run(x: np.ndarray) -> Any:
        interpreter.set_tensor(index, x)
        interpreter.invoke()
        return [interpreter.get_tensor(o) for o in outputs]

    return run


def ort_runner(path: Path, threads: int) -> Callable[[np.ndarray], Any]:
    from gazeserve.runtime.onnx import OnnxSession
    from gazeserve.runtime.providers import CPU

    session = OnnxSession(path, num_threads=threads, providers=[CPU])
    name = session.inputs[0].name
    return lambda x: session.run({name: x})


def time_calls(run: Callable[[np.ndarray], Any], x: np.ndarray, seconds: float) -> float:
    """Mean ms per call over as many calls as fit in `seconds` (at least 5)."""
    calls, start = 0, time.perf_counter()
    while calls < 5 or time.perf_counter() - start < seconds:
        run(x)
        calls += 1
    return (time.perf_counter() - start) * 1000 / calls


def conversion_times(store: ModelStore, crops: Any) -> dict[str, dict[str, float]]:
    from gazeserve.models.convert import convert_tflite
    from gazeserve.models.quantize import quantize_int8

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in DERIVED_SOURCES:
            float_path = Path(tmp) / f"{name.value}.onnx"
            start = time.perf_counter()
            convert_tflite(store.require(name), float_path)
            convert_s = time.perf_counter() - start
            start = time.perf_counter()
            quantize_int8(float_path, Path(tmp) / f"{name.value}.int8.onnx",
                          crops.calibration_batch(name))
            out[name.value] = {"convert_s": convert_s, "quantize_s": time.perf_counter() - start,
                               "calibration_inputs": len(crops.calibration[name])}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--round-s", type=float, default=0.25)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    store = ModelStore()
    store.prepare()
    prepare_derived_models(store)
    states = {(s.spec.source, s.spec.precision): s.state for s in derived_statuses(store)}
    crops = collect_crops(store)
    conversion = conversion_times(store, crops)

    rows: list[Row] = []
    runners: list[tuple[Row, Callable[[np.ndarray], Any], np.ndarray]] = []
    for name in DERIVED_SOURCES:
        pool = np.concatenate([crops.held_back_batch(name), crops.calibration_batch(name)])
        for engine in ENGINES:
            for threads in THREADS:
                for batch in BATCHES:
                    row = Row(name.value, engine, threads, batch)
                    rows.append(row)
                    x = np.ascontiguousarray(pool[:batch])
                    if engine == "litert fp32":
                        if batch != 1 and name not in LITERT_BATCHES_RIGHT:
                            row.note = "wrong outputs"
                            continue
                        run = litert_runner(store.require(name), threads, batch)
                    else:
                        precision = Precision.INT8 if engine == "ort int8" else Precision.FLOAT32
                        spec = DerivedSpec(name, precision)
                        if states[(name, precision)] is DerivedState.REJECTED:
                            row.note = "rejected (parity)"
                        run = ort_runner(store.model_dir / spec.filename, threads)
                    for _ in range(10):
                        run(x)
                    runners.append((row, run, x))

    samples: dict[int, list[float]] = {id(row): [] for row, _, _ in runners}
    for _ in range(args.rounds):
        for row, run, x in runners:
            samples[id(row)].append(time_calls(run, x, args.round_s))
    for row, _, _ in runners:
        row.ms_per_call = statistics.median(samples[id(row)])
        row.ms_per_image = row.ms_per_call / row.batch
    base = {(r.model, r.threads): r.ms_per_image for r in rows
            if r.engine == "litert fp32" and r.batch == 1}
    for row in rows:
        if row.ms_per_image is not None and base[(row.model, row.threads)]:
            row.vs_litert = row.ms_per_image / base[(row.model, row.threads)]

    print("| model | engine | threads | batch | ms/call | ms/image | vs LiteRT b1 | note |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        def f(v: float | None, fmt: str = ".2f") -> str:
            return "—" if v is None else format(v, fmt)
        print(f"| {r.model} | {r.engine} | {r.threads} | {r.batch} | {f(r.ms_per_call)} | "
              f"{f(r.ms_per_image)} | {f(r.vs_litert)}x | {r.note} |")
    print()
    print("| model | convert (s) | quantize INT8 (s) | calibration inputs |")
    print("|---|---:|---:|---:|")
    for model, c in conversion.items():
        print(f"| {model} | {c['convert_s']:.2f} | {c['quantize_s']:.2f} | "
              f"{c['calibration_inputs']} |")
    if args.json:
        args.json.write_text(json.dumps({"rows": [asdict(r) for r in rows],
                                         "conversion": conversion}, indent=2))


if __name__ == "__main__":
    main()
