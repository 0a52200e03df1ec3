"""What happens to a decoded frame before a model sees it: Qwen2.5-VL's pixel budget and a drawn timestamp."""

from __future__ import annotations

from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont


def budget_size(width: int, height: int, min_pixels: int, max_pixels: int) -> tuple[int, int]:
    """(width, height) as Qwen2.5-VL's processor would resize to: sides multiples of 28, area within
    [min_pixels, max_pixels], aspect ratio kept. The processor then leaves the frame as it is."""
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    new_height, new_width = smart_resize(
        height, width, factor=28, min_pixels=min_pixels, max_pixels=max_pixels
    )
    return new_width, new_height


def resize_to(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Bicubic, as Qwen2.5-VL's processor resamples; the image itself when it already has that size."""
    return image if size == image.size else image.resize(size, Image.Resampling.BICUBIC)


def resize_to_budget(image: Image.Image, min_pixels: int, max_pixels: int) -> Image.Image:
    """The frame resized to its Qwen2.5-VL pixel budget (see budget_size)."""
    return resize_to(image, budget_size(image.width, image.height, min_pixels, max_pixels))


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def draw_timestamp(image: Image.Image, seconds: float) -> Image.Image:
    """A copy of the frame with its time written in red in the top-left corner, as LOVE-R1 does."""
    out = image.copy()
    size = max(10, image.height // 12)
    ImageDraw.Draw(out).text(
        (size // 3, size // 4),
        f"{seconds:.1f}s",
        fill=(255, 0, 0),
        font=_font(size),
        stroke_width=1,
        stroke_fill=(0, 0, 0),
    )
    return out
