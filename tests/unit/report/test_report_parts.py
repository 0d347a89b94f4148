"""The report's pure parts: face indices by position, bounded aggregates, rows, spans, inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gazeserve.report.aggregate import STATES, Histogram2D, TimeBins
from gazeserve.report.html import render_index
from gazeserve.report.inputs import (
    ReportDirError,
    expand_inputs,
    prepare_report_dir,
)
from gazeserve.report.plots import Plot
from gazeserve.report.rows import (
    EVENT_COLUMNS,
    FRAME_COLUMNS,
    FaceValues,
    ScreenSpans,
    event_row,
    frame_rows,
)
from gazeserve.report.summary import SessionStats, SourceInfo, SourceKind
from gazeserve.report.tracks import FaceTracker, TrackerOptions
from gazeserve.results import Attention, AttentionState, EyeResult, FaceResult, Gaze, HeadPose


def face(box_px: tuple[float, float, float, float] = (100.0, 100.0, 200.0, 220.0),
         yaw_deg: float = 5.0, state: AttentionState = AttentionState.ATTENTIVE,
         on_screen: bool = True, openness: float = 0.3) -> FaceResult:
    eye = EyeResult((0.0, 0.0), 6.0, (0.1, -0.2), openness, openness < 0.15)
    return FaceResult(score=0.99, box_px=box_px, head_pose=HeadPose(yaw_deg, -2.0, 1.0),
                      head_translation_mm=(10.0, -5.0, 600.0), left_eye=eye, right_eye=eye,
                      gaze=Gaze(yaw_deg + 1.0, -3.0, (0.1, -0.2)), on_screen=on_screen,
                      attention=Attention(0.8, state))


# --- tracks ------------------------------------------------------------------------------------


def box(cx: float, cy: float, size: float = 100.0) -> tuple[float, float, float, float]:
    return cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2


def test_new_faces_are_numbered_left_to_right_and_keep_their_index() -> None:
    tracker = FaceTracker()
    first = tracker.assign([box(500.0, 200.0), box(150.0, 200.0)], 0.0)
    assert first.indices == (1, 0)
    for i in range(1, 20):  # both drift right, 8 px a frame, listed in either order
        boxes = [box(150.0 + 8 * i, 200.0), box(500.0 + 8 * i, 200.0)]
        order = [1, 0] if i % 2 else [0, 1]
        result = tracker.assign([boxes[k] for k in order], i / 30.0)
        assert result.indices == tuple(order)
        assert result.missing == () and result.ended == ()


def test_a_face_beyond_the_gate_is_a_new_person() -> None:
    tracker = FaceTracker(TrackerOptions(max_step=0.5))
    tracker.assign([box(100.0, 100.0)], 0.0)
    result = tracker.assign([box(400.0, 100.0)], 0.1)  # three face widths away
    assert result.indices == (1,)
    assert result.missing == (0,)


def test_a_lost_track_ends_after_max_missing_s_and_its_index_is_not_reused() -> None:
    tracker = FaceTracker(TrackerOptions(max_missing_s=0.5))
    tracker.assign([box(100.0, 100.0), box(400.0, 100.0)], 0.0)
    assert tracker.assign([box(100.0, 100.0)], 0.3).missing == (1,)
    result = tracker.assign([box(100.0, 100.0)], 0.6)
    assert result.ended == (1,) and result.missing == ()
    assert tracker.assign([box(100.0, 100.0), box(400.0, 100.0)], 0.7).indices == (0, 2)
    assert tracker.end_all() == (0, 2)


def test_tracker_options_are_checked() -> None:
    with pytest.raises(ValueError, match="max_step"):
        TrackerOptions(max_step=0.0)


# --- aggregates ----------------------------------------------------------------------------------


def test_time_bins_stay_bounded_and_keep_their_sums() -> None:
    bins = TimeBins(0.1, max_bins=64)
    values = FaceValues.of(face(), 0)
    frames = 30 * 600  # ten minutes at 30 fps
    for i in range(frames):
        if i % 10 == 0:
            bins.add(i / 30.0, AttentionState.NO_FACE, None)
        else:
            bins.add(i / 30.0, AttentionState.ATTENTIVE, values)
    assert bins.rows.shape == (64,) and bins.used <= 64
    assert bins.width == pytest.approx(0.1 * 2 ** 7)  # 600 s / 12.8 s = 47 bins
    assert int(bins.rows.sum()) == frames
    assert int(bins.states[STATES.index(AttentionState.NO_FACE)].sum()) == frames // 10
    np.testing.assert_allclose(bins.mean_score(), 0.8)
    mean, lo, hi = bins.pose()
    np.testing.assert_allclose(mean[0], 5.0)
    np.testing.assert_allclose(lo[0], 5.0)
    np.testing.assert_allclose(hi[1], -2.0)
    np.testing.assert_allclose(bins.state_shares().sum(axis=0), 1.0)


def test_histogram_counts_points_off_its_grid() -> None:
    hist = Histogram2D((-10.0, 10.0), (-5.0, 5.0), (20, 10))
    hist.add(0.0, 0.0)
    hist.add(9.99, -5.0)
    hist.add(10.0, 0.0)
    assert hist.counts[5, 10] == 1 and hist.counts[0, 19] == 1
    assert hist.outside == 1 and hist.total == 3


# --- rows and spans ------------------------------------------------------------------------------


def test_rows_have_every_column() -> None:
    (with_face,) = frame_rows(3, 0.1, [face()], [2])
    (without,) = frame_rows(4, 0.133, [], [])
    assert len(with_face.cells()) == len(without.cells()) == len(FRAME_COLUMNS)
    cells = dict(zip(FRAME_COLUMNS, with_face.cells(), strict=True))
    assert cells["face_index"] == "2" and cells["head_yaw_deg"] == "5.0"
    assert cells["attention_state"] == "attentive" and cells["screen_x_px"] == ""
    empty = dict(zip(FRAME_COLUMNS, without.cells(), strict=True))
    assert empty["face_found"] == "0" and empty["on_screen"] == "0"
    assert empty["attention_state"] == "no_face" and empty["head_yaw_deg"] == ""
    assert len(with_face.cells(with_source=True)) == len(FRAME_COLUMNS) + 1


def test_events_become_rows_and_transitions_become_spans() -> None:
    blink = event_row(1, {"type": "event", "event": "blink", "t_ms": 850.2, "end_ms": 955.4,
                          "duration_ms": 105.2, "min_openness": 0.12})
    assert blink is not None and len(blink.cells()) == len(EVENT_COLUMNS)
    assert (blink.start_s, blink.end_s, blink.face_index) == (0.8502, 0.9554, 1)
    spans = ScreenSpans()
    assert spans.transition(0, {"event": "on_screen", "t_ms": 0.0}) is None
    assert spans.transition(0, {"event": "blink", "t_ms": 5.0}) is None
    closed = spans.transition(0, {"event": "off_screen", "t_ms": 1500.0})
    assert closed is not None and (closed.event, closed.duration_ms) == ("on_screen", 1500.0)
    (last,) = spans.close_all(2.0)
    assert (last.event, last.start_s, last.end_s) == ("off_screen", 1.5, 2.0)


def test_summary_shares_come_from_the_rows() -> None:
    stats = SessionStats(SourceInfo(SourceKind.VIDEO, "clip.mp4", fps=10.0))
    for i in range(10):
        faces = [] if i < 2 else [face(on_screen=i % 2 == 0)]
        stats.add_frame(frame_rows(i, i / 10.0, faces, [0] * len(faces)), engine_ms=5.0)
    blink = event_row(0, {"event": "blink", "t_ms": 300.0, "end_ms": 400.0, "duration_ms": 100.0,
                          "min_openness": 0.1})
    assert blink is not None
    stats.add_event(blink)
    s = stats.summary(wall_s=0.5)
    assert s["frames"] == 10 and s["frames_with_face"] == 8
    assert s["duration_s"] == pytest.approx(1.0)
    assert s["on_screen_share"] == pytest.approx(0.4)
    assert s["attention"]["share_by_state"]["no_face"] == pytest.approx(0.2)
    assert s["blinks"]["rate_per_min"] == pytest.approx(1 / 0.8 * 60.0)
    assert s["processing"]["frames_per_s"] == pytest.approx(20.0)
    assert s["head_pose_deg"]["yaw"] == {"min": 5.0, "max": 5.0, "mean": 5.0}


def test_the_page_escapes_text_and_references_plots_relatively() -> None:
    page = render_index({"source": "/tmp/<b>.mp4", "message": "No face was found in this video"},
                        [Plot("head_pose.png", "Head pose", "a & b")])
    assert "&lt;b&gt;" in page and "<b>.mp4" not in page
    assert 'src="head_pose.png"' in page and "a &amp; b" in page
    assert "No face was found" in page


# --- inputs --------------------------------------------------------------------------------


def test_inputs_are_grouped_and_named(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("b.png", "a.jpg", "notes.txt"):
        (photos / name).write_bytes(b"")
    paths = [tmp_path / "x.jpg", tmp_path / "clip.mp4", photos, tmp_path / "y.png",
             tmp_path / "sub" / "clip.mov"]
    grouped = expand_inputs(paths, group_images=True)
    assert [(i.kind, i.name) for i in grouped] == [
        (SourceKind.IMAGES, "images"), (SourceKind.VIDEO, "clip"), (SourceKind.IMAGES, "photos"),
        (SourceKind.VIDEO, "clip-2")]
    assert [p.name for p in grouped[0].paths] == ["x.jpg", "y.png"]
    assert [p.name for p in grouped[2].paths] == ["a.jpg", "b.png"]
    assert len(expand_inputs(paths, group_images=False)) == 5


def test_the_report_folder(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    prepare_report_dir(folder, overwrite=False)
    assert folder.is_dir()
    prepare_report_dir(folder, overwrite=False)  # empty: fine
    (folder / "x").write_text("")
    with pytest.raises(ReportDirError, match="not empty"):
        prepare_report_dir(folder, overwrite=False)
    prepare_report_dir(folder, overwrite=True)
    with pytest.raises(ReportDirError, match="not a folder"):
        prepare_report_dir(folder / "x", overwrite=True)
