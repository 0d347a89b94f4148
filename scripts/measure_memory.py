"""Memory of one gazeserve server process: at start, after warm-up, and per open stream.

The figures behind the sizing section of docs/operations.md. Starts `gazeserve serve` (one
process) on a free loopback port for each MAX_WORKERS value, sends real frames of the sample
video, and reads the process's resident set size (VmRSS, Linux) from /proc:

    python scripts/measure_memory.py [--workers 1 2] [--frames 200] [--streams 500]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx

from gazeserve.imaging.video import iter_video_frames
from gazeserve.sample_media import fetch_samples


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jpeg_frames(limit: int = 60) -> list[bytes]:
    frames = []
    for frame in iter_video_frames(fetch_samples()["single_face.mp4"]):
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, 80])
        assert ok
        frames.append(buf.tobytes())
        if len(frames) >= limit:
            break
    return frames


def burst(url: str, frames: list[bytes], clients: int, n_frames: int) -> None:
    def send(k: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(k, n_frames, clients):
                response = client.post("/v1/gaze", content=frames[i % len(frames)],
                                       headers={"content-type": "image/jpeg"})
                if response.status_code not in (200, 503):  # 503: shed under overload
                    response.raise_for_status()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, range(clients)))


def measure(max_workers: int, frames: list[bytes], n_frames: int, n_streams: int) -> None:
    port = free_port()
    env = {**os.environ, "GAZE_HOST": "127.0.0.1", "GAZE_PORT": str(port),
           "MAX_WORKERS": str(max_workers), "GAZE_LOG_LEVEL": "warning"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "gazeserve", "serve"], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() - started > 120:
                    raise RuntimeError("server did not become ready")
                time.sleep(0.05)
            ready_s = time.monotonic() - started
            pid = client.get("/metrics.json").json()["system"]["pid"]
            at_ready = rss_mib(pid)
            t0 = time.perf_counter()
            for i in range(n_frames):
                client.post("/v1/gaze", content=frames[i % len(frames)],
                            params={"stream_id": "warm-up"},
                            headers={"content-type": "image/jpeg"}).raise_for_status()
            per_frame_ms = (time.perf_counter() - t0) / n_frames * 1000
            # Concurrent frames make every inference thread build its own interpreters.
            burst(url, frames, clients=2 * max_workers, n_frames=n_frames)
            warm = rss_mib(pid)
            for i in range(n_streams):
                client.post("/v1/gaze", content=frames[i % len(frames)],
                            params={"stream_id": f"s{i}"},
                            headers={"content-type": "image/jpeg"}).raise_for_status()
            with_streams = rss_mib(pid)
        per_stream_kib = (with_streams - warm) * 1024 / n_streams
        print(f"MAX_WORKERS={max_workers}: ready in {ready_s:.1f} s, RSS {at_ready:.0f} MiB at "
              f"ready, {warm:.0f} MiB after {2 * n_frames} frames, half of them concurrent "
              f"({per_frame_ms:.1f} ms/request sequential), {with_streams:.0f} MiB with "
              f"{n_streams} more streams (~{per_stream_kib:.1f} KiB per stream)")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--streams", type=int, default=500)
    args = parser.parse_args()
    frames = jpeg_frames()
    for workers in args.workers:
        measure(workers, frames, args.frames, args.streams)


if __name__ == "__main__":
    main()
