"""Multiprocess mode with real worker processes, as under ``uvicorn --workers N``.

Two spawned children, started with ``PROMETHEUS_MULTIPROC_DIR`` set, count frames and time
stages; the figures read from the directory (by this process, and by one of the children through
its own Metrics, as a worker answering /metrics does) are the sums over both.
"""

from __future__ import annotations

import multiprocessing as mp
import shutil
import subprocess
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gazeserve import __version__
from gazeserve.observability import (
    ENV_VAR,
    BuildInfo,
    Metrics,
    build_snapshot,
    mark_process_dead,
    multiprocess_registry,
    prepare_multiprocess_dir,
    reap_dead_processes,
    render_prometheus,
)

TIMEOUT_S = 60

FRAMES = (5, 7)
"""Frames each child receives; each processes all but one and drops that one as stale."""


def child(
    index: int, path: str, ready: Event, read: Event, done: Event, results: Any
) -> None:  # pragma: no cover (runs in a child process)
    metrics = Metrics(BuildInfo(engine="pending", runtime="pending"))
    metrics.set_build_info(engine="litert", runtime="ai-edge-litert 2.3.0")
    assert metrics.multiprocess_dir == Path(path), metrics.multiprocess_dir
    frames = FRAMES[index]
    for _ in range(frames):
        metrics.on_submit(5)
    for _ in range(frames - 1):
        metrics.on_processed(processing_s=0.01 * (index + 1), wait_s=0.001)
        metrics.observe_timings({"decode": 2.0, "total": 10.0})
    metrics.on_drop("stale")
    metrics.on_depth(2 + index)
    metrics.set_active_streams(1)
    ready.set()
    if index == 0:
        read.wait(TIMEOUT_S)
        body, _ = render_prometheus(metrics)
        results.put((body.decode(), build_snapshot(metrics, None, {})))
    done.wait(TIMEOUT_S)
    if index == 0:
        metrics.close()  # a graceful shutdown withdraws its live gauges; child 1 just exits


def values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_workers_add_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "prom"
    (directory).mkdir()
    (directory / "counter_12345.db").write_bytes(b"stale file of an earlier run")
    (directory / "keep.txt").write_text("not ours")
    prepare_multiprocess_dir(directory)
    assert [p.name for p in directory.iterdir()] == ["keep.txt"]
    monkeypatch.setenv(ENV_VAR, str(directory))  # children inherit it at spawn

    ctx = mp.get_context("spawn")
    ready = [ctx.Event(), ctx.Event()]
    read, done = ctx.Event(), ctx.Event()
    results = ctx.Queue()
    procs = [
        ctx.Process(target=child, args=(i, str(directory), ready[i], read, done, results))
        for i in range(2)
    ]
    for p in procs:
        p.start()
    try:
        for event in ready:
            assert event.wait(TIMEOUT_S), "a child did not start"

        # Read by this process, while both workers are alive.
        body, _ = render_prometheus(multiprocess_registry(directory))
        text = body.decode()
        live = values(text)
        assert live[("gazeserve_frames_received_total", frozenset())] == sum(FRAMES)
        assert live[("gazeserve_frames_processed_total", frozenset())] == sum(FRAMES) - 2
        stale = frozenset({("reason", "stale")})
        assert live[("gazeserve_frames_dropped_total", stale)] == 2
        decode = frozenset({("stage", "decode")})
        assert live[("gazeserve_stage_seconds_count", decode)] == sum(FRAMES) - 2
        assert live[("gazeserve_queue_depth", frozenset())] == 2 + 3  # livesum
        assert live[("gazeserve_active_streams", frozenset())] == 2
        build = {"version": __version__, "engine": "litert", "runtime": "ai-edge-litert 2.3.0"}
        assert live[("gazeserve_build_info", frozenset(build.items()))] == 1  # max, not summed
        # A replaced build stays in the files, at 0 (multiprocess files cannot forget a series).
        pending = {"version": __version__, "engine": "pending", "runtime": "pending"}
        assert live[("gazeserve_build_info", frozenset(pending.items()))] == 0
        if shutil.which("promtool"):
            checked = subprocess.run(
                ["promtool", "check", "metrics"], input=body, capture_output=True, check=False
            )
            assert checked.returncode == 0, checked.stdout + checked.stderr

        # Read by a worker through its own Metrics, as GET /metrics.json does.
        read.set()
        worker_text, snap = results.get(timeout=TIMEOUT_S)
        assert values(worker_text)[("gazeserve_frames_received_total", frozenset())] == 12
        queue = snap["queue"]
        assert queue["frames_received"] == 12
        assert queue["frames_processed"] == 10
        assert queue["dropped_by_reason"] == {"stale": 2}
        assert queue["depth"] == 5
        assert queue["avg_processing_time"] == pytest.approx((4 * 0.01 + 6 * 0.02) / 10)
        assert snap["performance"]["operations"]["decode"]["total_calls"] == 10
        assert snap["performance"]["operations"]["decode"]["avg_time"] == pytest.approx(0.002)
    finally:
        done.set()
        for p in procs:
            p.join(TIMEOUT_S)
            if p.is_alive():  # pragma: no cover
                p.kill()
    assert [p.exitcode for p in procs] == [0, 0]

    # Child 0 withdrew its live gauges on close; child 1 exited without, and is reaped.
    assert reap_dead_processes(directory) == [procs[1].pid]
    after = build_snapshot(multiprocess_registry(directory), None, {})
    assert after["queue"]["depth"] == 0
    assert after["queue"]["frames_received"] == 12  # totals never go backwards


def test_prepare_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(NotADirectoryError):
        prepare_multiprocess_dir(target)
    prepare_multiprocess_dir(tmp_path / "new" / "dir")
    assert (tmp_path / "new" / "dir").is_dir()


def test_marking_a_process_dead_removes_only_its_live_gauges(tmp_path: Path) -> None:
    names = ["gauge_livesum_12.db", "gauge_livemax_12.db", "gauge_livesum_112.db"]
    names += ["counter_12.db", "histogram_12.db", "gauge_min_12.db"]
    for name in names:
        (tmp_path / name).write_bytes(b"")

    mark_process_dead(12, tmp_path)
    mark_process_dead(12, tmp_path)  # again, as a second worker racing the first would

    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "counter_12.db",
        "gauge_livesum_112.db",
        "gauge_min_12.db",
        "histogram_12.db",
    ]
