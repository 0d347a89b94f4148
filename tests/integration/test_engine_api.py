"""The engine's public API on real photos: schema, no-face frames, misuse, bad bytes."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from gazeserve import EngineOptions, GazeEngine, ImageDecodeError, InvalidImageError
from gazeserve.results import SCHEMA


def test_result_dict_has_schema_v1(engine, photos) -> None:
    out = engine.process(photos["grace_hopper.jpg"], timestamp_ms=12.5).to_dict()
    json.dumps(out)
    assert out["schema"] == SCHEMA
    assert out["frame"] == {"width": 512, "height": 600, "timestamp_ms": 12.5, "stream_id": None}
    assert out["face_detected"] is True
    face = out["faces"][0]
    assert set(face) == {"score", "box_px", "head_pose_deg", "head_translation_mm", "eyes",
                         "gaze", "on_screen", "attention", "quality"}
    assert 0.0 <= face["quality"]["confidence"] <= 1.0
    assert isinstance(face["quality"]["flags"], list)
    assert out["events"] == []
    assert set(face["eyes"]["left"]) == {"iris_center_px", "iris_radius_px", "displacement",
                                         "openness", "closed"}
    assert set(face["gaze"]) == {"yaw_deg", "pitch_deg", "displacement", "screen_point_px"}
    assert face["attention"]["state"] in {"attentive", "looking_away", "eyes_closed"}
    assert 0.0 <= face["attention"]["score"] <= 1.0
    assert set(out["timings_ms"]) == {"decode", "detect", "landmarks", "iris", "gaze", "total"}
    assert out["timings_ms"]["detect"] > 0 and out["timings_ms"]["total"] > 0


def test_landmarks_only_when_asked(engine, photos) -> None:
    image = photos["astronaut.png"]
    assert "landmarks_px" not in engine.process(image).to_dict()["faces"][0]
    points = engine.process(image, include_landmarks=True).to_dict()["faces"][0]["landmarks_px"]
    assert np.asarray(points).shape == (478, 3)


def test_subject_left_eye_is_on_the_image_right(engine, photos) -> None:
    face = engine.process(photos["grace_hopper.jpg"]).faces[0]
    assert face.left_eye.iris_center_px[0] > face.right_eye.iris_center_px[0]


@pytest.mark.parametrize("fill", [0, 255, 128])
def test_blank_frame_has_no_face(engine, fill: int) -> None:
    result = engine.process(np.full((480, 640, 3), fill, np.uint8))
    assert not result.face_detected
    assert result.to_dict()["faces"] == []


def test_several_faces_when_asked(media) -> None:
    from tests.conftest import read_rgb

    image = read_rgb(media["multi_face.jpg"])
    with GazeEngine.create(EngineOptions(max_faces=5)) as eng:
        faces = eng.process(image).faces
    assert len(faces) >= 2
    boxes = np.array([f.box_px for f in faces])
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    assert min(np.linalg.norm(a - b) for i, a in enumerate(centres) for b in centres[i + 1:]) > 20


def test_small_face_found_by_the_full_range_detector(photos) -> None:
    # The face is ~75 px wide in a 1280 px frame: too small for the short-range detector.
    face = cv2.resize(photos["single_face.jpg"], (200, 200), interpolation=cv2.INTER_AREA)
    canvas = np.full((960, 1280, 3), 90, np.uint8)
    canvas[550:750, 920:1120] = face
    with GazeEngine.create(EngineOptions(full_range_fallback=False)) as eng:
        assert not eng.process(canvas).face_detected
    with GazeEngine.create() as eng:
        faces = eng.process(canvas).faces
    assert len(faces) == 1
    x0, y0, x1, y1 = faces[0].box_px
    assert 970 < (x0 + x1) / 2 < 1070 and 600 < (y0 + y1) / 2 < 700


@pytest.mark.parametrize("bad", [
    np.zeros((10, 10), np.uint8),
    np.zeros((10, 10, 4), np.uint8),
    np.zeros((10, 10, 3), np.float32),
    np.zeros((0, 10, 3), np.uint8),
    "not an array",
])
def test_process_refuses_non_images(engine, bad) -> None:
    with pytest.raises(InvalidImageError):
        engine.process(bad)


@pytest.mark.parametrize("data", [b"", b"hello, this is text", b"\xff\xd8\xff\xe0" + b"\0" * 40])
def test_process_bytes_refuses_bad_bytes(engine, data: bytes) -> None:
    with pytest.raises(ImageDecodeError):
        engine.process_bytes(data)


def test_process_bytes_decodes_and_times(engine, media) -> None:
    result = engine.process_bytes(media["grace_hopper.jpg"].read_bytes())
    assert result.face_detected
    assert result.timings_ms.decode > 0


@pytest.mark.parametrize("kwargs", [{"max_faces": 0}, {"num_threads": 0}, {"max_pixels": 0},
                                    {"runtime": "tensorflow"}])
def test_options_are_validated(kwargs) -> None:
    with pytest.raises(ValueError):
        EngineOptions(**kwargs)


def test_missing_models_fail_at_creation(tmp_path) -> None:
    from gazeserve.models import ModelsNotPreparedError

    with pytest.raises(ModelsNotPreparedError, match="gazeserve models prepare"):
        GazeEngine.create(EngineOptions(model_dir=tmp_path))


def test_closed_engine_refuses_work(photos) -> None:
    eng = GazeEngine.create()
    eng.close()
    with pytest.raises(RuntimeError, match="closed"):
        eng.process(photos["astronaut.png"])


def test_result_dict_holds_only_plain_json_values(engine, photos) -> None:
    out = engine.process(photos["single_face.jpg"], include_landmarks=True).to_dict()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        else:
            assert value is None or type(value) in (bool, int, float, str), type(value)

    walk(out)
