"""The oracle: a policy that plays our episode knowing where the evidence is, to write SFT trajectories.

It must be a policy a model can learn from what it has seen. Asking for frames, it never jumps to the
evidence: it scans the video in time order, a request at a time, on an even grid of the frames the episode
still allows, and answers as soon as a frame it was shown falls inside an evidence span. In zoom mode the
overview has shown the whole video, so it zooms into the evidence span (about 2 s at least, within the
zoom rules), then answers: LOVE-R1's zoom-in chain-of-thought data. Its thinking says what the frames
show, from templates (a dataset may give its own per question type; `GENERIC` otherwise).

Pure logic: it sees the episode's record and the row's spans, and returns the reply text.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sparse_video_r1.agent.episode import Episode
from sparse_video_r1.agent.protocol import OPTION_LETTERS
from sparse_video_r1.agent.zoom import SHORTEST_ZOOM, ZoomEpisode, longest_zoom, overlaps


@dataclass(frozen=True)
class Thinking:
    """What the oracle thinks: once the evidence is on screen (`{answer}` is the answer's option text,
    `{times}` the times it was seen), while it is not, and when it must answer without having seen it."""

    seen: str
    not_seen: str
    guess: str = "I have not seen it and must answer now, so I guess."
    zoom: str = "The overview suggests it happens between {start} and {end} s; I zoom in to see it clearly."


GENERIC = Thinking(
    seen="The frames at {times} s show what the question asks about: {answer}.",
    not_seen="The frames so far do not show it yet; I look further along the video.",
)


class NoEvidence(Exception):
    """The scan ran out of frames or replies before any shown frame fell inside an evidence span."""


def scan_grid(episode: Episode) -> list[float]:
    """The times the oracle scans, in order: as many as the episode lets it see after the first frames,
    evenly over the video (0.5 s apart on a 10 s video with the default 25 frames)."""
    count = max(1, episode.config.max_frames - min(episode.config.first_frames, episode.config.max_frames))
    step = episode.duration / count
    return [round((k + 0.5) * step, 2) for k in range(count)]


def evidence_seen(episode: Episode, spans: Sequence[Sequence[float]]) -> list[float]:
    """The times of the shown frames whose frame begins inside an evidence span [start, end): the frame
    at 3.0 s of a 10 fps video is frame 30, which a span ending at 3.0 s does not hold."""
    grid = episode.grid
    shown = [(f["time"], grid.frame_at(f["time"]) / grid.fps) for f in episode.record.frames]
    return [t for t, begins in shown if any(start <= begins + 1e-6 < end for start, end in spans)]


def oracle_reply(
    episode: Episode,
    spans: Sequence[Sequence[float]],
    answer: int,
    thinking: Thinking = GENERIC,
    guess: random.Random | None = None,
) -> str:
    """The oracle's next reply in `episode`: the answer once the evidence has been shown, else a request
    for the next unseen times of the scan grid. On the last reply without evidence it guesses a letter
    drawn from `guess` (a model must learn to answer when it may not ask), or raises NoEvidence without."""
    seen = evidence_seen(episode, spans)
    option = episode.question.options[answer]
    actions = episode.record.actions
    refused = bool(actions) and actions[-1] != "zoom"  # its zoom was invalid: answer, never repeat it
    if isinstance(episode, ZoomEpisode) and not _zoomed_into(episode, spans) and not refused:
        span = zoom_span(spans, episode.duration)
        if span and episode.zooms_left > 0 and episode.rounds_left > 1:
            think = thinking.zoom.format(start=f"{span[0]:g}", end=f"{span[1]:g}")
            return f"<think>{think}</think><zoom>{span[0]:g}, {span[1]:g}</zoom>"
    if seen:
        times = ", ".join(f"{t:g}" for t in seen[:3])
        think = thinking.seen.format(answer=option, times=times)
        return f"<think>{think}</think><answer>{OPTION_LETTERS[answer]}</answer>"
    if episode.rounds_left <= 1 or isinstance(episode, ZoomEpisode):  # a zoom episode cannot ask for frames
        if guess is None:
            raise NoEvidence("no evidence on screen by the last reply")
        letter = guess.choice(episode.question.letters)
        return f"<think>{thinking.guess}</think><answer>{letter}</answer>"
    shown = {episode.grid.frame_at(f["time"]) for f in episode.record.frames}
    unseen = [t for t in scan_grid(episode) if episode.grid.frame_at(t) not in shown]
    left = episode.config.max_frames - len(episode.record.frames)
    chunk = unseen[: min(episode.config.frames_per_request, left)]
    if not chunk:
        raise NoEvidence("the scan grid is exhausted without evidence on screen")
    think = thinking.not_seen.format(answer=option, times="")
    return f"<think>{think}</think><frames>{', '.join(f'{t:g}' for t in chunk)}</frames>"


def zoom_span(spans: Sequence[Sequence[float]], duration: float) -> tuple[float, float] | None:
    """The oracle's zoom: the first evidence span, widened to 2 s about its middle and cut to the longest zoom
    allowed, inside the video, on tenths of a second; None when the video is too short for any zoom."""
    longest = longest_zoom(duration)
    if len(spans) == 0:
        return None
    start, end = spans[0]
    length = min(max(end - start, 2.0), longest)
    middle = min(max((start + end) / 2, length / 2), duration - length / 2)
    # To a tenth of a second, rounded inwards: never outside the video nor longer than allowed.
    start, end = math.ceil((middle - length / 2) * 10) / 10, math.floor((middle + length / 2) * 10) / 10
    return (start, end) if end - start >= SHORTEST_ZOOM else None


def _zoomed_into(episode: ZoomEpisode, spans: Sequence[Sequence[float]]) -> bool:
    return any(overlaps((z["start"], z["end"]), span) for z in episode.record.zooms for span in spans)
