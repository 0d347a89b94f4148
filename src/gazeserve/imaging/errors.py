"""Why an image could not be decoded, as a small hierarchy callers can catch at any level.

Messages are one line and never contain the image's bytes: frames are personal data.
"""

from __future__ import annotations


class ImageDecodeError(ValueError):
    """The bytes could not be turned into an RGB image."""


class EmptyImageError(ImageDecodeError):
    """No bytes at all."""


class UnsupportedImageError(ImageDecodeError):
    """Not an image, or an image format gazeserve does not decode."""


class CorruptImageError(ImageDecodeError):
    """A supported format whose header or data is truncated or damaged."""


class ImageTooLargeError(ImageDecodeError):
    """The header declares more pixels than the caller allows."""
