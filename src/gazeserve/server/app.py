"""The FastAPI application: `create_app(settings)`, models loaded and warmed in the lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from gazeserve import __version__
from gazeserve.config import Settings, load_settings
from gazeserve.observability.metrics import Metrics
from gazeserve.observability.middleware import RequestTimingMiddleware
from gazeserve.observability.timers import use_metrics
from gazeserve.server import http_routes, websocket
from gazeserve.server.errors import install_error_handlers
from gazeserve.server.service import GazeService

log = logging.getLogger("gazeserve.server")

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app; nothing heavy happens until its lifespan starts."""
    settings = settings or load_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        use_metrics(metrics)
        service = GazeService(settings, metrics)
        app.state.service = service
        metrics.set_build_info(version=__version__, engine=service.runtime.value,
                               runtime=service.runtime.value)
        await service.start()
        try:
            yield
        finally:
            await service.stop()
            metrics.close()

    app = FastAPI(title="gazeserve", version=__version__, lifespan=lifespan,
                  summary="Real-time gaze and attention from camera frames")
    install_error_handlers(app)
    app.include_router(http_routes.router)
    app.include_router(websocket.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    async def demo_page() -> FileResponse:
        """The webcam demo page (static files shipped with the package; no CDN)."""
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.add_middleware(RequestTimingMiddleware, metrics=metrics)
    return app


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` (and `--workers N`): settings from the environment."""
    return create_app(load_settings())
