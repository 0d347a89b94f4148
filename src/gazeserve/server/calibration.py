"""Calibration of a stream, for the WebSocket's guided run and the REST routes alike.

Each operation takes the stream's lock in a worker thread: frames of the stream are processed
under that lock, and a fit (15-170 ms) must not hold up the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from gazeserve.gaze.calibration import (
    Calibration,
    CalibrationSample,
    CalibrationSession,
    fit_calibration,
)
from gazeserve.stream_signals import screen_info
from gazeserve.streams import StreamState

T = TypeVar("T")


class ScreenModel(BaseModel):
    """The screen the targets are shown on; mm default to CSS pixels at 96 per inch."""

    model_config = ConfigDict(extra="forbid")

    width_px: int = Field(ge=1, le=100_000)
    height_px: int = Field(ge=1, le=100_000)
    width_mm: float | None = Field(default=None, gt=0, le=10_000)
    height_mm: float | None = Field(default=None, gt=0, le=10_000)


class SampleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: list[float] = Field(description="FEATURE_NAMES of gazeserve.gaze.calibration: "
                                  "both eyes' displacement, head pose, head translation")
    target_px: tuple[float, float]


class CalibrationRequest(BaseModel):
    """Either samples to fit, or an exported calibration to import."""

    model_config = ConfigDict(extra="forbid")

    screen: ScreenModel | None = None
    samples: list[SampleModel] | None = Field(default=None, max_length=100_000)
    calibration: dict[str, Any] | None = None


async def locked(stream: StreamState, fn: Callable[[], T]) -> T:
    def run() -> T:
        with stream.lock:
            return fn()
    return await asyncio.to_thread(run)


def calibration_reply(calibration: Calibration) -> dict[str, Any]:
    """The calibration as exported, with its held-back error up front."""
    quality = calibration.quality
    return {
        "error_px": None if quality is None else round(quality.mean_error_px, 1),
        "error_deg": None if quality is None else round(quality.mean_error_deg, 2),
        "points": None if quality is None else len(quality.per_target),
        "calibration": calibration.to_json(),
    }


async def start(stream: StreamState, screen: ScreenModel) -> None:
    info = screen_info(screen.width_px, screen.height_px, screen.width_mm, screen.height_mm)

    def begin() -> None:
        stream.signals.calibration_session = CalibrationSession(info)
    await locked(stream, begin)


async def show_target(stream: StreamState, target_px: tuple[float, float],
                      t_ms: float | None) -> None:
    def target() -> None:
        session = stream.signals.calibration_session
        if session is None:
            raise ValueError("no calibration in progress; send action 'start' first")
        session.target(target_px, stream.stream_time_s(t_ms))
    await locked(stream, target)


async def finish(stream: StreamState) -> Calibration:
    def detach() -> CalibrationSession:
        session = stream.signals.calibration_session
        if session is None:
            raise ValueError("no calibration in progress; send action 'start' first")
        stream.signals.calibration_session = None
        return session

    session = await locked(stream, detach)
    calibration = await asyncio.to_thread(session.finish)
    await set_calibration(stream, calibration)
    return calibration


async def cancel(stream: StreamState) -> None:
    def drop() -> None:
        stream.signals.calibration_session = None
    await locked(stream, drop)


async def set_calibration(stream: StreamState, calibration: Calibration | None) -> None:
    def assign() -> None:
        stream.signals.calibration = calibration
    await locked(stream, assign)


async def from_request(request: CalibrationRequest) -> Calibration:
    """Fits posted samples, or reads an exported calibration back."""
    if (request.samples is None) == (request.calibration is None):
        raise ValueError("send either 'samples' (with 'screen') or an exported 'calibration'")
    if request.calibration is not None:
        return Calibration.from_json(request.calibration)
    if request.screen is None:
        raise ValueError("'screen' is required with 'samples'")
    screen = request.screen
    info = screen_info(screen.width_px, screen.height_px, screen.width_mm, screen.height_mm)
    samples = [CalibrationSample(tuple(s.features), s.target_px) for s in request.samples or []]
    return await asyncio.to_thread(fit_calibration, samples, info)
