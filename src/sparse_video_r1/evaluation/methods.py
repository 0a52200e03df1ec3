"""The ways a model answers a question: N frames in one turn (uniform, random, the whole video at 1 fps),
the whole video as Qwen's native video input (`video`), or a multi-round episode of either mode (asking for
frames, or an overview then zooms), driven by the same episode runner as training (agent/runner.py).

A method is a conversation: a generator that gets one sample and its opened video, yields the messages so
far (text and PIL image parts) each time it needs a reply, is sent the reply text, and returns the
SampleRecord. It never calls a model itself, so one backend can advance many conversations together
(evaluation/drive.py). A backend whose context is full throws `ContextFull` into it: the agent's episode
ends on its budget. Answers from single-turn baselines are read by `answer_letter.read_letter`: an
unreadable reply is counted as unparsed (and wrong), never replaced by a guess.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass, replace

from sparse_video_r1.agent.episode import EpisodeConfig, FrameAt, Part, Question
from sparse_video_r1.agent.evidence import evidence_use
from sparse_video_r1.agent.runner import EpisodeRunner, render
from sparse_video_r1.evaluation.answer_letter import read_letter
from sparse_video_r1.evaluation.records import SampleRecord
from sparse_video_r1.video import (
    FrameGrid,
    Video,
    first_to_last_timestamps,
    random_timestamps,
    uniform_timestamps,
)

Conversation = Generator[
    list[dict], str, "SampleRecord"
]  # yields messages, is sent replies, returns the record
# lmms-eval's instruction for NExT-QA multiple choice.
ANSWER_DIRECTLY = "Answer with the option's letter from the given choices directly."


class ContextFull(Exception):
    """The conversation no longer leaves room for a reply within the model's context."""


@dataclass(frozen=True)
class Sample:
    doc_id: str
    question: Question
    target: str
    type: str
    video: str
    seed: int  # per sample (`sample_seed`), so random frames do not depend on the order samples run in
    duration_group: str = ""
    spans: tuple[tuple[float, float], ...] = ()  # evidence spans, where the split has them
    duration: float | None = None  # the row's (what its prompt states); None: the file's
    mode: str | None = None  # the row's episode mode, where it names one


def sample_seed(run_seed: int, index: int) -> int:
    """The seed of the run's `index`-th question: the same whichever shard, batch or plugin answers it."""
    return run_seed * 100_003 + index


@dataclass(frozen=True)
class FramesSetting:
    count: int = 5
    max_pixels: int = 128 * 28 * 28
    min_pixels: int = 16 * 28 * 28
    whole_video_fps: float = 1.0
    whole_video_max_frames: int = 64


@dataclass(frozen=True)
class VideoSetting:
    """The `video` method's sampling, as qwen-vl-utils does it: `fps` frames a second, at least 4, at most
    `max_frames` and the video's frames, rounded down to an even count (Qwen merges frames in pairs), spread
    from the first frame to the last, each within the pixel range."""

    fps: float = 1.0
    max_frames: int = 768
    max_pixels: int = 360 * 420
    min_pixels: int = 128 * 28 * 28

    def times(self, grid: FrameGrid) -> list[float]:
        most = min(self.max_frames // 2 * 2, grid.num_frames)
        count = max(2, math.floor(min(max(grid.duration * self.fps, 4), most) / 2) * 2)
        return first_to_last_timestamps(grid, count)


def single_turn_times(method: str, sample: Sample, duration: float, setting: FramesSetting) -> list[float]:
    if method == "uniform":
        return uniform_timestamps(duration, setting.count)
    if method == "random":
        return random_timestamps(duration, setting.count, sample.seed)
    if method == "whole_video":
        count = min(setting.whole_video_max_frames, max(1, math.floor(duration * setting.whole_video_fps)))
        return uniform_timestamps(duration, count)
    raise ValueError(f"unknown single-turn method {method!r}")


def single_turn(method: str, sample: Sample, video: Video, setting: FramesSetting) -> Conversation:
    """The question with N frames (each labelled with its time) in one turn; answer directly."""
    times = single_turn_times(method, sample, video.duration, setting)
    parts: list[Part] = [
        f"{sample.question.render()}\n\nThe video lasts {video.duration:.1f} seconds. Here are {len(times)} frames from it.\n"
    ]
    for t in times:
        parts += [f"Frame at {t:.1f} s: ", FrameAt(t, setting.max_pixels, setting.min_pixels), "\n"]
    parts.append(ANSWER_DIRECTLY)
    turn = render(parts, video)
    reply = yield [{"role": "user", "content": turn.content}]
    return _direct_answer(sample, reply, times, turn.visual_tokens)


def native_video(sample: Sample, video: Video, setting: VideoSetting) -> Conversation:
    """The question after the whole video as one video input (a `video` part: its frames and the rate they
    were taken at, which sets the model's temporal positions); answer directly."""
    times = setting.times(FrameGrid(video.duration, video.fps, video.num_frames))
    frames = video.frames_at(times, min_pixels=setting.min_pixels, max_pixels=setting.max_pixels)
    rate = len(times) / video.duration if video.duration > 0 else setting.fps
    text = f"{sample.question.render()}\n\n{ANSWER_DIRECTLY}"
    reply = yield [
        {
            "role": "user",
            "content": [{"type": "video", "video": frames, "fps": rate}, {"type": "text", "text": text}],
        }
    ]
    visual_tokens = (
        sum((frame.width // 28) * (frame.height // 28) for frame in frames) // 2
    )  # frames in pairs
    return _direct_answer(sample, reply, times, visual_tokens)


def agent(sample: Sample, video: Video, config: EpisodeConfig) -> Conversation:
    """The multi-round episode of the config's mode (or the row's): the model asks for frames, or zooms,
    until it answers or runs out of rounds, through the runner training and SFT drive too."""
    runner = EpisodeRunner.start(
        sample.question, video, config, duration=sample.duration, seed=sample.seed, mode=sample.mode
    )
    messages, replies = [{"role": "user", "content": runner.opening().content}], []
    while True:
        try:
            reply = yield messages
        except ContextFull:  # the last turn did not fit: the model never saw it (nor does the record)
            runner.does_not_fit()
            break
        replies.append(reply)
        messages.append({"role": "assistant", "content": reply})
        turn = runner.step(reply)
        if turn is None:
            break
        messages.append({"role": "user", "content": turn.content})
    record = runner.record
    done = _record(
        sample, replies, record.answer, record.frames, record.rounds, record.end or "", runner.visual_tokens,
        record.actions,
    )  # fmt: skip
    return replace(done, zooms=list(record.zooms))


def _direct_answer(sample: Sample, reply: str, times: list[float], tokens: int) -> SampleRecord:
    """The record of a one-turn answer, its letter read by `read_letter` (never guessed)."""
    letter = read_letter(reply, sample.question.letters)
    frames = [{"time": t, "round": 0} for t in times]
    action = "answer" if letter else "invalid: no option letter could be read"
    return _record(sample, [reply], letter, frames, 1, "answer" if letter else "unparsed", tokens, [action])


def _record(sample: Sample, replies, letter, frames, rounds, end, tokens, actions=()) -> SampleRecord:
    correct = letter == sample.target
    use = evidence_use(frames, sample.spans, answered=letter is not None)
    return SampleRecord(
        doc_id=sample.doc_id,
        target=sample.target,
        resps=list(replies),
        filtered_resps=[letter] if letter else [],
        parsed=letter,
        correct=correct,
        type=sample.type,
        question=sample.question.text,
        options=list(sample.question.options),
        video=sample.video,
        frames=list(frames),
        rounds=rounds,
        end=end,
        visual_tokens=tokens,
        actions=list(actions),
        metrics={"acc": int(correct)},
        duration_group=sample.duration_group,
        spans=[list(span) for span in sample.spans],
        evidence=use.label if use else "",
    )


def failed(sample: Sample, reason: str) -> SampleRecord:
    """A sample the model never answered (the API failed, the video did not decode): kept, not scored."""
    return replace(_record(sample, [], None, [], 0, "failed", 0), failure=reason, metrics={})
