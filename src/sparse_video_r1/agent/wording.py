"""The words of the environment's turns, in two styles of one protocol.

`full` spells the rules out in sentences, for real models (the default). `brief` says the same in a few
words: a tiny model trained from scratch on CPU spends most of its compute on the environment's text, and
the protocol a model must follow (`<think>`, then `<answer>` or `<frames>`) is the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass


def _frames(count: int, article: str = "") -> str:
    """'are the 3 frames' / 'is the 1 frame'."""
    return f"are {article}{count} frames" if count != 1 else f"is {article}1 frame"


@dataclass(frozen=True)
class Wording:
    style: str

    def introduction(self, question: str, duration: float, shown: int) -> str:
        if self.style == "brief":
            return f"{question}\nVideo: {duration:.1f} s. Frames:\n"
        return f"{question}\n\nThe video lasts {duration:.1f} seconds. Here {_frames(shown)} from it.\n"

    def prompt_text(self, question: str, duration: float) -> str:
        """The first turn without its frames (a dataset row's `prompt`, for reading and length checks)."""
        if self.style == "brief":
            return f"{question}\nVideo: {duration:.1f} s."
        return f"{question}\n\nThe video lasts {duration:.1f} seconds."

    def frame_label(self, time: float) -> str:
        return f"{_seconds(time)} s: " if self.style == "brief" else f"Frame at {_seconds(time)} s: "

    def requested(self, count: int) -> str:
        return "Frames:\n" if self.style == "brief" else f"Here {_frames(count, 'the ')} you asked for.\n"

    def invalid(self, reason: str) -> str:
        return f"Invalid: {reason}.\n" if self.style == "brief" else f"Your reply was not valid: {reason}.\n"

    def last_reply(self, letters: str) -> str:
        if self.style == "brief":
            return f"Last reply: <think>...</think><answer>{_letters(letters)}</answer>"
        return (
            "This is your last reply. Think inside <think> </think>, "
            f"then give your final answer as {_answer(letters)}."
        )

    def no_frames_left(self, letters: str, max_frames: int, rounds_left: int) -> str:
        if self.style == "brief":
            return f"No frames left: <think>...</think><answer>{_letters(letters)}</answer>. {rounds_left} replies left."
        return (
            f"You have seen all {max_frames} frames you may see, so no more can be shown. "
            f"Think inside <think> </think>, then answer with {_answer(letters)}. "
            f"You have {rounds_left} replies left."
        )

    def choose(self, letters: str, ask: int, duration: float, rounds_left: int, frames_left: int) -> str:
        if self.style == "brief":
            return (
                f"<think>...</think> then <answer>{_letters(letters)}</answer> or <frames>up to {ask} times "
                f"in 0-{duration:.1f} s</frames>. {rounds_left} replies, {frames_left} frames left."
            )
        return (
            "Think inside <think> </think>. Then either answer with "
            f"{_answer(letters)}, or ask for up to {ask} more frames with <frames>t1, t2, ...</frames>, "
            f"giving times in seconds between 0 and {duration:.1f}. "
            f"You have {rounds_left} replies left, the last of which must answer, "
            f"and {frames_left} more frames in all."
        )

    # Zoom mode (LOVE-R1): an overview, then zooms into intervals.

    def overview(self, question: str, duration: float, shown: int) -> str:
        if self.style == "brief":
            return f"{question}\nVideo: {duration:.1f} s. Overview:\n"
        return (
            f"{question}\n\nThe video lasts {duration:.1f} seconds. Here is an overview of {shown} frames "
            "at low resolution, each with its time written on it in red.\n"
        )

    def zoomed(self, start: float, end: float, count: int) -> str:
        if self.style == "brief":
            return f"Zoom {_seconds(start)}-{_seconds(end)} s:\n"
        return (
            f"Here {_frames(count)} from {_seconds(start)} s to {_seconds(end)} s "
            "at high resolution, each with its time written on it.\n"
        )

    def no_zooms_left(self, letters: str, rounds_left: int) -> str:
        if self.style == "brief":
            return f"No zooms left: <think>...</think><answer>{_letters(letters)}</answer>. {rounds_left} replies left."
        return (
            "You may not zoom any more. Think inside <think> </think>, "
            f"then answer with {_answer(letters)}. You have {rounds_left} replies left."
        )

    def choose_zoom(
        self, letters: str, duration: float, longest: float, rounds_left: int, zooms_left: int
    ) -> str:
        if self.style == "brief":
            return (
                f"<think>...</think> then <answer>{_letters(letters)}</answer> or <zoom>start, end</zoom> "
                f"(1-{longest:g} s in 0-{duration:.1f} s). {rounds_left} replies, {zooms_left} zooms left."
            )
        return (
            "Think inside <think> </think>. Then either answer with "
            f"{_answer(letters)}, or zoom into an interval with <zoom>start, end</zoom>, in seconds between "
            f"0 and {duration:.1f}, lasting 1 to {longest:g} seconds, to see it at high resolution. "
            f"You have {rounds_left} replies left, the last of which must answer, and {zooms_left} zooms."
        )


def _seconds(time: float) -> str:
    """12.0, 3.5 or 0.25: one decimal unless the time needs two (a frame asked for at 0.25 s)."""
    return f"{time:.1f}" if abs(time * 10 - round(time * 10)) < 1e-6 else f"{time:.2f}"


def _letters(letters: str) -> str:
    return f"{letters[0]}-{letters[-1]}" if len(letters) > 1 else letters


def _answer(letters: str) -> str:
    return f"<answer>X</answer>, where X is one of {', '.join(letters)}"


WORDINGS = {style: Wording(style) for style in ("full", "brief")}
