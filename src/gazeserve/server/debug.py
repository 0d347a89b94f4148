"""`GET /debug/runtime`, for leak tests only: mounted when `GAZE_DEBUG_ENDPOINTS=true` (off by
default; a warning is logged at start-up when on). Counts only, nothing of a person."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gazeserve.server.service import GazeService

router = APIRouter(include_in_schema=False)


@router.get("/debug/runtime")
async def runtime(request: Request, collect: bool = False) -> Response:
    """Tasks, threads, fds, connections, streams, the queue and RSS; `collect=true` runs the
    garbage collector first."""
    if collect:
        gc.collect()
    service: GazeService = request.app.state.service
    counts = {**service.runtime_counts(), "rss_bytes": rss_bytes()}
    return Response(orjson.dumps(counts), media_type="application/json")


def rss_bytes() -> int | None:
    """Resident memory now (Linux `/proc/self/statm`: pages, second field)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")
