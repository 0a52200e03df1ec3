"""The embedded synthetic benchmark: real H.264 videos whose answers hide in brief moments.

Each 10 s video shows a grey square crossing a tinted background. For 0.6 s the whole screen flashes a
colour; at another moment, for 0.6 s, it shows a black-and-white pattern. Five uniformly spaced frames
catch a 0.6 s event about 30% of the time; an agent that asks for the right frames always can. Three
questions per video, with their evidence intervals (spans) recorded:

    colour       What colour does the screen flash?       (brief evidence)
    pattern      What pattern flashes on the screen?     (brief evidence)
    background   What colour is the background?          (the control: every frame answers it)

Every answer fills the screen, so that a small model trained from scratch on a CPU can see it at 12
visual tokens a frame: learning to look, not to squint, is the point. Measured with the tiny model: a
whole-screen colour is learned within a few hundred SFT steps, while the colour of a 100 px square, the
number of discs or where a disc is stayed near chance in the same budget (a model with only rotary
positions learns "where" and "how many" far more slowly than "what colour"). By default each question
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
SQUARE = 30  # half side in pixels: the grey square, a distractor
GREY = (110, 110, 110)  # darker than the report's placeholder grey, so pictures tell them apart
COLOURS = {  # the flash's
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (50, 90, 235),
    "yellow": (240, 215, 40),
    "purple": (160, 60, 210),
}
PATTERNS = ("horizontal stripes", "vertical stripes", "diagonal stripes", "checkerboard", "solid white")
BACKGROUNDS = {  # darker than any flash
    "dark red": (100, 25, 25),
    "dark green": (25, 90, 35),
    "dark blue": (25, 40, 110),
    "olive": (95, 90, 20),
    "dark purple": (80, 25, 95),
}
QUESTIONS = {
    "colour": "What colour does the screen flash?",
    "pattern": "What pattern flashes on the screen?",
    "background": "What colour is the background?",
}
OPTIONS = {"colour": tuple(COLOURS), "pattern": PATTERNS, "background": tuple(BACKGROUNDS)}
# What the SFT oracle thinks in each question type, once the evidence is on screen and before.
THINKING = {
    "colour": Thinking(seen="The screen flashes {answer}.", not_seen="No colour flash yet."),
    "pattern": Thinking(seen="The pattern is {answer}.", not_seen="No pattern yet."),
    "background": Thinking(seen="The background is {answer}.", not_seen="I cannot see it yet."),
}


@dataclass(frozen=True)
class Scene:
    """Everything one synthetic video shows, and when."""

    background: str
    direction: str  # where the square goes: left, right, up or down
    colour: str  # the colour flash's colour
    colour_at: float
    pattern: str
    pattern_at: float


def _event_starts(rng: random.Random, count: int) -> list[float]:
    """Event start times, on the video's frame grid, apart from each other and inside the video."""
    for _ in range(10_000):
        starts = [round(rng.uniform(0.2, SECONDS - EVENT - 0.2), 1) for _ in range(count)]
        if all(abs(a - b) >= EVENT + 0.4 for i, a in enumerate(starts) for b in starts[i + 1 :]):
            return starts
    raise RuntimeError(f"cannot place {count} events apart in {SECONDS} s")


def make_scene(rng: random.Random) -> Scene:
    colour_at, pattern_at = _event_starts(rng, 2)
    return Scene(
        background=rng.choice(tuple(BACKGROUNDS)),
        direction=rng.choice(("left", "right", "up", "down")),
        colour=rng.choice(tuple(COLOURS)),
        colour_at=colour_at,
        pattern=rng.choice(PATTERNS),
        pattern_at=pattern_at,
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


def pattern_image(pattern: str) -> Image.Image:
    """A full-screen black-and-white pattern, its stripes 24 px apart (8 px at the CPU pixel budget)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    on = {
        "horizontal stripes": (y // 12) % 2 == 0,
        "vertical stripes": (x // 12) % 2 == 0,
        "diagonal stripes": ((x + y) // 17) % 2 == 0,
        "checkerboard": ((x // 24) + (y // 24)) % 2 == 0,
        "solid white": np.ones_like(x, dtype=bool),
    }[pattern]
    return Image.fromarray(np.where(on[..., None], 255, 0).astype(np.uint8).repeat(3, axis=2))


def render(scene: Scene, t: float) -> np.ndarray:
    """The frame on screen at time t."""
    if _shown(scene.pattern_at, t):
        image = pattern_image(scene.pattern)
    else:
        fill = COLOURS[scene.colour] if _shown(scene.colour_at, t) else BACKGROUNDS[scene.background]
        image = Image.new("RGB", (WIDTH, HEIGHT), fill)
    x, y = square_xy(scene, t)
    ImageDraw.Draw(image).rectangle([x - SQUARE, y - SQUARE, x + SQUARE, y + SQUARE], fill=GREY)
    return np.asarray(image)


def questions_for(
    scene: Scene, video_id: str, video: Path, rng: random.Random, shuffle_options: bool = False
) -> list[Question]:
    def span(start: float) -> tuple[tuple[float, float]]:
        return ((start, round(start + EVENT, 2)),)

    asked = {
        "colour": (scene.colour, span(scene.colour_at)),
        "pattern": (scene.pattern, span(scene.pattern_at)),
        "background": (scene.background, ((0.0, SECONDS),)),
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
