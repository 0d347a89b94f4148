"""Scheduling frames for inference: a bounded frame queue and the workers that drain it."""

from __future__ import annotations

from gazeserve.scheduling.frame_queue import (
    DropReason,
    FrameDropped,
    FrameQueue,
    NullListener,
    QueueClosed,
    QueuedFrame,
    QueueFullError,
    QueueListener,
    QueueOptions,
    QueueStats,
)
from gazeserve.scheduling.workers import InferenceWorkers, recommended_workers

__all__ = [
    "DropReason",
    "FrameDropped",
    "FrameQueue",
    "InferenceWorkers",
    "NullListener",
    "QueueClosed",
    "QueueFullError",
    "QueueListener",
    "QueueOptions",
    "QueueStats",
    "QueuedFrame",
    "recommended_workers",
]
