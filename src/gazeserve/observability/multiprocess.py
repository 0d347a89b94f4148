"""prometheus_client's multiprocess mode, for ``uvicorn --workers N``.

Each worker process writes its metrics to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR``;
whichever worker answers a scrape reads and merges the files of all of them. The directory must
be set (and emptied) before the first worker starts, because prometheus_client chooses where
values live when it is first imported.
"""

from __future__ import annotations

import os
from pathlib import Path

from prometheus_client import CollectorRegistry, values
from prometheus_client import multiprocess as _mp

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"

_LIVE_GAUGE_PREFIX = "gauge_live"


def prepare_multiprocess_dir(path: str | os.PathLike[str]) -> None:
    """Creates ``path`` if needed and removes the metric files an earlier run left there.

    Call it in the launcher, before any worker starts. Only prometheus_client's ``*.db`` files
    are removed, so a directory pointed at by mistake loses nothing else.

    Raises:
        NotADirectoryError: ``path`` exists and is not a directory.
    """
    directory = Path(path)
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{ENV_VAR} must name a directory, got a file: {directory}")
    directory.mkdir(parents=True, exist_ok=True)
    for db in directory.glob("*.db"):
        db.unlink(missing_ok=True)


def multiprocess_dir() -> Path | None:
    """The directory this process writes its metrics to, or ``None`` in single-process mode.

    Multiprocess mode needs both the environment variable and prometheus_client having seen it
    at import. If the variable was set only after the import, this process keeps its values in
    memory, and its own registry is the truth: ``None`` is returned.

    Raises:
        RuntimeError: prometheus_client writes to files but the variable is no longer set.
    """
    configured = os.environ.get(ENV_VAR)
    writes_files = values.ValueClass is not values.MutexValue
    if writes_files and not configured:
        raise RuntimeError(
            f"prometheus_client was imported with {ENV_VAR} set, but it is unset now; "
            "leave it set for the life of the process"
        )
    if not writes_files or not configured:
        return None
    return Path(configured)


def multiprocess_registry(path: str | os.PathLike[str]) -> CollectorRegistry:
    """A fresh registry that merges every process's files in ``path`` when collected."""
    registry = CollectorRegistry()
    _mp.MultiProcessCollector(registry, path=str(path))  # type: ignore[no-untyped-call]
    return registry


def mark_process_dead(pid: int, path: str | os.PathLike[str]) -> None:
    """Forgets the live gauges (queue depth, streams, workers) of a process that has exited.

    Counters and histograms of the dead process are kept: totals must not go backwards. Does
    what ``prometheus_client.multiprocess.mark_process_dead`` does, but tolerates another
    worker removing the same files at the same moment.
    """
    for db in Path(path).glob(f"{_LIVE_GAUGE_PREFIX}*_{pid}.db"):
        db.unlink(missing_ok=True)


def reap_dead_processes(path: str | os.PathLike[str]) -> list[int]:
    """Marks dead every process whose live-gauge files remain in ``path`` but which has exited.

    uvicorn's supervisor restarts a crashed worker but offers no hook to call
    :func:`mark_process_dead`, so the worker answering a scrape does it. Returns the pids reaped.
    """
    reaped = []
    for pid in sorted(_live_gauge_pids(Path(path))):
        if not _is_alive(pid):
            mark_process_dead(pid, path)
            reaped.append(pid)
    return reaped


def _live_gauge_pids(directory: Path) -> set[int]:
    pids = set()
    for db in directory.glob(f"{_LIVE_GAUGE_PREFIX}*_*.db"):  # gauge_livesum_1234.db
        suffix = db.stem.rsplit("_", 1)[-1]
        if suffix.isdigit():
            pids.add(int(suffix))
    return pids


def _is_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True
