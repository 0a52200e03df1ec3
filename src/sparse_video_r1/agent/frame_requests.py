"""Frame-request mode (Sparse-Video-R1) as episode rules: the first frames, then replies that ask for more
frames by time (at most `frames_per_request` at once, `max_frames` in all) until the answer.

A time maps to the frame on screen at it (the grid's rule); times on a frame already shown are dropped, so
no frame is shown or charged twice. A request is invalid when it is the last round, when no frames are
left, when a time lies outside the video, when it asks for more than a request may, or only for frames
already shown.
"""

from __future__ import annotations

from collections.abc import Sequence

from sparse_video_r1.agent.episode import Episode, Part
from sparse_video_r1.agent.protocol import FrameRequest, Invalid
from sparse_video_r1.video.timestamps import random_timestamps, uniform_timestamps


class FrameRequestEpisode(Episode):
    """`opening()` shows the first frames; each `step(reply)` answers, or asks for frames and shows them."""

    ACTIONS = ("answer", "frames")

    def opening(self, times: Sequence[float] | None = None) -> list[Part]:
        """The first user turn: the question, the first frames with their times, the budget, the format.
        The first frames follow `first_strategy` unless the caller gives their `times` (SFT data)."""
        config = self.config
        count = min(config.first_frames, config.max_frames)
        if times is not None:
            times = list(times)[:count]
        elif config.first_strategy == "uniform":
            times = uniform_timestamps(self.duration, count)
        elif config.first_strategy == "random":
            times = random_timestamps(self.duration, count, self.seed)
        else:
            raise ValueError(f"unknown first_strategy {config.first_strategy!r}: use 'uniform' or 'random'")
        times = self._new_frames(times)  # a very short video has fewer frames than asked for
        self._mark_unshown()
        parts: list[Part] = [self.words.introduction(self.question.render(), self.duration, len(times))]
        parts += self._show(times, round_=0)
        parts.append("\n" + self._instructions())
        return parts

    def prompt_text(self) -> str:
        """The first user turn without its frames: what a dataset row's `prompt` holds for reading and
        length checks (the agent loop renders the real turn, frames included)."""
        first = min(self.config.first_frames, self.config.max_frames)
        text = self.words.prompt_text(self.question.render(), self.duration)
        return f"{text}\n{self._instructions(frames_shown=first)}"

    def _act(self, request: FrameRequest) -> list[Part] | Invalid:
        """The turn that shows the frames a valid request asked for (the mode's own action)."""
        request = self._check_request(request)
        if isinstance(request, Invalid):
            return request
        self.record.actions.append("frames")
        parts: list[Part] = [self.words.requested(len(request.times))]
        parts += self._show(request.times, round_=self.record.rounds)
        parts.append("\n" + self._instructions())
        return parts

    def _frames_left(self, frames_shown: int | None = None) -> int:
        shown = len(self.record.frames) if frames_shown is None else frames_shown
        return self.config.max_frames - shown

    def _check_request(self, request: FrameRequest) -> FrameRequest | Invalid:
        config = self.config
        if self.rounds_left <= 0:
            return Invalid("this was the last round, so it had to answer")
        if self._frames_left() <= 0:
            return Invalid(f"no more frames can be shown: all {config.max_frames} have been, so answer")
        outside = [t for t in request.times if not 0 <= t <= self.duration]
        if outside:
            return Invalid(f"times {_seconds(outside)} are outside the video (0 to {self.duration:.1f} s)")
        if len(request.times) > config.frames_per_request:
            return Invalid(
                f"it asked for {len(request.times)} frames; at most {config.frames_per_request} at a time"
            )
        new = self._new_frames(request.times)
        if not new:
            return Invalid("every frame it asked for has been shown already")
        if len(new) > self._frames_left():
            return Invalid(f"only {self._frames_left()} more frames can be shown")
        return FrameRequest(tuple(new))

    def _instructions(self, frames_shown: int | None = None) -> str:
        letters, rounds_left = self.question.letters, self.rounds_left
        frames_left = self._frames_left(frames_shown)
        if rounds_left <= 1:
            return self.words.last_reply(letters)
        if frames_left <= 0:
            return self.words.no_frames_left(letters, self.config.max_frames, rounds_left)
        ask = min(self.config.frames_per_request, frames_left)
        return self.words.choose(letters, ask, self.duration, rounds_left, frames_left)


def _seconds(times: Sequence[float]) -> str:
    return ", ".join(f"{t:g}" for t in times)
