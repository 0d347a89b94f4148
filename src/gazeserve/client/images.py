"""What `analyze` accepts as an image, turned into encoded bytes and a content type.

Encoded bytes and files are sent as they are (the service decodes JPEG, PNG, WebP and BMP).
A numpy array (H x W x 3 uint8 RGB, or H x W grayscale) is encoded to JPEG here, without OpenCV:
with Pillow when it is installed, else with simplejpeg (which `pip install gazeserve[client]`
brings); with neither, `ImageEncodingError` says what to install.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from gazeserve.client.errors import ImageEncodingError

ImageInput: TypeAlias = bytes | bytearray | memoryview | str | Path | npt.NDArray[Any]
"""Encoded image bytes, a path to an image file, or an RGB (or grayscale) uint8 array."""

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"BM", "image/bmp"),
)


def content_type_of(data: bytes) -> str:
    """The image content type from the first bytes; the service sniffs octet-stream itself."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, content_type in _MAGIC:
        if data.startswith(magic):
            return content_type
    return "application/octet-stream"


def encoded_image(image: ImageInput, jpeg_quality: int = 90) -> tuple[bytes, str]:
    """The bytes to send and their content type.

    Raises:
        ImageEncodingError: An array that is not an image, or no JPEG encoder installed.
        OSError: A path that cannot be read.
        TypeError: Anything else.
    """
    if isinstance(image, np.ndarray):
        data = encode_jpeg(image, jpeg_quality)
        return data, "image/jpeg"
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif isinstance(image, (str, Path)):
        data = Path(image).read_bytes()
    else:
        raise TypeError(f"image must be bytes, a path or a numpy array, not "
                        f"{type(image).__name__}")
    return data, content_type_of(data)


def encode_jpeg(rgb: npt.NDArray[Any], quality: int = 90) -> bytes:
    """JPEG bytes of an H x W x 3 RGB (or H x W grayscale) uint8 array, 4:2:0 subsampled."""
    array = _checked_array(rgb)
    try:
        from PIL import Image
    except ImportError:
        pass
    else:
        out = io.BytesIO()
        Image.fromarray(array).save(out, format="JPEG", quality=quality)
        return out.getvalue()
    try:
        import simplejpeg
    except ImportError:
        raise ImageEncodingError(
            "sending numpy arrays needs a JPEG encoder: pip install 'gazeserve[client]' "
            "(simplejpeg) or Pillow; or send encoded bytes or a file path") from None
    if array.ndim == 2:
        return bytes(simplejpeg.encode_jpeg(array[:, :, None], quality=quality,
                                            colorspace="GRAY", colorsubsampling="Gray"))
    return bytes(simplejpeg.encode_jpeg(array, quality=quality, colorspace="RGB",
                                        colorsubsampling="420"))


def _checked_array(image: npt.NDArray[Any]) -> npt.NDArray[np.uint8]:
    if image.dtype != np.uint8:
        raise ImageEncodingError(f"image arrays must be uint8, got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ImageEncodingError(f"image arrays must be H x W x 3 RGB or H x W grayscale, got "
                                 f"shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageEncodingError(f"image array is empty: shape {image.shape}")
    return np.ascontiguousarray(image)
