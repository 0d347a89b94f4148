"""Frames of a video file, in order, as RGB arrays with their timestamps (OpenCV's FFmpeg backend).

Frames stay in memory: nothing here writes a frame anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import cv2
import numpy as np
import numpy.typing as npt

VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".avi", ".webm", ".mkv"})


class VideoReadError(RuntimeError):
    """A video file is missing, unreadable, or holds no frame that can be decoded."""


@dataclass(frozen=True)
class VideoInfo:
    frame_count: int
    """As the container declares it (0 when it does not): an estimate, the decoded count can
    differ by a few frames."""
    fps: float
    """Nominal frame rate (0.0 when the container does not say)."""
    width: int
    height: int
    """Pixel size of the decoded frames (after any rotation the container asks for)."""


@dataclass(frozen=True)
class VideoFrame:
    index: int
    """0-based position among the decoded frames."""
    timestamp_ms: float
    """Presentation time from the start of the video."""
    rgb: npt.NDArray[np.uint8]
    """H x W x 3, uint8, RGB, C-contiguous."""


def is_video_path(path: str | os.PathLike[str]) -> bool:
    """True when the file name has a video extension (mp4, m4v, mov, avi, webm, mkv)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


class VideoReader:
    """An open video file. Iterate it once for its frames; close it, or use it as a context
    manager. Made by `open_video`."""

    def __init__(self, path: Path, capture: Any, first_bgr: npt.NDArray[np.uint8],
                 first_timestamp_ms: float) -> None:
        self.path = path
        self._capture = capture
        self._first = (first_bgr, first_timestamp_ms)
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        self.info = VideoInfo(
            frame_count=max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))),
            fps=fps if np.isfinite(fps) and fps > 0 else 0.0,
            width=first_bgr.shape[1],
            height=first_bgr.shape[0],
        )
        self._started = False

    def __iter__(self) -> Iterator[VideoFrame]:
        if self._started:
            raise RuntimeError(f"{self.path.name} is already being read; open it again")
        self._started = True
        return self._frames()

    def _frames(self) -> Iterator[VideoFrame]:
        bgr, timestamp_ms = self._first
        index = 0
        while True:
            rgb = np.asarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), dtype=np.uint8)
            yield VideoFrame(index, timestamp_ms, rgb)
            ok, next_bgr = self._capture.read()
            if not ok:
                return
            index += 1
            bgr = next_bgr
            timestamp_ms = self._timestamp_ms(timestamp_ms)

    def _timestamp_ms(self, previous_ms: float) -> float:
        """The decoder's position of the frame just read; where it does not advance (containers
        without timestamps), one nominal frame interval after the previous frame."""
        position_ms = float(self._capture.get(cv2.CAP_PROP_POS_MSEC))
        if position_ms > previous_ms or self.info.fps == 0.0:
            return max(position_ms, previous_ms)
        return previous_ms + 1000.0 / self.info.fps

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def open_video(path: str | os.PathLike[str]) -> VideoReader:
    """Opens a video file and decodes its first frame, so a file with no frame fails here.

    Raises:
        VideoReadError: the file is missing, not a video OpenCV can open, or has no frame.
    """
    path = Path(path)
    if not path.is_file():
        raise VideoReadError(f"{path}: no such file")
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise VideoReadError(f"{path}: not a video file OpenCV can open")
    ok, first_bgr = capture.read()
    if not ok or first_bgr is None:
        capture.release()
        raise VideoReadError(f"{path}: the video has no frame that can be decoded")
    return VideoReader(path, capture, np.asarray(first_bgr, dtype=np.uint8),
                       float(capture.get(cv2.CAP_PROP_POS_MSEC)))


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Frame count, frame rate and frame size of a video file (decodes its first frame only).

    Raises:
        VideoReadError: as `open_video`.
    """
    with open_video(path) as video:
        return video.info


def iter_video_frames(path: str | os.PathLike[str]) -> Iterator[VideoFrame]:
    """Yields every frame of a video file in order; the file is closed when iteration ends.

    Raises:
        VideoReadError: as `open_video`, when iteration starts.
    """
    with open_video(path) as video:
        yield from video
