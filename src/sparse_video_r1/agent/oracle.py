"""SFT players: policies that play our episode knowing where the evidence is, to write SFT trajectories.

A player must be a policy a model can learn from what it has seen. Asking for frames, it never jumps to the
evidence: it asks for frames it has not seen, a request at a time, and answers once a frame it was shown
falls inside an evidence span. The oracle does this best: it scans an even grid of the frames the episode
still allows in time order and answers as soon as the evidence is on screen. The other policies play worse
on purpose, as a cold start's data does (a spread of behaviours that RL then chooses among by reward): the
impatient one sometimes answers before the evidence is on screen (a guess, and its thinking says so), the
over-scanning one asks for more frames after it has seen the evidence, the random one asks for random
times instead of scanning. In zoom mode the overview has shown the whole video, so the oracle zooms into
the evidence span (about 2 s at least, within the zoom rules), then answers: LOVE-R1's zoom-in
chain-of-thought data. The thinking says what the frames show, from templates (a dataset may give its own
per question type; `GENERIC` otherwise), and never names what the frames did not show.

Pure logic: it sees the episode's record and the row's spans, and returns the reply text.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from sparse_video_r1.agent.episode import Episode
from sparse_video_r1.agent.evidence import inside, overlaps
from sparse_video_r1.agent.protocol import OPTION_LETTERS
from sparse_video_r1.agent.zoom import SHORTEST_ZOOM, ZoomEpisode, longest_zoom


@dataclass(frozen=True)
class Thinking:
    """What a player thinks: once the evidence is on screen (`{answer}` is the answer's option text,
    `{times}` the times it was seen), while it is not, when it must answer without having seen it, when it
    answers early anyway (after `not_seen`), when it looks again after seeing it (after `seen`), and in zoom
    mode before zooming."""

    seen: str
    not_seen: str
    guess: str = "I have not seen it and must answer now, so I guess."
    early: str = "I answer now without having seen it, so I guess."
    again: str = "I look at more frames to be sure."
    zoom: str = "The overview suggests it happens between {start} and {end} s; I zoom in to see it clearly."


GENERIC = Thinking(
    seen="The frames at {times} s show what the question asks about: {answer}.",
    not_seen="The frames so far do not show it yet; I look further along the video.",
)


@dataclass(frozen=True)
class Policy:
    """How a player asks for frames. `order`: "scan" asks for the unseen times of an even grid in time
    order, "random" for random unseen times. `guess_early`: at each reply while no evidence has been on
    screen, the chance of answering anyway (a guess). `look_again`: at each reply once it has been, the
    chance of asking for more frames before answering."""

    order: Literal["scan", "random"] = "scan"
    guess_early: float = 0.0
    look_again: float = 0.0

    @property
    def draws(self) -> bool:
        """Whether it needs random draws beside the guess of a last reply without evidence."""
        return self.order == "random" or self.guess_early > 0 or self.look_again > 0


POLICIES = {
    "oracle": Policy(),
    "impatient": Policy(guess_early=0.9),
    "overscan": Policy(look_again=0.6),
    "random": Policy(order="random"),
}
ORACLE = POLICIES["oracle"]


class NoEvidence(Exception):
    """The scan ran out of frames or replies before any shown frame fell inside an evidence span."""


def scan_grid(episode: Episode) -> list[float]:
    """The times the oracle scans, in order: as many as the episode lets it see after the first frames,
    evenly over the video (0.5 s apart on a 10 s video with the default 25 frames)."""
    count = max(1, episode.config.max_frames - min(episode.config.first_frames, episode.config.max_frames))
    step = episode.duration / count
    return [round((k + 0.5) * step, 2) for k in range(count)]


def evidence_seen(episode: Episode, spans: Sequence[Sequence[float]]) -> list[float]:
    """The times of the shown frames whose frame begins inside an evidence span: the frame at 3.0 s of a
    10 fps video is frame 30, which a span ending at 3.0 s does not hold."""
    grid = episode.grid
    return [
        f["time"] for f in episode.record.frames if inside(grid.frame_at(f["time"]) / grid.fps + 1e-6, spans)
    ]


def oracle_reply(
    episode: Episode,
    spans: Sequence[Sequence[float]],
    answer: int,
    thinking: Thinking = GENERIC,
    rng: random.Random | None = None,
    policy: Policy = ORACLE,
) -> str:
    """The player's next reply in `episode`: by default the oracle's (the answer once the evidence has been
    shown, else a request for the next unseen times of the scan grid). A reply that must answer without
    evidence guesses a letter drawn from `rng` (a model must learn to answer when it may not ask), or
    raises NoEvidence without one. `policy` (with `rng` for its draws) plays worse on purpose."""
    if policy.draws and rng is None:
        raise ValueError(f"the policy {policy} draws at random: give it an rng")
    seen = evidence_seen(episode, spans)
    option = episode.question.options[answer]
    actions = episode.record.actions
    refused = bool(actions) and actions[-1] != "zoom"  # its zoom was invalid: answer, never repeat it
    if isinstance(episode, ZoomEpisode) and not _zoomed_into(episode, spans) and not refused:
        span = zoom_span(spans, episode.duration)
        made = {(zoom["start"], zoom["end"]) for zoom in episode.record.zooms}
        if span and span not in made and episode.zooms_left > 0 and episode.rounds_left > 1:
            think = thinking.zoom.format(start=f"{span[0]:g}", end=f"{span[1]:g}")
            return f"<think>{think}</think><zoom>{span[0]:g}, {span[1]:g}</zoom>"
    may_ask = episode.rounds_left > 1 and not isinstance(episode, ZoomEpisode)  # zoom episodes ask no frames
    if seen:
        said = thinking.seen.format(answer=option, times=", ".join(f"{t:g}" for t in seen[:3]))
        chunk = _next_times(episode, policy, rng) if may_ask and _draw(rng, policy.look_again) else []
        if chunk:
            return f"<think>{said} {thinking.again}</think>{_request(chunk)}"
        return f"<think>{said}</think><answer>{OPTION_LETTERS[answer]}</answer>"
    not_seen = thinking.not_seen.format(answer=option, times="")
    if may_ask and _draw(rng, policy.guess_early):
        return f"<think>{not_seen} {thinking.early}</think><answer>{rng.choice(episode.question.letters)}</answer>"
    chunk = _next_times(episode, policy, rng) if may_ask else []
    if chunk:
        return f"<think>{not_seen}</think>{_request(chunk)}"
    if rng is None:
        raise NoEvidence(
            "no evidence on screen by the last reply" if not may_ask else "no frames left to ask for"
        )
    return f"<think>{thinking.guess}</think><answer>{rng.choice(episode.question.letters)}</answer>"


def _draw(rng: random.Random | None, chance: float) -> bool:
    return chance > 0 and rng is not None and rng.random() < chance


def _request(times: Sequence[float]) -> str:
    return f"<frames>{', '.join(f'{t:g}' for t in times)}</frames>"


def _next_times(episode: Episode, policy: Policy, rng: random.Random | None) -> list[float]:
    """The next request's times: frames not yet shown, at most what a request and the episode allow."""
    grid = episode.grid
    shown = {grid.frame_at(f["time"]) for f in episode.record.frames}
    most = min(episode.config.frames_per_request, episode.config.max_frames - len(episode.record.frames))
    if policy.order == "scan":
        candidates = scan_grid(episode)
    else:
        candidates = [round(rng.uniform(0, episode.duration), 2) for _ in range(4 * max(most, 1))]
    chunk: dict[int, float] = {}
    for time in candidates:
        frame = grid.frame_at(time)
        if frame not in shown and len(chunk) < most:
            chunk.setdefault(frame, time)
    return sorted(chunk.values())


def zoom_span(spans: Sequence[Sequence[float]], duration: float) -> tuple[float, float] | None:
    """The oracle's zoom: the first evidence span, widened to 2 s about its middle and cut to the longest zoom
    allowed, inside the video, on tenths of a second rounded outwards (the evidence stays inside, up to the
    video's own ends); None when the video is too short for any zoom."""
    longest = longest_zoom(duration)
    if len(spans) == 0 or longest < SHORTEST_ZOOM:
        return None
    start, end = spans[0]
    length = min(max(end - start, 2.0), longest)
    middle = min(max((start + end) / 2, length / 2), duration - length / 2)
    low = max(0.0, math.floor((middle - length / 2) * 10 + 1e-6) / 10)
    high = min(duration, math.ceil((middle + length / 2) * 10 - 1e-6) / 10)
    excess = high - low - longest  # rounding outwards may pass the longest zoom: take it from the far side
    if excess > 1e-9:
        if (start + end) / 2 - low > high - (start + end) / 2:
            low = round(low + excess, 3)
        else:
            high = round(high - excess, 3)
    return (low, high) if high - low >= SHORTEST_ZOOM - 1e-9 else None


def _zoomed_into(episode: ZoomEpisode, spans: Sequence[Sequence[float]]) -> bool:
    return any(overlaps((z["start"], z["end"]), span) for z in episode.record.zooms for span in spans)
