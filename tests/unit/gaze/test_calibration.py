"""Calibration: recovering a known mapping, honest held-back errors, export/import, the guided
session, and clear errors for bad input."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from face_results import make_eye, make_face

from gazeserve.gaze.calibration import (
    FEATURE_NAMES,
    MIN_TARGETS,
    Calibration,
    CalibrationOptions,
    CalibrationSample,
    CalibrationSession,
    ScreenInfo,
    face_features,
    fit_calibration,
)
from gazeserve.results import FaceResult

SCREEN = ScreenInfo(width_px=1920, height_px=1080, width_mm=344.0, height_mm=194.0)
TARGETS = [(x, y) for y in (100.0, 540.0, 980.0) for x in (100.0, 960.0, 1820.0)]
CENTRE = np.array([960.0, 540.0])
GAIN = np.array([[3000.0, 400.0], [-300.0, 2600.0]])
"""px per unit of mean eye displacement (a rotation and stretch, as a real eye-camera set-up)."""
HEAD = np.array([[25.0, 0.0, 4.0, 3.0, 0.0, 0.2], [0.0, -22.0, 0.0, 0.0, 2.5, 0.1]])
"""px per unit of head yaw, pitch, roll (deg) and x, y, z (mm; z about 600)."""


def _true_point(displacement: np.ndarray, head: np.ndarray) -> np.ndarray:
    out: np.ndarray = CENTRE + GAIN @ displacement + HEAD @ (head - [0, 0, 0, 0, 0, 600.0])
    return out


def _samples(noise: float = 0.0, per_target: int = 20, seed: int = 1
             ) -> list[CalibrationSample]:
    """Frames looking at each target: random head poses, the eyes placed so that the true
    mapping lands on the target; then optional landmark noise on the displacements."""
    rng = np.random.default_rng(seed)
    samples = []
    for target in TARGETS:
        for _ in range(per_target):
            head = np.r_[rng.uniform(-4, 4, 3), rng.uniform(-15, 15, 2), rng.uniform(560, 640)]
            needed = np.linalg.solve(GAIN, np.asarray(target) - _true_point(np.zeros(2), head))
            eye_offset = rng.uniform(-0.02, 0.02, 2)
            right, left = needed + eye_offset, needed - eye_offset
            right, left = right + rng.normal(0, noise, 2), left + rng.normal(0, noise, 2)
            features = (*right, *left, *head)
            samples.append(CalibrationSample(tuple(float(v) for v in features), target))
    return samples


def test_recovers_a_known_mapping_without_noise() -> None:
    samples = _samples()
    calibration = fit_calibration(samples, SCREEN)
    predicted = calibration.predict_features([s.features for s in samples])
    errors = np.hypot(*(predicted - [s.target_px for s in samples]).T)
    assert errors.max() < 1.0
    assert calibration.quality is not None
    assert calibration.quality.mean_error_px < 1.0  # even on held-back targets
    assert len(calibration.quality.per_target) == len(TARGETS)
    # a new point, never shown, from a new head pose
    head = np.array([2.0, -1.0, 0.5, 20.0, -10.0, 620.0])
    eyes = np.linalg.solve(GAIN, np.array([500.0, 700.0]) - _true_point(np.zeros(2), head))
    point = calibration.predict_features((*eyes, *eyes, *head))[0]
    assert point == pytest.approx([500.0, 700.0], abs=1.0)


def test_held_back_error_with_noise_is_sensible() -> None:
    samples = _samples(noise=0.01)  # about 1 degree of eye rotation per frame
    calibration = fit_calibration(samples, SCREEN)
    quality = calibration.quality
    assert quality is not None
    predicted = calibration.predict_features([s.features for s in samples])
    fitted_px = float(np.hypot(*(predicted - [s.target_px for s in samples]).T).mean())
    # noise of 0.01 per eye is about 0.007 on the mean: tens of px through GAIN
    assert 5.0 < quality.mean_error_px < 100.0
    assert fitted_px <= quality.mean_error_px  # held-back points are harder than fitted ones
    # px -> mm (0.179 mm/px on both axes) -> degrees at ~600 mm
    expected_deg = math.degrees(math.atan(quality.mean_error_px * 344.0 / 1920 / 600.0))
    assert quality.mean_error_deg == pytest.approx(expected_deg, rel=0.15)
    assert calibration.ridge_lambda in CalibrationOptions().lambdas


def test_export_import_round_trip() -> None:
    calibration = fit_calibration(_samples(noise=0.005), SCREEN)
    document = json.loads(json.dumps(calibration.to_json(), allow_nan=False))
    assert document["format"] == "gazeserve.calibration" and document["version"] == 1
    assert document["quality"]["mean_error_px"] > 0.0
    restored = Calibration.from_json(document)
    assert restored == calibration  # quality is not compared (nor read back)
    face = make_face(yaw_deg=1.0, right=make_eye((0.05, 0.02)), left=make_eye((0.03, 0.01)))
    assert restored.predict(face) == calibration.predict(face)


@pytest.mark.parametrize("change", [
    {"format": "something else"}, {"version": 2}, {"mean": [0.0]}, {"scale": "x"},
    {"weights_px": None}])
def test_import_rejects_bad_documents(change: dict[str, object]) -> None:
    document = fit_calibration(_samples(), SCREEN).to_json()
    document.update(change)
    with pytest.raises(ValueError):
        Calibration.from_json(document)


def test_too_few_targets() -> None:
    samples = [s for s in _samples() if s.target_px in TARGETS[:MIN_TARGETS - 1]]
    with pytest.raises(ValueError, match=f"at least {MIN_TARGETS} distinct targets, got 4"):
        fit_calibration(samples, SCREEN)


def test_nan_and_malformed_samples_are_refused() -> None:
    features = (*(0.0,) * (len(FEATURE_NAMES) - 1), 600.0)
    with pytest.raises(ValueError, match="NaN"):
        CalibrationSample((math.nan, *features[1:]), (10.0, 10.0))
    with pytest.raises(ValueError, match="NaN"):
        CalibrationSample(features, (math.nan, 10.0))
    with pytest.raises(ValueError, match="10 features"):
        CalibrationSample(features[:4], (10.0, 10.0))
    with pytest.raises(ValueError, match="an \\(x, y\\) target"):
        CalibrationSample(features, (1.0, 2.0, 3.0))  # type: ignore[arg-type]
    from_json_like = CalibrationSample(list(features), [10, 20])  # type: ignore[arg-type]
    assert from_json_like.target_px == (10.0, 20.0) and isinstance(from_json_like.features, tuple)
    with pytest.raises(ValueError, match="head_z_mm"):
        CalibrationSample((*features[:-1], 0.0), (10.0, 10.0))


def test_targets_off_the_screen_are_refused() -> None:
    samples = _samples()
    samples[0] = CalibrationSample(samples[0].features, (2500.0, 10.0))
    with pytest.raises(ValueError, match="off the 1920 x 1080 px screen"):
        fit_calibration(samples, SCREEN)
    with pytest.raises(ValueError):
        ScreenInfo(0, 1080, 344.0, 194.0)


def test_features_of_a_face() -> None:
    face = make_face(yaw_deg=1.0, pitch_deg=2.0, roll_deg=3.0, translation_mm=(4.0, 5.0, 600.0),
                     right=make_eye((0.1, 0.2)), left=make_eye((0.3, 0.4)))
    assert face_features(face) == (0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 3.0, 4.0, 5.0, 600.0)
    no_iris = make_face(right=make_eye(None), left=make_eye(None))
    assert face_features(no_iris) is None
    assert fit_calibration(_samples(), SCREEN).predict(no_iris) is None


def _face_looking_at(target: tuple[float, float], rng: np.random.Generator,
                     openness: float = 0.3) -> FaceResult:
    head = np.r_[rng.uniform(-3, 3, 3), rng.uniform(-10, 10, 2), rng.uniform(580, 620)]
    eyes = np.linalg.solve(GAIN, np.asarray(target) - _true_point(np.zeros(2), head))
    d = (float(eyes[0]), float(eyes[1]))
    return make_face(yaw_deg=head[0], pitch_deg=head[1], roll_deg=head[2],
                     translation_mm=(head[3], head[4], head[5]),
                     right=make_eye(d, openness), left=make_eye(d, openness))


def test_guided_session_skips_the_settling_time_and_closed_eyes() -> None:
    rng = np.random.default_rng(2)
    session = CalibrationSession(SCREEN, CalibrationOptions(settle_s=0.3))
    assert not session.add(_face_looking_at(TARGETS[0], rng), 0.0)  # no target shown yet
    for n, target in enumerate(TARGETS):
        session.target(target, n + 0.01)  # each target for 1 s; frames at n + k/30 s
        previous = TARGETS[n - 1]
        for i in range(1, 30):
            looking_at = previous if i < 6 else target  # the eyes need time to get there
            kept = session.add(_face_looking_at(looking_at, rng, 0.05 if i == 20 else 0.3),
                               n + i / 30)
            assert kept == (i / 30 - 0.01 >= 0.3 and i != 20)  # settled, and eyes open
    calibration = session.finish()
    assert len(session.samples) == len(TARGETS) * 19
    assert calibration.quality is not None and calibration.quality.mean_error_px < 1.0


def test_session_refuses_bad_targets_and_skips_frames_from_before_the_target() -> None:
    session = CalibrationSession(SCREEN)
    with pytest.raises(ValueError, match="not on the"):
        session.target((-1.0, 5.0), 0.0)
    session.target((5.0, 5.0), 1.0)
    # A frame captured before the target appeared (still in flight) is not a sample of it.
    assert session.add(make_face(), 0.5) is False
    assert session.samples == []
    with pytest.raises(ValueError, match="earlier"):
        session.target((6.0, 6.0), 0.9)
    with pytest.raises(ValueError, match="at least 5"):
        session.finish()
