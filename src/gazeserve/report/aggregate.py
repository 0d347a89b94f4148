"""Fixed-size aggregates of a recording, for its plots: memory does not grow with its length.

- `TimeBins`: per-bin sums over time (attention states, score, head pose). Bins start narrow and
  double in width, merging neighbours, whenever the recording outgrows `max_bins`: a 3 s clip
  keeps 0.1 s bins, an hour ends with 3.2 s bins, both in at most `max_bins` bins.
- `Histogram2D`: counts on a fixed grid (gaze angles, or screen pixels when calibrated); points
  off the grid are counted, not placed.
- `SpanSample`: the first `limit` spans (blinks) exactly, and how many more there were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gazeserve.report.rows import FaceValues
from gazeserve.results import AttentionState

STATES = tuple(AttentionState)
"""Attention states in a fixed order: the rows of `TimeBins.states`."""
POSE_AXES = ("yaw", "pitch", "roll")

Counts = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


class TimeBins:
    """Sums per time bin; see the module doc. `x` is seconds (or an image's index)."""

    def __init__(self, width: float, max_bins: int = 1024) -> None:
        if not (math.isfinite(width) and width > 0.0):
            raise ValueError(f"bin width must be positive, got {width}")
        if max_bins < 2 or max_bins % 2:
            raise ValueError(f"max_bins must be an even number >= 2, got {max_bins}")
        self.width = width
        self.max_bins = max_bins
        self.origin: float | None = None
        self.used = 0
        self.rows: Counts = np.zeros(max_bins, np.int64)
        self.states: Counts = np.zeros((len(STATES), max_bins), np.int64)
        self.faces: Counts = np.zeros(max_bins, np.int64)
        self.score_sum: Floats = np.zeros(max_bins)
        self.pose_sum: Floats = np.zeros((3, max_bins))
        self.pose_min: Floats = np.full((3, max_bins), np.inf)
        self.pose_max: Floats = np.full((3, max_bins), -np.inf)

    def add(self, x: float, state: AttentionState, face: FaceValues | None) -> None:
        """One row (a face, or a frame without one) at `x`."""
        if self.origin is None:
            self.origin = x
        i = self._index(x)
        self.used = max(self.used, i + 1)
        self.rows[i] += 1
        self.states[STATES.index(state), i] += 1
        if face is None:
            return
        self.faces[i] += 1
        self.score_sum[i] += face.attention_score
        pose = np.asarray(face.head_pose_deg)
        self.pose_sum[:, i] += pose
        self.pose_min[:, i] = np.minimum(self.pose_min[:, i], pose)
        self.pose_max[:, i] = np.maximum(self.pose_max[:, i], pose)

    def _index(self, x: float) -> int:
        assert self.origin is not None
        i = max(0, int((x - self.origin) // self.width))
        while i >= self.max_bins:
            self._merge()
            i = max(0, int((x - self.origin) // self.width))
        return i

    def _merge(self) -> None:
        """Halves the resolution: bin k becomes bins 2k and 2k+1 together."""
        half = self.max_bins // 2

        def pairs(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            return a.reshape(*a.shape[:-1], half, 2)

        for name in ("rows", "faces", "score_sum"):
            a = getattr(self, name)
            merged = pairs(a).sum(axis=-1)
            a[...] = 0
            a[:half] = merged
        for name in ("states", "pose_sum"):
            a = getattr(self, name)
            merged = pairs(a).sum(axis=-1)
            a[...] = 0
            a[:, :half] = merged
        for name, reduce, empty in (("pose_min", np.min, np.inf), ("pose_max", np.max, -np.inf)):
            a = getattr(self, name)
            merged = reduce(pairs(a), axis=-1)
            a[...] = empty
            a[:, :half] = merged
        self.width *= 2.0
        self.used = (self.used + 1) // 2

    def starts(self) -> Floats:
        """Each used bin's start (x units)."""
        origin = self.origin or 0.0
        out: Floats = origin + self.width * np.arange(self.used, dtype=np.float64)
        return out

    def state_shares(self) -> Floats:
        """Share of each state per used bin (len(STATES) x used); 0 where a bin is empty."""
        rows = np.maximum(self.rows[:self.used], 1)
        out: Floats = self.states[:, :self.used] / rows
        return out

    def mean_score(self) -> Floats:
        """Mean attention score of the faces in each used bin; NaN where there was none."""
        faces = self.faces[:self.used]
        with np.errstate(invalid="ignore", divide="ignore"):
            out: Floats = np.where(faces > 0, self.score_sum[:self.used] / faces, np.nan)
        return out

    def pose(self) -> tuple[Floats, Floats, Floats]:
        """Per used bin: mean, min and max of (yaw, pitch, roll), NaN where no face."""
        faces = self.faces[:self.used]
        seen = faces > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(seen, self.pose_sum[:, :self.used] / faces, np.nan)
        lo = np.where(seen, self.pose_min[:, :self.used], np.nan)
        hi = np.where(seen, self.pose_max[:, :self.used], np.nan)
        return mean, lo, hi


@dataclass
class Histogram2D:
    """Counts of (x, y) points on a fixed grid: `counts[row, col]`, rows along y."""

    x_range: tuple[float, float]
    y_range: tuple[float, float]
    bins: tuple[int, int]
    """(columns along x, rows along y)."""
    counts: Counts = field(init=False)
    outside: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.bins[0] < 1 or self.bins[1] < 1:
            raise ValueError(f"a histogram needs at least one bin a side, got {self.bins}")
        if not (self.x_range[0] < self.x_range[1] and self.y_range[0] < self.y_range[1]):
            raise ValueError(f"empty histogram range {self.x_range} x {self.y_range}")
        self.counts = np.zeros((self.bins[1], self.bins[0]), np.int64)

    def add(self, x: float, y: float) -> None:
        (x0, x1), (y0, y1) = self.x_range, self.y_range
        if not (x0 <= x < x1 and y0 <= y < y1):
            self.outside += 1
            return
        col = int((x - x0) / (x1 - x0) * self.bins[0])
        row = int((y - y0) / (y1 - y0) * self.bins[1])
        self.counts[min(row, self.bins[1] - 1), min(col, self.bins[0] - 1)] += 1

    @property
    def total(self) -> int:
        return int(self.counts.sum()) + self.outside


def gaze_angle_histogram() -> Histogram2D:
    """Gaze yaw x pitch in 0.5 degree cells over +-60 x +-45 degrees (240 x 180 cells)."""
    return Histogram2D((-60.0, 60.0), (-45.0, 45.0), (240, 180))


def screen_histogram(width_px: int, height_px: int, columns: int = 96) -> Histogram2D:
    """Screen points on a grid over the screen and a quarter of its size around it."""
    rows = max(1, round(columns * height_px / width_px))
    return Histogram2D((-0.25 * width_px, 1.25 * width_px),
                       (-0.25 * height_px, 1.25 * height_px), (columns, rows))


@dataclass
class SpanSample:
    """The first `limit` spans exactly, then only their count."""

    limit: int = 10_000
    spans: list[tuple[float, float, int]] = field(default_factory=list)
    """(start_s, duration_s, face_index)."""
    dropped: int = 0

    def add(self, start_s: float, duration_s: float, face_index: int) -> None:
        if len(self.spans) < self.limit:
            self.spans.append((start_s, duration_s, face_index))
        else:
            self.dropped += 1
