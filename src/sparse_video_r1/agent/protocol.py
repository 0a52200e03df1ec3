"""The reply format, the product's contract with the model: `<think>...</think>` then exactly one action.

    <think>The cup is not visible yet.</think><frames>12.5, 30</frames>   ask for frames (seconds)
    <think>The man drops the cup.</think><answer>C</answer>              answer with one option letter

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
ACTION_TAGS = (ANSWER, FRAMES)
# A time is a plain ASCII decimal number of seconds: no sign, exponent, underscore or non-ASCII digit.
_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")


@dataclass(frozen=True)
class Answer:
    letter: str


@dataclass(frozen=True)
class FrameRequest:
    times: tuple[float, ...]


@dataclass(frozen=True)
class Invalid:
    reason: str


Action = Answer | FrameRequest | Invalid


def parse_reply(reply: str, letters: str = OPTION_LETTERS) -> Action:
    """The action of one assistant reply, or why it is not a valid one."""
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
    if not action:
        return Invalid("after </think> comes neither <answer>X</answer> nor <frames>...</frames>")
    for opening, closing in ACTION_TAGS:
        if action.startswith(opening):
            if not action.endswith(closing) or action.find(closing) != len(action) - len(closing):
                return Invalid(
                    f"after </think> there must be exactly one {opening}...{closing} and nothing else"
                )
            body = action[len(opening) : -len(closing)]
            if any(tag in body for pair in (THINK, *ACTION_TAGS) for tag in pair):
                return Invalid(f"{opening} holds another tag")
            return _answer(body, letters) if opening == ANSWER[0] else _frames(body)
    return Invalid("after </think> comes neither <answer>X</answer> nor <frames>...</frames>")


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
