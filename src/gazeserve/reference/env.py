"""The private virtual environment that holds MediaPipe 0.10.21, our reference implementation.

MediaPipe 0.10.21 forces numpy<2 and protobuf<5, so it must never share an environment with
gazeserve. It gets its own venv, created once under the user's cache and reused; code that needs
it runs there in a subprocess (see `facemesh.py`).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gazeserve.models.registry import default_cache_dir

MEDIAPIPE_VERSION = "0.10.21"

# What goes into the venv besides mediapipe itself. Without these pins pip backtracks through
# about 1.6 GB of wheels looking for a combination that satisfies mediapipe's numpy<2.
PINS: tuple[str, ...] = (
    # The mediapipe wheel is built against the numpy 1.x ABI.
    "numpy<2",
    # mediapipe requires jax unpinned; newer jax releases need numpy>=2. 0.7.1 is the pair
    # measured to install with numpy<2 on Python 3.11.
    "jax==0.7.1",
    "jaxlib==0.7.1",
    # mediapipe's own OpenCV dependency; 4.12 and later need numpy>=2. It is the only OpenCV in
    # this venv: opencv-python-headless and opencv-contrib-python overwrite each other's cv2.
    "opencv-contrib-python==4.11.0.86",
)

ENV_VAR = "GAZE_MEDIAPIPE_VENV"
_MARKER = ".gazeserve-ready.json"
_IMPORT_CHECK = "import mediapipe, sys; sys.stdout.write(mediapipe.__version__)"
_INSTALL_TIMEOUT_S = 3600.0
_CHECK_TIMEOUT_S = 120.0


class ReferenceEnvError(RuntimeError):
    """The MediaPipe reference venv could not be created or does not work."""


def default_venv_dir() -> Path:
    """`GAZE_MEDIAPIPE_VENV` when set, else `venv-mediapipe` under the user's gazeserve cache."""
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else default_cache_dir() / "venv-mediapipe"


def venv_python(venv_dir: Path) -> Path:
    """The interpreter of the venv at `venv_dir` (whether or not it exists yet)."""
    if os.name == "nt":
        return venv_dir / "Scripts" / "python.exe"
    return venv_dir / "bin" / "python"


def ensure_mediapipe_env(venv_dir: Path | None = None) -> Path:
    """Returns the python executable of a venv holding mediapipe 0.10.21 and `PINS`.

    Creates the venv on first use (minutes; it downloads jax and OpenCV). Later calls find the
    marker written after a successful install and only run an import check. Safe to call from
    several processes at once: the install is serialised by a lock file beside the venv.

    Raises:
        ReferenceEnvError: the venv could not be created, or mediapipe does not import in it.
    """
    venv_dir = (venv_dir or default_venv_dir()).expanduser().absolute()
    python = venv_python(venv_dir)
    if _is_ready(venv_dir):
        _check_import(python)
        return python
    with _install_lock(venv_dir):
        if not _is_ready(venv_dir):  # another process may have finished it while we waited
            _install(venv_dir, python)
    _check_import(python)
    return python


def _expected_marker() -> dict[str, object]:
    return {"mediapipe": MEDIAPIPE_VERSION, "pins": list(PINS)}


def _is_ready(venv_dir: Path) -> bool:
    marker = venv_dir / _MARKER
    try:
        recorded = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(recorded, dict):
        return False
    # Compared without the timing field, so changing a pin here triggers a reinstall.
    return {key: recorded.get(key) for key in _expected_marker()} == _expected_marker()


@contextmanager
def _install_lock(venv_dir: Path) -> Iterator[None]:
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = venv_dir.with_name(venv_dir.name + ".lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _install(venv_dir: Path, python: Path) -> None:
    if venv_dir.exists() and any(venv_dir.iterdir()) and not (venv_dir / "pyvenv.cfg").is_file():
        raise ReferenceEnvError(
            f"{venv_dir} exists and is not a virtual environment; remove it or set {ENV_VAR}"
        )
    started = time.monotonic()
    # An unfinished venv from an interrupted run is reused: pip skips what is already there.
    if not python.is_file():
        _run([sys.executable, "-m", "venv", str(venv_dir)], "create the venv", venv_dir)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
           "--only-binary=:all:", _mediapipe_requirement(), *PINS]
    _run(pip, f"install mediapipe {MEDIAPIPE_VERSION}", venv_dir)
    _check_import(python)
    marker = {**_expected_marker(), "install_s": round(time.monotonic() - started, 1)}
    (venv_dir / _MARKER).write_text(json.dumps(marker, indent=1) + "\n")


def _mediapipe_requirement() -> str:
    """The wheel that `models.wheels.download_wheel` cached, if any, else the name for pip."""
    wheel_dir = default_cache_dir() / "wheels"
    cached = sorted(wheel_dir.glob(f"mediapipe-{MEDIAPIPE_VERSION}-*.whl"))
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    matching = [p for p in cached if f"-{tag}-" in p.name]
    return str(matching[-1]) if matching else f"mediapipe=={MEDIAPIPE_VERSION}"


def _run(cmd: list[str], what: str, venv_dir: Path) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              timeout=_INSTALL_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReferenceEnvError(f"could not {what} in {venv_dir}: {exc}") from exc
    if proc.returncode != 0:
        raise ReferenceEnvError(f"could not {what} in {venv_dir}: {_last_line(proc.stderr)}")


def _check_import(python: Path) -> None:
    try:
        proc = subprocess.run([str(python), "-I", "-c", _IMPORT_CHECK], capture_output=True,
                              text=True, check=False, timeout=_CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReferenceEnvError(f"mediapipe import check failed with {python}: {exc}") from exc
    if proc.returncode != 0 or proc.stdout.strip() != MEDIAPIPE_VERSION:
        detail = _last_line(proc.stderr) if proc.returncode else f"version {proc.stdout.strip()!r}"
        raise ReferenceEnvError(
            f"mediapipe {MEDIAPIPE_VERSION} does not import with {python} ({detail}); "
            f"delete {python.parent.parent} to rebuild it"
        )


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
