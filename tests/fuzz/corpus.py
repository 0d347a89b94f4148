"""Seed images and the mutations the fuzz tests apply to them.

The seeds are real photos (the sample media) encoded every way the decoder must handle: baseline
and progressive JPEG, greyscale and CMYK JPEG, JPEG with each EXIF orientation, PNG in grey, grey
with alpha, RGBA, palette and 16 bits, lossy, lossless and alpha WebP, BMP in 24 and 32 bits.
Built in memory (nothing written next to the tests); small (64-160 px) so each decode is fast,
plus the full-size photos as they are shipped.
"""

from __future__ import annotations

import io
import struct
import zlib
from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from gazeserve.sample_media import fetch_samples

SEED_SIDE_PX = 96


@cache
def photo_rgb(side: int = SEED_SIDE_PX) -> np.ndarray:
    """The Grace Hopper photo, scaled so its longer side is `side`."""
    path = fetch_samples()["grace_hopper.jpg"]
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert bgr is not None
    scale = side / max(bgr.shape[:2])
    small = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))


def _pillow(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _with_alpha(image: Image.Image) -> Image.Image:
    """RGBA with a real gradient of transparency (an opaque alpha is optimised away)."""
    rgba = image.convert("RGBA")
    alpha = np.linspace(0, 255, rgba.width * rgba.height).reshape(rgba.height, rgba.width)
    rgba.putalpha(Image.fromarray(alpha.astype(np.uint8)))
    return rgba


def _exif_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()


@cache
def seeds() -> dict[str, bytes]:
    """Name -> encoded image."""
    rgb = photo_rgb()
    image = Image.fromarray(rgb)
    grey = image.convert("L")
    out: dict[str, bytes] = {
        "baseline.jpg": _pillow(image, "JPEG", quality=85),
        "progressive.jpg": _pillow(image, "JPEG", quality=85, progressive=True),
        "grey.jpg": _pillow(grey, "JPEG"),
        "cmyk.jpg": _pillow(image.convert("CMYK"), "JPEG"),
        "subsampled-420.jpg": _pillow(image, "JPEG", subsampling=2),
        "rgb.png": _pillow(image, "PNG"),
        "grey.png": _pillow(grey, "PNG"),
        "grey-alpha.png": _pillow(image.convert("LA"), "PNG"),
        "rgba.png": _pillow(image.convert("RGBA"), "PNG"),
        "palette.png": _pillow(image.convert("P"), "PNG"),
        "opencv.png": cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes(),
        "rgb16.png": cv2.imencode(".png", rgb.astype(np.uint16) * 257)[1].tobytes(),
        "grey16.png": cv2.imencode(".png", np.asarray(grey, np.uint16) * 257)[1].tobytes(),
        "lossy.webp": _pillow(image, "WEBP", quality=80),
        "lossless.webp": _pillow(image, "WEBP", lossless=True),
        "alpha.webp": _pillow(_with_alpha(image), "WEBP"),
        "alpha-lossless.webp": _pillow(_with_alpha(image), "WEBP", lossless=True),
        "rgb24.bmp": _pillow(image, "BMP"),
        "rgba32.bmp": cv2.imencode(".bmp", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGRA))[1].tobytes(),
        "tiny-1x1.png": _pillow(image.resize((1, 1)), "PNG"),
        "tiny-1x1.jpg": _pillow(image.resize((1, 1)), "JPEG"),
    }
    for orientation in range(1, 9):
        out[f"exif-{orientation}.jpg"] = _pillow(image, "JPEG",
                                                 exif=_exif_orientation(orientation))
    return out


@cache
def full_size_photos() -> dict[str, bytes]:
    media = fetch_samples()
    return {name: Path(media[name]).read_bytes()
            for name in ("grace_hopper.jpg", "astronaut.png", "single_face.jpg")}


def with_declared_size(data: bytes, width: int, height: int) -> bytes:
    """The image with its header's size field overwritten (checksums fixed where the format
    has one), so a decoder is told a size the data does not hold; unchanged when the header is
    too short to hold one."""
    try:
        return _with_declared_size(data, width, height)
    except (struct.error, IndexError, ValueError):
        return data


def _with_declared_size(data: bytes, width: int, height: int) -> bytes:
    if data.startswith(b"\x89PNG"):
        head = bytearray(data)
        struct.pack_into(">II", head, 16, width & 0xFFFFFFFF, height & 0xFFFFFFFF)
        struct.pack_into(">I", head, 29, zlib.crc32(bytes(head[12:29])))
        return bytes(head)
    if data.startswith(b"\xff\xd8"):
        head = bytearray(data)
        pos = 2
        while pos + 9 < len(head) and head[pos] == 0xFF:
            marker = head[pos + 1]
            (length,) = struct.unpack_from(">H", head, pos + 2)
            if marker in (0xC0, 0xC1, 0xC2):
                struct.pack_into(">HH", head, pos + 5, height & 0xFFFF, width & 0xFFFF)
                return bytes(head)
            pos += 2 + length
        return data
    if data[:4] == b"RIFF" and data[12:16] == b"VP8X":
        head = bytearray(data)
        head[24:27] = ((width - 1) & 0xFFFFFF).to_bytes(3, "little")
        head[27:30] = ((height - 1) & 0xFFFFFF).to_bytes(3, "little")
        return bytes(head)
    if data[:4] == b"RIFF" and data[12:16] == b"VP8 ":
        head = bytearray(data)
        struct.pack_into("<HH", head, 26, width & 0x3FFF, height & 0x3FFF)
        return bytes(head)
    if data.startswith(b"BM") and len(data) >= 26:
        head = bytearray(data)
        struct.pack_into("<ii", head, 18, _int32(width), _int32(height))
        return bytes(head)
    return data


def _int32(value: int) -> int:
    return (value + 2**31) % 2**32 - 2**31
