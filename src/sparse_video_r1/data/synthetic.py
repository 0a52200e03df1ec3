"""The embedded synthetic benchmark: real H.264 videos whose answers hide in brief moments.

Each 10 s video shows a coloured square crossing a dark background. For 0.6 s the whole screen flashes
a colour; at another moment, for 0.6 s, one to five white discs appear together. Five uniformly spaced
frames catch a 0.6 s event about 30% of the time; an agent that asks for the right frames always can.
Three questions per video, with their evidence intervals (spans) recorded:

    colour   What colour does the screen flash?                   (brief evidence)
    count    How many white discs appear for a moment?            (brief evidence)
    square   What colour is the square?                           (the control: every frame answers it)

The events are large (the whole screen, or discs 70 px across on a 320x240 frame) so that a small model
can see them at the pixel budget of CPU training (12 visual tokens a frame): learning to look, not to
squint, is the point. Every answer is something a model can see without knowing where in a frame it is (a colour, an
amount): a model trained from scratch has only rotary positions, which tell it how far apart two things
are but not where one is, and it learns "where" far more slowly than "what". By default each question
type lists its options in one fixed order, so a tiny model learns what it sees rather than how to read a
shuffled list; `shuffle_options=True` shuffles them per question.

Deterministic for a seed; a few dozen videos take seconds. It is what the demo, the CPU tests and a first
`sh train.sh` run on when no NExT-QA is prepared.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sparse_video_r1.agent.oracle import Thinking
from sparse_video_r1.data.splits import Question
from sparse_video_r1.video.writer import write_video

WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 10, 10.0
EVENT = 0.6  # seconds an event stays on screen
WHITE = 35  # the white discs' radius in pixels
SQUARE = 30  # half side in pixels
COLOURS = {  # the flash's
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (50, 90, 235),
    "yellow": (240, 215, 40),
    "purple": (160, 60, 210),
}
SQUARES = {  # the square's, none of them a flash's
    "orange": (245, 140, 30),
    "cyan": (40, 200, 210),
    "pink": (250, 150, 190),
    "brown": (130, 80, 40),
    "grey": (150, 150, 150),
}
COUNTS = ("1", "2", "3", "4", "5")
SPOTS = ((60, 55), (160, 55), (260, 55), (60, 185), (160, 185), (260, 185), (110, 120), (210, 120))
QUESTIONS = {
    "colour": "What colour does the screen flash?",
    "count": "How many white discs appear for a moment?",
    "square": "What colour is the square?",
}
OPTIONS = {"colour": tuple(COLOURS), "count": COUNTS, "square": tuple(SQUARES)}
# What the SFT oracle thinks in each question type, once the evidence is on screen and before.
THINKING = {
    "colour": Thinking(seen="The screen flashes {answer}.", not_seen="No flash yet."),
    "count": Thinking(seen="White discs: {answer}.", not_seen="No white discs yet."),
    "square": Thinking(seen="The square is {answer}.", not_seen="I cannot see the square yet."),
}


@dataclass(frozen=True)
class Scene:
    """Everything one synthetic video shows, and when."""

    background: tuple[int, int, int]
    direction: str  # where the square goes: left, right, up or down
    square: str  # the square's colour
    colour: str  # the flash's colour
    colour_at: float
    whites: tuple[tuple[int, int], ...]  # where the white discs appear, all at once
    whites_at: float


def _event_starts(rng: random.Random, count: int) -> list[float]:
    """Event start times, on the video's frame grid, apart from each other and inside the video."""
    for _ in range(10_000):
        starts = [round(rng.uniform(0.2, SECONDS - EVENT - 0.2), 1) for _ in range(count)]
        if all(abs(a - b) >= EVENT + 0.4 for i, a in enumerate(starts) for b in starts[i + 1 :]):
            return starts
    raise RuntimeError(f"cannot place {count} events apart in {SECONDS} s")


def make_scene(rng: random.Random) -> Scene:
    colour_at, whites_at = _event_starts(rng, 2)
    return Scene(
        background=tuple(rng.randint(15, 60) for _ in range(3)),
        direction=rng.choice(("left", "right", "up", "down")),
        square=rng.choice(tuple(SQUARES)),
        colour=rng.choice(tuple(COLOURS)),
        colour_at=colour_at,
        whites=tuple(sorted(rng.sample(SPOTS, rng.randint(1, len(COUNTS))))),
        whites_at=whites_at,
    )


def _shown(start: float, t: float) -> bool:
    return start <= t < start + EVENT - 1e-9


def square_xy(scene: Scene, t: float) -> tuple[int, int]:
    progress = t / SECONDS
    dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[scene.direction]
    return (
        int(WIDTH / 2 + dx * (progress - 0.5) * (WIDTH - 4 * SQUARE)),
        int(HEIGHT / 2 + dy * (progress - 0.5) * (HEIGHT - 4 * SQUARE)),
    )


def _disc(draw: ImageDraw.ImageDraw, xy: tuple[int, int], radius: int, colour: tuple[int, int, int]) -> None:
    x, y = xy
    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=colour)


def render(scene: Scene, t: float) -> np.ndarray:
    """The frame on screen at time t."""
    flash = _shown(scene.colour_at, t)
    image = Image.new("RGB", (WIDTH, HEIGHT), COLOURS[scene.colour] if flash else scene.background)
    draw = ImageDraw.Draw(image)
    x, y = square_xy(scene, t)
    draw.rectangle([x - SQUARE, y - SQUARE, x + SQUARE, y + SQUARE], fill=SQUARES[scene.square])
    if _shown(scene.whites_at, t):
        for xy in scene.whites:
            _disc(draw, xy, WHITE, (255, 255, 255))
    return np.asarray(image)


def questions_for(
    scene: Scene, video_id: str, video: Path, rng: random.Random, shuffle_options: bool = False
) -> list[Question]:
    def span(start: float) -> tuple[tuple[float, float]]:
        return ((start, round(start + EVENT, 2)),)

    asked = {
        "colour": (scene.colour, span(scene.colour_at)),
        "count": (str(len(scene.whites)), span(scene.whites_at)),
        "square": (scene.square, ((0.0, SECONDS),)),
    }
    questions = []
    for qid, (kind, (correct, spans)) in enumerate(asked.items()):
        options = list(OPTIONS[kind])
        if shuffle_options:
            rng.shuffle(options)
        questions.append(
            Question(
                video_id,
                str(qid),
                QUESTIONS[kind],
                tuple(options),
                options.index(correct),
                kind,
                video,
                f"{video_id}:{qid}",
                spans,
            )
        )
    return questions


def make_synthetic(
    out_dir: Path, videos: int, seed: int, val_fraction: float = 0.25, shuffle_options: bool = False
) -> dict[str, list[Question]]:
    """Write `videos` synthetic videos under OUT/videos and return their questions by split."""
    video_dir = out_dir / "videos"
    video_dir.mkdir(parents=True, exist_ok=True)
    val_start = videos - max(1, round(videos * val_fraction)) if videos > 1 else videos
    splits: dict[str, list[Question]] = {"train": [], "val": []}
    for i in range(videos):
        rng = random.Random(f"{seed}:{i}")
        scene = make_scene(rng)
        video_id = f"synth{i:04d}"
        path = video_dir / f"{video_id}.mp4"
        frames = (render(scene, k / FPS) for k in range(int(SECONDS * FPS)))
        write_video(path, frames, FPS, gop=30, b_frames=2)
        questions = questions_for(scene, video_id, path, rng, shuffle_options)
        splits["val" if i >= val_start else "train"] += questions
    return {split: questions for split, questions in splits.items() if questions}
