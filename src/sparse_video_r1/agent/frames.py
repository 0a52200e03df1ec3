"""A turn's FrameAt parts as images: the frame service per pixel budget, or grey stand-ins without a video.
Shared by the verl agent loop and the evaluator, so both show a model exactly the same frames."""

from __future__ import annotations

import math

from PIL import Image

from sparse_video_r1.agent.episode import FrameAt
from sparse_video_r1.video import Video


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
