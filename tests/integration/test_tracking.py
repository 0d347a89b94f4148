"""Per-stream tracking on a real video, and isolation between streams and threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from gazeserve import StreamOrderError
from tests.conftest import video_frames


@pytest.fixture(scope="module")
def clip(media) -> list[np.ndarray]:
    return video_frames(media["single_face.mp4"])


def test_tracking_skips_the_detector(engine, clip) -> None:
    stream = engine.new_stream()
    results = [engine.process(frame, stream, timestamp_ms=i * 33.3) for i, frame in
               enumerate(clip)]
    with_face = sum(r.face_detected for r in results)
    assert len(clip) >= 30
    assert with_face >= 0.95 * len(clip)
    assert stream.detector_runs <= 0.10 * len(clip)
    assert stream.frames == len(clip)
    assert all(r.frame.stream_id == stream.stream_id for r in results)


def test_no_face_video_gives_no_face(engine, media) -> None:
    stream = engine.new_stream()
    frames = video_frames(media["no_face.mp4"], limit=20)
    assert frames
    assert not any(engine.process(f, stream).face_detected for f in frames)
    assert stream.roi is None


def _irises(result) -> np.ndarray:
    face = result.faces[0]
    return np.array([face.left_eye.iris_center_px, face.right_eye.iris_center_px])


def test_interleaved_streams_equal_each_alone(engine, clip) -> None:
    a_frames = clip[:40]
    b_frames = [np.ascontiguousarray(f[:, ::-1]) for f in clip[:40]]
    stream_a, stream_b = engine.new_stream(), engine.new_stream()
    alone_a = [_irises(engine.process(f, stream_a)) for f in a_frames]
    alone_b = [_irises(engine.process(f, stream_b)) for f in b_frames]
    stream_a, stream_b = engine.new_stream(), engine.new_stream()
    for fa, fb, ra, rb in zip(a_frames, b_frames, alone_a, alone_b, strict=True):
        np.testing.assert_allclose(_irises(engine.process(fa, stream_a)), ra, atol=1e-3)
        np.testing.assert_allclose(_irises(engine.process(fb, stream_b)), rb, atol=1e-3)


def test_threads_always_get_their_own_face(engine, photos) -> None:
    names = list(photos)
    expected = {n: _irises(engine.process(photos[n])) for n in names}

    def work(worker: int) -> int:
        wrong = 0
        for i in range(25):
            name = names[(worker + i) % len(names)]
            wrong += not np.allclose(_irises(engine.process(photos[name])), expected[name],
                                     atol=1e-3)
        return wrong

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(work, range(4))) == 0
    assert engine.interpreter_sets <= 5


def test_timestamps_must_not_go_back(engine, photos) -> None:
    stream = engine.new_stream()
    engine.process(photos["astronaut.png"], stream, timestamp_ms=100.0)
    with pytest.raises(StreamOrderError):
        engine.process(photos["astronaut.png"], stream, timestamp_ms=50.0)
