"""Which timestamps to look at: plain functions on seconds, no decoding (first frames, baselines, LOVE-R1 views)."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence


class TimestampError(ValueError):
    """A requested time lies outside [0, duration] of a video."""


def uniform_timestamps(duration: float, count: int) -> list[float]:
    """`count` times at the centres of equal segments of [0, duration]: never the very first or last instant."""
    _check_count(count)
    return [round((i + 0.5) * duration / count, 3) for i in range(count)]


def random_timestamps(duration: float, count: int, seed: int) -> list[float]:
    """`count` distinct sorted times drawn at random (reproducibly for a seed) from [0, duration)."""
    _check_count(count)
    milliseconds = range(max(1, int(duration * 1000)))
    if count > len(milliseconds):
        raise ValueError(f"cannot draw {count} distinct times from {duration} s")
    return sorted(ms / 1000 for ms in random.Random(seed).sample(milliseconds, count))


def overview_timestamps(duration: float, fps: float = 2.0, max_frames: int = 768) -> list[float]:
    """LOVE-R1's fast view: frames at `fps` across the whole video, spread uniformly when capped."""
    return uniform_timestamps(duration, max(1, min(max_frames, math.ceil(duration * fps))))


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
