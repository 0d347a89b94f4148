"""Turning what clients send into RGB frames: image bytes (`decode`) and video files (`video`)."""

from gazeserve.imaging.decode import (
    DEFAULT_MAX_PIXELS,
    DecodedImage,
    Decoder,
    decode,
    decode_image,
)
from gazeserve.imaging.errors import (
    CorruptImageError,
    EmptyImageError,
    ImageDecodeError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from gazeserve.imaging.formats import ImageFormat, ImageHeader, read_header

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "CorruptImageError",
    "DecodedImage",
    "Decoder",
    "EmptyImageError",
    "ImageDecodeError",
    "ImageFormat",
    "ImageHeader",
    "ImageTooLargeError",
    "UnsupportedImageError",
    "decode",
    "decode_image",
    "read_header",
]
