"""How long an SFT row is in tokens, before verl's SFT dataset finds out at the first row that does not fit.

A row of `svr1 sft-data` is a chat (`messages`, each user turn marking its frames with `<image>`) and its
frames as PNG bytes. Its length is the chat template's text plus each frame's visual tokens: a frame of
W x H pixels (already sized to the pixel budget, sides multiples of 28) is W/28 x H/28 tokens between a
vision start and end token. Only the PNG headers are read.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

IMAGE = "<image>"
TURN_TOKENS = 5  # "<|im_start|>role\n" ... "<|im_end|>\n" around each message
VISION_MARKERS = 2  # <|vision_start|> and <|vision_end|> around a frame's tokens
CHARS_PER_TOKEN = 2  # without a tokenizer: a cautious estimate (digits are a token each in Qwen's)


@dataclass(frozen=True)
class RowLength:
    tokens: int
    visual: int
    where: str  # "train.parquet row 17"
    exact: bool  # text counted with the model's tokenizer


def longest_row(files: list[Path], messages_key: str, image_key: str, model: str) -> RowLength:
    """The longest row of the SFT files, by the model's tokenizer when one can be loaded offline."""
    import pyarrow.parquet as pq

    count = _text_counter(model)
    longest = RowLength(0, 0, "no rows", count is not None)
    for path in files:
        table = pq.ParquetFile(path)
        row = 0
        for batch in table.iter_batches(columns=[messages_key, image_key], batch_size=64):
            for messages, images in zip(
                batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True
            ):
                visual = sum(_visual_tokens(image["bytes"]) for image in images or [])
                text = "".join(m["content"].replace(IMAGE, "") for m in messages)
                tokens = (count(text) if count else len(text) // CHARS_PER_TOKEN) + TURN_TOKENS * len(
                    messages
                )
                tokens += visual + VISION_MARKERS * len(images or [])
                if tokens > longest.tokens:
                    longest = RowLength(tokens, visual, f"{path.name} row {row}", count is not None)
                row += 1
    return longest


def _visual_tokens(png: bytes) -> int:
    width, height = Image.open(io.BytesIO(png)).size  # the header only
    return (width // 28) * (height // 28)


def _text_counter(model: str):
    """The model's tokenizer as a token counter, when it loads without the hub; else None."""
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    except Exception:  # not downloaded here, or not a tokenizer: estimate instead
        return None
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))
