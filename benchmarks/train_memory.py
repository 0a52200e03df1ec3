"""The training step's memory on a GPU against the pre-flight estimate (training/estimates.py), per token.

    python benchmarks/train_memory.py [--shape 7b] [--tokens 8192,16384,32768]

A language model of Qwen2.5-VL's architecture at the named size, random bf16 weights (no download), runs
forward and backward on one sequence of each length under gradient checkpointing with PyTorch SDPA and a
padding mask (verl's path without flash-attn pads every sequence to the limits), its loss the fp32
log-probabilities of the last quarter of the tokens (the response) and their entropy, as verl's actor
takes them.
Measured: the peak GPU memory of that step above the weights and their gradients; estimated:
TrainingMemoryEstimate's activations + logits + padding mask for the same tokens (its constants were fitted
to this benchmark's figures on an H200). Needs torch and transformers and a CUDA GPU; nothing else of the stack.
"""

from __future__ import annotations

import argparse
import time

SHAPES = {  # hidden, layers, heads, kv heads, intermediate, vocabulary (Qwen2.5-VL's language models)
    "3b": (2048, 36, 16, 2, 11008, 151936),
    "7b": (3584, 28, 28, 4, 18944, 152064),
}


def build(shape: str):
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    hidden, layers, heads, kv_heads, intermediate, vocab = SHAPES[shape]
    half = hidden // heads // 2
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": vocab, "hidden_size": hidden, "intermediate_size": intermediate,
            "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": kv_heads,
            "max_position_embeddings": 131072, "tie_word_embeddings": False,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6,
                                "mrope_section": [half - 2 * (half // 3), half // 3, half // 3]},
        },
        vision_config={"depth": 1, "hidden_size": 256, "intermediate_size": 512, "num_heads": 4,
                       "out_hidden_size": hidden, "fullatt_block_indexes": [0]},
    )  # fmt: skip
    config._attn_implementation = "sdpa"
    with torch.device("meta"):
        model = Qwen2_5_VLForConditionalGeneration(config)
    model = model.to_empty(device="cuda").to(torch.bfloat16)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.02)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    model.train()
    return model, (hidden, layers, vocab)


def step(model, tokens: int) -> float:
    """Peak bytes of one forward and backward above what was allocated before it (the weights), less the
    gradients it leaves."""
    import torch

    ids = torch.randint(0, model.config.text_config.vocab_size, (1, tokens), device="cuda")
    scored = tokens // 4
    mask = torch.ones_like(ids)
    mask[:, : tokens // 20] = 0  # left padding of the prompt, as verl's padded batches hold
    model.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    logits = model(input_ids=ids, attention_mask=mask).logits
    all_log_probs = torch.log_softmax(logits[:, -scored:-1].float(), dim=-1)
    log_probs = all_log_probs.gather(-1, ids[:, -scored + 1 :, None])
    with torch.no_grad():
        entropy = -(all_log_probs.exp() * all_log_probs).sum(-1).mean()  # verl logs it every step
    (-log_probs.mean()).backward()
    del entropy
    torch.cuda.synchronize()
    grads = sum(p.grad.numel() * p.grad.element_size() for p in model.parameters() if p.grad is not None)
    return torch.cuda.max_memory_allocated() - before - grads


def main() -> None:
    from sparse_video_r1.training.estimates import GIB, TrainingMemoryEstimate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="7b", choices=SHAPES)
    parser.add_argument("--tokens", default="8192,16384,32768")
    args = parser.parse_args()
    began = time.perf_counter()
    model, shape = build(args.shape)
    print(f"Qwen2.5-VL-{args.shape.upper()} language model, bf16, gradient checkpointing, SDPA; built in "
          f"{time.perf_counter() - began:.0f} s\n")  # fmt: skip
    print("| tokens | measured GiB | estimated GiB | estimated / measured | step s |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for tokens in map(int, args.tokens.split(",")):
        began = time.perf_counter()
        measured = step(model, tokens)
        seconds = time.perf_counter() - began
        estimate = TrainingMemoryEstimate.of(0.0, shape, 1, 0.0, tokens, tokens // 4, sequence=tokens)
        estimated = estimate.activations + estimate.logits + estimate.masks
        print(f"| {tokens} | {measured / GIB:.2f} | {estimated / GIB:.2f} | {estimated / measured:.2f} | {seconds:.1f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
