"""The delegate's three ops (the compiled C, called directly) against the NumPy references.

Random inputs, including sample points outside the feature map; and the FlexBuffers options
reader on the model's real options, on options written by the `flatbuffers` package, and on
truncated or corrupted bytes (which must be refused, never read out of bounds).
"""

from __future__ import annotations

import ctypes
import math

import numpy as np
import pytest
from flatbuffers import flexbuffers
from mediapipe_ops_reference import (
    delegate_library,
    landmarks_to_transform_matrix,
    sample_coordinates,
    transform_landmarks,
    transform_tensor_bilinear,
)

FloatPtr = ctypes.POINTER(ctypes.c_float)
MAX_SUBSET = 512


class L2tmOptions(ctypes.Structure):
    """`GzL2tmOptions` of mediapipe_ops.h."""

    _fields_ = [("left_rotation_idx", ctypes.c_int32), ("right_rotation_idx", ctypes.c_int32),
                ("output_width", ctypes.c_int32), ("output_height", ctypes.c_int32),
                ("scale_x", ctypes.c_float), ("scale_y", ctypes.c_float),
                ("target_rotation_radians", ctypes.c_float), ("subset_size", ctypes.c_int32),
                ("subset", ctypes.c_int32 * MAX_SUBSET)]


class TtbOptions(ctypes.Structure):
    _fields_ = [("output_width", ctypes.c_int32), ("output_height", ctypes.c_int32)]


@pytest.fixture(scope="module")
def lib() -> ctypes.CDLL:
    lib = ctypes.CDLL(str(delegate_library()))
    c_int, c_size_t, c_void_p = ctypes.c_int, ctypes.c_size_t, ctypes.c_void_p
    lib.gz_landmarks_to_transform_matrix.argtypes = [c_void_p, FloatPtr, c_int, FloatPtr]
    lib.gz_transform_tensor_bilinear.argtypes = [FloatPtr, c_int, c_int, c_int, FloatPtr,
                                                 FloatPtr, c_int, c_int]
    lib.gz_transform_landmarks.argtypes = [FloatPtr, c_int, c_int, FloatPtr, FloatPtr]
    for name in ("gz_parse_l2tm_options", "gz_parse_ttb_options"):
        getattr(lib, name).argtypes = [ctypes.c_char_p, c_size_t, c_void_p, ctypes.c_char_p,
                                       c_size_t]
    return lib


def dumps(value: object) -> bytes:
    return bytes(flexbuffers.Dumps(value))


def _ptr(a: np.ndarray) -> FloatPtr:
    assert a.dtype == np.float32 and a.flags.c_contiguous
    return a.ctypes.data_as(FloatPtr)


def c_l2tm(lib: ctypes.CDLL, landmarks: np.ndarray, options: L2tmOptions) -> np.ndarray:
    out = np.full(16, np.nan, np.float32)
    status = lib.gz_landmarks_to_transform_matrix(ctypes.byref(options), _ptr(landmarks),
                                                  ctypes.c_int(len(landmarks)), _ptr(out))
    assert status == 0
    return out.reshape(4, 4)


def c_ttb(lib: ctypes.CDLL, feature: np.ndarray, matrix: np.ndarray, out_h: int,
          out_w: int) -> np.ndarray:
    height, width, channels = feature.shape
    out = np.full((out_h, out_w, channels), np.nan, np.float32)
    lib.gz_transform_tensor_bilinear(_ptr(feature), height, width, channels,
                                     _ptr(np.ascontiguousarray(matrix, np.float32)), _ptr(out),
                                     out_h, out_w)
    return out


def options(left: int, right: int, subset: list[int], out: int = 16, scale: float = 1.5,
            target: float = 0.0) -> L2tmOptions:
    o = L2tmOptions(left, right, out, out, scale, scale, target, len(subset))
    o.subset[:len(subset)] = subset
    return o


@pytest.mark.parametrize("seed", range(8))
def test_landmarks_to_transform_matrix_matches_reference(lib, seed: int) -> None:
    rng = np.random.default_rng(seed)
    landmarks = (rng.random((468, 3)) * [48, 48, 10]).astype(np.float32)
    subset = rng.choice(468, size=int(rng.integers(2, 80)), replace=False).tolist()
    left, right = (int(i) for i in rng.choice(468, 2, replace=False))
    target = float(rng.uniform(-math.pi, math.pi)) if seed % 2 else 0.0
    ours = c_l2tm(lib, landmarks, options(left, right, subset, 16, 1.5, target))
    theirs = landmarks_to_transform_matrix(landmarks, left, right, subset, 16, 16, 1.5, 1.5,
                                           target)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-4)


def test_landmarks_to_transform_matrix_refuses_bad_indices(lib) -> None:
    landmarks = np.zeros((10, 3), np.float32)
    out = np.zeros(16, np.float32)
    for bad in (options(0, 10, [1, 2]), options(0, 1, [1, 11]), options(-1, 1, [1])):
        assert lib.gz_landmarks_to_transform_matrix(ctypes.byref(bad), _ptr(landmarks), 10,
                                                    _ptr(out)) == -1


def _random_matrix(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A rotation/scale/shift that maps the 16 x 16 grid partly outside the map."""
    angle = rng.uniform(-math.pi, math.pi)
    scale = rng.uniform(0.5, 4.0)
    m = np.eye(4, dtype=np.float32)
    m[:2, :2] = scale * np.array([[math.cos(angle), -math.sin(angle)],
                                  [math.sin(angle), math.cos(angle)]])
    centre = rng.uniform(0.25, 0.75, size=2) * [width, height]  # grid centre lands inside
    m[:2, 3] = centre - m[:2, :2] @ [8.0, 8.0]
    return m


@pytest.mark.parametrize("seed", range(12))
def test_transform_tensor_bilinear_matches_reference(lib, seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    height, width, channels = (int(v) for v in rng.integers([4, 4, 1], [25, 25, 33]))
    feature = rng.standard_normal((height, width, channels)).astype(np.float32)
    matrix = _random_matrix(rng, height, width)
    ours = c_ttb(lib, feature, matrix, 16, 16)
    theirs = transform_tensor_bilinear(feature, matrix, 16, 16)
    # float32 and float64 may disagree on which side of the map's edge a sample lies when it is
    # within rounding of it; leave those pixels out (there are next to none).
    src = sample_coordinates(matrix, 16, 16)
    edges = np.stack([src[..., 0], src[..., 0] - (width - 1), src[..., 1],
                      src[..., 1] - (height - 1)], axis=-1)
    decided = (np.abs(edges) > 1e-3).all(axis=-1)
    outside = ~((src[..., 0] >= 0) & (src[..., 0] <= width - 1) & (src[..., 1] >= 0)
                & (src[..., 1] <= height - 1))
    assert decided.mean() > 0.98
    assert outside[decided].any() and (~outside[decided]).any()  # both cases exercised
    np.testing.assert_allclose(ours[decided], theirs[decided], rtol=0, atol=2e-5)
    assert (ours[outside & decided] == 0).all()


def test_transform_tensor_bilinear_reads_zero_past_the_edge(lib) -> None:
    """Samples on the last row/column blend with 0 beyond it; exact grid samples copy."""
    feature = np.arange(1, 4 * 5 * 2 + 1, dtype=np.float32).reshape(4, 5, 2)
    identity = np.eye(4, dtype=np.float32)
    out = c_ttb(lib, feature, identity, 6, 7)
    np.testing.assert_array_equal(out[:4, :5], feature)  # src = dst on the map
    assert (out[4:] == 0).all() and (out[:, 5:] == 0).all()  # beyond W-1, H-1: outside
    half = identity.copy()
    half[0, 3] = 0.5  # x + 0.5: the last column sits between W-1 and a zero neighbour
    out = c_ttb(lib, feature, half, 4, 5)
    np.testing.assert_allclose(out[:, :4], (feature[:, :4] + feature[:, 1:]) / 2)
    assert (out[:, 4] == 0).all()  # x = 4.5 > W - 1 = 4: the whole pixel is 0
    np.testing.assert_allclose(out, transform_tensor_bilinear(feature, half, 4, 5), atol=1e-6)


@pytest.mark.parametrize("dims", [2, 3])
def test_transform_landmarks_matches_reference(lib, dims: int) -> None:
    rng = np.random.default_rng(dims)
    landmarks = (rng.standard_normal((71, dims)) * 20).astype(np.float32)
    matrix = rng.standard_normal((4, 4)).astype(np.float32)
    out = np.full_like(landmarks, np.nan)
    lib.gz_transform_landmarks(_ptr(landmarks), len(landmarks), dims, _ptr(matrix), _ptr(out))
    np.testing.assert_allclose(out, transform_landmarks(landmarks, matrix), rtol=1e-5,
                               atol=1e-4)
    if dims == 3:
        np.testing.assert_array_equal(out[:, 2], landmarks[:, 2])


# ------------------------------------------------------------------------------------------
# FlexBuffers options

L2TM_MODEL_OPTIONS = {"left_rotation_idx": 33, "right_rotation_idx": 133, "output_height": 16,
                      "output_width": 16, "scale_x": 1.5, "scale_y": 1.5,
                      "subset_idxs": [33, 7, 163, 144, 145, 153, 154, 155, 133],
                      "target_rotation_radians": 0.0}


def parse_l2tm(lib: ctypes.CDLL, data: bytes) -> tuple[int, L2tmOptions, str]:
    out = L2tmOptions()
    error = ctypes.create_string_buffer(256)
    buf = ctypes.create_string_buffer(data, len(data))  # exactly len(data) bytes, no NUL added
    status = lib.gz_parse_l2tm_options(buf, len(data), ctypes.byref(out), error, 256)
    return status, out, error.value.decode()


@pytest.mark.parametrize("variant", ["model", "wide ints", "float as int", "untyped vector"])
def test_options_reader_accepts_flexbuffers_encodings(lib, variant: str) -> None:
    opts = dict(L2TM_MODEL_OPTIONS)
    if variant == "wide ints":
        opts["subset_idxs"] = [70000, 2, 300]  # 32-bit elements
        opts["left_rotation_idx"] = 100000
    if variant == "float as int":
        opts["target_rotation_radians"] = 0  # an int where a float is expected
        opts["scale_x"] = 2
    if variant == "untyped vector":
        opts["subset_idxs"] = [1, 2.0, 3]  # mixed types: an untyped vector, 2.0 is integral
    status, parsed, error = parse_l2tm(lib, dumps(opts))
    assert status == 0, error
    expected = [int(v) for v in opts["subset_idxs"]]
    assert list(parsed.subset[:parsed.subset_size]) == expected
    assert parsed.left_rotation_idx == opts["left_rotation_idx"]
    assert parsed.scale_x == pytest.approx(float(opts["scale_x"]))
    assert (parsed.output_width, parsed.output_height) == (16, 16)


def test_options_reader_names_what_is_missing(lib) -> None:
    opts = dict(L2TM_MODEL_OPTIONS)
    del opts["subset_idxs"]
    status, _, error = parse_l2tm(lib, dumps(opts))
    assert status == -1 and "subset_idxs" in error
    opts = dict(L2TM_MODEL_OPTIONS, scale_x=-1.0)
    status, _, error = parse_l2tm(lib, dumps(opts))
    assert status == -1 and "out of range" in error
    assert parse_l2tm(lib, b"")[0] == -1
    assert parse_l2tm(lib, dumps([1, 2, 3]))[0] == -1  # not a map


def test_options_reader_survives_truncated_and_corrupted_bytes(lib) -> None:
    """Every prefix and many random byte flips: refused or parsed, never read out of bounds
    (the AddressSanitizer run of this test is what proves the latter)."""
    data = dumps(L2TM_MODEL_OPTIONS)
    for n in range(len(data)):
        parse_l2tm(lib, data[:n])
    rng = np.random.default_rng(7)
    for _ in range(3000):
        corrupted = bytearray(data)
        for pos in rng.integers(0, len(data), size=int(rng.integers(1, 4))):
            corrupted[pos] = int(rng.integers(0, 256))
        status, parsed, _ = parse_l2tm(lib, bytes(corrupted))
        if status == 0:
            assert 1 <= parsed.subset_size <= MAX_SUBSET


def test_transform_tensor_bilinear_options(lib) -> None:
    out = TtbOptions()
    error = ctypes.create_string_buffer(128)
    data = dumps({"output_height": 16, "output_width": 12})
    assert lib.gz_parse_ttb_options(data, len(data), ctypes.byref(out), error, 128) == 0
    assert (out.output_width, out.output_height) == (12, 16)
    assert lib.gz_parse_ttb_options(b"", 0, ctypes.byref(out), error, 128) == 0  # no options
    assert lib.gz_parse_ttb_options(b"\x01\x02\x03", 3, ctypes.byref(out), error, 128) == -1
