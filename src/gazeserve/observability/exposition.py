"""The Prometheus text exposition of any collector (a :class:`Metrics`, a registry)."""

from __future__ import annotations

from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from gazeserve.observability.timers import current_metrics


def render_prometheus(
    source: Collector | None = None, accept: str | None = None
) -> tuple[bytes, str]:
    """Renders ``source`` for a scrape: ``(body, content_type)``.

    Args:
        source: What to expose; by default the metrics installed with
            :func:`~gazeserve.observability.use_metrics`. A
            :class:`~gazeserve.observability.Metrics` merges all workers in multiprocess mode.
        accept: The request's ``Accept`` header. Prometheus asks for OpenMetrics and gets it,
            ``text/plain; version=1.0.0`` gets that; anything else, or no header, the classic
            text format 0.0.4.

    Raises:
        RuntimeError: No ``source`` given and no metrics installed.
    """
    if source is None:
        source = current_metrics()
        if source is None:
            raise RuntimeError("no metrics to render: call use_metrics(metrics) at start-up")
    encoder, content_type = choose_encoder(accept or "")
    return encoder(source), content_type
