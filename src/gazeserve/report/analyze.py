"""The work of `gazeserve analyze`: every input through the engine, each frame to stdout (JSON
lines or CSV) and, with a report folder, into that input's report.

An input that cannot be read is reported through `warn` and the others are still processed; an
error inside the engine is a bug and propagates.
"""

from __future__ import annotations

import csv
import enum
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import orjson

from gazeserve.gaze.calibration import Calibration
from gazeserve.pipeline import MAX_FACES_LIMIT, GazeEngine
from gazeserve.report.inputs import IMAGE_EXTENSIONS, AnalysisInput, expand_inputs
from gazeserve.report.progress import analyze_progress
from gazeserve.report.rows import FRAME_COLUMNS, SOURCE_COLUMN, frame_rows
from gazeserve.report.sessions import (
    AnalyzedFrame,
    ImageSession,
    UnreadableInputError,
    video_session,
)
from gazeserve.report.summary import SourceInfo, SourceKind

if TYPE_CHECKING:
    from gazeserve.report.writer import ReportWriter


class OutputFormat(enum.StrEnum):
    """What `analyze` writes to stdout for each frame."""

    JSONL = "jsonl"
    """One JSON result per line (schema gazeserve.gaze.v1, with "source", "frame_index")."""
    CSV = "csv"
    """`frames.csv`'s columns with "source" first, one row per face (or per faceless frame)."""


@dataclass(frozen=True)
class AnalyzeOptions:
    max_faces: int = 1
    include_landmarks: bool = False
    output_format: OutputFormat | None = OutputFormat.JSONL
    """None: nothing per frame on stdout (a report prints its page's path instead)."""
    report_dir: Path | None = None
    calibration: Calibration | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.max_faces <= MAX_FACES_LIMIT:
            raise ValueError(
                f"max_faces must be between 1 and {MAX_FACES_LIMIT}, got {self.max_faces}")
        if self.output_format is not None:
            object.__setattr__(self, "output_format", OutputFormat(self.output_format))


@dataclass
class AnalyzeOutcome:
    inputs: int = 0
    """Files tried: each video and each image counts one (an empty folder counts one)."""
    failed: int = 0
    reports: list[Path] = field(default_factory=list)
    """Each written report's index.html."""


class CalibrationFileError(ValueError):
    """A `--calibration` file that cannot be read or is not an exported calibration."""


def load_calibration(path: Path) -> Calibration:
    """A calibration exported as JSON (`Calibration.to_json`, the service's calibration route).

    Raises:
        CalibrationFileError: the file cannot be read, is not JSON, or not a calibration.
    """
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise CalibrationFileError(f"{path}: {exc.strerror or exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise CalibrationFileError(f"{path}: not JSON ({exc})") from exc
    if isinstance(data, dict) and isinstance(data.get("calibration"), dict):
        data = data["calibration"]  # the service's response wraps the document
    try:
        return Calibration.from_json(data)
    except ValueError as exc:
        raise CalibrationFileError(f"{path}: {exc}") from exc


def analyze_inputs(engine: GazeEngine, paths: Sequence[Path], options: AnalyzeOptions,
                   out: TextIO, warn: Callable[[str], None]) -> AnalyzeOutcome:
    """Analyses every input; see the module doc. `warn` gets one line per failed input.

    The report folder, when given, must already be prepared (`inputs.prepare_report_dir`).
    """
    from gazeserve.report.html import write_reports_index

    inputs = expand_inputs(paths, group_images=options.report_dir is not None)
    output = _FrameOutput(options.output_format, out, options.include_landmarks)
    outcome = AnalyzeOutcome()
    written: list[tuple[str, dict[str, Any]]] = []
    for item in inputs:
        folder = None
        if options.report_dir is not None:
            folder = options.report_dir / item.name if len(inputs) > 1 else options.report_dir
        summary = _analyze_input(engine, item, options, output, folder, outcome, warn)
        if summary is not None and folder is not None:
            written.append((item.name, summary))
            outcome.reports.append(folder / "index.html")
            if options.output_format is None:
                out.write(f"{folder / 'index.html'}\n")
                out.flush()
    if options.report_dir is not None and len(inputs) > 1 and written:
        write_reports_index(options.report_dir, written)
    return outcome


def _analyze_input(engine: GazeEngine, item: AnalysisInput, options: AnalyzeOptions,
                   output: _FrameOutput, folder: Path | None, outcome: AnalyzeOutcome,
                   warn: Callable[[str], None]) -> dict[str, Any] | None:
    if item.kind == SourceKind.VIDEO:
        return _analyze_video(engine, item.paths[0], options, output, folder, outcome, warn)
    if not item.paths:
        outcome.inputs += 1
        outcome.failed += 1
        warn(f"{item.label}: no images ({', '.join(sorted(IMAGE_EXTENSIONS))}) in this folder")
        return None
    return _analyze_images(engine, item, options, output, folder, outcome, warn)


def _analyze_video(engine: GazeEngine, path: Path, options: AnalyzeOptions,
                   output: _FrameOutput, folder: Path | None, outcome: AnalyzeOutcome,
                   warn: Callable[[str], None]) -> dict[str, Any] | None:
    from gazeserve.imaging.video import VideoReadError, open_video
    from gazeserve.report.writer import ReportWriter

    outcome.inputs += 1
    try:
        video = open_video(path)
    except VideoReadError as exc:  # its message names the file
        outcome.failed += 1
        warn(str(exc))
        return None
    with ExitStack() as stack:
        stack.enter_context(video)
        progress = stack.enter_context(analyze_progress())
        info = video.info
        task = progress.add_task(path.name, total=info.frame_count or None)
        session = video_session(engine, str(path), options.max_faces, options.calibration,
                                options.include_landmarks)
        report = None
        if folder is not None:
            report = stack.enter_context(ReportWriter(folder, _source_info(
                SourceKind.VIDEO, str(path), options, info.fps, info.width, info.height)))
        for frame in video:
            analyzed = session.process(frame)
            output.emit(analyzed)
            if report is not None:
                report.add(analyzed)
            progress.advance(task)
        final = session.finish()
        return None if report is None else report.finish(final)


def _analyze_images(engine: GazeEngine, item: AnalysisInput, options: AnalyzeOptions,
                    output: _FrameOutput, folder: Path | None, outcome: AnalyzeOutcome,
                    warn: Callable[[str], None]) -> dict[str, Any] | None:
    from gazeserve.imaging import ImageDecodeError

    session = ImageSession(engine, options.max_faces, options.calibration,
                           options.include_landmarks)
    report: ReportWriter | None = None
    with analyze_progress() as progress:
        task = progress.add_task(item.label, total=len(item.paths))
        index = 0
        try:
            for path in item.paths:
                outcome.inputs += 1
                try:
                    analyzed = session.process(path, index)
                except (UnreadableInputError, ImageDecodeError) as exc:
                    outcome.failed += 1
                    warn(f"{path}: {exc}")
                    continue
                finally:
                    progress.advance(task)
                index += 1
                output.emit(analyzed)
                if folder is not None:
                    report = report or _image_report(folder, item, options)
                    report.add(analyzed)
            return None if report is None else report.finish()
        finally:
            if report is not None:
                report.close()


def _image_report(folder: Path, item: AnalysisInput, options: AnalyzeOptions) -> ReportWriter:
    from gazeserve.report.writer import ReportWriter

    return ReportWriter(folder, _source_info(SourceKind.IMAGES, item.label, options))


def _source_info(kind: SourceKind, source: str, options: AnalyzeOptions, fps: float = 0.0,
                 width: int | None = None, height: int | None = None) -> SourceInfo:
    cal = options.calibration
    return SourceInfo(kind, source, fps, width, height, options.max_faces, cal is not None,
                      None if cal is None else (cal.screen.width_px, cal.screen.height_px))


class _FrameOutput:
    """Each frame to stdout as a JSON line or CSV rows (or nothing)."""

    def __init__(self, fmt: OutputFormat | None, out: TextIO, include_landmarks: bool) -> None:
        self._fmt = fmt
        self._out = out
        self._include_landmarks = include_landmarks
        self._csv: Any = None

    def emit(self, frame: AnalyzedFrame) -> None:
        if self._fmt is OutputFormat.JSONL:
            record = frame.to_record(self._include_landmarks)
            self._out.write(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY).decode())
            self._out.write("\n")
        elif self._fmt is OutputFormat.CSV:
            if self._csv is None:
                self._csv = csv.writer(self._out, lineterminator="\n")
                self._csv.writerow([SOURCE_COLUMN, *FRAME_COLUMNS])
            time_s = None if frame.time_ms is None else round(frame.time_ms / 1000.0, 4)
            for row in frame_rows(frame.index, time_s, frame.result.faces, frame.face_indices,
                                  frame.source):
                self._csv.writerow(row.cells(with_source=True))
        else:
            return
        self._out.flush()
