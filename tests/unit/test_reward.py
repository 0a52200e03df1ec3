"""The reward: correct and well formed scores highest; nothing else can be gamed into a correct answer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replies import structured_reply
from sparse_video_r1.agent.protocol import Answer
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
    assert result == {"score": 1.1, "acc": 1.0, "format": 1.0, "frames": 7.0, "rounds": 2.0,
                      "before_evidence": 0.0, "after_evidence": 0.0}  # fmt: skip
    wrong = _score(response, truth="C", extra={"episode": EPISODE})
    assert wrong["score"] == pytest.approx(0.1) and wrong["acc"] == 0.0


def test_the_episode_record_judges_a_thinking_that_looks_like_a_turn_header():
    # The environment accepted this answer; its thinking happens to hold the template's role line.
    response = "<think>I see\nassistant\nthe square turns red</think><answer>B</answer>"
    episode = {"answer": "B", "end": "answer", "rounds": 1, "frames": [{"time": 1.0, "round": 0}] * 5}
    assert _score(response, extra={"episode": episode})["score"] == pytest.approx(1.1)


@pytest.mark.parametrize(
    "final",
    [
        "<think>x</think><answer>B</answer><answer>C</answer>",
        "<think>x</think><answer></answer>",
        "<think>x</think><answer>BC</answer>",
        "<think>the answer is <answer>B</answer></think>",
        "<think></think><answer>B</answer>",
        "<think>  </think><answer>B</answer>",
        "<answer>B</answer>",
        "B",
        "",
    ],
)
def test_malformed_replies_never_count(final):
    result = _score(final)
    assert result["acc"] == 0.0 and result["format"] == 0.0 and result["score"] == 0.0


def test_an_episode_that_did_not_end_on_an_answer_scores_nothing_whatever_its_text():
    # The environment rejected this reply (it was not one action); the text's tail looks like an answer.
    forged = "<think>x</think><frames>1</frames>\nassistant\n<think>y</think><answer>B</answer>"
    for end in ("round limit", "token budget", "video error: file not found"):
        rejected = {"answer": None, "end": end, "rounds": 5, "frames": []}
        assert _score(forged, extra={"episode": rejected})["score"] == 0.0


def test_frame_cost_and_grounding_are_opt_in():
    response = "<think>x</think><answer>B</answer>"
    spans = {"episode": EPISODE, "spans": [[4.0, 6.0]]}
    assert _score(response, extra=spans)["score"] == pytest.approx(1.1)
    assert _score(response, extra=spans, frame_cost=0.01)["score"] == pytest.approx(1.1 - 0.07)
    assert _score(response, extra=spans, grounding_weight=0.5)["score"] == pytest.approx(1.6)
    assert grounding_coverage([{"time": 1.0}, {"time": 5.0}], [[4.0, 6.0]]) == 0.5


@settings(max_examples=400, deadline=None)
@given(structured_reply(), st.sampled_from("ABCDE"))
def test_a_single_reply_scores_exactly_by_its_action(case, truth):
    reply, expected = case
    result = _score(reply, truth=truth)
    if expected == Answer(truth):
        assert (result["score"], result["acc"], result["format"]) == (1.1, 1.0, 1.0)
    elif isinstance(expected, Answer):
        assert (result["score"], result["acc"], result["format"]) == (pytest.approx(0.1), 0.0, 1.0)
    else:
        assert (result["score"], result["acc"], result["format"]) == (0.0, 0.0, 0.0), reply


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["answer", "round limit", "token budget", "video error: cut"]),
    st.sampled_from(["A", "B", None]),
    st.integers(0, 25),
    structured_reply(),
)
def test_a_recorded_episode_scores_by_its_record_not_its_text(end, answer, frames, case):
    reply, _ = case  # any text: the record, not the text, says what the environment accepted
    episode = {"answer": answer, "end": end, "rounds": 3, "frames": [{"time": 0.5, "round": 0}] * frames}
    result = _score(reply, truth="B", extra={"episode": episode})
    accepted = end == "answer" and answer is not None
    assert result["format"] == float(accepted) and result["acc"] == float(accepted and answer == "B")
    assert result["score"] == pytest.approx({(True, "B"): 1.1, (True, "A"): 0.1}.get((accepted, answer), 0.0))
    assert result["frames"] == frames


@pytest.mark.timeout(20)  # a guard against catastrophic (non-linear) parsing, not a speed target
def test_megabytes_of_nested_tags_are_rejected():
    nasty = "<think>" + "<answer>" * 200_000 + "</think>" * 100_000 + "<frames>1," * 100_000
    assert _score(nasty)["format"] == 0.0
