"""A tiny, randomly initialised Qwen2.5-VL built offline: the model of every CPU test and of the CPU demo.

Everything a real checkpoint has is here, only small: a byte-level BPE tokenizer trained on the spot with
Qwen's special tokens and pre-tokenizer, a ChatML chat template that renders images, the Qwen2.5-VL
processor (image and video processors) and a two-layer model. The same seed gives the same files.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

# Qwen2's pre-tokenizer split: contractions, letter runs, single digits, punctuation runs, newlines, spaces.
QWEN2_SPLIT_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"

# Qwen2.5-VL's added tokens, in its order; the first 14 are special (skipped when decoding).
SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
PLAIN_ADDED_TOKENS = [
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
]

# ChatML as Qwen2.5-VL renders it: a default system turn, images and videos as vision-start/pad/end runs.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' or 'image' in part or 'image_url' in part %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'video' or 'video' in part %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in part %}{{ part['text'] }}"
    "{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Words of our prompts and replies, so the tokenizer learns merges that our tests and demo actually use.
_CORPUS_WORDS = """
the a an what why how when where who which does did is are was were do after before during while then
video frame frames second seconds at of in on to and or with from this that it he she they person man
woman child dog cat ball car red green blue yellow white black square circle moving left right up down
appear appears change colour color count many first last end start question answer options option
think look need more see shown show time times request round rounds left budget reply format choose
because so not yet enough evidence zoom interval between
""".split()
_CORPUS_MARKUP = "<think> </think> <answer> </answer> <frames> </frames> <zoom> </zoom>".split()


@dataclass(frozen=True)
class TinyModelSpec:
    """Sizes of the tiny model; the defaults give ~0.8 M parameters and a checkpoint of a few MB."""

    seed: int = 0
    vocab_size: int = 1024
    hidden_size: int = 128
    intermediate_size: int = 256
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    vision_depth: int = 2
    vision_hidden_size: int = 64
    vision_heads: int = 2
    # Frames are resized to between 4 and 256 merged patches (56x56 to 448x448 pixels).
    min_pixels: int = 4 * 28 * 28
    max_pixels: int = 256 * 28 * 28
    dtype: str = "float32"  # the dtype the weights are saved in


# Qwen2.5-VL's real architecture at a size one GPU builds and trains in seconds (~140 M parameters, bf16,
# ~280 MB): attention heads of 64 (text) and 80 (vision) as flash-attention takes them. scripts/gpu_check.sh.
GPU_CHECK_SPEC = TinyModelSpec(
    hidden_size=1024,
    intermediate_size=2816,
    num_layers=4,
    num_heads=16,
    num_kv_heads=2,
    vision_depth=4,
    vision_hidden_size=1280,
    vision_heads=16,
    dtype="bfloat16",
)


def _corpus(seed: int, lines: int = 4000) -> list[str]:
    rng = random.Random(seed)
    vocabulary = _CORPUS_WORDS + _CORPUS_MARKUP
    corpus = []
    for _ in range(lines):
        words = [rng.choice(vocabulary) for _ in range(rng.randint(4, 16))]
        number = f"{rng.randint(0, 600)}.{rng.randint(0, 9)}"
        letter = rng.choice("ABCDE")
        corpus.append(f"{' '.join(words)} {number}s, {letter}. {words[0].capitalize()}?\n")
    return corpus


def build_tokenizer(spec: TinyModelSpec):
    """Train a byte-level BPE with Qwen2's pre-tokenizer and wrap it as a Qwen2 tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import Qwen2TokenizerFast

    bpe = Tokenizer(models.BPE(byte_fallback=False))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size - len(SPECIAL_TOKENS) - len(PLAIN_ADDED_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_corpus(spec.seed), trainer=trainer)
    bpe.add_special_tokens(SPECIAL_TOKENS)  # after the learned vocabulary, in Qwen's order
    bpe.add_tokens(PLAIN_ADDED_TOKENS)
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=bpe,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token=None,
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS[1:]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def undecodable_token_ids(tokenizer) -> list[int]:
    """Tokens that are not text on their own: lone bytes of a multi-byte UTF-8 character.

    A random model's greedy decoding can settle on one of them and repeat it; transformers decodes it to
    U+FFFD, but vLLM's incremental detokenizer holds such bytes back, waiting for the rest of the
    character, so the reply comes back empty. Their rows are zero in the tiny model, a logit of exactly 0
    among random ones, never the largest; byte-level coverage of any input text stays.
    """
    return [
        token_id
        for token, token_id in tokenizer.get_vocab().items()
        if token_id < tokenizer.vocab_size and "\ufffd" in tokenizer.convert_tokens_to_string([token])
    ]


def build_processor(spec: TinyModelSpec, tokenizer):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    size = {"shortest_edge": spec.min_pixels, "longest_edge": spec.max_pixels}
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(size=size),
        video_processor=Qwen2VLVideoProcessor(size=size),
        tokenizer=tokenizer,
        chat_template=CHAT_TEMPLATE,
    )


def build_model(spec: TinyModelSpec, tokenizer):
    import torch
    from transformers import GenerationConfig, Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in SPECIAL_TOKENS}
    head_dim = spec.hidden_size // spec.num_heads
    # M-RoPE splits the rotary half-dimension into temporal, height and width sections.
    third = head_dim // 2 // 3
    mrope_section = [head_dim // 2 - 2 * third, third, third]
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": spec.hidden_size,
            "intermediate_size": spec.intermediate_size,
            "num_hidden_layers": spec.num_layers,
            "num_attention_heads": spec.num_heads,
            "num_key_value_heads": spec.num_kv_heads,
            "max_position_embeddings": 32768,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": mrope_section},
            "tie_word_embeddings": True,
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"],
        },
        vision_config={
            "depth": spec.vision_depth,
            "hidden_size": spec.vision_hidden_size,
            "intermediate_size": 2 * spec.vision_hidden_size,
            "num_heads": spec.vision_heads,
            "out_hidden_size": spec.hidden_size,
            "fullatt_block_indexes": [spec.vision_depth - 1],
            "window_size": 112,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "tokens_per_second": 2,
        },
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(spec.seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    with torch.no_grad():  # tied: the output row is the input row
        model.get_input_embeddings().weight[undecodable_token_ids(tokenizer)] = 0.0
    # A trained Qwen never writes vision tokens; a random one would, and they break the next round.
    never_generate = [
        ids[t] for t in ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
    ]
    model.generation_config = GenerationConfig(
        eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
        pad_token_id=ids["<|endoftext|>"],
        suppress_tokens=never_generate,
        do_sample=False,
    )
    return model


def build_tiny_model(out_dir: str | Path, spec: TinyModelSpec | None = None) -> Path:
    """Write a loadable checkpoint (config, weights, tokenizer, processor) to `out_dir` and return it."""
    spec = spec or TinyModelSpec()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(spec)
    processor = build_processor(spec, tokenizer)
    model = build_model(spec, tokenizer)
    if spec.dtype != "float32":
        import torch

        model = model.to(getattr(torch, spec.dtype))
    model.save_pretrained(out)
    processor.save_pretrained(out)
    (out / "tiny_model_spec.json").write_text(json.dumps(spec.__dict__, indent=2) + "\n")
    return out
