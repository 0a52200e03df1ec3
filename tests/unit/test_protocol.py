"""Reply parsing: exactly one action after a non-empty thinking, and nothing that can be gamed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replies import structured_reply
from sparse_video_r1.agent.protocol import Answer, FrameRequest, Invalid, parse_reply


@pytest.mark.parametrize(
    ("reply", "action"),
    [
        ("<think>the cup falls</think><answer>C</answer>", Answer("C")),
        ("  <think>a\nb</think>\n <answer> E </answer>\n", Answer("E")),
        ("<think>need more</think><frames>1, 2.5,40</frames>", FrameRequest((1.0, 2.5, 40.0))),
        ("<think>x</think><frames>3s, 12.25 s</frames>", FrameRequest((3.0, 12.25))),
        ("<think>x</think><frames>0, .5, 007</frames>", FrameRequest((0.0, 0.5, 7.0))),
        # Tags and turn headers inside the thinking are only words.
        ("<think>\nassistant\n<answer>A</answer></think><answer>B</answer>", Answer("B")),
    ],
)
def test_valid_replies(reply, action):
    assert parse_reply(reply) == action


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("<answer>C</answer>", "start with <think>"),
        ("<think>no end <answer>C</answer>", "never closed"),
        ("<think>a<think>b</think><answer>C</answer>", "opened twice"),
        ("<think></think><answer>C</answer>", "thinking inside <think></think> is empty"),
        ("<think> \n\t </think><answer>C</answer>", "thinking inside <think></think> is empty"),
        ("<think>I pick <answer>C</answer></think>", "neither"),  # an answer only inside the thinking
        ("<think>x</think>", "neither"),
        ("<think>x</think>The answer is C", "neither"),
        ("<think>x</think><answer>A</answer><answer>B</answer>", "exactly one"),
        ("<think>x</think><answer>C</answer> because", "exactly one"),
        ("<think>x</think><answer></answer>", "one option letter"),
        ("<think>x</think><answer>AB</answer>", "one option letter"),
        ("<think>x</think><answer>F</answer>", "one option letter"),
        ("<think>x</think><answer>c</answer>", "one option letter"),
        ("<think>x</think><answer><frames>1</frames></answer>", "another tag"),
        ("<think>x</think><frames></frames>", "must list times"),
        ("<think>x</think><frames>1, two</frames>", "not a time"),
        ("<think>x</think><frames>1,</frames>", "not a time"),
        ("<think>x</think><frames>1</frames><answer>A</answer>", "exactly one"),
    ],
)
def test_invalid_replies_say_why(reply, why):
    action = parse_reply(reply)
    assert isinstance(action, Invalid) and why in action.reason


@pytest.mark.parametrize(
    "time", ["٣", "\uff13", "1_000", "-0", "-1", "+2", "1e3", "inf", "nan", "0x10", "1.", "1..2", "1 2", "½"]
)
def test_times_are_plain_ascii_decimals(time):
    action = parse_reply(f"<think>x</think><frames>{time}</frames>")
    assert isinstance(action, Invalid) and "is not a time in seconds" in action.reason


def test_letters_follow_the_number_of_options():
    assert isinstance(parse_reply("<think>x</think><answer>D</answer>", letters="ABC"), Invalid)


@settings(max_examples=500, deadline=None)
@given(structured_reply())
def test_structured_replies_parse_to_exactly_the_expected_action(case):
    reply, expected = case
    action = parse_reply(reply)
    if isinstance(expected, str):
        assert isinstance(action, Invalid) and expected in action.reason, (reply, action)
    else:
        assert action == expected, reply


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/ABCthinkanswerframes 0123456789.,\n")), max_size=300))
def test_any_text_parses_without_raising_and_answers_only_in_the_protocol_shape(text):
    action = parse_reply(text)
    assert isinstance(action, Answer | FrameRequest | Invalid)
    if isinstance(action, Answer):
        assert text.strip().startswith("<think>") and text.strip().endswith("</answer>")
