"""One episode, driven the same way by every caller: the verl agent loop (training), the evaluator, the SFT writer.

    runner = EpisodeRunner.start(question, video, config, duration=row_duration, seed=index, mode=row_mode)
    turn = runner.opening()            # a Turn: chat content (text and image parts, in order) and its images
    while turn is not None:
        reply = ...                    # the model's reply (or the oracle's) to everything so far
        turn = runner.step(reply)      # the next turn, or None once the episode has ended
    runner.record, runner.visual_tokens

A caller whose context cannot take the turn it was given calls `runner.does_not_fit()` instead of showing
it: the episode ends on its token budget and the record keeps only what the model saw. The frame grid is
one rule (`episode_grid`), the mode is the row's where it names one, and every turn is rendered here, so
training, evaluation and SFT show a model the same frames and words.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from sparse_video_r1.agent.episode import Episode, EpisodeConfig, EpisodeRecord, FrameAt, Part, Question
from sparse_video_r1.agent.modes import make_episode
from sparse_video_r1.video import FrameGrid, Video


@dataclass(frozen=True)
class Turn:
    """A user turn as the model sees it: chat content ({"type": "text", "text": ...} and {"type": "image",
    "image": <PIL image>} parts, in order) and its images."""

    content: list[dict]
    images: list[Image.Image]

    @property
    def visual_tokens(self) -> int:
        """Qwen2.5-VL's visual tokens for the turn's images: one per 28 x 28 pixels."""
        return sum((image.width // 28) * (image.height // 28) for image in self.images)

    def text(self, image_marker: str) -> str:
        """The turn as one text with each image as `image_marker` (verl's SFT dataset reads "<image>")."""
        if any(image_marker in part.get("text", "") for part in self.content):
            raise ValueError(f"the turn's text holds {image_marker!r}, which marks a frame")
        return "".join(image_marker if part["type"] == "image" else part["text"] for part in self.content)


def render(parts: Sequence[Part], video: Video | None) -> Turn:
    """A turn's parts as chat content and images (grey placeholders without a video: the verl loop's
    stand-in for an episode that could not run)."""
    frames = [part for part in parts if isinstance(part, FrameAt)]
    images = decode_frames(frames, video) if frames else []
    by_part = dict(zip(frames, images, strict=True))
    content = [
        {"type": "image", "image": by_part[part]}
        if isinstance(part, FrameAt)
        else {"type": "text", "text": part}
        for part in parts
    ]
    return Turn(content, images)


def decode_frames(frames: list[FrameAt], video: Video | None) -> list[Image.Image]:
    """The frames in order, each at its own pixel budget, its time drawn on it where asked (one
    frame-service call per budget)."""
    if video is None:  # grey squares within each frame's pixel budget, so they cost what a frame would
        return [Image.new("RGB", (_side(f.max_pixels),) * 2, (128, 128, 128)) for f in frames]
    decoded: dict[FrameAt, Image.Image] = {}
    for low, high, drawn in {(f.min_pixels, f.max_pixels, f.drawn) for f in frames}:
        wanted = [f for f in frames if (f.min_pixels, f.max_pixels, f.drawn) == (low, high, drawn)]
        times = [f.time for f in wanted]
        images = video.frames_at(times, min_pixels=low, max_pixels=high, timestamps=drawn)
        decoded.update(zip(wanted, images, strict=True))
    return [decoded[f] for f in frames]


def _side(max_pixels: int) -> int:
    return max(28, math.isqrt(max_pixels) // 28 * 28)


def episode_grid(duration: float | None, video: Video) -> FrameGrid:
    """The episode's frame grid: the row's duration (what the prompt states; the file's without a row) on
    the file's frames. A row that claims more time than the file holds (re-encoded since `svr1 prepare`?)
    is a ValueError."""
    if duration is None:
        return video.grid
    grid = FrameGrid.of(float(duration), video.fps, video.num_frames)
    if grid.duration > video.duration + 1 / video.fps:
        raise ValueError(
            f"the row says the video lasts {grid.duration:.2f} s but {video.path} lasts "
            f"{video.duration:.2f} s (re-encoded since `svr1 prepare`?)"
        )
    return grid


class EpisodeRunner:
    """An episode and its video: renders each turn, and counts what the model was shown."""

    def __init__(self, episode: Episode, video: Video) -> None:
        self.episode = episode
        self.video = video
        self.visual_tokens = 0  # of the turns the model replied to
        self._unshown = 0  # the visual tokens of the last turn, until the model replies to it

    @classmethod
    def start(
        cls,
        question: Question,
        video: Video,
        config: EpisodeConfig,
        *,
        duration: float | None = None,
        seed: int = 0,
        mode: str | None = None,
    ) -> EpisodeRunner:
        """The episode of a row (its `duration` and `mode`, when it has them) on its opened video."""
        return cls(make_episode(question, episode_grid(duration, video), config, seed=seed, mode=mode), video)

    @property
    def record(self) -> EpisodeRecord:
        return self.episode.record

    def opening(self, times: Sequence[float] | None = None) -> Turn:
        """The first user turn (`times`: its first frames, where the caller chooses them)."""
        return self._pending(render(self.episode.opening(times), self.video))

    def step(self, reply: str) -> Turn | None:
        """Apply the reply; the next turn, or None once the episode has ended."""
        self.visual_tokens += self._unshown  # the model replied to the last turn: it saw it
        self._unshown = 0
        parts = self.episode.step(reply)
        return None if parts is None else self._pending(render(parts, self.video))

    def does_not_fit(self) -> None:
        """The caller could not give the last turn to the model: the episode ends on its token budget, and
        neither the record nor the visual tokens keep what it would have shown."""
        self._unshown = 0
        self.episode.stop("token budget")

    def _pending(self, turn: Turn) -> Turn:
        self._unshown = turn.visual_tokens  # shown once the model replies to it
        return turn
