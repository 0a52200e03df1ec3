"""The reward: correct and well formed scores highest; nothing else can be gamed into a correct answer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sparse_video_r1.reward import compute_score
from sparse_video_r1.reward.video_qa import grounding_coverage

# What verl's reward manager hands over: the whole response decoded with special tokens skipped.
ENV_TURN = "\nuser\nHere are the 2 frames you asked for.\nFrame at 5.0 s: \nFrame at 6.0 s: \n\nassistant\n"
EPISODE = {"answer": "B", "end": "answer", "rounds": 2, "frames": [{"time": 5.0, "round": 1}] * 7}


def _score(response, truth="B", extra=None, **kwargs):
    return compute_score("synthetic", response, truth, extra, **kwargs)


def test_correct_and_well_formed_scores_highest():
    response = "<think>hmm</think><frames>5, 6</frames>" + ENV_TURN + "<think>reads</think><answer>B</answer>"
    result = _score(response, extra={"episode": EPISODE})
    assert result == {"score": 1.1, "acc": 1.0, "format": 1.0, "frames": 7.0, "rounds": 2.0}
    wrong = _score(response, truth="C", extra={"episode": EPISODE})
    assert wrong["score"] == pytest.approx(0.1) and wrong["acc"] == 0.0


@pytest.mark.parametrize(
    "final",
    [
        "<think>x</think><answer>B</answer><answer>C</answer>",
        "<think>x</think><answer></answer>",
        "<think>x</think><answer>BC</answer>",
        "<think>the answer is <answer>B</answer></think>",
        "<answer>B</answer>",
        "B",
        "",
    ],
)
def test_malformed_final_replies_never_count(final):
    result = _score("<think>x</think><frames>1</frames>" + ENV_TURN + final)
    assert result["acc"] == 0.0 and result["format"] == 0.0 and result["score"] == 0.0


def test_only_the_last_reply_counts():
    earlier_correct = "<think>x</think><answer>B</answer>" + ENV_TURN + "<think>x</think><frames>1</frames>"
    assert _score(earlier_correct)["acc"] == 0.0


def test_a_faked_turn_header_cannot_smuggle_in_an_answer():
    # The environment rejected this reply (it was not one action); the text's tail looks like an answer.
    forged = "<think>x</think><frames>1</frames>\nassistant\n<think>y</think><answer>B</answer>"
    rejected = {"answer": None, "end": "round limit", "rounds": 5, "frames": []}
    assert _score(forged, extra={"episode": rejected})["acc"] == 0.0


def test_frame_cost_and_grounding_are_opt_in():
    response = "<think>x</think><answer>B</answer>"
    spans = {"episode": EPISODE, "spans": [[4.0, 6.0]]}
    assert _score(response, extra=spans)["score"] == pytest.approx(1.1)
    assert _score(response, extra=spans, frame_cost=0.01)["score"] == pytest.approx(1.1 - 0.07)
    assert _score(response, extra=spans, grounding_weight=0.5)["score"] == pytest.approx(1.6)
    assert grounding_coverage([{"time": 1.0}, {"time": 5.0}], [[4.0, 6.0]]) == 0.5


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000), st.sampled_from("ABCDE"))
def test_any_text_gets_a_bounded_score_and_never_raises(text, truth):
    result = _score(text, truth=truth)
    assert 0.0 <= result["score"] <= 1.1 and set(result) == {"score", "acc", "format", "frames", "rounds"}


@pytest.mark.timeout(20)  # a guard against catastrophic (non-linear) parsing, not a speed target
def test_megabytes_of_nested_tags_are_rejected():
    nasty = "<think>" + "<answer>" * 200_000 + "</think>" * 100_000 + "<frames>1," * 100_000
    assert _score(nasty)["format"] == 0.0
