"""Decoding real photos in every format, through every decoder, and refusing bad input.

The inputs are made here from a real photo (grace_hopper.jpg) with OpenCV and Pillow; nothing is
written to disk. Lossy round trips are compared with a stated tolerance.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageOps

from gazeserve.imaging import (
    CorruptImageError,
    Decoder,
    EmptyImageError,
    ImageDecodeError,
    ImageFormat,
    ImageTooLargeError,
    UnsupportedImageError,
    decode,
    decode_image,
    read_header,
)
from gazeserve.sample_media import fetch_samples

JPEG_DECODERS = [Decoder.SIMPLEJPEG, Decoder.OPENCV, Decoder.PILLOW]
OTHER_DECODERS = [Decoder.OPENCV, Decoder.PILLOW]
JPEG_MEAN_TOLERANCE = 2.0  # mean absolute difference, 8-bit levels, quality-95 JPEG vs source
CMYK_MEAN_TOLERANCE = 3.0  # CMYK round trip adds the colour conversion twice

RGB = npt.NDArray[np.uint8]


@pytest.fixture(scope="module")
def photo_path() -> Path:
    return fetch_samples()["grace_hopper.jpg"]


@pytest.fixture(scope="module")
def photo(photo_path: Path) -> RGB:
    """The photo as RGB, 600 x 512 (taller than wide, so rotations show in the shape)."""
    with Image.open(photo_path) as image:
        return np.array(image.convert("RGB"))


def pil_bytes(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def cv_bytes(rgb: npt.NDArray[np.generic], ext: str, params: tuple[int, ...] = ()) -> bytes:
    bgr = rgb[..., ::-1] if rgb.ndim == 3 else rgb
    ok, buffer = cv2.imencode(ext, np.ascontiguousarray(bgr), list(params))
    assert ok
    return buffer.tobytes()


def mean_diff(a: RGB, b: RGB) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_rgb(rgb: RGB, shape: tuple[int, int]) -> None:
    assert rgb.shape == (*shape, 3)
    assert rgb.dtype == np.uint8
    assert rgb.flags.c_contiguous


def png_with_ihdr(width: int, height: int) -> bytes:
    """A PNG signature and an IHDR chunk (8-bit RGB) with a valid CRC, and no pixel data."""
    body = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + body
            + struct.pack(">I", zlib.crc32(body)))


def patch_ihdr(png: bytes, width: int, height: int) -> bytes:
    """A real PNG whose IHDR is rewritten to declare another size, CRC recomputed."""
    body = png[12:16] + struct.pack(">II", width, height) + png[24:29]
    return png[:12] + body + struct.pack(">I", zlib.crc32(body)) + png[33:]


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("decoder", JPEG_DECODERS)
@pytest.mark.parametrize("encoder", ["opencv", "pillow"])
def test_jpeg_round_trip(photo: RGB, decoder: Decoder, encoder: str) -> None:
    data = (cv_bytes(photo, ".jpg", (cv2.IMWRITE_JPEG_QUALITY, 95)) if encoder == "opencv"
            else pil_bytes(Image.fromarray(photo), "JPEG", quality=95))
    result = decode(data, decoders=[decoder])
    assert result.decoder == decoder
    assert result.format == ImageFormat.JPEG
    assert_rgb(result.rgb, photo.shape[:2])
    assert mean_diff(result.rgb, photo) < JPEG_MEAN_TOLERANCE


@pytest.mark.parametrize("decoder", OTHER_DECODERS)
@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "BMP"])
def test_lossless_round_trip_is_exact(photo: RGB, decoder: Decoder, fmt: str) -> None:
    params = {"lossless": True} if fmt == "WEBP" else {}
    result = decode(pil_bytes(Image.fromarray(photo), fmt, **params), decoders=[decoder])
    assert result.decoder == decoder
    assert result.format == ImageFormat[fmt]
    assert_rgb(result.rgb, photo.shape[:2])
    np.testing.assert_array_equal(result.rgb, photo)


def test_lossy_webp_round_trip(photo: RGB) -> None:
    data = pil_bytes(Image.fromarray(photo), "WEBP", quality=95)
    for decoder in OTHER_DECODERS:
        rgb = decode(data, decoders=[decoder]).rgb
        assert_rgb(rgb, photo.shape[:2])
        assert mean_diff(rgb, photo) < 3.0


def test_default_chains(photo: RGB) -> None:
    assert decode(cv_bytes(photo, ".jpg")).decoder == Decoder.SIMPLEJPEG
    assert decode(cv_bytes(photo, ".png")).decoder == Decoder.OPENCV
    assert decode(cv_bytes(photo, ".webp")).decoder == Decoder.OPENCV


def test_decode_image_returns_writable_array(photo_path: Path, photo: RGB) -> None:
    rgb = decode_image(photo_path.read_bytes())
    assert_rgb(rgb, photo.shape[:2])
    assert rgb.flags.writeable
    assert mean_diff(rgb, photo) < 1.0  # the same file through another libjpeg


def test_bytes_after_end_of_image_are_allowed(photo: RGB) -> None:
    """Motion photos append a video after the JPEG's EOI marker."""
    data = cv_bytes(photo, ".jpg") + b"\x00\x00\x00\x18ftypmp42" + bytes(1000)
    assert_rgb(decode_image(data), photo.shape[:2])


# --- colour layouts ------------------------------------------------------------------------


@pytest.mark.parametrize("decoder", JPEG_DECODERS)
def test_greyscale_jpeg(photo: RGB, decoder: Decoder) -> None:
    grey = np.array(Image.fromarray(photo).convert("L"))
    rgb = decode(pil_bytes(Image.fromarray(grey), "JPEG", quality=95), decoders=[decoder]).rgb
    assert_rgb(rgb, grey.shape)
    np.testing.assert_array_equal(rgb[..., 0], rgb[..., 2])
    assert mean_diff(rgb[..., 0], grey) < JPEG_MEAN_TOLERANCE


@pytest.mark.parametrize("decoder", OTHER_DECODERS)
def test_greyscale_png(photo: RGB, decoder: Decoder) -> None:
    grey = np.array(Image.fromarray(photo).convert("L"))
    rgb = decode(cv_bytes(grey, ".png"), decoders=[decoder]).rgb
    assert_rgb(rgb, grey.shape)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], grey)


@pytest.mark.parametrize("decoder", OTHER_DECODERS)
@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_alpha_is_dropped(photo: RGB, decoder: Decoder, fmt: str) -> None:
    alpha = np.zeros(photo.shape[:2], np.uint8)
    alpha[:, : photo.shape[1] // 2] = 255  # left half opaque, right half fully transparent
    rgba = Image.fromarray(np.dstack([photo, alpha]), "RGBA")
    params = {"lossless": True, "exact": True} if fmt == "WEBP" else {}
    rgb = decode(pil_bytes(rgba, fmt, **params), decoders=[decoder]).rgb
    assert_rgb(rgb, photo.shape[:2])
    np.testing.assert_array_equal(rgb, photo)  # colour kept as stored, even where transparent


@pytest.mark.parametrize("decoder", OTHER_DECODERS)
@pytest.mark.parametrize("channels", [1, 3])
def test_16_bit_png_keeps_the_high_byte(photo: RGB, decoder: Decoder, channels: int) -> None:
    wide = photo.astype(np.uint16) * 257 + 100  # 8-bit v becomes 16-bit v * 257 + 100
    if channels == 1:
        wide = wide[..., 1]
    data = cv_bytes(wide, ".png")
    assert data[24] == 16  # IHDR bit depth
    rgb = decode(data, decoders=[decoder]).rgb
    assert_rgb(rgb, photo.shape[:2])
    expected = (wide >> 8).astype(np.uint8)
    if channels == 1:
        expected = np.repeat(expected[..., None], 3, axis=2)
    np.testing.assert_array_equal(rgb, expected)


@pytest.mark.parametrize("decoder", JPEG_DECODERS)
def test_cmyk_jpeg(photo: RGB, decoder: Decoder) -> None:
    data = pil_bytes(Image.fromarray(photo).convert("CMYK"), "JPEG", quality=95)
    assert read_header(data).format == ImageFormat.JPEG
    rgb = decode(data, decoders=[decoder]).rgb
    assert_rgb(rgb, photo.shape[:2])
    assert mean_diff(rgb, photo) < CMYK_MEAN_TOLERANCE


# --- EXIF orientation ----------------------------------------------------------------------


@pytest.mark.parametrize("decoder", JPEG_DECODERS)
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(photo: RGB, decoder: Decoder, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = pil_bytes(Image.fromarray(photo), "JPEG", quality=95, exif=exif)
    assert read_header(data).orientation == orientation
    with Image.open(io.BytesIO(data)) as stored:
        upright = np.array(ImageOps.exif_transpose(stored).convert("RGB"))
    rgb = decode(data, decoders=[decoder]).rgb
    assert_rgb(rgb, upright.shape[:2])
    assert mean_diff(rgb, upright) < JPEG_MEAN_TOLERANCE


def test_phone_portrait_is_turned_upright(photo: RGB) -> None:
    """A phone held upright stores the frame sideways with orientation 6 (rotate 90 clockwise)."""
    sideways = np.ascontiguousarray(np.rot90(photo, k=1))  # as the sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb = decode_image(pil_bytes(Image.fromarray(sideways), "JPEG", quality=95, exif=exif))
    assert_rgb(rgb, photo.shape[:2])
    assert mean_diff(rgb, photo) < JPEG_MEAN_TOLERANCE


# --- headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(("layout", "chunk"),
                         [("lossy", b"VP8 "), ("lossless", b"VP8L"), ("extended", b"VP8X")])
def test_webp_header_sizes(photo: RGB, layout: str, chunk: bytes) -> None:
    exif = Image.Exif()
    exif[0x0112] = 1
    layouts: dict[str, dict[str, object]] = {
        "lossy": {"quality": 90},
        "lossless": {"lossless": True},
        "extended": {"exif": exif},  # metadata needs the extended layout
    }
    params = layouts[layout]
    data = pil_bytes(Image.fromarray(photo), "WEBP", **params)
    assert data[12:16] == chunk
    header = read_header(data)
    assert (header.format, header.width_px, header.height_px) == (ImageFormat.WEBP, 512, 600)


def test_bmp_header_size(photo: RGB) -> None:
    header = read_header(cv_bytes(photo, ".bmp"))
    assert (header.format, header.width_px, header.height_px) == (ImageFormat.BMP, 512, 600)


# --- bad input -----------------------------------------------------------------------------


def assert_clean_message(exc: ImageDecodeError) -> None:
    message = str(exc)
    assert message and "\n" not in message and len(message) < 300
    assert "\\x" not in message and "b'" not in message


def test_empty_bytes() -> None:
    with pytest.raises(EmptyImageError) as info:
        decode_image(b"")
    assert_clean_message(info.value)


@pytest.mark.parametrize("data", [b"hello, this is text and not an image\n", b"\x00" * 64,
                                  b"BM but only text"])
def test_not_an_image(data: bytes) -> None:
    with pytest.raises(UnsupportedImageError, match="not a recognised image") as info:
        decode_image(data)
    assert_clean_message(info.value)


def test_known_but_unsupported_format_is_named(photo: RGB) -> None:
    with pytest.raises(UnsupportedImageError, match="GIF images are not supported"):
        decode_image(pil_bytes(Image.fromarray(photo), "GIF"))


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_jpeg(photo_path: Path, keep: float) -> None:
    data = photo_path.read_bytes()
    with pytest.raises(CorruptImageError, match="truncated") as info:
        decode_image(data[: int(len(data) * keep)])
    assert_clean_message(info.value)


def test_jpeg_cut_just_before_its_end_marker(photo_path: Path) -> None:
    with pytest.raises(CorruptImageError, match="no end-of-image marker"):
        decode_image(photo_path.read_bytes()[:-2])


def test_jpeg_truncated_in_its_header(photo_path: Path) -> None:
    with pytest.raises(CorruptImageError, match="inside its header"):
        decode_image(photo_path.read_bytes()[:300])


def test_truncated_png(photo: RGB) -> None:
    data = cv_bytes(photo, ".png")
    with pytest.raises(CorruptImageError, match=r"could not be decoded|truncated") as info:
        decode_image(data[: len(data) // 2])
    assert_clean_message(info.value)


def test_png_with_a_bad_header_checksum(photo: RGB) -> None:
    data = bytearray(cv_bytes(photo, ".png"))
    data[30] ^= 0xFF
    with pytest.raises(CorruptImageError, match="checksum"):
        decode_image(bytes(data))


def test_huge_png_is_refused_from_its_header(photo: RGB) -> None:
    """20000 x 20000 would take 1.2 GB as RGB: refused before any decoder allocates it."""
    real = patch_ihdr(cv_bytes(photo[:64, :64], ".png"), 20000, 20000)
    bare = png_with_ihdr(20000, 20000)
    tracemalloc.start()
    try:
        for data in (real, bare):
            with pytest.raises(ImageTooLargeError, match="20000x20000") as info:
                decode_image(data)
            assert_clean_message(info.value)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_pixel_limit_is_the_callers(photo_path: Path) -> None:
    data = photo_path.read_bytes()
    with pytest.raises(ImageTooLargeError, match="512x600"):
        decode_image(data, max_pixels=512 * 600 - 1)
    assert decode_image(data, max_pixels=512 * 600).shape == (600, 512, 3)


@pytest.mark.parametrize(("width", "height"), [(0, 480), (640, 0)])
def test_zero_size_png(width: int, height: int) -> None:
    with pytest.raises(CorruptImageError, match=f"declares a {width}x{height} image"):
        decode_image(png_with_ihdr(width, height))


def test_zero_size_jpeg(photo_path: Path) -> None:
    data = bytearray(photo_path.read_bytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 7] = b"\x00\x00"  # height
    with pytest.raises(CorruptImageError, match="declares a 512x0 image"):
        decode_image(bytes(data))


def test_every_error_is_an_image_decode_error() -> None:
    for error in (EmptyImageError, UnsupportedImageError, CorruptImageError, ImageTooLargeError):
        assert issubclass(error, ImageDecodeError)
    assert issubclass(ImageDecodeError, ValueError)


def test_misuse_is_a_value_error(photo_path: Path, photo: RGB) -> None:
    with pytest.raises(ValueError, match="max_pixels"):
        decode_image(photo_path.read_bytes(), max_pixels=0)
    with pytest.raises(ValueError, match="none of the decoders"):
        decode(cv_bytes(photo, ".png"), decoders=[Decoder.SIMPLEJPEG])
