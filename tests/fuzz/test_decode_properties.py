"""Property tests of the decoder: whatever the bytes, a picture or a typed `ImageDecodeError`.

Random bytes, and real images of every supported kind (see `corpus.seeds`) mutated: bits
flipped, truncated, bytes inserted or deleted, magic bytes swapped, header sizes replaced (huge,
zero, negative, one pixel), two images spliced. Never another exception, never a picture over
the pixel limit, never more than `DEADLINE_MS` for one image.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gazeserve.imaging.decode import Decoder, decode
from gazeserve.imaging.errors import ImageDecodeError, ImageTooLargeError
from tests.fuzz.corpus import full_size_photos, seeds, with_declared_size

MAX_PIXELS = 1_000_000
DEADLINE_MS = 2000
MAGICS = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP", b"BM",
          b"GIF89a", b"II*\x00", b"\x00\x00\x00\x18ftypheic")
SIZES = (0, 1, 2, 7, 65_535, 65_536, 16_383, 16_384, 2**24, 2**31 - 1, 2**31, 2**32 - 1, -1)

SEED_NAMES = sorted(seeds())
# A failing example of many kB is reported anyway; its repr must not turn into the error.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
FUZZ = settings(max_examples=300, deadline=DEADLINE_MS, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def check_decode(data: bytes, decoders: tuple[Decoder, ...] | None = None) -> None:
    try:
        image = decode(data, MAX_PIXELS, decoders)
    except ImageDecodeError:
        return
    except ValueError as exc:  # only for a decoder list that cannot read the format
        assert decoders is not None and "none of the decoders" in str(exc)
        return
    rgb = image.rgb
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert 0 < rgb.shape[0] * rgb.shape[1] <= MAX_PIXELS
    assert rgb.flags.c_contiguous


@st.composite
def mutated(draw: Any) -> bytes:
    data = bytearray(seeds()[draw(st.sampled_from(SEED_NAMES))])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(("flip", "truncate", "insert", "delete", "magic", "size",
                                     "splice", "repeat")))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 256))]
        elif kind == "magic":
            magic = draw(st.sampled_from(MAGICS))
            data[:len(magic)] = magic
        elif kind == "size":
            data = bytearray(with_declared_size(bytes(data), draw(st.sampled_from(SIZES)),
                                                draw(st.sampled_from(SIZES))))
        elif kind == "splice":
            other = seeds()[draw(st.sampled_from(SEED_NAMES))]
            data = data[:at] + other[draw(st.integers(0, len(other) - 1)):]
        else:
            data = data[:at] + data[at:] * draw(st.integers(2, 4))
    return bytes(data)


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    check_decode(data)


@FUZZ
@given(st.sampled_from(MAGICS), st.binary(max_size=2048))
def test_a_known_magic_then_random_bytes(magic: bytes, rest: bytes) -> None:
    check_decode(magic + rest)


@settings(FUZZ, max_examples=1500)
@given(mutated())
def test_mutated_real_images(data: bytes) -> None:
    check_decode(data)


@FUZZ
@given(mutated(), st.sampled_from([(d,) for d in Decoder]))
def test_each_decoder_alone_on_mutated_images(data: bytes,
                                              decoders: tuple[Decoder, ...]) -> None:
    check_decode(data, decoders)


@pytest.mark.parametrize("name", SEED_NAMES)
def test_every_seed_decodes(name: str) -> None:
    rgb = decode(seeds()[name], MAX_PIXELS).rgb
    assert rgb.shape[2] == 3 and rgb.size > 0


RESIZABLE = [n for n in SEED_NAMES if with_declared_size(seeds()[n], 5, 5) != seeds()[n]]
"""Seeds whose header size `with_declared_size` knows how to rewrite (not lossless WebP)."""


@pytest.mark.parametrize("name", RESIZABLE)
@pytest.mark.parametrize(("width", "height"), [(0, 96), (96, 0), (40_000, 40_000),
                                               (2**24, 1), (1, 2**24), (-1, -1)])
def test_declared_size_lies(name: str, width: int, height: int) -> None:
    """A header that claims a huge, zero or negative size (as far as the format's field can
    hold it) is refused, a huge one before any allocation."""
    data = with_declared_size(seeds()[name], width, height)
    with pytest.raises(ImageDecodeError) as refused:
        decode(data, MAX_PIXELS)
    if (width, height) == (40_000, 40_000):
        assert isinstance(refused.value, ImageTooLargeError)


@pytest.mark.parametrize("name", sorted(full_size_photos()))
def test_every_truncation_of_a_real_photo(name: str) -> None:
    data = full_size_photos()[name]
    for end in range(0, len(data), max(1, len(data) // 97)):
        check_decode(data[:end])


OVERSIZED_PNG_CHUNK = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108020000009077"
    "53deffd83e3e49444154789c6388f2090300020000fd9bed0dd20000000049"
    "454e44ae426082")
"""Found by atheris: a 1 x 1 PNG whose IDAT length field says 4 GB; OpenCV allocated that much
for it (a 69-byte request taking 4 GB of the server's memory) until the chunk walk refused it."""


def test_a_chunk_longer_than_the_file_is_refused_before_any_decoder_runs() -> None:
    with pytest.raises(ImageDecodeError, match="chunk runs past the end"):
        decode(OVERSIZED_PNG_CHUNK, MAX_PIXELS)
