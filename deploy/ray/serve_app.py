"""gazeserve on Ray Serve: the same FastAPI app, HTTP and WebSocket, as replicas behind Ray's proxy.

For users who outgrow one machine. Each replica is one gazeserve server process: it builds the app
with :func:`gazeserve.server.app.app_from_env` (settings from the environment, as under uvicorn),
runs its lifespan (models loaded and warmed) before it takes traffic, and keeps its own frame
queue, inference threads and streams.

Run it (from the repository root, in the environment where ``gazeserve`` and ``ray[serve]`` are
installed; models prepared on every node)::

    MAX_WORKERS=1 GAZE_RAY_NUM_REPLICAS=2 python deploy/ray/serve_app.py   # local Ray, port 8000
    serve run deploy.ray.serve_app:app                                     # same, Serve's CLI

Replicas and autoscaling come from the environment of the process that deploys (see
:class:`RayServeOptions`); the gazeserve settings (``MAX_WORKERS``, ``MAX_QUEUE_SIZE``, ``GAZE_*``)
set there are handed to every replica, on any node.

Stream affinity:

* A WebSocket (``/v1/stream``) is one request for Ray: it stays on one replica for its whole
  life, so tracking, smoothing and calibration just work.
* ``POST /v1/gaze?stream_id=...`` requests are routed one by one. By default
  (``GAZE_RAY_STREAM_AFFINITY=true``) the deployment uses Ray's consistent-hash router on the
  session header (``x-session-id``, or the name in ``RAY_SERVE_SESSION_ID_HEADER_KEY``): clients
  that need tracking send their ``stream_id`` in that header too, and all frames of the stream
  reach the same replica while the set of replicas is unchanged. When replicas are added or
  removed, or the chosen replica is saturated, a stream may move: the new replica starts the
  stream afresh (detector on the first frame, filters reset), which costs one detector run and
  is never wrong, only less smooth. Every HTTP response carries ``x-gazeserve-replica`` so a
  client can see when its stream moved.
* Requests without the header are spread evenly.

Metrics: the replicas of one node write their Prometheus metrics to one shared folder
(prometheus_client's multiprocess mode), so ``/metrics`` answered by any replica on a node
reports the sum over that node's replicas: on one node, the whole service. On several nodes
Ray's proxy may route a scrape to any node (docs/operations.md, "Ray Serve").
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ray import serve
from ray.cloudpickle import register_pickle_by_value
from ray.serve.config import AutoscalingConfig, RequestRouterConfig
from ray.serve.deployment import Deployment
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gazeserve.config import Settings
from gazeserve.observability.multiprocess import ENV_VAR as MULTIPROC_ENV

# Replicas on other nodes need only `gazeserve` installed, not this file: the deployment's code
# travels with it.
register_pickle_by_value(sys.modules[__name__])  # type: ignore[no-untyped-call]

REPLICA_HEADER = "x-gazeserve-replica"
"""Response header naming the replica that answered (Ray's replica id)."""

STREAM_AFFINITY_ROUTER = (
    "ray.serve.experimental.consistent_hash_router.ConsistentHashRouter"
)
"""Ray's router that maps a session header to a replica by consistent hashing (Ray 2.60)."""

AUTO = "auto"


class RayServeOptionsError(ValueError):
    """A ``GAZE_RAY_*`` variable has a bad value; the message names it."""


@dataclass(frozen=True)
class RayServeOptions:
    """How the Serve deployment is sized and routed. Validated when built.

    Attributes:
        num_replicas: Fixed number of replicas, or ``None`` to autoscale between
            ``min_replicas`` and ``max_replicas`` (env ``GAZE_RAY_NUM_REPLICAS``, an integer or
            ``auto``; default 1).
        min_replicas: Autoscaling lower bound (``GAZE_RAY_MIN_REPLICAS``, default 1).
        max_replicas: Autoscaling upper bound (``GAZE_RAY_MAX_REPLICAS``, default 4).
        max_ongoing_requests: Requests a replica holds at once, open WebSockets included
            (``GAZE_RAY_MAX_ONGOING_REQUESTS``, default 64). Ray's own default, 5, would cap a
            replica at 5 camera streams; frames beyond what the replica can run are shed by its
            frame queue (503 with Retry-After, or a ``dropped`` message), not queued in Ray.
        target_ongoing_requests: Ongoing requests per replica the autoscaler aims at
            (``GAZE_RAY_TARGET_ONGOING_REQUESTS``, default 8).
        cpus_per_replica: CPUs Ray reserves per replica (``GAZE_RAY_CPUS_PER_REPLICA``,
            default: the replica's inference threads, ``MAX_WORKERS``).
        stream_affinity: Route HTTP requests by the session header
            (``GAZE_RAY_STREAM_AFFINITY``, default true).
        shared_metrics: One Prometheus multiprocess folder per node for all replicas
            (``GAZE_RAY_SHARED_METRICS``, default true).
    """

    num_replicas: int | None = 1
    min_replicas: int = 1
    max_replicas: int = 4
    max_ongoing_requests: int = 64
    target_ongoing_requests: float = 8.0
    cpus_per_replica: float = 1.0
    stream_affinity: bool = True
    shared_metrics: bool = True

    def __post_init__(self) -> None:
        if self.num_replicas is not None and self.num_replicas < 1:
            raise RayServeOptionsError(
                f"GAZE_RAY_NUM_REPLICAS must be >= 1 or 'auto', got {self.num_replicas}")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise RayServeOptionsError(
                "GAZE_RAY_MIN_REPLICAS and GAZE_RAY_MAX_REPLICAS must satisfy "
                f"1 <= min <= max, got {self.min_replicas} and {self.max_replicas}")
        if self.max_ongoing_requests < 1:
            raise RayServeOptionsError(
                f"GAZE_RAY_MAX_ONGOING_REQUESTS must be >= 1, got {self.max_ongoing_requests}")
        if not 0 < self.target_ongoing_requests <= self.max_ongoing_requests:
            raise RayServeOptionsError(
                "GAZE_RAY_TARGET_ONGOING_REQUESTS must be in (0, GAZE_RAY_MAX_ONGOING_REQUESTS], "
                f"got {self.target_ongoing_requests}")
        if self.cpus_per_replica < 0:
            raise RayServeOptionsError(
                f"GAZE_RAY_CPUS_PER_REPLICA must be >= 0, got {self.cpus_per_replica}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RayServeOptions:
        """Options from ``GAZE_RAY_*`` variables (``os.environ`` by default)."""
        env = os.environ if env is None else env
        replicas = env.get("GAZE_RAY_NUM_REPLICAS", "1").strip().lower()
        default_cpus = float(_int(env, "MAX_WORKERS", os.cpu_count() or 1))
        return cls(
            num_replicas=None if replicas == AUTO else _int(env, "GAZE_RAY_NUM_REPLICAS", 1),
            min_replicas=_int(env, "GAZE_RAY_MIN_REPLICAS", 1),
            max_replicas=_int(env, "GAZE_RAY_MAX_REPLICAS", 4),
            max_ongoing_requests=_int(env, "GAZE_RAY_MAX_ONGOING_REQUESTS", 64),
            target_ongoing_requests=_float(env, "GAZE_RAY_TARGET_ONGOING_REQUESTS", 8.0),
            cpus_per_replica=_float(env, "GAZE_RAY_CPUS_PER_REPLICA", default_cpus),
            stream_affinity=_bool(env, "GAZE_RAY_STREAM_AFFINITY", True),
            shared_metrics=_bool(env, "GAZE_RAY_SHARED_METRICS", True),
        )

    def deployment_options(self, replica_env: Mapping[str, str]) -> dict[str, Any]:
        """Keyword arguments for ``Deployment.options``; ``replica_env`` goes to each replica."""
        options: dict[str, Any] = {
            "max_ongoing_requests": self.max_ongoing_requests,
            "ray_actor_options": {"num_cpus": self.cpus_per_replica,
                                  "runtime_env": {"env_vars": dict(replica_env)}},
        }
        if self.num_replicas is None:
            options["autoscaling_config"] = AutoscalingConfig(
                min_replicas=self.min_replicas, max_replicas=self.max_replicas,
                target_ongoing_requests=self.target_ongoing_requests)
        else:
            options["num_replicas"] = self.num_replicas
        if self.stream_affinity:
            options["request_router_config"] = RequestRouterConfig(
                # An import path is what Ray documents; its annotation says otherwise.
                request_router_class=STREAM_AFFINITY_ROUTER,  # type: ignore[arg-type]
            )
        return options


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise RayServeOptionsError(f"{name} must be an integer, got {raw!r}") from None


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise RayServeOptionsError(f"{name} must be a number, got {raw!r}") from None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise RayServeOptionsError(f"{name} must be true or false, got {raw!r}")


def replica_environment(shared_metrics: bool,
                        env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables every replica gets: the gazeserve settings set here, and the metrics folder.

    The metrics folder is new for each deployment (a fresh name under the node's temporary
    folder), so counters never mix with an earlier run's.
    """
    env = os.environ if env is None else env
    names = {name.upper() for name in Settings.model_fields}
    replica_env = {name: value for name, value in env.items() if name in names}
    if shared_metrics:
        replica_env[MULTIPROC_ENV] = str(
            Path(tempfile.gettempdir()) / f"gazeserve-ray-metrics-{uuid.uuid4().hex[:12]}")
    return replica_env


class ReplicaHeaderMiddleware:
    """Adds ``x-gazeserve-replica: <id>`` to every HTTP response (pure ASGI)."""

    def __init__(self, app: ASGIApp, replica_id: str) -> None:
        self.app = app
        self.header = (REPLICA_HEADER.encode(), replica_id.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, send_with_header)


class GazeReplica:
    """One gazeserve server per replica; its app is built in the replica, never in the driver.

    `serve.ingress()` without an app has Serve call ``__serve_build_asgi_app__`` in the replica
    and then run the app's lifespan (models loaded and warmed) before the replica takes traffic.
    """

    def __serve_build_asgi_app__(self) -> ASGIApp:
        from gazeserve.server.app import app_from_env

        directory = os.environ.get(MULTIPROC_ENV)
        if directory:
            # A fresh folder per deployment (see `replica_environment`): create, never empty it,
            # other replicas of this node are writing there already.
            Path(directory).mkdir(parents=True, exist_ok=True)
        app = app_from_env()
        replica = serve.get_replica_context().replica_id.unique_id
        app.add_middleware(ReplicaHeaderMiddleware, replica_id=replica)
        self._fastapi = app
        return app

    def check_health(self) -> None:
        """Ray restarts a replica whose service is not ready (models lost, workers stopped)."""
        service = getattr(self._fastapi.state, "service", None)
        if service is None or not service.ready:
            raise RuntimeError("gazeserve is not ready")


GazeDeployment: Deployment = serve.deployment(name="gazeserve")(serve.ingress()(GazeReplica))


def build_app(options: RayServeOptions | None = None,
              env: Mapping[str, str] | None = None) -> serve.Application:
    """The Serve application, sized by ``options`` (from the environment by default)."""
    options = options or RayServeOptions.from_env(env)
    replica_env = replica_environment(options.shared_metrics, env)
    return GazeDeployment.options(**options.deployment_options(replica_env)).bind()


def __getattr__(name: str) -> Any:
    # `serve run deploy.ray.serve_app:app`: built on first access, so importing this module
    # reads no environment and builds nothing.
    if name == "app":
        return build_app()
    raise AttributeError(name)


def main() -> None:
    """Starts a local Ray, deploys on ``GAZE_HOST:GAZE_PORT`` (default 127.0.0.1:8000), blocks."""
    import ray

    host = os.environ.get("GAZE_HOST", "127.0.0.1")
    port = int(os.environ.get("GAZE_PORT", "8000"))
    ray.init()
    try:
        serve.start(http_options={"host": host, "port": port})
        serve.run(build_app(), name="gazeserve", route_prefix="/", blocking=True)
    except KeyboardInterrupt:
        pass
    finally:
        serve.shutdown()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
