"""Image formats by their magic bytes, and the size each header declares.

Reading the header first lets `decode` refuse an image by its declared size before any decoder
allocates pixels, and tell a truncated JPEG from a whole one whatever the decoder would do with it.
"""

from __future__ import annotations

import enum
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from gazeserve.imaging.errors import CorruptImageError, EmptyImageError, UnsupportedImageError
from gazeserve.imaging.orientation import read_exif_orientation


class ImageFormat(enum.StrEnum):
    JPEG = "JPEG"
    PNG = "PNG"
    WEBP = "WebP"
    BMP = "BMP"


@dataclass(frozen=True)
class ImageHeader:
    format: ImageFormat
    width_px: int
    height_px: int
    """The size as stored, before the EXIF orientation is applied."""
    orientation: int = 1
    """EXIF orientation 1-8 (1: stored upright); read from JPEG files only."""

    @property
    def pixels(self) -> int:
        return self.width_px * self.height_px


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BMP_INFO_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})
_SUPPORTED = "JPEG, PNG, WebP or BMP"

# Formats we recognise only to name them in the error.
_OTHER_SIGNATURES = {
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}
_ISO_BMFF_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"mif1": "HEIF", b"msf1": "HEIF",
                    b"avif": "AVIF"}


def sniff_format(data: bytes) -> ImageFormat:
    """The format named by the leading magic bytes; raises `UnsupportedImageError` otherwise."""
    if data.startswith(b"\xff\xd8\xff"):
        return ImageFormat.JPEG
    if data.startswith(_PNG_SIGNATURE):
        return ImageFormat.PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ImageFormat.WEBP
    if (data[:2] == b"BM" and len(data) >= 26
            and struct.unpack_from("<I", data, 14)[0] in _BMP_INFO_HEADER_SIZES):
        return ImageFormat.BMP
    for magic, name in _OTHER_SIGNATURES.items():
        if data.startswith(magic):
            raise UnsupportedImageError(f"{name} images are not supported; send {_SUPPORTED}")
    if data[4:8] == b"ftyp" and data[8:12] in _ISO_BMFF_BRANDS:
        name = _ISO_BMFF_BRANDS[data[8:12]]
        raise UnsupportedImageError(f"{name} images are not supported; send {_SUPPORTED}")
    raise UnsupportedImageError(f"not a recognised image; send {_SUPPORTED}")


def read_header(data: bytes) -> ImageHeader:
    """Format, stored size and orientation, from the header alone (no pixel is decoded).

    Raises:
        EmptyImageError: `data` is empty.
        UnsupportedImageError: not a JPEG, PNG, WebP or BMP image.
        CorruptImageError: the header is truncated or damaged, declares a zero size, or (JPEG)
            the data ends before the end-of-image marker.
    """
    if not data:
        raise EmptyImageError("image is empty (0 bytes)")
    header = _READERS[sniff_format(data)](data)
    if header.width_px <= 0 or header.height_px <= 0:
        raise CorruptImageError(
            f"{header.format} header declares a {header.width_px}x{header.height_px} image"
        )
    return header


# JPEG (ITU-T T.81 annex B): SOFn markers carry the frame size; DHT (C4), JPG (C8) and DAC (CC)
# share the range but are not frames. RSTn, TEM and SOI stand alone, without a length.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})
_JPEG_SOS, _JPEG_EOI, _JPEG_APP1 = 0xDA, 0xD9, 0xE1
_EXIF_ID = b"Exif\x00\x00"


def _read_jpeg(data: bytes) -> ImageHeader:
    """Walks the marker segments from SOI to the first scan (SOS), skipping each by its length.

    Walking by length (rather than searching for bytes) steps over an EXIF thumbnail, which is a
    whole JPEG with its own SOS and EOI inside APP1. Entropy-coded data can never hold 0xFFD9
    (an 0xFF there is always followed by 0x00 or RSTn), so a JPEG without EOI after its first
    scan is truncated. Bytes after EOI are allowed: motion photos append a video there.
    """
    size: tuple[int, int] | None = None
    orientation = 1
    pos = 2
    while True:
        if pos + 4 > len(data):
            raise CorruptImageError("JPEG is truncated inside its header")
        if data[pos] != 0xFF:
            raise CorruptImageError(f"JPEG header is corrupt (no marker at byte {pos})")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _JPEG_STANDALONE:
            pos += 2
            continue
        if marker == _JPEG_EOI:
            raise CorruptImageError("JPEG ends before any image data")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length  # the length counts itself, not the marker
        if length < 2 or end > len(data):
            raise CorruptImageError("JPEG is truncated inside its header")
        if marker in _JPEG_SOF and size is None:
            if length < 8:
                raise CorruptImageError("JPEG frame header is too short")
            height, width = struct.unpack_from(">HH", data, pos + 5)  # after the precision byte
            size = (width, height)
        elif marker == _JPEG_APP1 and data.startswith(_EXIF_ID, pos + 4):
            orientation = read_exif_orientation(data[pos + 4 + len(_EXIF_ID) : end])
        pos = end
        if marker == _JPEG_SOS:
            break
    if size is None:
        raise CorruptImageError("JPEG has no frame header before its image data")
    # rfind, not find: a whole file ends with EOI, found at once from the end, whereas a
    # forward search stalls on every stuffed 0xFF00 of the scan (measured 70 us against 0.1).
    if data.rfind(b"\xff\xd9") < pos:  # pos: start of the first scan's entropy-coded data
        raise CorruptImageError("JPEG is truncated (no end-of-image marker after the image data)")
    return ImageHeader(ImageFormat.JPEG, size[0], size[1], orientation)


def _read_png(data: bytes) -> ImageHeader:
    """The IHDR chunk, which must come first (PNG specification, 3rd edition, 11.2.1)."""
    if len(data) < 33:
        raise CorruptImageError("PNG is truncated inside its header")
    length, kind = struct.unpack_from(">I4s", data, 8)
    if kind != b"IHDR" or length != 13:
        raise CorruptImageError("PNG does not start with an IHDR chunk")
    width, height = struct.unpack_from(">II", data, 16)
    (crc,) = struct.unpack_from(">I", data, 29)
    if zlib.crc32(data[12:29]) != crc:
        raise CorruptImageError("PNG header is corrupt (IHDR checksum mismatch)")
    return ImageHeader(ImageFormat.PNG, width, height)


def check_png_chunks(data: bytes) -> None:
    """Every chunk's declared length must fit in the data, up to IEND (PNG 3rd edition, 5.3).

    OpenCV's PNG reader allocates a chunk's declared length before reading it: a 69-byte PNG
    whose IDAT claims 4 GB made it allocate 4 GB (found by fuzzing). Walking the lengths costs
    one step per chunk, and also refuses a PNG cut short before IEND, as JPEG without EOI is.
    """
    pos = 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        pos += 12 + length
        if pos > len(data):
            raise CorruptImageError("PNG is truncated or damaged (a chunk runs past the end)")
        if kind == b"IEND":
            return
    raise CorruptImageError("PNG is truncated (no IEND chunk)")


def _read_webp(data: bytes) -> ImageHeader:
    """The first chunk of a WebP file (RFC 9649, sections 2.5-2.7).

    Parsed here rather than with Pillow: `Image.open` warns or raises on its own pixel limit
    before we could apply ours.
    """
    if len(data) < 30:
        raise CorruptImageError("WebP is truncated inside its header")
    chunk = data[12:16]
    if chunk == b"VP8X":  # extended: canvas width-1 and height-1, 24 bits each
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
    elif chunk == b"VP8 ":  # lossy: key frame start code, then 14-bit width and height
        if data[23:26] != b"\x9d\x01\x2a":
            raise CorruptImageError("WebP lossy header is corrupt (no key frame start code)")
        width, height = (v & 0x3FFF for v in struct.unpack_from("<HH", data, 26))
    elif chunk == b"VP8L":  # lossless: signature 0x2F, then width-1 and height-1 in 14 bits
        if data[20] != 0x2F:
            raise CorruptImageError("WebP lossless header is corrupt (bad signature)")
        (bits,) = struct.unpack_from("<I", data, 21)
        width, height = 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    else:
        raise CorruptImageError("WebP has an unknown first chunk")
    return ImageHeader(ImageFormat.WEBP, width, height)


def _read_bmp(data: bytes) -> ImageHeader:
    """BITMAPCOREHEADER (12 bytes, 16-bit size) or a later info header (signed 32-bit size;
    a negative height means rows are stored top-down)."""
    (info_size,) = struct.unpack_from("<I", data, 14)
    if info_size == 12:
        width, height = struct.unpack_from("<HH", data, 18)
    else:
        width, height = struct.unpack_from("<ii", data, 18)
    return ImageHeader(ImageFormat.BMP, width, abs(height))


_READERS: dict[ImageFormat, Callable[[bytes], ImageHeader]] = {
    ImageFormat.JPEG: _read_jpeg,
    ImageFormat.PNG: _read_png,
    ImageFormat.WEBP: _read_webp,
    ImageFormat.BMP: _read_bmp,
}
