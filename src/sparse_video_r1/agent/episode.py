"""One multi-round episode as plain Python: what the model is shown, what its replies do, and a record.

The episode never decodes a frame or counts a token. Its turns are text and `FrameAt` parts; whoever
runs it (the verl agent loop, the evaluator) turns each `FrameAt` into an image from the frame service,
and stops the episode with `stop(reason)` when its token budget would be exceeded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args, get_type_hints

from sparse_video_r1.agent.protocol import OPTION_LETTERS, Answer, Invalid, parse_reply
from sparse_video_r1.agent.wording import WORDINGS
from sparse_video_r1.video.timestamps import FrameGrid


def _knob(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class EpisodeConfig:
    """The episode's knobs, with the seed papers' defaults: for frame requests 5 frames a round, 5 rounds
    (Sparse-Video-R1); for zoom a 768-frame overview at 2 fps and 32 x 28 x 28 pixels, then up to 2 zooms of
    32 frames at 256 x 28 x 28 (LOVE-R1). Each field is a key of the training config (`svr1.episode.<field>`)
    and a flag of `svr1 eval` and `svr1 sft-data` (`--<field-with-dashes>`), with the help text below."""

    mode: Literal["frames", "zoom"] = _knob(
        "frames", "frames: ask for frames by time (Sparse-Video-R1); zoom: an overview, then zooms (LOVE-R1)"
    )
    first_frames: int = _knob(5, "frames shown in the first turn")
    first_strategy: Literal["uniform", "random"] = _knob("uniform", "how the first frames are chosen")
    frames_per_request: int = _knob(5, "most frames one reply may ask for")
    max_rounds: int = _knob(5, "assistant replies per episode, the last of which must answer")
    max_frames: int = _knob(25, "frames shown in all, the first ones included")
    max_pixels: int = _knob(128 * 28 * 28, "pixel budget per frame (28 x 28 pixels per visual token)")
    min_pixels: int = _knob(16 * 28 * 28, "smallest frame, in pixels")
    wording: Literal["full", "brief"] = _knob("full", "the environment's words: full sentences or brief")
    overview_frames: int = _knob(768, "zoom mode: most overview frames, min(overview_fps x duration, this)")
    overview_fps: float = _knob(2.0, "zoom mode: overview frames per second of video")
    overview_pixels: int = _knob(32 * 28 * 28, "zoom mode: pixel budget per overview frame")
    zoom_frames: int = _knob(32, "zoom mode: most frames one zoom shows (LOVE-R1 trains with 16)")
    zoom_pixels: int = _knob(256 * 28 * 28, "zoom mode: pixel budget per zoomed frame")
    max_zooms: int = _knob(2, "zoom mode: zooms per episode, after which it must answer")
    zoom_inference: Literal["strict", "love_r1"] = _knob(
        "strict",
        "zoom mode: love_r1 is LOVE-R1's evaluation: a zoom padded by 5 s, widened to min(30 s, duration/8), "
        "2 frames a second of it (at most zoom_frames), zooming stopped at IoU > 0.3 or by a reply that is "
        "neither, then a forced answer, over the whole video when no zoom was kept; strict judges every zoom "
        "by the training rules",
    )
    zoom_widen: bool = _knob(
        True,
        "zoom mode, love_r1 inference: widen a zoom to min(30 s, duration/8) (LOVE-R1 does, except on LongVideoBench)",
    )

    @property
    def most_images(self) -> int:
        """The most frames one episode can show: vLLM's per-prompt image limit must allow them."""
        if self.mode == "zoom":
            return self.overview_frames + self.max_zooms * self.zoom_frames
        return self.max_frames

    @property
    def pixel_range(self) -> tuple[int, int]:
        """The smallest and largest frame budgets of the mode: what the model's processor must let through."""
        budgets = [self.overview_pixels, self.zoom_pixels] if self.mode == "zoom" else [self.max_pixels]
        return min(self.min_pixels, *budgets), max(budgets)

    def __post_init__(self) -> None:
        counts = ("first_frames", "frames_per_request", "max_rounds", "max_frames", "overview_frames")
        counts += ("zoom_frames", "max_pixels", "min_pixels", "overview_pixels", "zoom_pixels")
        for knob in counts:
            if getattr(self, knob) < 1:
                raise ValueError(f"{knob} must be at least 1, not {getattr(self, knob)}")
        if self.max_zooms < 0 or self.overview_fps <= 0:
            raise ValueError(
                f"max_zooms {self.max_zooms} and overview_fps {self.overview_fps} must be positive"
            )
        hints = get_type_hints(EpisodeConfig)
        for knob in ("mode", "wording", "zoom_inference"):
            choices = get_args(hints[knob])
            if getattr(self, knob) not in choices:
                raise ValueError(f"unknown {knob} {getattr(self, knob)!r}: use one of {', '.join(choices)}")


@dataclass(frozen=True)
class FrameAt:
    """A frame to show at `time` seconds, resized to the pixel budget; `drawn`: its time written on it."""

    time: float
    max_pixels: int
    min_pixels: int
    drawn: bool = False


Part = str | FrameAt


@dataclass(frozen=True)
class Question:
    text: str
    options: tuple[str, ...]

    @property
    def letters(self) -> str:
        return OPTION_LETTERS[: len(self.options)]

    def render(self) -> str:
        lines = [self.text.strip()]
        lines += [
            f"{letter}. {option.strip()}" for letter, option in zip(self.letters, self.options, strict=True)
        ]
        return "\n".join(lines)


@dataclass
class EpisodeRecord:
    """What happened, for the reward, the logs and the evaluation files (JSON-ready)."""

    frames: list[dict] = field(default_factory=list)  # {"time": s, "round": r}, in the order shown
    # One per reply: "answer", "frames", "zoom", "invalid: why".
    actions: list[str] = field(default_factory=list)
    zooms: list[dict] = field(default_factory=list)  # zoom mode: {"start": s, "end": s, "round": r} shown
    answer: str | None = None
    rounds: int = 0
    end: str | None = None  # "answer", "round limit" or whatever stop() was given

    @property
    def invalid_actions(self) -> int:
        return sum(action.startswith("invalid") for action in self.actions)

    def as_dict(self) -> dict:
        return {
            "frames": list(self.frames),
            "actions": list(self.actions),
            "zooms": list(self.zooms),
            "answer": self.answer,
            "rounds": self.rounds,
            "end": self.end,
            "invalid_actions": self.invalid_actions,
            "num_frames": len(self.frames),
        }


class Episode(ABC):
    """The rules every mode shares: `opening()` once, then `step(reply)` per reply until it returns None.

    `grid` is the video's frame grid (duration, fps, frame count): two times on the same frame are one
    frame, shown and charged once. A mode (agent/frame_requests.py, agent/zoom.py) says which actions its
    replies may take (`ACTIONS`), its opening turn, what an action does (`_act`), and its instructions."""

    ACTIONS: tuple[str, ...] = ("answer",)

    def __init__(
        self, question: Question, grid: FrameGrid, config: EpisodeConfig | None = None, *, seed: int = 0
    ) -> None:
        self.question = question
        self.grid = grid
        self.duration = grid.duration
        self.config = config or EpisodeConfig()
        self.seed = seed
        self.record = EpisodeRecord()
        self.words = WORDINGS[self.config.wording]
        self._seen: set[int] = set()
        # The record's frames and zooms before the last turn built: that turn's are shown only once the
        # model replies to it, and a runner that stops instead (the turn does not fit) takes them back.
        self._unshown_from: tuple[int, int] | None = None

    @property
    def done(self) -> bool:
        return self.record.end is not None

    @property
    def rounds_left(self) -> int:
        return self.config.max_rounds - self.record.rounds

    @abstractmethod
    def opening(self, times: Sequence[float] | None = None) -> list[Part]:
        """The first user turn (`times`: its first frames, where the caller chooses them)."""

    @abstractmethod
    def prompt_text(self) -> str:
        """The first user turn without its frames: what a dataset row's `prompt` holds for reading and
        length checks (the agent loop renders the real turn, frames included)."""

    @abstractmethod
    def _act(self, action) -> list[Part] | Invalid:
        """The turn a valid action of the mode's shows, or why it is invalid."""

    @abstractmethod
    def _instructions(self) -> str:
        """The end of every turn: what the next reply may do, and what is left."""

    def step(self, reply: str) -> list[Part] | None:
        """Apply one assistant reply; the next user turn, or None when the episode has ended."""
        if self.done:
            raise RuntimeError("the episode has ended")
        self._unshown_from = None  # the model replied to the last turn: it saw it
        self.record.rounds += 1
        action = parse_reply(reply, self.question.letters, self.ACTIONS)
        if isinstance(action, Answer):
            self.record.actions.append("answer")
            self.record.answer = action.letter
            self.stop("answer")
            return None
        self._mark_unshown()
        turn = action if isinstance(action, Invalid) else self._act(action)
        if isinstance(turn, Invalid):
            self.record.actions.append(f"invalid: {turn.reason}")
            if self.rounds_left <= 0:
                self.stop("round limit")
                return None
            return [self.words.invalid(turn.reason) + self._instructions()]
        return turn

    def stop(self, reason: str) -> None:
        """End the episode (the runner calls this when the next turn would not fit its token budget): the
        turn built last, which the model never saw, leaves the record."""
        if self.done:
            return
        self.record.end = reason
        if self._unshown_from is not None:
            frames, zooms = self._unshown_from
            del self.record.frames[frames:], self.record.zooms[zooms:]

    def _mark_unshown(self) -> None:
        self._unshown_from = (len(self.record.frames), len(self.record.zooms))

    def _new_frames(self, times: Sequence[float]) -> list[float]:
        """The times that show a frame not yet shown, the first time of each frame, in order."""
        new: dict[int, float] = {}
        for time in times:
            frame = self.grid.frame_at(time)
            if frame not in self._seen:
                new.setdefault(frame, time)
        return list(new.values())

    def _show(
        self, times: Sequence[float], round_: int, max_pixels: int | None = None, drawn: bool = False
    ) -> list[Part]:
        """Each frame with its time in text (and drawn on it), at the pixel budget (default: max_pixels)."""
        max_pixels = max_pixels or self.config.max_pixels
        min_pixels = min(self.config.min_pixels, max_pixels)
        parts: list[Part] = []
        for time in times:
            self._seen.add(self.grid.frame_at(time))
            self.record.frames.append({"time": time, "round": round_})
            parts += [self.words.frame_label(time), FrameAt(time, max_pixels, min_pixels, drawn), "\n"]
        return parts
