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

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class EngineKind(enum.StrEnum):
    AUTO = "auto"
    LITERT = "litert"
    ONNX = "onnx"


class BatchingMode(enum.StrEnum):
    AUTO = "auto"
    """Batch where it pays: ONNX Runtime on an accelerator provider (on a CPU a batch of 8 costs
    about as much as 8 single calls, and batching adds a hand-off to every call)."""
    ON = "on"
    OFF = "off"


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
    gaze_providers: str | None = None
    """ONNX Runtime providers, comma-separated, best first (`cuda`, `TensorrtExecutionProvider`,
    ...); unset chooses automatically. Checked against the installed build at start-up."""
    gaze_batching: BatchingMode = BatchingMode.AUTO
    """Cross-stream batching of face and eye crops (`auto`, `on`, `off`)."""
    gaze_max_batch: int = Field(default=8, ge=1, le=1024)
    """Most frames whose crops run as one batch; batches never exceed MAX_WORKERS frames."""
    gaze_batch_wait_ms: float = Field(default=2.0, ge=0, le=1000)
    """Longest a crop waits for other frames' crops (none while no other frame is in flight)."""
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

    # Access control (SECURITY.md). No keys: every route is open, and the service should stay on
    # loopback (a warning is logged when it binds elsewhere).
    gaze_api_keys: SecretStr = SecretStr("")
    """Comma-separated API keys; sent as `Authorization: Bearer <key>` or `X-API-Key`."""
    gaze_public_readyz: bool = True
    """With keys: `/readyz` answers without a key (probes of an orchestrator send none)."""
    gaze_public_metrics: bool = False
    """With keys: `/metrics` and `/metrics.json` answer without a key."""
    gaze_rate_limit_per_s: float = Field(default=0.0, ge=0)
    """Requests and frames per second per key (per client address without keys); 0: no limit."""
    gaze_rate_limit_burst: int | None = Field(default=None, ge=1)
    """Token-bucket size: the requests allowed at once above the rate [default: 2 s' worth]."""
    gaze_max_streams_per_key: int = Field(default=0, ge=0)
    """WebSocket streams open at once per key (per client address without keys); 0: no cap."""
    gaze_cors_origins: str = ""
    """Comma-separated origins (`https://app.example`) allowed to call from a browser; none by
    default: cross-origin pages can neither read answers nor open the WebSocket."""

    # Slow and abusive clients.
    gaze_body_timeout_s: float = Field(default=10.0, gt=0, le=600)
    """Seconds to receive a whole request body; a slower upload is answered 408."""
    gaze_ws_auth_timeout_s: float = Field(default=10.0, gt=0, le=600)
    """With keys: seconds a WebSocket may take to send its `auth` message."""
    gaze_ws_send_timeout_s: float = Field(default=10.0, gt=0, le=600)
    """Seconds one message to a WebSocket client may wait on a client that does not read; then
    the connection is closed (1008)."""
    gaze_keep_alive_s: int = Field(default=5, ge=1, le=600)
    """Idle seconds before an HTTP keep-alive connection is closed."""
    gaze_max_connections: int | None = Field(default=None, ge=1)
    """Connections plus requests at once per process, beyond which uvicorn answers 503."""
    gaze_shutdown_drain_s: float = Field(default=5.0, ge=0, le=600)
    """On SIGTERM: seconds to let frames in flight finish before WebSockets close (1001)."""

    # Test-only switches, off in production; each logs a warning when on.
    gaze_fault_injection: bool = False
    """Frames that start with `FAULT_MARKER` fail on purpose inside the worker (tests)."""
    gaze_debug_endpoints: bool = False
    """`GET /debug/runtime`: task, thread, stream and connection counts (tests)."""

    @field_validator("gaze_log_level", "gaze_engine", "gaze_batching", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("gaze_cors_origins")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in split_list(value):
            if origin != "*" and not ("://" in origin and origin.count("/") == 2):
                raise ValueError(f"origin {origin!r} must look like https://host[:port], "
                                 "without a path")
        return value

    @model_validator(mode="after")
    def _keys(self) -> Settings:
        for key in self.api_keys:
            if len(key) < MIN_API_KEY_LENGTH or not key.isprintable() or " " in key:
                raise ValueError(f"GAZE_API_KEYS: each key must be at least "
                                 f"{MIN_API_KEY_LENGTH} printable characters without spaces")
        return self

    @property
    def api_keys(self) -> tuple[str, ...]:
        return tuple(split_list(self.gaze_api_keys.get_secret_value()))

    @property
    def cors_origins(self) -> tuple[str, ...]:
        return tuple(split_list(self.gaze_cors_origins))

    @property
    def rate_limit_burst(self) -> int:
        if self.gaze_rate_limit_burst is not None:
            return self.gaze_rate_limit_burst
        return max(1, round(2 * self.gaze_rate_limit_per_s))


MIN_API_KEY_LENGTH = 16
"""Short keys can be guessed; `python -c "import secrets; print(secrets.token_urlsafe())"`."""


def split_list(value: str) -> list[str]:
    """A comma-separated setting as its non-empty items, stripped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment; `overrides` (e.g. CLI flags, None ignored) win."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:  # a check across settings: its message names them
            raise SettingsError(f"invalid settings: {error['msg']}") from None
        name = str(error["loc"][0]).upper()
        shown = "<secret>" if name in SECRET_SETTINGS else repr(error.get("input"))
        raise SettingsError(f"invalid {name}={shown}: {error['msg']}") from None


SECRET_SETTINGS = frozenset({"GAZE_API_KEYS"})
"""Never repeated in an error message or a log line."""
