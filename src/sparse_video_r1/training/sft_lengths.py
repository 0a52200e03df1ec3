"""How long an SFT row is in tokens, before verl's SFT dataset finds out at the first row that does not fit.

A row of `svr1 sft-data` is a chat (`messages`, each user turn marking its frames with `<image>`) and its
frames as PNG bytes. Its length is the chat template's text plus each frame's visual tokens: the model's
processor resizes a W x H frame into its pixel range (sides multiples of 28) and gives it one token per
28 x 28 pixels, between a vision start and end token. Only the PNG headers are read; with the model's
processor and tokenizer (offline) the count is verl's, else an estimate.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

IMAGE = "<image>"
VISION = "<|vision_start|><|image_pad|><|vision_end|>"  # what the chat template writes for one frame
QWEN_PIXELS = (56 * 56, 28 * 28 * 16384)  # Qwen2.5-VL's processor's pixel range, without the model here
TURN_TOKENS, SYSTEM_TOKENS = 5, 20  # without a tokenizer: around each message, and the default system turn
CHARS_PER_TOKEN = 2  # without a tokenizer: a cautious estimate (Qwen's splits digits into a token each)


@dataclass(frozen=True)
class RowLength:
    tokens: int
    visual: int
    where: str  # "train.parquet row 17"
    exact: bool  # counted with the model's processor and chat template


def longest_row(files: list[Path], messages_key: str, image_key: str, model: str) -> RowLength:
    """The longest row of the SFT files, counted as verl's SFT dataset counts it where the model's processor
    loads offline, else estimated."""
    import pyarrow.parquet as pq

    processor = _processor(model)
    pixels = _pixel_range(processor)
    longest = RowLength(0, 0, "no rows", processor is not None)
    for path in files:
        row = 0
        for batch in pq.ParquetFile(path).iter_batches(columns=[messages_key, image_key], batch_size=64):
            for messages, images in zip(
                batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True
            ):
                visual = sum(_visual_tokens(image["bytes"], pixels) for image in images or [])
                tokens = _text_tokens(messages, processor) + visual
                if tokens > longest.tokens:
                    longest = RowLength(tokens, visual, f"{path.name} row {row}", processor is not None)
                row += 1
    return longest


def _visual_tokens(png: bytes, pixels: tuple[int, int]) -> int:
    from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

    width, height = Image.open(io.BytesIO(png)).size  # the header only
    height, width = smart_resize(height, width, factor=28, min_pixels=pixels[0], max_pixels=pixels[1])
    return (width // 28) * (height // 28)


def _text_tokens(messages: list[dict], processor) -> int:
    """The chat's tokens with one placeholder a frame (its visual tokens are counted apart)."""
    frames = sum(m["content"].count(IMAGE) for m in messages)
    if processor is None:
        text = "".join(m["content"].replace(IMAGE, "") for m in messages)
        return len(text) // CHARS_PER_TOKEN + TURN_TOKENS * len(messages) + SYSTEM_TOKENS + 2 * frames
    chat = [{"role": m["role"], "content": m["content"].replace(IMAGE, VISION)} for m in messages]
    text = processor.tokenizer.apply_chat_template(chat, tokenize=False)
    return len(processor.tokenizer.encode(text, add_special_tokens=False)) - frames  # a pad a frame


def _processor(model: str):
    try:
        from transformers import AutoProcessor

        return AutoProcessor.from_pretrained(model, local_files_only=True)
    except Exception:  # not downloaded here: estimate
        return None


def _pixel_range(processor) -> tuple[int, int]:
    size = getattr(getattr(processor, "image_processor", None), "size", None)
    if size is None or not getattr(size, "shortest_edge", None):
        return QWEN_PIXELS
    return size.shortest_edge, size.longest_edge
