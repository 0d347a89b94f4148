"""Service settings, read once from the environment at start-up and validated.

Names follow the user's deployment guide (`USE_QUANTIZED_MODEL`, `MAX_WORKERS`,
`DROP_OLD_FRAMES`, `MAX_FRAME_AGE_MS`, `MAX_QUEUE_SIZE`) and prefix the rest with `GAZE_`.
A bad value stops start-up with one line naming the variable (`SettingsError`).
"""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineKind(enum.StrEnum):
    AUTO = "auto"
    LITERT = "litert"


class LogLevel(enum.StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


class SettingsError(ValueError):
    """A setting has a bad value; the message names the variable."""


def recommended_workers(cpu_count: int | None = None) -> int:
    """One single-threaded inference worker per core: the best measured on 2 shared cores."""
    return max(1, cpu_count if cpu_count is not None else (os.cpu_count() or 1))


class Settings(BaseSettings):
    """Every setting of the service. Field names are the environment variables, lower-cased."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    gaze_engine: EngineKind = EngineKind.AUTO
    use_quantized_model: bool = False
    max_workers: int = Field(default_factory=recommended_workers, ge=1, le=256)
    """Inference worker threads in each server process."""
    max_queue_size: int = Field(default=10, ge=1, le=100_000)
    drop_old_frames: bool = True
    max_frame_age_ms: float = Field(default=200.0, gt=0)
    gaze_model_dir: Path | None = None
    gaze_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    gaze_max_pixels: int = Field(default=25_000_000, ge=1)
    gaze_log_level: LogLevel = LogLevel.INFO
    gaze_host: str = "127.0.0.1"
    gaze_port: int = Field(default=8000, ge=0, le=65535)
    gaze_stream_ttl_s: float = Field(default=300.0, gt=0)
    gaze_max_streams: int = Field(default=10_000, ge=1)

    @field_validator("gaze_log_level", "gaze_engine", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; `overrides` (e.g. CLI flags, None ignored) win."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        raise SettingsError(f"invalid {name}={error.get('input')!r}: {error['msg']}") from None
