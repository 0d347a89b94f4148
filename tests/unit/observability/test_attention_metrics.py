"""Attention analytics as metrics: faces on/off screen, attention states, blinks, queue capacity."""

from __future__ import annotations

import pytest

from gazeserve.observability import Metrics
from gazeserve.observability.metrics import ATTENTION_STATES, OTHER
from gazeserve.results import AttentionState


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_faces_on_and_off_screen_and_frames_with_a_face() -> None:
    metrics = Metrics()
    metrics.observe_faces(on_screen=1, total=1)
    metrics.observe_faces(on_screen=0, total=2)
    metrics.observe_faces(on_screen=0, total=0)

    assert sample(metrics, "gazeserve_frames_analyzed_total") == 3
    assert sample(metrics, "gazeserve_frames_with_face_total") == 2
    assert sample(metrics, "gazeserve_faces_on_screen_total") == 1
    assert sample(metrics, "gazeserve_faces_off_screen_total") == 2


@pytest.mark.parametrize(("on_screen", "total"), [(-1, 1), (2, 1), (0, -1)])
def test_observe_faces_refuses_impossible_counts(on_screen: int, total: int) -> None:
    metrics = Metrics()
    with pytest.raises(ValueError, match="on_screen"):
        metrics.observe_faces(on_screen=on_screen, total=total)
    assert sample(metrics, "gazeserve_frames_analyzed_total") == 0


def test_attention_states_are_the_results_enum() -> None:
    assert set(ATTENTION_STATES) == {state.value for state in AttentionState}


def test_attention_state_counts_and_bounded_labels() -> None:
    metrics = Metrics()
    for state in ATTENTION_STATES:  # every state is exposed at zero before the first frame
        assert sample(metrics, "gazeserve_attention_state_total", state=state) == 0
    metrics.attention_state(AttentionState.ATTENTIVE)
    metrics.attention_state("attentive")
    metrics.attention_state(AttentionState.EYES_CLOSED)
    metrics.attention_state("someone's name")  # never a label value

    assert sample(metrics, "gazeserve_attention_state_total", state="attentive") == 2
    assert sample(metrics, "gazeserve_attention_state_total", state="eyes_closed") == 1
    assert sample(metrics, "gazeserve_attention_state_total", state=OTHER) == 1
    assert sample(metrics, "gazeserve_attention_state_total", state="someone's name") is None


def test_blinks_and_queue_capacity() -> None:
    metrics = Metrics()
    assert sample(metrics, "gazeserve_blinks_total") == 0
    metrics.blink()
    metrics.blink()
    metrics.set_queue_capacity(16)

    assert sample(metrics, "gazeserve_blinks_total") == 2
    assert sample(metrics, "gazeserve_queue_capacity") == 16
