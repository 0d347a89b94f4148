"""A pure ASGI middleware that times every HTTP request by route template, method and status.

Pure ASGI (not Starlette's ``BaseHTTPMiddleware``) so that WebSockets, lifespan and streaming
responses pass through untouched. Nothing of the request or response body is read or logged.

Usage::

    app.add_middleware(RequestTimingMiddleware, metrics=metrics)
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gazeserve.observability.metrics import OTHER


class HttpObserver(Protocol):
    """Where requests are recorded (a :class:`~gazeserve.observability.Metrics`)."""

    def observe_http(self, route: str, method: str, status: int, seconds: float) -> None: ...


class RequestTimingMiddleware:
    """Records ``gazeserve_http_request_seconds{route,method,status}`` for each HTTP request.

    The time runs from the request's arrival until the app has sent the whole response. A
    request that raises before a response started is recorded with status 500, which is what
    Starlette's outermost error handler then answers.

    Args:
        app: The ASGI app to wrap.
        metrics: Where to record.
    """

    def __init__(self, app: ASGIApp, metrics: HttpObserver) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start = time.perf_counter_ns()
        arrived = dict(scope)  # routing and mounts change the scope in place
        status = 500

        async def send_timed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_timed)
        finally:
            seconds = (time.perf_counter_ns() - start) / 1e9
            route = route_template(scope, arrived)
            self.metrics.observe_http(route, scope.get("method", ""), status, seconds)


def route_template(scope: Mapping[str, Any], arrived: Mapping[str, Any] | None = None) -> str:
    """The template of the route that handled a request (``/v1/streams/{id}``), else ``other``.

    The router leaves the matched route in ``scope["route"]`` (Starlette and FastAPI do for their
    own routes). Without it (a ``Mount`` under FastAPI's router, a 404, a slash redirect) the
    app's routes are matched again against the request as it arrived; a request that matches
    none is ``other``, so raw paths never become label values.

    Args:
        scope: The request's scope, after the app has handled it.
        arrived: A copy of the scope as the request arrived (``scope`` itself by default).
    """
    arrived = scope if arrived is None else arrived
    route = scope.get("route")
    path_format = getattr(route, "path_format", None)
    if isinstance(route, BaseRoute) and isinstance(path_format, str):
        if isinstance(route, Mount):
            return path_format
        # Inside a Mount, the template is relative to what the mount added to root_path.
        root_path, mounted = arrived.get("root_path", ""), scope.get("root_path", "")
        prefix = mounted[len(root_path) :] if mounted.startswith(root_path) else ""
        return prefix + path_format
    routes: Iterable[BaseRoute] = getattr(arrived.get("app"), "routes", ())
    for candidate in routes:
        match, _ = candidate.matches(dict(arrived))
        path_format = getattr(candidate, "path_format", None)
        if match is not Match.NONE and isinstance(path_format, str):
            return path_format
    return OTHER
