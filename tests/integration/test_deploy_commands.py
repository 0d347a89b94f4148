"""The `gazeserve` commands the Dockerfiles run at build time, run here as they are written.

Only the model folder is moved to a temporary one; the mediapipe wheel comes from the cache that
`make setup` filled, as `gazeserve models prepare` does everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gazeserve.native import build as native_build
from tests.deploy_support import DOCKERFILES, dockerfile_instructions, gazeserve_commands

NATIVE_ENV = native_build.ENV_DIR


def build_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for path in DOCKERFILES:
        for ins in dockerfile_instructions(path):
            if ins.keyword == "RUN":
                commands += [(path.name, cmd) for cmd in gazeserve_commands(ins.args)]
    return commands


def test_the_dockerfiles_run_gazeserve_commands() -> None:
    assert {name for name, _ in build_commands()} == {p.name for p in DOCKERFILES}


def test_build_commands_succeed_as_written(tmp_path: Path) -> None:
    """Each command once (the images share them), with the image's folders moved to tmp_path."""
    env = {**os.environ, NATIVE_ENV: str(tmp_path / "native")}
    seen = set()
    for _, argv in build_commands():
        key = tuple(argv)
        if key in seen:
            continue
        seen.add(key)
        local = [str(tmp_path / "models") if a.startswith("/opt/") else a for a in argv]
        module = "gazeserve" if local[0] == "gazeserve" else local[0]
        result = subprocess.run([sys.executable, "-m", module, *local[1:]], env=env,
                                capture_output=True, text=True, timeout=180, check=False)
        assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stderr}"
    assert seen == {("gazeserve", "models", "prepare", "--model-dir", "/opt/gazeserve/models"),
                    ("gazeserve", "models", "verify", "--model-dir", "/opt/gazeserve/models"),
                    ("gazeserve.native.build",)}
    assert any((tmp_path / "models").glob("*.tflite"))
    assert native_build.library_path(cache_dir=tmp_path / "native").is_file()


@pytest.mark.parametrize("argv", [["models", "prepare", "--help"], ["serve", "--help"]])
def test_the_cli_offers_what_the_images_use(argv: list[str]) -> None:
    result = subprocess.run([sys.executable, "-m", "gazeserve", *argv], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert ("--model-dir" if argv[0] == "models" else "--workers") in result.stdout
