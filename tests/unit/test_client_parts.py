"""The client's pure parts: retry waits, options, Retry-After, stream bookkeeping, parsing, JPEG."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import numpy as np
import orjson
import pytest
import simplejpeg

from gazeserve.client import (
    ClientOptions,
    DroppedFrames,
    GazeProtocolError,
    ImageEncodingError,
    RetryPolicy,
    StreamError,
    StreamResult,
    encode_jpeg,
    result_from_dict,
)
from gazeserve.client.images import content_type_of, encoded_image
from gazeserve.client.streaming import StreamOptions, StreamSession, prepare_frame
from gazeserve.client.wire import retry_after_s
from gazeserve.results import (
    Attention,
    AttentionState,
    EyeResult,
    FaceResult,
    FrameInfo,
    Gaze,
    GazeResult,
    HeadPose,
    StageTimings,
)

# --- retries and options ------------------------------------------------------------------------


def test_waits_grow_are_capped_and_never_undercut_retry_after() -> None:
    policy = RetryPolicy(max_attempts=6, backoff_s=0.1, max_backoff_s=0.5, jitter=0.0)
    assert [policy.wait_s(n, None) for n in range(1, 6)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.5, 0.5])
    assert policy.wait_s(6, None) is None, "six attempts in all"
    assert policy.wait_s(1, 3.0) == 3.0, "Retry-After beats the cap"
    rng = random.Random(7)
    jittered = RetryPolicy(jitter=0.5)
    for _ in range(100):
        wait = jittered.wait_s(1, 2.0, rng)
        assert wait is not None and 2.0 <= wait <= 3.0


def test_a_long_retry_after_is_not_waited_for() -> None:
    assert RetryPolicy(max_retry_after_s=10).wait_s(1, 60.0) is None
    assert RetryPolicy.none().wait_s(1, None) is None


@pytest.mark.parametrize("kwargs", [{"max_attempts": 0}, {"backoff_s": -1.0},
                                    {"jitter": float("nan")},
                                    {"backoff_s": 2.0, "max_backoff_s": 1.0}])
def test_bad_retry_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_options_urls_headers_and_validation() -> None:
    options = ClientOptions("https://example.test/gaze/", api_key="secret")
    assert options.url("/v1/gaze") == "https://example.test/gaze/v1/gaze"
    assert options.ws_url() == "wss://example.test/gaze/v1/stream"
    assert ClientOptions("http://h:1").ws_url() == "ws://h:1/v1/stream"
    assert options.headers() == {"Authorization": "Bearer secret"}
    assert "secret" not in repr(options)
    for bad in ({"base_url": "ftp://h"}, {"base_url": "h:8000"}, {"timeout_s": 0},
                {"jpeg_quality": 101}, {"api_key": "a\nb"}):
        with pytest.raises(ValueError):
            ClientOptions(**bad)  # type: ignore[arg-type]


def test_retry_after_seconds_and_dates() -> None:
    assert retry_after_s(httpx.Headers({"Retry-After": "2"})) == 2.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = retry_after_s(httpx.Headers({"Retry-After": later}))
    assert seconds is not None and 28 <= seconds <= 30
    assert retry_after_s(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after_s(httpx.Headers()) is None


# --- stream bookkeeping -------------------------------------------------------------------------


def _result_message(frame_id: object) -> bytes:
    return orjson.dumps({"type": "result", "frame_id": frame_id, "server_ms": 5.0,
                         "wait_ms": 1.0, **_result().to_dict()})


def test_session_counts_frames_until_they_are_answered() -> None:
    now = [0.0]
    session = StreamSession(StreamOptions(max_in_flight=3), clock=lambda: now[0])
    for _ in range(3):
        messages = session.frame_messages(prepare_frame(b"\xff\xd8\xff jpeg", 90))
        assert isinstance(messages[0], str) and messages[1] == b"\xff\xd8\xff jpeg"
    assert session.in_flight == 3 and not session.has_room
    now[0] = 0.25
    event = session.on_message(_result_message(0))
    assert isinstance(event, StreamResult) and event.round_trip_ms == pytest.approx(250.0)
    assert event.result.face_detected and session.has_room
    dropped = session.on_message(b'{"type": "dropped", "frame_ids": [1], "reason": "stale"}')
    assert dropped == DroppedFrames((1,), "stale")
    error = session.on_message(b'{"type": "error", "frame_id": 2, '
                               b'"error": {"code": "corrupt_image", "message": "bad"}}')
    assert error == StreamError(2, "corrupt_image", "bad")
    assert session.in_flight == 0
    assert session.on_message(b'{"type": "pong"}') is None
    with pytest.raises(GazeProtocolError):
        session.on_message(b"not json")


def test_session_ids_and_config() -> None:
    session = StreamSession(StreamOptions(include_landmarks=True, priority=7))
    assert orjson.loads(session.opening_messages()[0]) == {
        "type": "config", "include_landmarks": True, "priority": 7}
    assert StreamSession(StreamOptions()).opening_messages() == []
    from gazeserve.client import Frame

    session.frame_messages(prepare_frame(Frame(b"x", frame_id=1), 90))
    meta = orjson.loads(session.frame_messages(prepare_frame(b"y", 90))[0])
    assert meta == {"type": "frame", "frame_id": 0}
    assert orjson.loads(session.frame_messages(prepare_frame(b"z", 90))[0])["frame_id"] == 2
    with pytest.raises(ValueError, match="already in flight"):
        session.frame_messages(prepare_frame(Frame(b"x", frame_id=1), 90))
    for bad in ({"max_in_flight": 0}, {"priority": 11}):
        with pytest.raises(ValueError):
            StreamOptions(**bad)  # type: ignore[arg-type]


# --- results ------------------------------------------------------------------------------------


def _eye(iris: bool) -> EyeResult:
    return EyeResult(iris_center_px=(101.25, 80.5) if iris else None,
                     iris_radius_px=4.5 if iris else None,
                     displacement=(0.125, -0.25) if iris else None, openness=0.3, closed=False)


def _result(iris: bool = True, landmarks: bool = False) -> GazeResult:
    face = FaceResult(
        score=0.98, box_px=(10.0, 20.0, 110.0, 140.0),
        head_pose=HeadPose(yaw_deg=-3.5, pitch_deg=2.25, roll_deg=0.5),
        head_translation_mm=(1.5, -2.0, 550.0), left_eye=_eye(iris), right_eye=_eye(iris),
        gaze=Gaze(yaw_deg=4.0, pitch_deg=-1.0, displacement=(0.1, 0.2) if iris else None,
                  screen_point_px=(640.0, 360.0)),
        on_screen=True, attention=Attention(0.9, AttentionState.ATTENTIVE),
        landmarks_px=np.arange(478 * 3, dtype=np.float32).reshape(478, 3) / 4
        if landmarks else None)
    return GazeResult(FrameInfo(640, 480, 12.0, "cam-1"), [face],
                      StageTimings(decode=1.0, detect=2.0, total=9.0))


@pytest.mark.parametrize(("iris", "landmarks"), [(True, False), (False, False), (True, True)])
def test_results_read_back_as_the_engines_values(iris: bool, landmarks: bool) -> None:
    original = _result(iris, landmarks)
    wire = orjson.loads(orjson.dumps(original.to_dict()))
    parsed = result_from_dict({**wire, "a_field_from_the_future": 1})
    assert parsed.to_dict() == original.to_dict()
    assert parsed.faces[0].attention.state is AttentionState.ATTENTIVE
    assert parsed.detector_ran
    if landmarks:
        assert parsed.faces[0].landmarks_px is not None
        assert parsed.faces[0].landmarks_px.dtype == np.float32


def test_other_schemas_and_broken_results_are_protocol_errors() -> None:
    wire = _result().to_dict()
    with pytest.raises(GazeProtocolError, match="schema"):
        result_from_dict({**wire, "schema": "gazeserve.gaze.v2"})
    with pytest.raises(GazeProtocolError, match="malformed"):
        result_from_dict({**wire, "faces": [{"score": 1.0}]})


# --- images -------------------------------------------------------------------------------------


def test_content_types_from_magic_bytes() -> None:
    assert content_type_of(b"\xff\xd8\xff\xe0....") == "image/jpeg"
    assert content_type_of(b"\x89PNG\r\n\x1a\n...") == "image/png"
    assert content_type_of(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert content_type_of(b"hello") == "application/octet-stream"
    with pytest.raises(TypeError):
        encoded_image(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("encoder", ["pillow", "simplejpeg"])
def test_arrays_encode_to_jpeg_with_either_encoder(monkeypatch: pytest.MonkeyPatch,
                                                   encoder: str) -> None:
    if encoder == "simplejpeg":
        monkeypatch.setitem(sys.modules, "PIL", None)  # as in a client-only install
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, :32] = (200, 30, 30)
    for image in (rgb, rgb[:, :, 0], rgb[::2, ::2]):
        data = encode_jpeg(image)
        assert content_type_of(data) == "image/jpeg"
        height, width, _, _ = simplejpeg.decode_jpeg_header(data)
        assert (height, width) == image.shape[:2]


def test_arrays_without_an_encoder_or_of_the_wrong_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImageEncodingError, match="uint8"):
        encode_jpeg(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ImageEncodingError, match="RGB"):
        encode_jpeg(np.zeros((4, 4, 4), np.uint8))
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "simplejpeg", None)
    with pytest.raises(ImageEncodingError, match=r"gazeserve\[client\]"):
        encode_jpeg(np.zeros((4, 4, 3), np.uint8))


def test_stream_arguments_are_checked_when_called() -> None:
    import asyncio

    from gazeserve.client import AsyncGazeClient, GazeClient

    with GazeClient("http://127.0.0.1:9") as client, pytest.raises(ValueError, match="max_in"):
        client.stream([], max_in_flight=0)

    async def main() -> None:
        async with AsyncGazeClient("http://127.0.0.1:9") as aclient:
            with pytest.raises(ValueError, match="priority"):
                aclient.stream([], priority=11)

    asyncio.run(main())
