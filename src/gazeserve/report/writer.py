"""One report folder: rows streamed to `frames.csv` and `events.csv` as frames come, then
`summary.json`, the plots and `index.html` at the end.

Only aggregates stay in memory (`SessionStats`), so a long video costs disk, not memory.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson

from gazeserve.report.html import write_index
from gazeserve.report.rows import (
    EVENT_COLUMNS,
    FRAME_COLUMNS,
    SOURCE_COLUMN,
    ScreenSpans,
    event_row,
    frame_rows,
)
from gazeserve.report.sessions import AnalyzedFrame, FaceEvent
from gazeserve.report.summary import SessionStats, SourceInfo, SourceKind

FRAMES_CSV = "frames.csv"
EVENTS_CSV = "events.csv"
SUMMARY_JSON = "summary.json"
REPORT_FILES = (FRAMES_CSV, EVENTS_CSV, SUMMARY_JSON, "index.html")


class ReportWriter:
    """Writes one input's report into `folder` (created if needed). Feed it with `add` in frame
    order, then `finish`; used as a context manager, it closes its files on an error."""

    def __init__(self, folder: Path, info: SourceInfo) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.info = info
        self.stats = SessionStats(info)
        self._with_source = info.kind == SourceKind.IMAGES
        self._spans = ScreenSpans()
        self._start = time.perf_counter()
        self._frames_file = (folder / FRAMES_CSV).open("w", newline="", encoding="utf-8")
        self._events_file = (folder / EVENTS_CSV).open("w", newline="", encoding="utf-8")
        self._frames = csv.writer(self._frames_file, lineterminator="\n")
        self._events = csv.writer(self._events_file, lineterminator="\n")
        self._frames.writerow(([SOURCE_COLUMN] if self._with_source else []) + list(FRAME_COLUMNS))
        self._events.writerow(EVENT_COLUMNS)

    def add(self, frame: AnalyzedFrame) -> None:
        """One processed frame (or image): its rows, and the events that completed with it."""
        time_s = None if frame.time_ms is None else round(frame.time_ms / 1000.0, 4)
        rows = frame_rows(frame.index, time_s, frame.result.faces, frame.face_indices,
                          frame.source if self._with_source else None)
        for row in rows:
            self._frames.writerow(row.cells(self._with_source))
        self.stats.add_frame(rows, frame.result.timings_ms.total)
        self._add_events(frame.events)
        for index in frame.ended:
            self._write_event_rows([self._spans.close(index, time_s or 0.0)])

    def finish(self, events: Sequence[FaceEvent] = ()) -> dict[str, Any]:
        """The events still in progress at the end (`VideoSession.finish`); writes the summary,
        the plots and the page, and returns the summary."""
        from gazeserve.report.plots import write_plots

        self._add_events(events)
        self._write_event_rows(self._spans.close_all(self.stats.end_s))
        wall_s = time.perf_counter() - self._start
        self.close()
        summary = self.stats.summary(wall_s)
        (self.folder / SUMMARY_JSON).write_bytes(
            orjson.dumps(summary, option=orjson.OPT_INDENT_2) + b"\n")
        plots = write_plots(self.folder, self.stats)
        write_index(self.folder, summary, plots)
        return summary

    def _add_events(self, events: Sequence[FaceEvent]) -> None:
        rows = []
        for e in events:
            rows.append(event_row(e.face_index, e.event))
            rows.append(self._spans.transition(e.face_index, e.event))
        self._write_event_rows(rows)

    def _write_event_rows(self, rows: Sequence[Any]) -> None:
        for row in rows:
            if row is None:
                continue
            self._events.writerow(row.cells())
            self.stats.add_event(row)

    def close(self) -> None:
        self._frames_file.close()
        self._events_file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
