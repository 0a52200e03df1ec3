"""The reply format, the product's contract with the model: `<think>...</think>` then exactly one action.

    <think>The cup is not visible yet.</think><frames>12.5, 30</frames>   ask for frames (seconds)
    <think>It happens near the end.</think><zoom>240, 270</zoom>         zoom into an interval (seconds)
    <think>The man drops the cup.</think><answer>C</answer>              answer with one option letter

`ACTIONS` is the table of actions, each with its tag and parser; a mode allows some of them (`frames`:
answer and frames; `zoom`: answer and zoom), and a tag it does not allow is not an action.

Parsing is plain string scanning, linear in the reply's length whatever it holds (no regex backtracking),
because the reward runs it on every rollout. Tags inside the thinking are never actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPTION_LETTERS = "ABCDE"
THINK = ("<think>", "</think>")
ANSWER = ("<answer>", "</answer>")
FRAMES = ("<frames>", "</frames>")
ZOOM = ("<zoom>", "</zoom>")
ALL_TAGS = (THINK, ANSWER, FRAMES, ZOOM)
# A time is a plain ASCII decimal number of seconds: no sign, exponent, underscore or non-ASCII digit.
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")


@dataclass(frozen=True)
class Answer:
    letter: str


@dataclass(frozen=True)
class FrameRequest:
    times: tuple[float, ...]


@dataclass(frozen=True)
class Zoom:
    start: float
    end: float


@dataclass(frozen=True)
class Invalid:
    reason: str


Action = Answer | FrameRequest | Zoom | Invalid


def parse_reply(
    reply: str, letters: str = OPTION_LETTERS, actions: tuple[str, ...] = ("answer", "frames")
) -> Action:
    """The action of one assistant reply among the allowed `actions`, or why it is not a valid one."""
    allowed = {name: ACTIONS[name] for name in actions}
    expected = " nor ".join(_example(name) for name in allowed)
    text = reply.strip()
    if not text.startswith(THINK[0]):
        return Invalid("the reply must start with <think>")
    think_end = text.find(THINK[1])
    if think_end < 0:
        return Invalid("the <think> is never closed with </think>")
    thinking = text[len(THINK[0]) : think_end]
    if THINK[0] in thinking:
        return Invalid("<think> is opened twice")
    if not thinking.strip():
        return Invalid("the thinking inside <think></think> is empty")
    action = text[think_end + len(THINK[1]) :].strip()
    for name, ((opening, closing), parse) in allowed.items():
        if action.startswith(opening):
            if not action.endswith(closing) or action.find(closing) != len(action) - len(closing):
                return Invalid(
                    f"after </think> there must be exactly one {opening}...{closing} and nothing else"
                )
            body = action[len(opening) : -len(closing)]
            if any(tag in body for pair in ALL_TAGS for tag in pair):
                return Invalid(f"{opening} holds another tag")
            return _answer(body, letters) if name == "answer" else parse(body)
    return Invalid(f"after </think> comes neither {expected}")


def _answer(body: str, letters: str) -> Answer | Invalid:
    letter = body.strip()
    if len(letter) != 1 or letter not in letters:
        return Invalid(f"<answer> must hold one option letter ({', '.join(letters)}), not {letter[:20]!r}")
    return Answer(letter)


def _frames(body: str) -> FrameRequest | Invalid:
    parts = [part.strip().removesuffix("s").strip() for part in body.split(",")]
    if not any(parts):
        return Invalid("<frames> must list times in seconds, like <frames>3.5, 12, 40</frames>")
    times = []
    for part in parts:
        if not _SECONDS.fullmatch(part):
            return Invalid(f"{part[:20]!r} in <frames> is not a time in seconds (digits 0-9, like 12 or 3.5)")
        times.append(float(part))
    return FrameRequest(tuple(times))


def _zoom(body: str) -> Zoom | Invalid:
    parts = [part.strip().removesuffix("s").strip() for part in body.split(",")]
    if len(parts) != 2 or not all(_SECONDS.fullmatch(part) for part in parts):
        return Invalid("<zoom> must hold a start and an end in seconds, like <zoom>12, 40</zoom>")
    start, end = (float(part) for part in parts)
    if end <= start:
        return Invalid(f"a zoom must end after it starts, not at {end:g} s after starting at {start:g} s")
    return Zoom(start, end)


def _example(name: str) -> str:
    return {
        "answer": "<answer>X</answer>",
        "frames": "<frames>...</frames>",
        "zoom": "<zoom>start, end</zoom>",
    }[name]


# Each action's tags and the parser of what they hold (the answer's also needs the question's letters).
ACTIONS = {"answer": (ANSWER, _answer), "frames": (FRAMES, _frames), "zoom": (ZOOM, _zoom)}
