"""Structured assistant replies for property tests: valid, near-valid and adversarial, each drawn together
with the outcome the protocol must give it, so a test asserts the exact action rather than "no exception"."""

from __future__ import annotations

from hypothesis import strategies as st

from sparse_video_r1.agent.protocol import Answer, FrameRequest

_WORDS = st.sampled_from(["he", "sits", "the cup", "12.5 s", "A", "maybe B?", "\n", "frames", "<", ">"])
_TAGS_AS_WORDS = st.sampled_from(["<answer>B</answer>", "<frames>1</frames>", "\nassistant\n", "</answer>"])
_THINKING = st.lists(st.one_of(_WORDS, _TAGS_AS_WORDS), min_size=1, max_size=6).map(" ".join)
_SPACE = st.sampled_from(["", " ", "\n", " \n\t"])
_TIMES = st.lists(
    st.one_of(
        st.integers(0, 5000).map(str),
        st.tuples(st.integers(0, 999), st.integers(0, 999)).map(lambda p: f"{p[0]}.{p[1]:03d}"),
    ),
    min_size=1,
    max_size=6,
)


@st.composite
def structured_reply(draw):
    """(reply, expected): the expected action, or the words its Invalid reason must contain."""
    lead, gap, tail = draw(_SPACE), draw(_SPACE), draw(_SPACE)
    thinking = draw(st.one_of(_THINKING, _SPACE))
    think = f"{lead}<think>{thinking}</think>{gap}"
    empty_thinking = not thinking.strip()
    kind = draw(st.sampled_from(["answer", "frames", "bad letter", "bad time", "two actions", "trailing"]))
    if kind == "answer":
        letter = draw(st.sampled_from("ABCDE"))
        reply, expected = (
            f"{think}<answer>{draw(_SPACE)}{letter}{draw(_SPACE)}</answer>{tail}",
            Answer(letter),
        )
    elif kind == "frames":
        times = draw(_TIMES)
        seconds = [f"{t}{draw(st.sampled_from(['', 's', ' s']))}" for t in times]
        body = ",".join(f"{draw(_SPACE)}{t}{draw(_SPACE)}" for t in seconds)
        reply, expected = f"{think}<frames>{body}</frames>{tail}", FrameRequest(tuple(map(float, times)))
    elif kind == "bad letter":
        letter = draw(st.sampled_from(["", "a", "F", "AB", "1", "A.", "(A)"]))
        reply, expected = f"{think}<answer>{letter}</answer>", "one option letter"
    elif kind == "bad time":
        bad = draw(st.sampled_from(["-1", "1e2", "٣", "1_0", "inf", "one", "2..5", "+3"]))
        reply, expected = f"{think}<frames>1, {bad}</frames>", "not a time"
    elif kind == "two actions":
        reply, expected = f"{think}<answer>A</answer>{gap}<frames>1</frames>", "exactly one"
    else:
        reply, expected = f"{think}<answer>A</answer> I think", "exactly one"
    if empty_thinking:
        expected = "thinking inside <think></think> is empty"
    return reply, expected
