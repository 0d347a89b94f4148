"""`pip install gazeserve[client]` in a fresh venv: the client alone, light, against a real server.

The package is built from a copy of this checkout (so the build leaves nothing in it) and
installed with its `client` extra from PyPI; the server runs from the project's own venv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.server import running_server

REPO = Path(__file__).resolve().parents[2]
SERVER_ONLY = ("cv2", "ai_edge_litert", "onnxruntime", "fastapi", "uvicorn", "PIL")
"""Modules of the `server` extra that a client-only install must not have (PIL included: numpy
frames are encoded with simplejpeg there)."""
INSTALL_TIMEOUT_S = 240

PROBE = r"""
import importlib.util, json, sys
import numpy as np
import gazeserve.client as client_module
from gazeserve.client import GazeClient, LandmarksFrame, StreamResult

url, photo, heavy = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
out = {"client_file": client_module.__file__,
       "importable": [m for m in heavy if importlib.util.find_spec(m) is not None],
       "loaded": sorted({m.split(".")[0] for m in sys.modules} & set(heavy))}
with GazeClient(url) as client:
    out["health"] = client.health()
    out["ready"] = client.ready()["status"]
    result = client.analyze(photo, include_landmarks=True)
    face = result.faces[0]
    out["yaw_deg"] = face.head_pose.yaw_deg
    pixels = np.asarray(face.landmarks_px)
    out["landmarks_yaw_deg"] = client.analyze_landmarks(
        pixels, result.frame.width, result.frame.height, "pixels").faces[0].head_pose.yaw_deg
    gray = np.full((120, 160, 3), 128, np.uint8)
    out["array_faces"] = len(client.analyze(gray).faces)
    mesh = LandmarksFrame(pixels, result.frame.width, result.frame.height, "pixels")
    events = list(client.stream([photo, mesh, open(photo, "rb").read()], max_in_flight=1))
    out["stream"] = [type(e).__name__ for e in events]
    out["stream_faces"] = [len(e.result.faces) for e in events if isinstance(e, StreamResult)]
print(json.dumps(out))
"""


def _copy_project(target: Path) -> Path:
    """What a wheel is built from: the project file, the readme and the sources."""
    target.mkdir()
    shutil.copy2(REPO / "pyproject.toml", target)
    shutil.copy2(REPO / "README.md", target)
    shutil.copytree(REPO / "src", target / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.so", "build"))
    return target


def _run(args: list[str], timeout_s: float, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout_s, cwd=cwd,
                          env=env, check=False)
    command = " ".join(a if len(a) < 80 else a[:77] + "..." for a in args)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_client_extra_installs_alone_and_talks_to_the_server(
        tmp_path: Path, media: dict[str, Path]) -> None:
    project = _copy_project(tmp_path / "project")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], 60, tmp_path)
    python = str(venv / "bin" / "python")
    _run([python, "-m", "pip", "install", "--no-input", "--quiet", f"{project}[client]"],
         INSTALL_TIMEOUT_S, tmp_path)

    photo = media["grace_hopper.jpg"]
    with running_server({"MAX_QUEUE_SIZE": "8"}) as url:
        probe = _run([python, "-I", "-c", PROBE, url, str(photo), ",".join(SERVER_ONLY)],
                     60, tmp_path)
    out = json.loads(probe.stdout)

    assert Path(out["client_file"]).is_relative_to(venv), "the installed package was used"
    assert out["importable"] == [], f"server-only modules in a client install: {out}"
    assert out["loaded"] == []
    assert out["health"] == {"status": "ok"} and out["ready"] == "ready"
    assert out["landmarks_yaw_deg"] == pytest.approx(out["yaw_deg"], abs=0.05)
    assert out["array_faces"] == 0, "a numpy frame went out as JPEG (simplejpeg) and came back"
    assert out["stream"] == ["StreamResult"] * 3 and out["stream_faces"] == [1, 1, 1]
