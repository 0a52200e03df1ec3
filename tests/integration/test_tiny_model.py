"""The tiny Qwen2.5-VL: loads with the Auto classes, renders images, generates, and works over two rounds."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor

from sparse_video_r1.tiny_model import PLAIN_ADDED_TOKENS, SPECIAL_TOKENS, TinyModelSpec, build_tiny_model


def _digests(directory: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(directory.iterdir())}


def test_checkpoint_is_small_and_loads_with_the_auto_classes(tiny_model_dir: Path) -> None:
    size = sum(f.stat().st_size for f in tiny_model_dir.iterdir())
    assert size < 10e6
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert sum(p.numel() for p in model.parameters()) < 2_000_000


def test_same_seed_gives_the_same_files_and_another_seed_other_weights(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    again = build_tiny_model(tmp_path / "again")
    assert _digests(again) == _digests(tiny_model_dir)
    other = _digests(build_tiny_model(tmp_path / "other", TinyModelSpec(seed=1)))
    assert other["model.safetensors"] != _digests(tiny_model_dir)["model.safetensors"]


def test_tokenizer_carries_qwen_special_tokens_and_round_trips_text(tiny_model_dir: Path) -> None:
    tokenizer = AutoProcessor.from_pretrained(tiny_model_dir).tokenizer
    ids = [tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS + PLAIN_ADDED_TOKENS]
    assert len(set(ids)) == len(ids) and tokenizer.unk_token_id not in ids
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.pad_token == "<|endoftext|>"
    text = "<think>The dog appears at 12.5 s, café ünïcode!</think>\n<answer>C</answer>"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text
    # Special tokens are single ids, never split by the BPE.
    assert (
        tokenizer("<|vision_start|><|image_pad|><|vision_end|>")["input_ids"]
        == ids[9:10] + ids[12:13] + ids[10:11]
    )


def test_chat_template_renders_images_as_qwen_does(tiny_model_dir: Path) -> None:
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    messages = [
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Hi"}]},
        {"role": "assistant", "content": "Hello"},
    ]
    text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Hi<|im_end|>\n"
        "<|im_start|>assistant\nHello<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_generates_text_from_a_chat_with_several_images(tiny_model_dir: Path) -> None:
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir).eval()
    images = [Image.new("RGB", (224, 224), (i * 30, 100, 50)) for i in range(4)]
    content = [{"type": "image"} for _ in images] + [{"type": "text", "text": "What happens?"}]
    text = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)
    inputs = processor(text=[text], images=images, return_tensors="pt")
    # 224x224 frames are 16x16 patches, merged 2x2: 64 image tokens each.
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert int((inputs["input_ids"] == image_pad).sum()) == 4 * 64
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=16, do_sample=True, temperature=1.0)
    new = out[0, inputs["input_ids"].shape[1] :]
    assert 0 < len(new) <= 16
    vision_ids = set(model.generation_config.suppress_tokens)
    assert len(vision_ids) == 4 and not vision_ids & set(new.tolist())


def test_second_round_with_more_images_extends_the_first(tiny_model_dir: Path) -> None:
    chat = two_round_chat(tiny_model_dir)
    first = chat.round1_prompt_ids + chat.round1_reply_ids
    assert chat.round2_prompt_ids[: len(first)] == first
    assert len(chat.round2_reply_ids) > 0

    # The M-RoPE positions of the shared prefix do not move when round 2 adds images after it, so the
    # second round sees the first exactly as it was generated.
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    grids = torch.tensor([[1, 6, 8]] * 5)  # 112x84 frames resize to 112x84: 8x6 patches
    ids = torch.tensor([chat.round2_prompt_ids])
    assert int((ids == image_pad).sum()) == 5 * 12
    types = (ids == image_pad).long()
    positions, _ = model.model.get_rope_index(ids, mm_token_type_ids=types, image_grid_thw=grids)
    prefix = torch.tensor([chat.round1_prompt_ids])
    prefix_positions, _ = model.model.get_rope_index(
        prefix, mm_token_type_ids=(prefix == image_pad).long(), image_grid_thw=grids[:3]
    )
    assert torch.equal(positions[:, :, : prefix.shape[1]], prefix_positions)


@pytest.mark.parametrize("seed", [0, 7])
def test_spec_seed_is_recorded(tmp_path: Path, seed: int) -> None:
    out = build_tiny_model(tmp_path, TinyModelSpec(seed=seed))
    assert f'"seed": {seed}' in (out / "tiny_model_spec.json").read_text()


# The agent's shape with plain transformers: round 2 appends the reply and a turn with two more frames
# as token ids (never by decoding and re-tokenizing), then generates again.
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
