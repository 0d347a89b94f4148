"""Observability: Prometheus metrics, stage timers, the request-timing middleware, /metrics.json.

At start-up the service creates one :class:`Metrics`, installs it for the timers with
:func:`use_metrics`, hands it to the frame queue (as its listener) and to
:class:`RequestTimingMiddleware`, and serves :func:`render_prometheus` and :func:`build_snapshot`
of it. Under ``uvicorn --workers N`` the launcher calls :func:`prepare_multiprocess_dir` and
sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start.
"""

from gazeserve.observability.exposition import render_prometheus
from gazeserve.observability.metrics import (
    HTTP_BUCKETS_S,
    STAGE_BUCKETS_S,
    BuildInfo,
    Metrics,
    Stage,
)
from gazeserve.observability.middleware import RequestTimingMiddleware, route_template
from gazeserve.observability.multiprocess import (
    ENV_VAR,
    mark_process_dead,
    multiprocess_dir,
    multiprocess_registry,
    prepare_multiprocess_dir,
    reap_dead_processes,
)
from gazeserve.observability.snapshot import HistogramData, build_snapshot, histogram_quantile
from gazeserve.observability.timers import (
    Stopwatch,
    current_metrics,
    performance_timer,
    timer,
    use_metrics,
)

__all__ = [
    "ENV_VAR",
    "HTTP_BUCKETS_S",
    "STAGE_BUCKETS_S",
    "BuildInfo",
    "HistogramData",
    "Metrics",
    "RequestTimingMiddleware",
    "Stage",
    "Stopwatch",
    "build_snapshot",
    "current_metrics",
    "histogram_quantile",
    "mark_process_dead",
    "multiprocess_dir",
    "multiprocess_registry",
    "performance_timer",
    "prepare_multiprocess_dir",
    "reap_dead_processes",
    "render_prometheus",
    "route_template",
    "timer",
    "use_metrics",
]
