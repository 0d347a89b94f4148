"""Latency summaries: mean and percentiles of a list of durations in milliseconds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

PERCENTILES = (50, 95, 99)


@dataclass(frozen=True)
class LatencySummary:
    """Milliseconds over `count` samples; percentiles by linear interpolation (numpy's default)."""

    count: int
    mean: float
    p50: float
    p95: float
    p99: float
    max: float

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def summarize(samples_ms: Sequence[float]) -> LatencySummary:
    """Summary of durations in ms; all-zero for no samples (a stage that never ran)."""
    if not samples_ms:
        return LatencySummary(0, 0.0, 0.0, 0.0, 0.0, 0.0)
    values = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = (float(v) for v in np.percentile(values, PERCENTILES))
    return LatencySummary(len(values), float(values.mean()), p50, p95, p99, float(values.max()))


def ratio(ours: float, theirs: float) -> float | None:
    """ours / theirs, or None when theirs is zero (nothing to compare with)."""
    return ours / theirs if theirs > 0 else None
