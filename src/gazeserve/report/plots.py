"""The report's PNG plots, drawn from the aggregates (`SessionStats`), never from all the rows.

matplotlib with the Agg backend (no display); it is imported when the plots are drawn, so the
rest of the command line does not pay for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from gazeserve.report.aggregate import STATES, Histogram2D
from gazeserve.report.summary import SessionStats
from gazeserve.results import AttentionState

STATE_COLORS: Final = {
    AttentionState.ATTENTIVE: "#2ca02c",
    AttentionState.LOOKING_AWAY: "#ff7f0e",
    AttentionState.EYES_CLOSED: "#9467bd",
    AttentionState.NO_FACE: "#bdbdbd",
}
POSE_COLORS: Final = ("#1f77b4", "#d62728", "#7f7f7f")
DPI: Final = 100
MAX_RASTER_ROWS: Final = 60


@dataclass(frozen=True)
class Plot:
    """A PNG written into the report folder."""

    file: str
    title: str
    caption: str


def write_plots(folder: Path, stats: SessionStats) -> list[Plot]:
    """Draws every plot that applies to the recording; the plots written, in page order."""
    plt = _pyplot()
    plots = [_attention(plt, folder, stats), _head_pose(plt, folder, stats),
             _heatmap(plt, folder, stats)]
    if stats.is_video:
        plots.append(_blinks(plt, folder, stats))
    return plots


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _x_label(stats: SessionStats) -> str:
    return "time (s)" if stats.is_video else "image"


def _save(plt: Any, fig: Any, folder: Path, name: str) -> None:
    fig.tight_layout()
    fig.savefig(folder / name, dpi=DPI)
    plt.close(fig)


def _no_face(ax: Any, stats: SessionStats) -> None:
    ax.text(0.5, 0.5, "no face found", transform=ax.transAxes, ha="center", va="center",
            fontsize=14, color="#555555")


def _attention(plt: Any, folder: Path, stats: SessionStats) -> Plot:
    bins = stats.timeline
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    starts = bins.starts()
    edges = np.append(starts, starts[-1] + bins.width) if len(starts) else np.zeros(1)
    shares = bins.state_shares()
    if len(starts):
        majority = np.argmax(shares, axis=0)
        for start, stop, state in _runs(majority):
            top.axvspan(edges[start], edges[stop], color=STATE_COLORS[STATES[state]], alpha=0.25,
                        linewidth=0)
        score = bins.mean_score()
        top.step(edges, np.append(score, score[-1]), where="post", color="black", linewidth=1.5,
                 label="mean score")
        bottom.stackplot(edges, np.column_stack([shares, shares[:, -1:]]),
                         colors=[STATE_COLORS[s] for s in STATES], step="post",
                         labels=[s.value for s in STATES])
        top.set_xlim(edges[0], edges[-1])
    if not stats.frames_with_face:
        _no_face(top, stats)
    top.set_ylim(0.0, 1.05)
    top.set_ylabel("attention score")
    top.set_title(f"attention over the {'video' if stats.is_video else 'images'} "
                  f"(bins of {_bin_label(stats)}; background: the bin's most common state)")
    bottom.set_ylim(0.0, 1.0)
    bottom.set_ylabel("state share")
    bottom.set_xlabel(_x_label(stats))
    _integer_ticks(bottom, stats)
    bottom.legend(loc="upper center", bbox_to_anchor=(0.5, -0.55), ncol=len(STATES), fontsize=8,
                  frameon=False)
    _save(plt, fig, folder, "attention_timeline.png")
    return Plot("attention_timeline.png", "Attention timeline",
                "Mean attention score per bin (line) over the most common state (background); "
                "below, each state's share of the bin.")


def _head_pose(plt: Any, folder: Path, stats: SessionStats) -> Plot:
    bins = stats.timeline
    fig, ax = plt.subplots(figsize=(10, 3.8))
    starts = bins.starts()
    if len(starts) and stats.frames_with_face:
        centres = starts + 0.5 * bins.width
        mean, lo, hi = bins.pose()
        for axis, name in enumerate(("yaw", "pitch", "roll")):
            ax.plot(centres, mean[axis], color=POSE_COLORS[axis], label=name, linewidth=1.5,
                    marker="." if len(centres) < 40 else None)
            ax.fill_between(centres, lo[axis], hi[axis], color=POSE_COLORS[axis], alpha=0.15,
                            linewidth=0)
        ax.axhline(0.0, color="black", linewidth=0.5)
        ax.legend(loc="upper right", fontsize=8)
        ax.set_xlim(starts[0], starts[-1] + bins.width)
    else:
        _no_face(ax, stats)
    ax.set_xlabel(_x_label(stats))
    _integer_ticks(ax, stats)
    ax.set_ylabel("degrees")
    ax.set_title(f"head pose: mean per bin of {_bin_label(stats)}, band from min to max\n"
                 "yaw > 0 turned toward the image's right, pitch > 0 up, roll > 0 "
                 "counter-clockwise in the image", fontsize=10)
    _save(plt, fig, folder, "head_pose.png")
    return Plot("head_pose.png", "Head pose", "Yaw, pitch and roll over time (degrees).")


def _heatmap(plt: Any, folder: Path, stats: SessionStats) -> Plot:
    screen = stats.gaze_screen
    if screen is not None and screen.counts.sum() > 0:
        return _screen_heatmap(plt, folder, stats, screen)
    hist = stats.gaze_angles
    fig, ax = plt.subplots(figsize=(7, 5.5))
    if hist.counts.sum() == 0:
        _no_face(ax, stats)
        ax.set_xlim(*hist.x_range)
        ax.set_ylim(*hist.y_range)
    else:
        rows, cols = _crop(hist.counts, min_cells=(40, 40))
        x0, x1 = hist.x_range
        y0, y1 = hist.y_range
        dx, dy = (x1 - x0) / hist.bins[0], (y1 - y0) / hist.bins[1]
        extent = (x0 + cols.start * dx, x0 + cols.stop * dx, y0 + rows.start * dy,
                  y0 + rows.stop * dy)
        image = ax.imshow(_masked(hist.counts[rows, cols]), origin="lower", extent=extent,
                          cmap="viridis", aspect="equal", interpolation="nearest")
        fig.colorbar(image, ax=ax, label="frames", shrink=0.8)
        ax.axhline(0.0, color="#888888", linewidth=0.5)
        ax.axvline(0.0, color="#888888", linewidth=0.5)
        ax.set_facecolor("#f2f2f2")
    ax.set_xlabel("gaze yaw (deg, > 0 toward the image's right)")
    ax.set_ylabel("gaze pitch (deg, > 0 up)")
    note = f"; {hist.outside} outside the plot" if hist.outside else ""
    ax.set_title(f"gaze direction, {int(hist.counts.sum())} frames with open eyes{note}")
    _save(plt, fig, folder, "gaze_heatmap.png")
    return Plot("gaze_heatmap.png", "Gaze heatmap",
                "Where the gaze pointed, in angles (0.5 degree cells; 0, 0 is parallel to the "
                "camera's axis). Uncalibrated: no screen point is known.")


def _screen_heatmap(plt: Any, folder: Path, stats: SessionStats, hist: Histogram2D) -> Plot:
    fig, ax = plt.subplots(figsize=(8, 5.5))
    x0, x1 = hist.x_range
    y0, y1 = hist.y_range
    image = ax.imshow(_masked(hist.counts), origin="upper", extent=(x0, x1, y1, y0),
                      cmap="viridis", aspect="equal", interpolation="nearest")
    fig.colorbar(image, ax=ax, label="frames", shrink=0.8)
    assert stats.info.screen_px is not None
    w, h = stats.info.screen_px
    ax.add_patch(plt.Rectangle((0, 0), w, h, fill=False, edgecolor="#1f77b4", linewidth=1.5))
    ax.set_facecolor("#f2f2f2")
    ax.set_xlabel("screen x (px)")
    ax.set_ylabel("screen y (px)")
    note = f"; {hist.outside} further off the screen" if hist.outside else ""
    ax.set_title(f"gaze on the {w} x {h} px screen (blue), {int(hist.counts.sum())} frames{note}")
    _save(plt, fig, folder, "gaze_heatmap.png")
    return Plot("gaze_heatmap.png", "Gaze heatmap",
                "Calibrated screen points of the gaze; the blue frame is the screen.")


def _blinks(plt: Any, folder: Path, stats: SessionStats) -> Plot:
    duration = stats.duration_s or 0.0
    row_s = 60.0 if duration > 60.0 else max(duration, 1.0)
    rows = _rows(duration, row_s)
    if rows > MAX_RASTER_ROWS:
        row_s = 60.0 * math.ceil(duration / MAX_RASTER_ROWS / 60.0)
        rows = _rows(duration, row_s)
    fig, ax = plt.subplots(figsize=(10, min(1.2 + 0.3 * rows, 12.0)))
    colors = plt.get_cmap("tab10").colors
    sample = stats.blinks
    min_width = row_s / 400.0  # a blink stays visible however long the row
    for start, length, face in sample.spans:
        row = min(int(start // row_s), rows - 1)
        ax.broken_barh([(start - row * row_s, max(length, min_width))], (row + 0.1, 0.8),
                       color=colors[face % len(colors)])
    if not sample.spans:
        ax.text(0.5, 0.5, "no blinks" if stats.frames_with_face else "no face found",
                transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#555555")
    ax.set_xlim(0.0, row_s)
    ax.set_ylim(rows, 0)
    if rows > 1:
        ax.set_yticks([r + 0.5 for r in range(rows)],
                      [_clock(r * row_s) for r in range(rows)], fontsize=7)
        ax.set_xlabel("seconds into the row")
        ax.set_ylabel("row start (m:ss)")
    else:
        ax.set_yticks([])
        ax.set_xlabel("time (s)")
    blinks = stats.all.blinks
    note = f" (first {len(sample.spans)} shown)" if sample.dropped else ""
    faces = " (colour: face index)" if stats.info.max_faces > 1 else ""
    ax.set_title(f"blinks: {blinks}{note}, each a bar as long as the blink{faces}")
    ax.grid(axis="x", color="#dddddd", linewidth=0.5)
    _save(plt, fig, folder, "blink_raster.png")
    return Plot("blink_raster.png", "Blinks",
                "Each blink as a bar from its start, one row per minute on long recordings.")


def _rows(duration_s: float, row_s: float) -> int:
    """Rows of `row_s` that cover the recording (a 180.0 s clip fills three minute rows)."""
    return max(1, math.ceil(duration_s / row_s - 1e-6))


def _integer_ticks(ax: Any, stats: SessionStats) -> None:
    """Images are counted, not timed: ticks on whole images only."""
    if not stats.is_video:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _runs(values: np.ndarray[Any, Any]) -> list[tuple[int, int, int]]:
    """(start, stop, value) of each run of equal values."""
    runs: list[tuple[int, int, int]] = []
    start = 0
    for i in range(1, len(values) + 1):
        if i == len(values) or values[i] != values[start]:
            runs.append((start, i, int(values[start])))
            start = i
    return runs


def _crop(counts: np.ndarray[Any, Any], min_cells: tuple[int, int]) -> tuple[slice, slice]:
    """The rows and columns around the non-zero cells, padded, at least `min_cells` (rows, cols)
    where the grid allows it: a steady gaze fills a few cells of a large grid."""
    out = []
    for axis, least in ((1, min_cells[0]), (0, min_cells[1])):
        used = np.flatnonzero(counts.sum(axis=axis))
        n = counts.shape[1 - axis]
        lo, hi = int(used[0]), int(used[-1]) + 1
        pad = max(2, (least - (hi - lo)) // 2 + 1)
        out.append(slice(max(0, lo - pad), min(n, hi + pad)))
    return out[0], out[1]


def _masked(counts: np.ndarray[Any, Any]) -> np.ma.MaskedArray[Any, Any]:
    """Empty cells masked (drawn as the background), so one frame's cell still shows."""
    return np.ma.masked_equal(counts, 0)


def _bin_label(stats: SessionStats) -> str:
    width = stats.timeline.width
    if not stats.is_video:
        return "1 image" if width == 1 else f"{width:g} images"
    return f"{width:.3g} s"


def _clock(t_s: float) -> str:
    minutes, seconds = divmod(int(t_s), 60)
    return f"{minutes}:{seconds:02d}"
