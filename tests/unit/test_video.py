"""Reading real video files frame by frame, and refusing files that are not videos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from gazeserve.imaging.video import (
    VideoReadError,
    is_video_path,
    iter_video_frames,
    open_video,
    probe_video,
)
from gazeserve.sample_media import fetch_samples


@pytest.fixture(scope="module")
def media() -> dict[str, Path]:
    return fetch_samples()


def test_probe_single_face(media: dict[str, Path]) -> None:
    info = probe_video(media["single_face.mp4"])
    assert (info.frame_count, info.width, info.height) == (72, 640, 360)
    assert info.fps == pytest.approx(30.0)


def test_frames_in_order_with_timestamps(media: dict[str, Path]) -> None:
    frames = list(iter_video_frames(media["single_face.mp4"]))
    assert [f.index for f in frames] == list(range(72))
    timestamps = np.array([f.timestamp_ms for f in frames])
    assert timestamps[0] == 0.0
    np.testing.assert_allclose(np.diff(timestamps), 1000.0 / 30.0, atol=1.0)
    for frame in frames[:3]:
        assert frame.rgb.shape == (360, 640, 3)
        assert frame.rgb.dtype == np.uint8
        assert frame.rgb.flags.c_contiguous


def test_frames_are_rgb(media: dict[str, Path]) -> None:
    capture = cv2.VideoCapture(str(media["single_face.mp4"]))
    try:
        ok, bgr = capture.read()
    finally:
        capture.release()
    assert ok
    first = next(iter_video_frames(media["single_face.mp4"]))
    np.testing.assert_array_equal(first.rgb, bgr[..., ::-1])


def test_declared_frame_count_is_an_estimate(media: dict[str, Path]) -> None:
    """no_face.mp4 declares 98 frames and decodes to 95: iteration gives what decodes."""
    with open_video(media["no_face.mp4"]) as video:
        decoded = sum(1 for _ in video)
        assert (video.info.width, video.info.height) == (960, 540)
        assert abs(decoded - video.info.frame_count) <= 5
    assert decoded > 0


def test_a_reader_is_iterated_once(media: dict[str, Path]) -> None:
    with open_video(media["single_face.mp4"]) as video:
        next(iter(video))
        with pytest.raises(RuntimeError, match="already being read"):
            iter(video)


@pytest.mark.parametrize("content", [b"", b"this is not a video\n" * 20])
def test_not_a_video(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoReadError, match=r"fake\.mp4"):
        probe_video(path)
    with pytest.raises(VideoReadError):
        list(iter_video_frames(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoReadError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")


def test_is_video_path() -> None:
    assert is_video_path("clip.mp4")
    assert is_video_path(Path("CLIP.MOV"))
    assert is_video_path("a/b.webm")
    assert not is_video_path("photo.jpg")
    assert not is_video_path("mp4")
