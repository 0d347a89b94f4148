"""`gazeserve analyze --report` on real videos and photos, through the real engine."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import orjson
import pytest
from typer.testing import CliRunner, Result

from gazeserve.cli import EXIT_ERROR, app
from gazeserve.gaze.calibration import Calibration, CalibrationSample, ScreenInfo, fit_calibration
from gazeserve.report.rows import EVENT_COLUMNS, FRAME_COLUMNS, SOURCE_COLUMN
from gazeserve.sample_media import fetch_samples

runner = CliRunner()
VIDEO_PLOTS = ("attention_timeline.png", "head_pose.png", "gaze_heatmap.png", "blink_raster.png")
IMAGE_PLOTS = VIDEO_PLOTS[:3]
STATES = ("attentive", "looking_away", "eyes_closed", "no_face")
TWO_FACES_FPS = 10.0
TWO_FACES_FRAMES = 30


@pytest.fixture(scope="module")
def media() -> dict[str, Path]:
    return fetch_samples()


def invoke(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def summary_of(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / "summary.json").read_text())
    return data


def assert_plots(folder: Path, names: tuple[str, ...]) -> None:
    page = (folder / "index.html").read_text()
    for name in names:
        bgr = cv2.imread(str(folder / name))
        assert bgr is not None, name
        height, width = bgr.shape[:2]
        assert width >= 600 and height >= 150, (name, width, height)
        assert float(bgr.std()) > 10.0, f"{name} looks blank"
        assert f'src="{name}"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "the page must be self-contained"


def assert_consistent(folder: Path) -> None:
    """summary.json's figures recomputed from frames.csv and events.csv."""
    s = summary_of(folder)
    _, rows = read_csv(folder / "frames.csv")
    _, events = read_csv(folder / "events.csv")
    assert s["rows"] == len(rows)
    assert s["frames"] == len({r["frame_index"] for r in rows})
    assert s["frames_with_face"] == len({r["frame_index"] for r in rows if r["face_found"] == "1"})
    assert s["on_screen_share"] == pytest.approx(
        sum(r["on_screen"] == "1" for r in rows) / len(rows), abs=1e-4)
    states = Counter(r["attention_state"] for r in rows)
    shares = s["attention"]["share_by_state"]  # type: ignore[index]
    for state in STATES:
        assert shares[state] == pytest.approx(states[state] / len(rows), abs=1e-4)
    faces = [r for r in rows if r["face_found"] == "1"]
    if faces:
        for axis in ("yaw", "pitch", "roll"):
            values = [float(r[f"head_{axis}_deg"]) for r in faces]
            pose = s["head_pose_deg"][axis]  # type: ignore[index]
            assert pose["min"] == min(values) and pose["max"] == max(values)
    else:
        assert s["head_pose_deg"] is None
    if s["kind"] == "video":
        blinks = [e for e in events if e["event"] == "blink"]
        fixations = [e for e in events if e["event"] == "fixation"]
        assert s["blinks"]["count"] == len(blinks)  # type: ignore[index]
        assert s["fixations"]["count"] == len(fixations)  # type: ignore[index]
        if fixations:
            mean_ms = sum(float(e["duration_ms"]) for e in fixations) / len(fixations)
            assert s["fixations"]["mean_duration_ms"] == pytest.approx(mean_ms, abs=0.1)  # type: ignore[index]
        spans_s: Counter[str] = Counter()
        for e in events:
            if e["event"] in ("on_screen", "off_screen"):
                spans_s[e["face_index"]] += float(e["duration_ms"]) / 1000.0
        for total_s in spans_s.values():  # in these clips, each face is in view throughout
            assert total_s == pytest.approx(s["duration_s"], abs=0.01)


# --- one face ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def single_face_report(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("single") / "report"  # missing: created
    result = invoke("analyze", str(media["single_face.mp4"]), "--report", str(folder))
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(folder / "index.html")
    return folder


def test_single_face_report_files(single_face_report: Path) -> None:
    header, rows = read_csv(single_face_report / "frames.csv")
    assert header == list(FRAME_COLUMNS)
    assert [int(r["frame_index"]) for r in rows] == list(range(72))
    assert [float(r["time_s"]) for r in rows[:3]] == pytest.approx([0.0, 0.0333, 0.0667],
                                                                    abs=1e-3)
    with_face = [r for r in rows if r["face_found"] == "1"]
    assert len(with_face) >= 70
    assert {r["face_index"] for r in with_face} == {"0"}
    assert all(r["screen_x_px"] == "" for r in rows)  # no calibration
    header, events = read_csv(single_face_report / "events.csv")
    assert header == list(EVENT_COLUMNS)
    assert {e["event"] for e in events} >= {"fixation", "on_screen"}
    assert_plots(single_face_report, VIDEO_PLOTS)


def test_single_face_summary(single_face_report: Path) -> None:
    s = summary_of(single_face_report)
    assert s["schema"] == "gazeserve.report.v1" and s["kind"] == "video"
    assert s["frames"] == 72 and s["faces_found"] is True and s["message"] is None
    assert s["duration_s"] == pytest.approx(2.4, abs=0.01)
    assert s["nominal_fps"] == pytest.approx(30.0)
    assert s["on_screen_share"] > 0.9  # the person faces the camera throughout
    attention = s["attention"]
    assert attention["share_by_state"]["attentive"] > 0.9  # type: ignore[index]
    assert s["blinks"]["count"] >= 1  # type: ignore[index]
    blinks = s["blinks"]
    assert blinks["rate_per_min"] == pytest.approx(  # type: ignore[index]
        blinks["count"] * 60.0 / (s["frames_with_face"] * s["frame_interval_s"]), rel=0.01)  # type: ignore[index, operator]
    assert s["fixations"]["count"] >= 1  # type: ignore[index]
    yaw = s["head_pose_deg"]["yaw"]  # type: ignore[index]
    assert -15.0 < yaw["min"] <= yaw["mean"] <= yaw["max"] < 15.0
    assert s["processing"]["frames_per_s"] > 0  # type: ignore[index]
    assert_consistent(single_face_report)


def test_report_with_a_calibration(media: dict[str, Path], tmp_path: Path) -> None:
    calibration = tmp_path / "calibration.json"
    calibration.write_bytes(orjson.dumps(_calibration().to_json()))
    folder = tmp_path / "report"
    result = invoke("analyze", str(media["single_face.mp4"]), "--report", str(folder),
                    "--calibration", str(calibration))
    assert result.exit_code == 0, result.stderr
    _, rows = read_csv(folder / "frames.csv")
    points = [(float(r["screen_x_px"]), float(r["screen_y_px"])) for r in rows
              if r["face_found"] == "1"]
    assert len(points) >= 70
    assert all(-1000.0 < x < 3000.0 and -1000.0 < y < 2000.0 for x, y in points)
    assert summary_of(folder)["calibrated"] is True
    assert_plots(folder, VIDEO_PLOTS)


def test_a_bad_calibration_file_is_refused(media: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "calibration.json"
    bad.write_text('{"format": "something else"}')
    result = invoke("analyze", str(media["single_face.mp4"]), "--report", str(tmp_path / "r"),
                    "--calibration", str(bad))
    assert result.exit_code == EXIT_ERROR
    assert "not a gazeserve.calibration document" in result.stderr


def _calibration() -> Calibration:
    """A calibration fitted on synthetic samples: displacement maps linearly to the screen."""
    rng = np.random.default_rng(0)
    screen = ScreenInfo(1920, 1080, 520.0, 290.0)
    samples = []
    for tx in (200.0, 960.0, 1700.0):
        for ty in (150.0, 540.0, 900.0):
            for _ in range(5):
                dx = (tx - 960.0) / 960.0 * 0.3 - 0.1 + rng.normal(0.0, 0.01)
                dy = (ty - 540.0) / 540.0 * 0.2 - 0.15 + rng.normal(0.0, 0.01)
                features = (dx, dy, dx, dy, 2.0, 0.0, 3.0, -20.0, -8.0, 550.0)
                samples.append(CalibrationSample(features, (tx, ty)))
    return fit_calibration(samples, screen)


# --- no face, bad inputs, the output folder ---------------------------------------------------


def test_a_video_without_faces(media: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "report"
    result = invoke("analyze", str(media["no_face.mp4"]), "--report", str(folder))
    assert result.exit_code == 0, result.stderr
    s = summary_of(folder)
    assert s["faces_found"] is False and s["frames_with_face"] == 0
    assert s["message"] == "No face was found in this video"
    assert s["attention"]["share_by_state"]["no_face"] == 1.0  # type: ignore[index]
    assert "No face was found in this video" in (folder / "index.html").read_text()
    _, rows = read_csv(folder / "frames.csv")
    assert rows and all(r["face_found"] == "0" and r["face_index"] == "" for r in rows)
    _, events = read_csv(folder / "events.csv")
    assert [e["event"] for e in events] == ["off_screen"]
    assert_consistent(folder)
    assert_plots(folder, VIDEO_PLOTS)


def test_unreadable_and_empty_videos_do_not_stop_the_others(media: dict[str, Path],
                                                            tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 100)
    empty = tmp_path / "empty.mp4"
    writer = cv2.VideoWriter(str(empty), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    writer.release()  # a container with no frame
    folder = tmp_path / "report"
    result = invoke("analyze", str(junk), str(media["no_face.mp4"]), str(empty),
                    "--report", str(folder))
    assert result.exit_code == EXIT_ERROR
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith("error: ") for line in lines) and "Traceback" not in result.stderr
    assert any("junk.mp4" in line for line in lines)
    assert any("empty.mp4" in line for line in lines)
    assert "2 of 3 inputs failed" in lines[-1]
    assert sorted(p.name for p in folder.iterdir()) == ["index.html", "no_face"]
    assert (folder / "no_face" / "summary.json").is_file()


def test_a_non_empty_folder_is_refused_unless_overwrite(media: dict[str, Path],
                                                        tmp_path: Path) -> None:
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    video = str(media["no_face.mp4"])
    result = invoke("analyze", video, "--report", str(folder))
    assert result.exit_code == EXIT_ERROR
    assert "is not empty" in result.stderr and "--overwrite" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    result = invoke("analyze", video, "--report", str(folder), "--overwrite")
    assert result.exit_code == 0, result.stderr
    assert (folder / "summary.json").is_file() and (folder / "notes.txt").read_text() == "keep me"


# --- images ----------------------------------------------------------------------------------


def test_a_folder_of_images(media: dict[str, Path], tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("grace_hopper.jpg", "astronaut.png", "single_face.jpg"):
        (photos / name).write_bytes(media[name].read_bytes())
    (photos / "notes.txt").write_text("not an image, not listed")
    folder = tmp_path / "report"
    result = invoke("analyze", str(photos), "--report", str(folder))
    assert result.exit_code == 0, result.stderr
    header, rows = read_csv(folder / "frames.csv")
    assert header == [SOURCE_COLUMN, *FRAME_COLUMNS]
    assert [Path(r["source"]).name for r in rows] == ["astronaut.png", "grace_hopper.jpg",
                                                      "single_face.jpg"]
    assert all(r["time_s"] == "" and r["face_found"] == "1" for r in rows)
    s = summary_of(folder)
    assert s["kind"] == "images" and s["frames"] == 3 and s["frames_with_face"] == 3
    assert s["blinks"] is None and s["duration_s"] is None
    assert_consistent(folder)
    assert_plots(folder, IMAGE_PLOTS)
    assert not (folder / "blink_raster.png").exists()


def test_csv_on_stdout(media: dict[str, Path]) -> None:
    result = invoke("analyze", "--format", "csv", str(media["grace_hopper.jpg"]),
                    str(media["single_face.mp4"]))
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(result.stdout.splitlines()))
    assert rows[0] == [SOURCE_COLUMN, *FRAME_COLUMNS]
    assert len(rows) == 1 + 1 + 72
    assert rows[1][0] == str(media["grace_hopper.jpg"]) and rows[1][2] == ""
    assert {r[0] for r in rows[2:]} == {str(media["single_face.mp4"])}


def test_an_unknown_format_is_refused(media: dict[str, Path]) -> None:
    result = invoke("analyze", "--format", "xml", str(media["grace_hopper.jpg"]))
    assert result.exit_code == EXIT_ERROR
    assert "--format must be one of jsonl, csv" in result.stderr


# --- two faces -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_faces_video(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Grace Hopper (left) and the astronaut (right) side by side, drifting a few pixels a
    frame over a grey background."""
    height = 320

    def photo(name: str) -> np.ndarray:
        bgr = cv2.imread(str(media[name]))
        assert bgr is not None
        return cv2.resize(bgr, (round(bgr.shape[1] * height / bgr.shape[0]), height))

    pair = np.concatenate([photo("grace_hopper.jpg"), photo("astronaut.png")], axis=1)
    size = (pair.shape[1] + 48, height + 32)
    path = tmp_path_factory.mktemp("two_faces") / "two_faces.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), TWO_FACES_FPS, size)
    for i in range(TWO_FACES_FRAMES):
        frame = np.full((size[1], size[0], 3), 128, np.uint8)
        x, y = int(24 + 14 * np.sin(i / 5.0)), int(16 + 10 * np.cos(i / 7.0))
        frame[y:y + height, x:x + pair.shape[1]] = pair
        writer.write(frame)
    writer.release()
    return path


def test_two_faces_keep_their_index(two_faces_video: Path, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    result = invoke("analyze", str(two_faces_video), "--max-faces", "2", "--report", str(folder))
    assert result.exit_code == 0, result.stderr
    _, rows = read_csv(folder / "frames.csv")
    frames = {int(r["frame_index"]) for r in rows}
    assert frames == set(range(TWO_FACES_FRAMES))
    faces = [r for r in rows if r["face_found"] == "1"]
    assert len(faces) >= 2 * TWO_FACES_FRAMES - 2
    centre_x = {index: [0.5 * (float(r["box_x_min_px"]) + float(r["box_x_max_px"]))
                        for r in faces if r["face_index"] == index] for index in ("0", "1")}
    assert set(r["face_index"] for r in faces) == {"0", "1"}
    middle = 0.5 * (max(centre_x["0"]) + min(centre_x["1"]))
    assert max(centre_x["0"]) < middle < min(centre_x["1"])  # 0 always left, 1 always right
    s = summary_of(folder)
    assert s["face_tracks"] == 2 and s["max_faces_in_frame"] == 2
    per_face = s["per_face"]
    assert [f["face_index"] for f in per_face] == [0, 1]  # type: ignore[union-attr]
    assert_consistent(folder)
    assert_plots(folder, VIDEO_PLOTS)


def test_two_faces_as_json_lines(two_faces_video: Path) -> None:
    result = invoke("analyze", str(two_faces_video), "--max-faces", "2")
    assert result.exit_code == 0, result.stderr
    lines = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [line["frame_index"] for line in lines] == list(range(TWO_FACES_FRAMES))
    first = lines[0]["faces"]
    assert [f["face_index"] for f in first] == [0, 1]
    assert first[0]["box_px"][0] < first[1]["box_px"][0]
