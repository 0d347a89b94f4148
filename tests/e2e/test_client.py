"""`gazeserve.client` against a real server on loopback: results, landmarks, streams, retries."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import numpy as np
import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request

from gazeserve.client import (
    AsyncGazeClient,
    DroppedFrames,
    Frame,
    GazeClient,
    GazeConnectionError,
    GazeOverloaded,
    GazeServiceError,
    LandmarksFrame,
    RetryPolicy,
    StreamError,
    StreamEvent,
    StreamResult,
    result_from_dict,
)
from gazeserve.results import FaceResult, GazeResult
from tests.conftest import read_rgb
from tests.e2e.server import free_port, running_server

ANGLE_TOL_DEG = 0.05
"""Landmarks travel rounded to 0.01 px; the angles they give move by less than this."""
RATIO_TOL = 0.002
"""Openness and iris displacement: ratios in [0, 1] of the same rounded points."""


@pytest.fixture(scope="module")
def photo(media: dict[str, Path]) -> Path:
    return media["grace_hopper.jpg"]


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[GazeClient]:
    with GazeClient(server) as c:
        yield c


def assert_same_face(a: FaceResult, b: FaceResult) -> None:
    for angle in ("yaw_deg", "pitch_deg", "roll_deg"):
        assert getattr(a.head_pose, angle) == pytest.approx(getattr(b.head_pose, angle),
                                                            abs=ANGLE_TOL_DEG)
    assert a.head_translation_mm == pytest.approx(b.head_translation_mm, abs=0.5)
    for eye_a, eye_b in ((a.left_eye, b.left_eye), (a.right_eye, b.right_eye)):
        assert eye_a.openness == pytest.approx(eye_b.openness, abs=RATIO_TOL)
        assert eye_a.displacement == pytest.approx(eye_b.displacement, abs=RATIO_TOL)
        assert eye_a.iris_center_px == pytest.approx(eye_b.iris_center_px, abs=0.05)
        assert eye_a.closed == eye_b.closed
    assert a.gaze.yaw_deg == pytest.approx(b.gaze.yaw_deg, abs=ANGLE_TOL_DEG)
    assert a.gaze.pitch_deg == pytest.approx(b.gaze.pitch_deg, abs=ANGLE_TOL_DEG)
    assert a.gaze.displacement == pytest.approx(b.gaze.displacement, abs=RATIO_TOL)
    assert a.attention.state == b.attention.state
    assert a.on_screen == b.on_screen


# --- one image ---------------------------------------------------------------------------------


def test_analyze_reads_back_the_wire_result_exactly(server: str, client: GazeClient,
                                                    photo: Path) -> None:
    wire = httpx.post(f"{server}/v1/gaze", content=photo.read_bytes(),
                      headers={"content-type": "image/jpeg"}).json()
    result = client.analyze(photo)
    assert isinstance(result, GazeResult) and result.face_detected
    face = result.faces[0]
    assert isinstance(face.head_pose.yaw_deg, float) and face.landmarks_px is None
    assert face.attention.state.value == wire["faces"][0]["attention"]["state"]
    assert result.faces[0].box_px == pytest.approx(wire["faces"][0]["box_px"], abs=1.0)
    # Parsing loses nothing that to_dict() writes: the wire's JSON comes back unchanged (but a
    # face's `quality`, whose type needs OpenCV and is not read back).
    for wire_face in wire["faces"]:
        wire_face.pop("quality", None)
    assert result_from_dict(wire).to_dict() == wire


def test_analyze_takes_bytes_paths_and_rgb_arrays(client: GazeClient, photo: Path) -> None:
    rgb = read_rgb(photo)
    by_path = client.analyze(str(photo), include_landmarks=True)
    by_bytes = client.analyze(photo.read_bytes())
    by_array = client.analyze(rgb)
    assert by_path.frame.width == rgb.shape[1] and by_path.frame.height == rgb.shape[0]
    landmarks = by_path.faces[0].landmarks_px
    assert landmarks is not None and landmarks.shape == (478, 3)
    assert_same_face(by_bytes.faces[0], by_path.faces[0])
    # Re-encoded at quality 90: the same face within a degree.
    assert by_array.faces[0].head_pose.yaw_deg == pytest.approx(
        by_path.faces[0].head_pose.yaw_deg, abs=1.0)
    blank = client.analyze(np.zeros((240, 320, 3), np.uint8))
    assert not blank.face_detected and blank.faces == []


def test_async_analyze(server: str, photo: Path, client: GazeClient) -> None:
    sync_result = client.analyze(photo)

    async def main() -> list[GazeResult]:
        async with AsyncGazeClient(server) as aclient:
            assert (await aclient.health()) == {"status": "ok"}
            assert (await aclient.ready())["status"] == "ready"
            return await asyncio.gather(*(aclient.analyze(photo) for _ in range(4)),
                                        aclient.analyze(read_rgb(photo)))

    results = asyncio.run(main())
    for result in results[:4]:
        assert_same_face(result.faces[0], sync_result.faces[0])
    assert results[4].face_detected


def test_health_ready_and_service_errors(server: str, client: GazeClient, photo: Path) -> None:
    assert client.health() == {"status": "ok"}
    ready = client.ready()
    assert ready["status"] == "ready" and ready["workers"] >= 1
    with pytest.raises(GazeServiceError) as bad:
        client.analyze(b"hello, not an image")
    assert (bad.value.status, bad.value.code) == (415, "unsupported_media_type")
    with pytest.raises(GazeServiceError) as many:
        client.analyze(photo, max_faces=99)
    assert many.value.status == 422 and "max_faces" in many.value.message
    client.analyze(photo, stream_id="client-order", timestamp_ms=100)
    with pytest.raises(GazeServiceError) as order:
        client.analyze(photo, stream_id="client-order", timestamp_ms=50)
    assert (order.value.status, order.value.code) == (409, "out_of_order")
    with pytest.raises(ValueError, match="max_faces"):
        client.analyze(photo, max_faces=0)
    assert client.ready()["status"] == "ready"


def test_unreachable_service_raises_connection_error() -> None:
    with GazeClient(f"http://127.0.0.1:{free_port()}", timeout_s=2) as nowhere:
        with pytest.raises(GazeConnectionError):
            nowhere.health()
        with pytest.raises(GazeConnectionError):
            list(nowhere.stream([b"x"]))


# --- landmarks in -------------------------------------------------------------------------------


class MeshPoint(NamedTuple):
    """What MediaPipe's FaceLandmarker gives per point (`NormalizedLandmark`): x, y, z."""

    x: float
    y: float
    z: float


def test_landmarks_give_the_photos_answer(client: GazeClient, photo: Path) -> None:
    from_photo = client.analyze(photo, include_landmarks=True)
    face = from_photo.faces[0]
    assert face.landmarks_px is not None
    width, height = from_photo.frame.width, from_photo.frame.height
    scale = np.array([width, height, width], np.float32)

    pixels = client.analyze_landmarks(face.landmarks_px, width, height, "pixels")
    normalized = client.analyze_landmarks(face.landmarks_px / scale, width, height,
                                          timestamp_ms=40)
    objects = client.analyze_landmarks([MeshPoint(*p) for p in face.landmarks_px / scale],
                                       width, height)
    for result in (pixels, normalized, objects):
        assert result.frame.width == width and result.frame.height == height
        assert result.timings_ms.detect == result.timings_ms.landmarks == 0
        assert not result.detector_ran
        assert_same_face(result.faces[0], face)
    assert normalized.frame.timestamp_ms == 40


def _invalid(case: str, points: np.ndarray) -> dict[str, Any]:
    """The change to a valid `analyze_landmarks` call that makes it invalid."""
    with_nan = points.copy()
    with_nan[10, 0] = np.nan  # orjson writes NaN as null
    changes: dict[str, dict[str, Any]] = {
        "too few points": {"landmarks": points[:100]},
        "out of range": {"landmarks": np.full((478, 3), 3.0, np.float32)},
        "not finite": {"landmarks": with_nan},
        "zero width": {"width": 0},
        "bad coordinates": {"coordinates": "polar"},
    }
    return changes[case]


@pytest.mark.parametrize(("case", "expected"), [
    ("too few points", "478 or 468"),
    ("out of range", "within"),
    ("not finite", "landmarks"),
    ("zero width", "width"),
    ("bad coordinates", "coordinates"),
])
def test_invalid_landmarks_raise_422(client: GazeClient, photo: Path, case: str,
                                     expected: str) -> None:
    result = client.analyze(photo, include_landmarks=True)
    points = result.faces[0].landmarks_px
    assert points is not None
    normalized = points / np.array([result.frame.width, result.frame.height,
                                    result.frame.width], np.float32)
    args: dict[str, Any] = {"landmarks": normalized, "width": result.frame.width,
                            "height": result.frame.height, "coordinates": "normalized",
                            **_invalid(case, normalized)}
    with pytest.raises(GazeServiceError) as error:
        client.analyze_landmarks(**args)
    assert error.value.status == 422
    assert error.value.code == "invalid_request"
    assert expected in error.value.message


def test_landmarks_that_are_not_points_are_refused_before_sending(client: GazeClient) -> None:
    with pytest.raises(ValueError, match="N x 3"):
        client.analyze_landmarks([[0.5, 0.5]] * 478, 640, 480)
    with pytest.raises(ValueError, match="N x 3"):
        client.analyze_landmarks([["a", "b", "c"]] * 478, 640, 480)


# --- streams ------------------------------------------------------------------------------------


class Ledger:
    """Frames the client took from the source against answers it handed out, as they happen."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.taken = 0
        self.answered = 0
        self.most_in_flight = 0
        self.results: list[Any] = []
        self.dropped: list[Any] = []
        self.errors: list[Any] = []

    def take(self) -> None:
        self.taken += 1
        self._check()

    def answer(self, event: StreamEvent) -> None:
        if isinstance(event, StreamResult):
            self.results.append(event.frame_id)
            self.answered += 1
        elif isinstance(event, DroppedFrames):
            self.dropped += [(frame_id, event.reason) for frame_id in event.frame_ids]
            self.answered += len(event.frame_ids)
        elif event.frame_id is not None:
            self.errors.append(event.frame_id)
            self.answered += 1
        self._check()

    def _check(self) -> None:
        in_flight = self.taken - self.answered
        assert 0 <= in_flight <= self.limit, f"{in_flight} frames in flight > {self.limit}"
        self.most_in_flight = max(self.most_in_flight, in_flight)

    def assert_complete(self, count: int) -> None:
        assert self.results == sorted(self.results), "results out of order"
        answered = sorted(self.results + [i for i, _ in self.dropped] + self.errors)
        assert answered == list(range(count)), "every frame is answered exactly once"
        assert self.most_in_flight == self.limit, "the client kept the pipeline full"


@pytest.mark.parametrize("max_in_flight", [1, 2, 4])
def test_async_stream_keeps_at_most_n_in_flight(server: str, jpeg_frames: list[bytes],
                                                max_in_flight: int) -> None:
    ledger = Ledger(max_in_flight)
    frames = jpeg_frames[:40]

    async def source() -> AsyncIterator[Frame]:
        for i, frame in enumerate(frames):
            ledger.take()
            yield Frame(frame, timestamp_ms=i * 33.3)

    async def main() -> list[StreamEvent]:
        events = []
        async with AsyncGazeClient(server) as aclient, contextlib.aclosing(
                aclient.stream(source(), max_in_flight=max_in_flight)) as stream:
            async for event in stream:
                ledger.answer(event)
                events.append(event)
        return events

    events = asyncio.run(main())
    ledger.assert_complete(len(frames))
    results = [e for e in events if isinstance(e, StreamResult)]
    assert results[-1].frame_id == len(frames) - 1, "the newest frame is always processed"
    assert all(r.result.face_detected for r in results)
    assert all(r.round_trip_ms >= r.server_ms - r.wait_ms > 0 for r in results)
    assert results[-1].result.frame.timestamp_ms == pytest.approx((len(frames) - 1) * 33.3)
    reasons = {reason for _, reason in ledger.dropped}
    assert reasons <= {"superseded", "stale"}  # stale: only on a starved machine
    if max_in_flight <= 2:  # one in flight and one waiting: the server replaces none
        assert "superseded" not in reasons


@pytest.mark.parametrize("max_in_flight", [1, 3])
def test_sync_stream_keeps_at_most_n_in_flight(client: GazeClient, jpeg_frames: list[bytes],
                                               max_in_flight: int) -> None:
    ledger = Ledger(max_in_flight)
    frames = jpeg_frames[:30]

    def source() -> Iterator[bytes]:
        for frame in frames:
            ledger.take()
            yield frame

    for event in client.stream(source(), max_in_flight=max_in_flight, include_landmarks=True):
        ledger.answer(event)
        if isinstance(event, StreamResult):
            landmarks = event.result.faces[0].landmarks_px
            assert landmarks is not None and landmarks.shape == (478, 3)
    ledger.assert_complete(len(frames))
    if max_in_flight <= 2:
        assert all(reason != "superseded" for _, reason in ledger.dropped)


def test_fast_stream_reports_every_drop(server: str, jpeg_frames: list[bytes]) -> None:
    async def main() -> list[StreamEvent]:
        async with AsyncGazeClient(server) as aclient:
            return [e async for e in aclient.stream(jpeg_frames[:60], max_in_flight=12)]

    events = asyncio.run(main())
    results = [e.frame_id for e in events if isinstance(e, StreamResult)]
    dropped = [i for e in events if isinstance(e, DroppedFrames) for i in e.frame_ids]
    assert dropped, "a sender ahead of the service loses frames, and is told which"
    assert sorted(results + dropped) == list(range(60)), "every frame is answered exactly once"
    assert results == sorted(results) and results[-1] == 59


def test_stream_errors_and_landmarks_frames(client: GazeClient, photo: Path,
                                            jpeg_frames: list[bytes]) -> None:
    from_photo = client.analyze(photo, include_landmarks=True)
    points = from_photo.faces[0].landmarks_px
    assert points is not None
    # The mesh first: a stream smooths, and its first frame is the only one taken as it is.
    items = [LandmarksFrame(points, from_photo.frame.width, from_photo.frame.height, "pixels",
                            frame_id="mesh-1"),
             b"\x00\x01 not an image", jpeg_frames[0], Frame(jpeg_frames[1], frame_id="last")]
    events = list(client.stream(items, max_in_flight=1))
    assert [type(e) for e in events] == [StreamResult, StreamError, StreamResult, StreamResult]
    mesh = events[0]
    assert isinstance(mesh, StreamResult) and mesh.frame_id == "mesh-1"
    assert_same_face(mesh.result.faces[0], from_photo.faces[0])
    error = events[1]
    assert isinstance(error, StreamError)
    assert (error.frame_id, error.code) == (0, "unsupported_media_type")
    assert isinstance(events[3], StreamResult) and events[3].frame_id == "last"


# --- retries ------------------------------------------------------------------------------------


class Attempts:
    """One call's requests and answers on the wire, from httpx's event hooks."""

    def __init__(self) -> None:
        self.sent: list[float] = []
        self.answers: list[tuple[float, int, float | None]] = []

    async def on_request(self, request: httpx.Request) -> None:
        self.sent.append(time.monotonic())

    async def on_response(self, response: httpx.Response) -> None:
        retry_after = response.headers.get("retry-after")
        self.answers.append((time.monotonic(), response.status_code,
                             float(retry_after) if retry_after else None))


@pytest.mark.slow
def test_retries_honour_retry_after(photo: Path) -> None:
    image = photo.read_bytes()
    patient = RetryPolicy(max_attempts=10, backoff_s=0.1, jitter=1.0)

    async def call(url: str, attempts: Attempts, retry: RetryPolicy) -> GazeResult:
        hooks: dict[str, list[Any]] = {"request": [attempts.on_request],
                                       "response": [attempts.on_response]}
        async with httpx.AsyncClient(event_hooks=hooks) as http, AsyncGazeClient(
                url, retry=retry, http_client=http) as aclient:
            return await aclient.analyze(image)

    async def main(url: str) -> tuple[list[Attempts], list[GazeResult | BaseException]]:
        logs = [Attempts() for _ in range(12)]
        await call(url, Attempts(), patient)  # connections and caches warm
        results = await asyncio.gather(*(call(url, log, patient) for log in logs),
                                       *(call(url, Attempts(), RetryPolicy.none())
                                         for _ in range(6)),
                                       return_exceptions=True)
        return logs, results

    with running_server({"MAX_QUEUE_SIZE": "1", "MAX_WORKERS": "1"}) as url:
        logs, results = asyncio.run(main(url))

    assert all(isinstance(r, GazeResult) and r.face_detected for r in results[:12]), results
    impatient = [r for r in results[12:] if isinstance(r, GazeOverloaded)]
    assert impatient, "without retries, some of 18 concurrent calls on 1 worker are shed"
    assert all(e.status == 503 and e.retry_after_s is not None and e.retry_after_s >= 1
               for e in impatient)
    retried = [log for log in logs if len(log.sent) > 1]
    assert retried, "some calls were shed and retried"
    for log in logs:
        assert len(log.sent) == len(log.answers) <= patient.max_attempts
        assert log.answers[-1][1] == 200
        for (answered_at, status, retry_after), next_sent in zip(log.answers, log.sent[1:],
                                                                  strict=False):
            assert status == 503 and retry_after is not None
            assert next_sent - answered_at >= retry_after, "retried before Retry-After"


# --- the API key --------------------------------------------------------------------------------


def test_api_key_goes_in_the_authorization_header(server: str, photo: Path) -> None:
    seen: list[str | None] = []

    def on_request(request: httpx.Request) -> None:
        seen.append(request.headers.get("authorization"))

    with httpx.Client(event_hooks={"request": [on_request]}) as http, GazeClient(
            server, api_key="s3cret", http_client=http) as keyed:
        assert "s3cret" not in repr(keyed.options)
        keyed.health()
        keyed.analyze(photo)
    assert seen == ["Bearer s3cret", "Bearer s3cret"]


def test_api_key_goes_in_the_websocket_handshake() -> None:
    """A stand-in WebSocket server records the handshake (the network boundary, nothing else)."""
    handshakes: list[str | None] = []

    def record(connection: ServerConnection, request: Request) -> None:
        handshakes.append(request.headers.get("Authorization"))

    async def handler(connection: ServerConnection) -> None:
        async for _ in connection:
            pass

    async def main() -> None:
        async with serve(handler, "127.0.0.1", 0, process_request=record) as server:
            port = server.sockets[0].getsockname()[1]
            url = f"http://127.0.0.1:{port}"
            async with AsyncGazeClient(url, api_key="k1") as aclient:
                assert [e async for e in aclient.stream([])] == []
            with GazeClient(url, api_key="k2") as sync_client:
                assert await asyncio.to_thread(lambda: list(sync_client.stream([]))) == []

    asyncio.run(main())
    assert handshakes == ["Bearer k1", "Bearer k2"]


def test_leaving_a_stream_early_closes_it(server: str, client: GazeClient,
                                          jpeg_frames: list[bytes]) -> None:
    for event in client.stream(iter(jpeg_frames)):
        assert isinstance(event, (StreamResult, DroppedFrames))
        break

    async def main() -> int:
        async with AsyncGazeClient(server) as aclient:
            async with contextlib.aclosing(aclient.stream(iter(jpeg_frames))) as stream:
                async for _ in stream:
                    break
            return len((await aclient.analyze(jpeg_frames[0])).faces)

    assert asyncio.run(main()) == 1
    assert client.ready()["status"] == "ready"
