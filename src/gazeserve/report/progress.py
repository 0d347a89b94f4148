"""The progress bar of `gazeserve analyze`: on stderr, only when it is a terminal (stdout stays
JSON or CSV), with frames/s and the time left."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress


def analyze_progress() -> Progress:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        """Frames (or images) per second, as rich estimates it over the last seconds."""

        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("   ... frames/s" if speed is None else f"{speed:6.1f} frames/s",
                        style="progress.data.speed")

    console = Console(stderr=True)
    return Progress("{task.description}", BarColumn(), MofNCompleteColumn(), RateColumn(),
                    TimeRemainingColumn(), "left", console=console, transient=True,
                    redirect_stdout=False, redirect_stderr=False,
                    disable=not console.is_terminal)
