"""Which timestamps to look at: plain functions on seconds, no decoding (first frames, baselines, LOVE-R1 views)."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence
from dataclasses import dataclass


class TimestampError(ValueError):
    """A requested time lies outside [0, duration] of a video."""


@dataclass(frozen=True)
class FrameGrid:
    """Where a constant-rate video's frames sit in time: frame i is on screen during [i / fps, (i + 1) / fps),
    and the last frame stays on screen to the end. `frame_at` is the one rule that maps a time to a frame:
    the frame service keys its cache with it and the episode uses it to never show a frame twice."""

    duration: float
    fps: float
    num_frames: int

    @classmethod
    def of(cls, duration: float, fps: float, num_frames: int | None = None) -> FrameGrid:
        """The grid of a video's metadata; raises ValueError naming what is wrong with it."""
        duration, fps = float(duration), float(fps)
        if not (math.isfinite(duration) and duration >= 0):
            raise ValueError(f"duration {duration!r} is not a number of seconds >= 0")
        if not (math.isfinite(fps) and fps > 0):
            raise ValueError(f"frame rate {fps!r} is not a positive number")
        frames = int(num_frames) if num_frames else max(1, round(duration * fps))
        if frames < 1:
            raise ValueError(f"frame count {num_frames!r} is not positive")
        return cls(duration, fps, frames)

    def frame_at(self, seconds: float) -> int:
        return max(0, min(self.num_frames - 1, math.floor(seconds * self.fps + 1e-6)))


def uniform_timestamps(duration: float, count: int) -> list[float]:
    """`count` times at the centres of equal segments of [0, duration]: never the very first or last instant."""
    _check_count(count)
    return [round((i + 0.5) * duration / count, 3) for i in range(count)]


def random_timestamps(duration: float, count: int, seed: int) -> list[float]:
    """`count` distinct sorted times on the millisecond grid drawn at random (reproducibly for a seed) from
    [0, duration); fewer when the video is shorter than `count` milliseconds."""
    _check_count(count)
    milliseconds = range(max(1, int(duration * 1000)))
    return sorted(ms / 1000 for ms in random.Random(seed).sample(milliseconds, min(count, len(milliseconds))))


def overview_timestamps(duration: float, fps: float = 2.0, max_frames: int = 768) -> list[float]:
    """LOVE-R1's fast view: frames at `fps` across the whole video, spread uniformly when capped."""
    return uniform_timestamps(duration, max(1, min(max_frames, math.ceil(duration * fps))))


def first_to_last_timestamps(grid: FrameGrid, count: int) -> list[float]:
    """The times of `count` frames spread evenly from the first frame to the last (frame indices
    round(linspace(0, frames - 1, count))), as qwen-vl-utils picks a video's frames; each time is the middle
    of its frame's interval, so `grid.frame_at` gives that frame back."""
    _check_count(count)
    last = grid.num_frames - 1
    indices = [round(k * last / (count - 1)) if count > 1 else 0 for k in range(count)]
    return [round(min(grid.duration, (i + 0.5) / grid.fps), 3) for i in indices]


def clip_timestamps(start: float, end: float, count: int) -> list[float]:
    """`count` times spread uniformly over the interval [start, end] (a LOVE-R1 zoom)."""
    if end < start:
        raise TimestampError(f"clip end {end} s is before its start {start} s")
    return [round(start + t, 3) for t in uniform_timestamps(end - start, count)]


def check_timestamps(seconds: Sequence[float], duration: float, source: str = "video") -> None:
    """Raise a TimestampError naming the source when any time is not a finite number in [0, duration]."""
    bad = [t for t in seconds if not (isinstance(t, numbers.Real) and 0.0 <= t <= duration)]  # NaN fails too
    if bad:
        raise TimestampError(f"{source}: times {bad} are outside [0, {duration:.3f}] s")


def _check_count(count: int) -> None:
    if count < 1:
        raise ValueError(f"need at least one timestamp, got {count}")
