"""The FastAPI application: `create_app(settings)`, models loaded and warmed in the lifespan."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from gazeserve import __version__
from gazeserve.config import Settings, SettingsError, load_settings
from gazeserve.models import ModelsNotPreparedError, ModelStore
from gazeserve.observability.metrics import Metrics
from gazeserve.observability.middleware import RequestTimingMiddleware
from gazeserve.observability.timers import use_metrics
from gazeserve.server import debug, http_routes, websocket
from gazeserve.server.errors import install_error_handlers
from gazeserve.server.limits import BodyLimitsMiddleware
from gazeserve.server.logs import install_log_redaction
from gazeserve.server.security import AccessControlMiddleware, AccessPolicy
from gazeserve.server.service import GazeService
from gazeserve.server.shutdown import DrainOnSignal

log = logging.getLogger("gazeserve.server")

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; nothing heavy happens until its lifespan starts."""
    settings = settings or load_settings()
    # ONNX Runtime (1.2x+) otherwise keeps a device id and a telemetry database in the user's
    # cache and a session file in TMPDIR, and uploads events where it can reach its endpoint;
    # set before the runtime is imported, in every server process. An operator may override it.
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    metrics = Metrics()
    access = AccessPolicy.from_settings(settings)
    install_log_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        use_metrics(metrics)
        service = GazeService(settings, metrics, access)
        app.state.service = service
        metrics.set_build_info(version=__version__, engine=service.runtime.value,
                               runtime=service.runtime.value)
        await service.start()
        drain = DrainOnSignal(lambda: service.drain(settings.gaze_shutdown_drain_s))
        drain.install()
        try:
            yield
        finally:
            drain.uninstall()
            await service.stop()
            metrics.close()

    app = FastAPI(title="gazeserve", version=__version__, lifespan=lifespan,
                  summary="Real-time gaze and attention from camera frames")
    install_error_handlers(app)
    app.include_router(http_routes.router)
    app.include_router(websocket.router)
    if settings.gaze_debug_endpoints:
        log.warning("GAZE_DEBUG_ENDPOINTS is on: GET /debug/runtime answers; for tests only")
        app.include_router(debug.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def demo_page() -> FileResponse:
        """The webcam demo page (static files shipped with the package; no CDN)."""
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    # Outermost last: timing sees every answer, CORS headers go on refusals too.
    app.add_middleware(AccessControlMiddleware, policy=access)
    max_body = settings.gaze_max_body_bytes + http_routes.MULTIPART_OVERHEAD_BYTES
    app.add_middleware(BodyLimitsMiddleware, max_bytes=max_body,
                       timeout_s=settings.gaze_body_timeout_s)
    if access.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(access.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Retry-After", "Server-Timing"], max_age=600)
    app.add_middleware(RequestTimingMiddleware, metrics=metrics)
    if access.keys.enabled:
        app.openapi = lambda: _openapi_with_keys(app)  # type: ignore[method-assign]
    return app


def _openapi_with_keys(app: FastAPI) -> dict[str, Any]:
    """The schema, saying that the API takes a key (either header) when keys are configured."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                             routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        schema["security"] = [{"bearer": []}, {"apiKey": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (and `--workers N`): settings from the environment.

    A bad setting or a missing or corrupt model stops the process here with one line on stderr
    (exit status 1), rather than as a traceback from the lifespan.
    """
    try:
        settings = load_settings()
        ModelStore(settings.gaze_model_dir).require_all()
    except (SettingsError, ModelsNotPreparedError) as exc:
        raise SystemExit(f"error: {exc}") from None
    return create_app(settings)
