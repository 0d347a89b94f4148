"""Host side of the MediaPipe comparison: `mediapipe_worker.py`, kept running in the MediaPipe
venv while the benchmark interleaves its scenarios with ours.

The frames cross to the subprocess once, as raw pixels on its stdin, so both sides run on the
very same decoded frames; the worker answers with the sha256 of what it received, which must
match ours. Our environment keeps numpy 2; MediaPipe's has numpy 1.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from gazeserve.bench.frames import BenchFrames
from gazeserve.bench.inprocess import Samples

WORKER = Path(__file__).with_name("mediapipe_worker.py")

SCENARIOS = {
    "new_instance": ("a", "a new FaceMesh per frame", "single"),
    "static": ("b", "one reused FaceMesh, static mode", "single"),
    "tracking": ("c", "one reused FaceMesh, tracking", "tracking"),
    "threads": ("d", "one FaceMesh per thread, tracking", "tracking"),
}
"""Worker scenario -> (letter used in the issue and the report, description, mode)."""

_STDERR_TAIL_LINES = 20


class MediaPipeBenchError(RuntimeError):
    """The MediaPipe worker failed, or saw other frames than ours."""


def scenario_name(scenario: str, threads: int) -> tuple[str, str]:
    """(name, label) of a MediaPipe scenario, e.g. `mediapipe.c.tracking`."""
    letter, description, _ = SCENARIOS[scenario]
    label = f"MediaPipe ({letter}) {description}"
    if threads > 1:
        label += f", {threads} threads"
    return f"mediapipe.{letter}.{scenario}", label


class MediaPipeWorker:
    """MediaPipe 0.10.21 FaceMesh (refine_landmarks=True) in its own process, holding `frames`.

    Raises (when built):
        ReferenceEnvError: the MediaPipe venv could not be made ready.
        MediaPipeBenchError: the worker failed to start, or received other pixels than ours.
    """

    def __init__(self, frames: BenchFrames, venv_dir: Path | None = None) -> None:
        from gazeserve.reference.env import ensure_mediapipe_env

        python = ensure_mediapipe_env(venv_dir)
        # Held for the worker's lifetime (its stderr), closed by close().
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        # -I: the worker must see neither PYTHONPATH nor its own folder (gazeserve code).
        self._proc = subprocess.Popen([str(python), "-I", str(WORKER)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._log)
        header = {"count": len(frames.frames), "height": frames.height, "width": frames.width}
        try:
            self._write(json.dumps(header).encode() + b"\n" + frames.raw_bytes())
            hello = self._read()
        except MediaPipeBenchError:
            self.close()
            raise
        self.version = str(hello["mediapipe"])
        if hello.get("sha256") != frames.sha256:
            self.close()
            raise MediaPipeBenchError(f"MediaPipe received other frames (sha256 "
                                      f"{hello.get('sha256')} != {frames.sha256})")

    def run(self, scenario: str, order: Sequence[int], warmup: int, threads: int = 1
            ) -> Samples:
        """Runs one scenario over `order`; only the FaceMesh calls are timed."""
        command = {"scenario": scenario, "order": list(order), "warmup": warmup,
                   "threads": threads}
        self._write(json.dumps(command).encode() + b"\n")
        answer = self._read()
        if "error" in answer:
            raise MediaPipeBenchError(f"MediaPipe scenario {scenario} failed: {answer['error']}")
        return Samples(int(answer["threads"]), [float(v) for v in answer["latencies_ms"]], {},
                       float(answer["wall_s"]), int(answer["faces_found"]))

    def _write(self, data: bytes) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            stdin.flush()
        except BrokenPipeError as exc:
            raise self._failure() from exc

    def _read(self) -> dict[str, Any]:
        stdout = self._proc.stdout
        assert stdout is not None
        line = stdout.readline()
        if not line:
            raise self._failure()
        try:
            answer: dict[str, Any] = json.loads(line)
        except ValueError as exc:
            raise MediaPipeBenchError(f"MediaPipe worker wrote no valid answer ({exc})") from exc
        return answer

    def _failure(self) -> MediaPipeBenchError:
        code = self._proc.wait(timeout=30)
        self._log.seek(0)
        lines = self._log.read().decode(errors="replace").strip().splitlines()
        tail = "\n".join(lines[-_STDERR_TAIL_LINES:])
        return MediaPipeBenchError(f"MediaPipe worker exited with {code}:\n{tail}")

    def close(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
