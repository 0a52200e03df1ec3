"""The CPU demo: for now a smoke of the tiny model in the multi-round, multi-image shape the agent uses.

Round 1 shows three frames and a question; round 2 appends the model's reply and a user turn with two more
frames, as token ids (never by decoding and re-tokenizing), and generates again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

SYSTEM_PREFIX = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"


@dataclass
class TwoRounds:
    round1_prompt_ids: list[int]
    round1_reply_ids: list[int]
    round2_prompt_ids: list[int]
    round2_reply_ids: list[int]
    round1_text: str
    round2_text: str


def _frames(count: int, offset: int):
    """Plain coloured frames with a bar whose position encodes the frame number."""
    from PIL import Image, ImageDraw

    frames = []
    for index in range(offset, offset + count):
        image = Image.new("RGB", (112, 84), (40 * index % 256, 90, 200 - 30 * index % 200))
        ImageDraw.Draw(image).rectangle([8 * index, 10, 8 * index + 10, 70], fill=(255, 255, 255))
        frames.append(image)
    return frames


def _user_turn(texts_before: list[str], n_images: int, question: str) -> dict:
    content = [{"type": "text", "text": text} for text in texts_before]
    content += [{"type": "image"} for _ in range(n_images)]
    content.append({"type": "text", "text": question})
    return {"role": "user", "content": content}


def two_round_chat(model_dir: str | Path, max_new_tokens: int = 24) -> TwoRounds:
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    processor = AutoProcessor.from_pretrained(model_dir)
    model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
    tokenizer = processor.tokenizer
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")

    frames1, frames2 = _frames(3, 0), _frames(2, 3)
    turn1 = _user_turn(["Frames at 0.0 s, 4.0 s, 8.0 s."], 3, "What changes in the video?")
    text1 = processor.apply_chat_template([turn1], add_generation_prompt=True, tokenize=False)
    inputs1 = processor(text=[text1], images=frames1, return_tensors="pt")
    with torch.no_grad():
        out1 = model.generate(**inputs1, max_new_tokens=max_new_tokens)
    prompt1 = inputs1["input_ids"][0].tolist()
    reply1 = out1[0, len(prompt1) :].tolist()

    # The next turn in ChatML starts after the reply's <|im_end|> and a newline; render it without the
    # default system turn that the template puts in front of a conversation.
    closed = reply1 if reply1 and reply1[-1] == im_end else [*reply1, im_end]
    turn2 = _user_turn(["Frames at 2.0 s, 6.0 s."], 2, "Answer now.")
    text2 = processor.apply_chat_template([turn2], add_generation_prompt=True, tokenize=False)
    if not text2.startswith(SYSTEM_PREFIX):
        raise ValueError("the chat template does not render the default system turn as expected")
    inputs2 = processor(text=["\n" + text2[len(SYSTEM_PREFIX) :]], images=frames2, return_tensors="pt")

    input_ids = torch.cat([inputs1["input_ids"], torch.tensor([closed]), inputs2["input_ids"]], dim=1)
    mm_token_type_ids = torch.cat(
        [
            inputs1["mm_token_type_ids"],
            torch.zeros(1, len(closed), dtype=torch.long),
            inputs2["mm_token_type_ids"],
        ],
        dim=1,
    )
    with torch.no_grad():
        out2 = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            mm_token_type_ids=mm_token_type_ids,
            pixel_values=torch.cat([inputs1["pixel_values"], inputs2["pixel_values"]]),
            image_grid_thw=torch.cat([inputs1["image_grid_thw"], inputs2["image_grid_thw"]]),
            max_new_tokens=max_new_tokens,
        )
    prompt2 = input_ids[0].tolist()
    reply2 = out2[0, len(prompt2) :].tolist()
    return TwoRounds(
        round1_prompt_ids=prompt1,
        round1_reply_ids=reply1,
        round2_prompt_ids=prompt2,
        round2_reply_ids=reply2,
        round1_text=tokenizer.decode(reply1, skip_special_tokens=True),
        round2_text=tokenizer.decode(reply2, skip_special_tokens=True),
    )


def run_demo(out_dir: str | Path) -> int:
    from sparse_video_r1.tiny_model import build_tiny_model

    out = Path(out_dir)
    model_dir = out / "tiny-model"
    start = time.perf_counter()
    if not (model_dir / "config.json").exists():
        build_tiny_model(model_dir)
        print(f"[demo] built the tiny Qwen2.5-VL in {model_dir} ({time.perf_counter() - start:.1f} s)")
    start = time.perf_counter()
    chat = two_round_chat(model_dir)
    print(f"[demo] round 1: {len(chat.round1_prompt_ids)} prompt tokens, reply {chat.round1_text!r}")
    print(f"[demo] round 2: {len(chat.round2_prompt_ids)} prompt tokens, reply {chat.round2_text!r}")
    print(
        f"[demo] two rounds with 5 images in {time.perf_counter() - start:.2f} s (random weights: text is noise)"
    )
    return 0
