"""The embedded synthetic video-QA benchmark: real H.264 videos whose answers hide in brief moments.

Each 10 s video shows a square moving across a plain background. For a moment it turns another colour,
a shape appears for a moment, and a white circle flashes a few times. Each event lasts about 0.6 s, so
five uniformly spaced frames usually miss the evidence; an agent that asks for the right frames does
not. Four questions per video, five options each, with the evidence intervals (spans) recorded:

    appear  Which shape appears for a moment?
    colour  What colour does the square turn for a moment?
    count   How many times does a white circle flash?
    motion  Which way does the square move?   (the control: any two frames answer it)

Deterministic for a seed; a few dozen videos take seconds. It is what the demo, the CPU tests and a
first `sh train.sh` run on when no NExT-QA is prepared.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sparse_video_r1.data.splits import Question
from sparse_video_r1.video.writer import write_video

WIDTH, HEIGHT, FPS, SECONDS = 320, 240, 10, 10.0
EVENT = 0.6  # seconds an event stays on screen
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (50, 90, 230),
    "yellow": (235, 210, 40),
    "purple": (150, 60, 200),
    "orange": (245, 140, 30),
    "cyan": (40, 200, 210),
}
SHAPES = ("triangle", "diamond", "star", "cross", "ring")
DIRECTIONS = ("left", "right", "up", "down", "it does not move")
FLASH_COUNTS = ("1", "2", "3", "4", "5")


@dataclass(frozen=True)
class Scene:
    """Everything one synthetic video shows, and when."""

    background: tuple[int, int, int]
    colour: str  # the square's colour
    flash_colour: str  # the colour it turns for a moment
    colour_at: float
    direction: str
    shape: str
    shape_at: float
    shape_xy: tuple[int, int]
    flashes: tuple[tuple[float, int, int], ...]  # (start, x, y)


def _disjoint_starts(rng: random.Random, count: int, taken: list[float]) -> list[float]:
    """Event start times that keep every event on screen apart from the others and inside the video."""
    starts: list[float] = []
    for _ in range(10_000):
        if len(starts) == count:
            return starts
        t = round(rng.uniform(0.3, SECONDS - EVENT - 0.3), 1)
        if all(abs(t - u) >= EVENT + 0.2 for u in starts + taken):
            starts.append(t)
    raise RuntimeError(f"cannot place {count} events apart in {SECONDS} s")


def make_scene(rng: random.Random) -> Scene:
    colour, flash_colour = rng.sample(sorted(COLOURS), 2)
    colour_at, shape_at = _disjoint_starts(rng, 2, [])
    flashes = _disjoint_starts(rng, rng.randint(1, 5), [colour_at, shape_at])
    return Scene(
        background=tuple(rng.randint(20, 70) for _ in range(3)),
        colour=colour,
        flash_colour=flash_colour,
        colour_at=colour_at,
        direction=rng.choice(DIRECTIONS[:4]),
        shape=rng.choice(SHAPES),
        shape_at=shape_at,
        shape_xy=(rng.randint(40, WIDTH - 40), rng.randint(40, HEIGHT - 40)),
        flashes=tuple(
            sorted((t, rng.randint(30, WIDTH - 30), rng.randint(30, HEIGHT - 30)) for t in flashes)
        ),
    )


def _shown(start: float, t: float) -> bool:
    return start <= t < start + EVENT


def _square_xy(scene: Scene, t: float) -> tuple[int, int]:
    progress = t / SECONDS
    dx, dy = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}[scene.direction]
    cx, cy = WIDTH // 2, HEIGHT // 2
    return int(cx + dx * (progress - 0.5) * (WIDTH - 80)), int(cy + dy * (progress - 0.5) * (HEIGHT - 80))


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, x: int, y: int, r: int = 22) -> None:
    white = (245, 245, 245)
    if shape == "triangle":
        draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=white)
    elif shape == "diamond":
        draw.polygon([(x, y - r), (x + r, y), (x, y + r), (x - r, y)], fill=white)
    elif shape == "star":
        points = [
            (
                x + (r if k % 2 == 0 else r // 2) * math.sin(k * math.pi / 5),
                y - (r if k % 2 == 0 else r // 2) * math.cos(k * math.pi / 5),
            )
            for k in range(10)
        ]
        draw.polygon(points, fill=white)
    elif shape == "cross":
        draw.rectangle([x - r, y - r // 3, x + r, y + r // 3], fill=white)
        draw.rectangle([x - r // 3, y - r, x + r // 3, y + r], fill=white)
    else:  # ring
        draw.ellipse([x - r, y - r, x + r, y + r], outline=white, width=6)


def render(scene: Scene, t: float) -> np.ndarray:
    """The frame on screen at time t."""
    image = Image.new("RGB", (WIDTH, HEIGHT), scene.background)
    draw = ImageDraw.Draw(image)
    x, y = _square_xy(scene, t)
    colour = scene.flash_colour if _shown(scene.colour_at, t) else scene.colour
    draw.rectangle([x - 20, y - 20, x + 20, y + 20], fill=COLOURS[colour])
    if _shown(scene.shape_at, t):
        _draw_shape(draw, scene.shape, *scene.shape_xy)
    for start, fx, fy in scene.flashes:
        if _shown(start, t):
            draw.ellipse([fx - 14, fy - 14, fx + 14, fy + 14], fill=(255, 255, 255))
    return np.asarray(image)


def _options(
    rng: random.Random, correct: str, pool: tuple[str, ...] | list[str]
) -> tuple[tuple[str, ...], int]:
    others = rng.sample([p for p in pool if p != correct], 4)
    options = [correct, *others]
    rng.shuffle(options)
    return tuple(options), options.index(correct)


def questions_for(scene: Scene, video_id: str, video: Path, rng: random.Random) -> list[Question]:
    def span(start: float) -> tuple[float, float]:
        return (start, round(start + EVENT, 2))

    asked = [
        ("appear", "Which shape appears for a moment?", scene.shape, SHAPES, (span(scene.shape_at),)),
        (
            "colour",
            "What colour does the square turn for a moment?",
            scene.flash_colour,
            [c for c in sorted(COLOURS) if c != scene.colour],
            (span(scene.colour_at),),
        ),
        (
            "count",
            "How many times does a white circle flash?",
            str(len(scene.flashes)),
            FLASH_COUNTS,
            tuple(span(t) for t, _, _ in scene.flashes),
        ),
        ("motion", "Which way does the square move?", scene.direction, DIRECTIONS, ((0.0, SECONDS),)),
    ]
    questions = []
    for qid, (kind, text, correct, pool, spans) in enumerate(asked):
        options, answer = _options(rng, correct, pool)
        questions.append(
            Question(video_id, str(qid), text, options, answer, kind, video, f"{video_id}:{qid}", spans)
        )
    return questions


def make_synthetic(
    out_dir: Path, videos: int, seed: int, val_fraction: float = 0.25
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
        splits["val" if i >= val_start else "train"] += questions_for(scene, video_id, path, rng)
    return {split: questions for split, questions in splits.items() if questions}
