"""Our pipeline, in-process: each engine variant x (tracking, single image) x (1, N threads).

Every scenario runs `GazeEngine.process` on frames already decoded (as MediaPipe's FaceMesh gets
them), after a warm-up, and times each call with `perf_counter_ns`. With N threads one engine
is shared by N threads, each with its own stream, all started together; frames/s is overall.

Engine variants come from what the code offers: every `RuntimeKind`, each in float32 and, where
`EngineOptions` has a quantization option, INT8. A variant that cannot be built here (runtime
not installed, models not derived) is skipped with its reason instead of failing the run.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gazeserve.bench.frames import BenchFrames
from gazeserve.bench.stats import LatencySummary, summarize

if TYPE_CHECKING:
    from gazeserve.pipeline import EngineOptions, GazeEngine

QUANTIZATION_FIELDS = ("use_quantized",)
"""Boolean `EngineOptions` fields that, when present, select the INT8 models."""
BATCH_SUFFIX = ":batch"
"""`onnx-split:batch8`: the variant with cross-stream batches of up to 8 frames."""


class Mode(enum.StrEnum):
    TRACKING = "tracking"
    """One stream per thread: the detector runs only when tracking is lost."""
    SINGLE = "single"
    """Every frame as an independent image: detector, mesh and irises each time."""


@dataclass(frozen=True)
class EngineVariant:
    """One engine configuration to benchmark, named like `litert` or `onnx+int8`."""

    name: str
    options: EngineOptions


@dataclass(frozen=True)
class Skipped:
    name: str
    reason: str


@dataclass
class ScenarioResult:
    """One measured scenario (ours or MediaPipe's), all times in milliseconds."""

    name: str
    label: str
    mode: str
    threads: int
    frames: int
    """Timed calls over all threads."""
    wall_s: float
    frames_per_s: float
    latency_ms: LatencySummary
    """Wall time of each call."""
    faces_found: int
    """Timed calls that returned a face."""
    engine: str | None = None
    stages_ms: dict[str, LatencySummary] = field(default_factory=dict)
    detector_runs: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "label": self.label, "engine": self.engine, "mode": self.mode,
            "threads": self.threads, "frames": self.frames, "wall_s": round(self.wall_s, 4),
            "frames_per_s": round(self.frames_per_s, 2),
            "latency_ms": self.latency_ms.to_dict(),
            "stages_ms": {k: v.to_dict() for k, v in self.stages_ms.items()},
            "faces_found": self.faces_found, "detector_runs": self.detector_runs,
        }


@dataclass
class Samples:
    """Raw measurements of one scenario, over one or more rounds."""

    threads: int
    latencies_ms: list[float] = field(default_factory=list)
    stages_ms: dict[str, list[float]] = field(default_factory=dict)
    wall_s: float = 0.0
    faces_found: int = 0
    detector_runs: int | None = None

    def add(self, other: Samples) -> None:
        self.latencies_ms += other.latencies_ms
        for name, values in other.stages_ms.items():
            self.stages_ms.setdefault(name, []).extend(values)
        self.wall_s += other.wall_s
        self.faces_found += other.faces_found
        if other.detector_runs is not None:
            self.detector_runs = (self.detector_runs or 0) + other.detector_runs

    def result(self, name: str, label: str, mode: str, engine: str | None) -> ScenarioResult:
        frames = len(self.latencies_ms)
        return ScenarioResult(
            name=name, label=label, mode=mode, threads=self.threads, frames=frames,
            wall_s=self.wall_s, frames_per_s=frames / self.wall_s if self.wall_s > 0 else 0.0,
            latency_ms=summarize(self.latencies_ms), faces_found=self.faces_found,
            engine=engine, stages_ms={k: summarize(v) for k, v in self.stages_ms.items()},
            detector_runs=self.detector_runs)


def engine_variants(model_dir: Path | None = None,
                    wanted: Sequence[str] | None = None) -> tuple[list[EngineVariant],
                                                                   list[Skipped]]:
    """Every engine variant the code offers, or those named in `wanted`.

    A name is `runtime[-mesh][+precision][:batchN]`: `litert-attention`, `litert-split`,
    `onnx-split+int8`, `onnx-split:batch8` (cross-stream batches of up to 8 frames: the streams
    of the N-thread scenarios batch together). By default: every `RuntimeKind` x every explicit
    `MeshKind` (where `EngineOptions` has a `mesh` field) x (float32, int8), unbatched. Returns
    the variants to run and those skipped, each with its reason (not offered by this version,
    or no quantization option yet).
    """
    from gazeserve.pipeline import EngineOptions
    from gazeserve.runtime import RuntimeKind

    meshes = _mesh_kinds()
    names = list(wanted) if wanted else [
        f"{kind.value}{'-' + mesh if mesh else ''}{suffix}"
        for kind in RuntimeKind for mesh in (meshes or [""]) for suffix in ("", "+int8")]
    variants: list[EngineVariant] = []
    skipped: list[Skipped] = []
    for name in names:
        unbatched, _, batch = name.partition(BATCH_SUFFIX)
        base, _, precision = unbatched.partition("+")
        runtime, _, mesh = base.partition("-")
        try:
            kind = RuntimeKind(runtime)
        except ValueError:
            offered = ", ".join(k.value for k in RuntimeKind)
            skipped.append(Skipped(name, f"no runtime {runtime!r} in this version "
                                         f"(RuntimeKind offers {offered})"))
            continue
        changes: dict[str, Any] = {}
        if mesh:
            if mesh not in meshes:
                skipped.append(Skipped(name, f"no mesh {mesh!r} in this version (offered: "
                                             f"{', '.join(meshes) or 'none'})"))
                continue
            changes["mesh"] = mesh
        options = dataclasses.replace(EngineOptions(model_dir=model_dir, runtime=kind),
                                      **changes)
        modified: EngineOptions | str = options
        for modify, value in ((_quantized, precision), (_batched, batch)):
            if value and not isinstance(modified, str):
                modified = modify(modified, value)
        if isinstance(modified, str):
            skipped.append(Skipped(name, modified))
            continue
        variants.append(EngineVariant(name, modified))
    return variants, skipped


def _mesh_kinds() -> list[str]:
    """The explicit meshes `EngineOptions.mesh` accepts (not "auto"), if it has that field."""
    from gazeserve.pipeline import EngineOptions

    default = getattr(EngineOptions(), "mesh", None)
    if not isinstance(default, enum.Enum):
        return []
    return [str(m.value) for m in type(default) if m.value != "auto"]


def _quantized(options: EngineOptions, precision: str) -> EngineOptions | str:
    """`options` switched to `precision`, or the reason it cannot be."""
    if precision != "int8":
        return f"unknown precision {precision!r} (only int8)"
    names = {f.name for f in dataclasses.fields(options)}
    for name in QUANTIZATION_FIELDS:
        if name in names:
            flag: dict[str, Any] = {name: True}
            return dataclasses.replace(options, **flag)
    return "EngineOptions has no quantization option in this version"


def _batched(options: EngineOptions, size: str) -> EngineOptions | str:
    """`options` with cross-stream batches of `size` frames, or the reason it cannot be."""
    if "max_batch" not in {f.name for f in dataclasses.fields(options)}:
        return "EngineOptions has no batching option in this version"
    if not size.isdigit() or int(size) < 1:
        return f"{BATCH_SUFFIX}N needs a whole number of frames >= 1, got {size!r}"
    try:
        return dataclasses.replace(options, max_batch=int(size))
    except ValueError as exc:
        return str(exc)


def open_engine(variant: EngineVariant) -> GazeEngine | str:
    """The engine of a variant, loaded and warmed up, or the reason it cannot run here."""
    from gazeserve.models import ModelsNotPreparedError
    from gazeserve.pipeline import GazeEngine

    try:
        engine = GazeEngine.create(variant.options)
    except (ImportError, ModelsNotPreparedError, OSError, ValueError, RuntimeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    requested = getattr(variant.options, "mesh", None)
    chosen = getattr(engine, "mesh_kind", None)
    if requested is not None and str(requested) != "auto" and chosen != requested:
        engine.close()
        return f"asked for the {requested} mesh, the engine chose {chosen}"
    engine.warm_up()
    return engine


def scenario_name(variant_name: str, mode: Mode, threads: int) -> tuple[str, str]:
    """(name, label) of one of our scenarios, e.g. `ours.litert.tracking.1t`."""
    return (f"ours.{variant_name}.{mode.value}.{threads}t",
            f"ours {variant_name}, {mode.value}, {threads} thread{'s' if threads > 1 else ''}")


def run_scenario(engine: GazeEngine, frames: BenchFrames, order: Sequence[int], mode: Mode,
                 threads: int, warmup: int) -> Samples:
    """Times `engine.process` over `order` in each of `threads` threads (one stream each).

    Each thread first processes `warmup` frames untimed (creating its interpreters), then all
    threads start together on a fresh stream and time every call.
    """
    from gazeserve.results import StageTimings

    stage_names = [f.name for f in dataclasses.fields(StageTimings)]
    latencies: list[list[float]] = [[] for _ in range(threads)]
    stages: list[dict[str, list[float]]] = [{s: [] for s in stage_names} for _ in range(threads)]
    faces = [0] * threads
    detector_runs = [0] * threads
    barrier = threading.Barrier(threads + 1)
    interval_ms = 1000.0 / frames.fps
    errors: list[Exception] = []

    def worker(index: int) -> None:
        try:
            warm = engine.new_stream() if mode is Mode.TRACKING else None
            for i in range(warmup):
                engine.process(frames.frames[order[i % len(order)]], warm,
                               timestamp_ms=i * interval_ms if warm else None)
        except Exception as exc:  # re-raised in the calling thread once all have stopped
            errors.append(exc)
        barrier.wait()
        if errors:
            return
        stream = engine.new_stream() if mode is Mode.TRACKING else None
        own_latency, own_stages = latencies[index], stages[index]
        try:
            for i, frame_index in enumerate(order):
                start = time.perf_counter_ns()
                result = engine.process(frames.frames[frame_index], stream,
                                        timestamp_ms=i * interval_ms if stream else None)
                own_latency.append((time.perf_counter_ns() - start) / 1e6)
                for name, value in vars(result.timings_ms).items():
                    own_stages.setdefault(name, []).append(value)
                faces[index] += bool(result.faces)
                detector_runs[index] += result.detector_ran
        except Exception as exc:
            errors.append(exc)

    wall_s = _run_threads(worker, threads, barrier)
    if errors:
        raise errors[0]
    out = Samples(threads, [v for per_thread in latencies for v in per_thread], {},
                  wall_s, sum(faces), sum(detector_runs))
    for per_thread in stages:
        for name, values in per_thread.items():
            out.stages_ms.setdefault(name, []).extend(values)
    return out


def _run_threads(worker: Callable[[int], None], threads: int,
                 barrier: threading.Barrier) -> float:
    """Starts the workers, releases them together, returns the seconds until the last ends."""
    pool = [threading.Thread(target=worker, args=(i,), name=f"bench-{i}", daemon=True)
            for i in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in pool:
        thread.join()
    return time.perf_counter() - start
