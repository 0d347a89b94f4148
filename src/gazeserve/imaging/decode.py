"""Bytes to an upright H x W x 3 uint8 RGB array, through a chain of decoders.

The header is read first (`formats.read_header`): the format comes from the magic bytes, the size
is checked against the caller's pixel limit before any decoder allocates memory, and a JPEG that
ends before its end-of-image marker is refused even where a decoder would return a partial image.
Decoders are tried in order, the next one taking over when one is missing or fails:

- JPEG: simplejpeg (libjpeg-turbo; PyTurboJPEG 2.x would need libjpeg-turbo 3, which Debian 12
  lacks), then OpenCV, then Pillow.
- PNG, WebP, BMP: OpenCV, then Pillow.

Every decoder gives the stored pixels; the EXIF orientation of a JPEG is applied afterwards, the
same way whichever decoder ran. Alpha is dropped, greyscale is expanded to three channels and
16-bit samples keep their high byte (as libpng's `png_set_strip_16`, which OpenCV uses).
"""

from __future__ import annotations

import enum
import io
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from gazeserve.imaging.errors import CorruptImageError, ImageTooLargeError
from gazeserve.imaging.formats import ImageFormat, ImageHeader, check_png_chunks, read_header
from gazeserve.imaging.orientation import apply_exif_orientation

DEFAULT_MAX_PIXELS = 40_000_000


class Decoder(enum.StrEnum):
    SIMPLEJPEG = "simplejpeg"
    OPENCV = "opencv"
    PILLOW = "pillow"


DECODER_CHAINS: dict[ImageFormat, tuple[Decoder, ...]] = {
    ImageFormat.JPEG: (Decoder.SIMPLEJPEG, Decoder.OPENCV, Decoder.PILLOW),
    ImageFormat.PNG: (Decoder.OPENCV, Decoder.PILLOW),
    ImageFormat.WEBP: (Decoder.OPENCV, Decoder.PILLOW),
    ImageFormat.BMP: (Decoder.OPENCV, Decoder.PILLOW),
}


@dataclass(frozen=True)
class DecodedImage:
    rgb: npt.NDArray[np.uint8]
    """H x W x 3, uint8, RGB, C-contiguous, upright (EXIF orientation applied)."""
    format: ImageFormat
    decoder: Decoder
    """The decoder that produced the pixels."""


class _DecoderError(Exception):
    """One decoder could not decode the image; the next in the chain may."""


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> npt.NDArray[np.uint8]:
    """Decodes a JPEG, PNG, WebP or BMP image to an upright H x W x 3 uint8 RGB array.

    Args:
        data: The encoded image.
        max_pixels: Refuse images whose header declares more pixels than this.

    Raises:
        EmptyImageError: `data` is empty.
        UnsupportedImageError: not an image, or a format not decoded here.
        CorruptImageError: truncated or damaged; no decoder could decode it.
        ImageTooLargeError: the header declares more than `max_pixels` pixels.
    """
    return decode(data, max_pixels).rgb


def decode(
    data: bytes,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    decoders: Sequence[Decoder] | None = None,
) -> DecodedImage:
    """Like `decode_image`, also saying which format was read and which decoder ran.

    Args:
        data: The encoded image.
        max_pixels: Refuse images whose header declares more pixels than this.
        decoders: Decoders to try, in order, instead of the format's default chain; those that
            do not read the format are skipped (for benchmarks and tests).

    Raises:
        ImageDecodeError: one of the subclasses listed in `decode_image`.
        ValueError: `max_pixels` is not positive, or no decoder in `decoders` reads the format.
    """
    if max_pixels <= 0:
        raise ValueError(f"max_pixels must be positive, got {max_pixels}")
    header = read_header(data)
    if header.pixels > max_pixels:
        raise ImageTooLargeError(
            f"{header.format} image is {header.width_px}x{header.height_px} "
            f"({header.pixels:,} pixels), over the limit of {max_pixels:,}"
        )
    if header.format is ImageFormat.PNG:
        check_png_chunks(data)  # before OpenCV allocates a chunk's declared length
    supported = DECODER_CHAINS[header.format]
    chain = supported if decoders is None else [d for d in decoders if d in supported]
    if not chain:
        names = ", ".join(d.value for d in supported)
        raise ValueError(f"none of the decoders given reads {header.format}; use {names}")
    failures = []
    for decoder in chain:
        try:
            rgb = _check_shape(_BACKENDS[decoder](data, header.format), header)
        except _DecoderError as exc:
            failures.append(f"{decoder.value}: {exc}")
            continue
        return DecodedImage(apply_exif_orientation(rgb, header.orientation), header.format,
                            decoder)
    raise CorruptImageError(
        f"{header.format} image could not be decoded ({'; '.join(failures)})"
    )


def _check_shape(rgb: npt.NDArray[np.uint8], header: ImageHeader) -> npt.NDArray[np.uint8]:
    expected = (header.height_px, header.width_px, 3)
    if rgb.shape != expected:
        raise _DecoderError(f"decoded {rgb.shape} but the header declares {expected}")
    return rgb


def _reason(exc: BaseException) -> str:
    """A library's error as one short line (never the data it was given)."""
    lines = str(exc).strip().splitlines()
    return (lines[0][:120] if lines else type(exc).__name__) or type(exc).__name__


def _decode_simplejpeg(data: bytes, fmt: ImageFormat) -> npt.NDArray[np.uint8]:
    try:
        import simplejpeg
    except ImportError as exc:
        raise _DecoderError("not installed") from exc
    try:
        # strict: recoverable libjpeg warnings (corrupt data) raise instead of a partial image.
        rgb: npt.NDArray[np.uint8] = simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
    except ValueError as exc:
        raise _DecoderError(_reason(exc)) from exc
    return rgb


def _decode_opencv(data: bytes, fmt: ImageFormat) -> npt.NDArray[np.uint8]:
    try:
        import cv2
    except ImportError as exc:
        raise _DecoderError("not installed") from exc
    # IMREAD_COLOR_RGB drops alpha, expands greyscale and reduces 16-bit to 8-bit; orientation
    # is ignored here because `decode` applies it for every decoder alike.
    flags = cv2.IMREAD_COLOR_RGB | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        rgb = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error as exc:
        raise _DecoderError(_reason(exc)) from exc
    if rgb is None:
        raise _DecoderError("imdecode returned no image")
    return np.ascontiguousarray(rgb, dtype=np.uint8)


_PILLOW_16BIT_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N"})
_PILLOW_CORRUPT_DATA_ERRORS: tuple[type[Exception], ...] = (
    SyntaxError, struct.error, EOFError, IndexError, KeyError, TypeError)
"""Raised by Pillow's plugins on damaged data, besides `OSError` (found by fuzzing: e.g.
PngImagePlugin's `SyntaxError("broken PNG file")` for a damaged chunk after IHDR)."""


def _decode_pillow(data: bytes, fmt: ImageFormat) -> npt.NDArray[np.uint8]:
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise _DecoderError("not installed") from exc
    try:
        with Image.open(io.BytesIO(data), formats=[fmt.name]) as image:
            image.load()
            if image.mode in _PILLOW_16BIT_MODES:  # 16-bit greyscale, values 0-65535
                grey = (np.asarray(image).astype(np.uint32) >> 8).astype(np.uint8)
                return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
            return np.array(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise _DecoderError(_reason(exc)) from exc
    except _PILLOW_CORRUPT_DATA_ERRORS as exc:
        raise _DecoderError(_reason(exc)) from exc


_BACKENDS: dict[Decoder, Callable[[bytes, ImageFormat], npt.NDArray[np.uint8]]] = {
    Decoder.SIMPLEJPEG: _decode_simplejpeg,
    Decoder.OPENCV: _decode_opencv,
    Decoder.PILLOW: _decode_pillow,
}
