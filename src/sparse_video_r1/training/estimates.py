"""Back-of-the-envelope sizes of a training run, printed by the pre-flight check before any GPU hour is spent.

Plain arithmetic on a parameter count and the config's numbers; the rules of thumb are verl's FSDP2 layout:
the actor keeps fp32 weights (4 bytes a parameter) and Adam's two fp32 moments (8 bytes), sharded over the
GPUs; a checkpoint holds both (12 bytes a parameter, ~45 GB for the 3B model); the reference model is
offloaded to CPU memory by verl; vLLM takes `gpu_memory_utilization` of each GPU while it generates. The
training step (vLLM asleep) adds fp32 gradients (4 bytes a parameter, sharded) and one micro-batch's
activations: under gradient checkpointing each layer keeps its bf16 input for every token, one layer at a
time is recomputed, and the language head's logits cover every token (benchmarks/train_memory.py measures
these on a GPU against this estimate).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

GIB = 2**30
CHECKPOINT_BYTES_PER_PARAM = 4 + 8  # fp32 weights + Adam's two moments
# Parameter counts of the checkpoints users name most, for when the weights are not on this machine yet.
KNOWN_PARAMS = {
    "Qwen/Qwen2.5-VL-3B-Instruct": 3.75e9,
    "Qwen/Qwen2.5-VL-7B-Instruct": 8.29e9,
    "Qwen/Qwen2.5-VL-32B-Instruct": 33.5e9,
    "Qwen/Qwen2.5-VL-72B-Instruct": 73.4e9,
}
DTYPE_BYTES = {"F64": 8, "F32": 4, "BF16": 2, "F16": 2, "I64": 8, "I32": 4, "I8": 1, "U8": 1, "BOOL": 1}
# (hidden size, layers, vocabulary) of the language models users name most, for when no config.json is here.
KNOWN_SHAPES = {
    "Qwen/Qwen2.5-VL-3B-Instruct": (2048, 36, 151936),
    "Qwen/Qwen2.5-VL-7B-Instruct": (3584, 28, 152064),
    "Qwen/Qwen2.5-VL-32B-Instruct": (5120, 64, 152064),
    "Qwen/Qwen2.5-VL-72B-Instruct": (8192, 80, 152064),
}
# The training step's micro-batch, fitted to benchmarks/train_memory.py on an H200 (Qwen2.5-VL-3B and -7B
# language models, 8k-49k tokens, within 12% of each measurement): per token, the bf16 input each layer
# keeps under gradient checkpointing (2 bytes x hidden x layers; without checkpointing every layer's working
# set, ~34 bytes x hidden each, a textbook figure we did not measure), and per token and vocabulary entry
# the logits (bf16 for every token, fp32 log-probabilities for the scored response ones); per sequence, the
# padding mask PyTorch SDPA takes where flash-attn's remove-padding path is off (bytes x tokens squared).
CHECKPOINT_BYTES, WORKING_SET_BYTES = 2, 34
LOGIT_BYTES, SCORED_LOGIT_BYTES = 2, 4.5
PADDED_MASK_BYTES = 5
RUNTIME_OVERHEAD = 4 * GIB  # CUDA context, NCCL buffers, the allocator's slack


def parameter_count(model: str) -> float | None:
    """Parameters of a local checkpoint (from its safetensors headers) or of a known hub name; else None."""
    path = Path(model)
    if path.is_dir():
        files = sorted(path.glob("*.safetensors"))
        return float(sum(_safetensors_params(f) for f in files)) if files else None
    return KNOWN_PARAMS.get(model)


def _safetensors_params(path: Path) -> int:
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(length))
    return sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")


@dataclass(frozen=True)
class DiskEstimate:
    per_checkpoint: float  # bytes
    kept: int
    total: float  # bytes the run's checkpoints can hold at once

    @classmethod
    def of(
        cls, params: float, total_steps: int, save_freq: int, keep: int | None, with_critic: bool
    ) -> DiskEstimate:
        saves = max(1, total_steps // save_freq) if save_freq > 0 else 1
        kept = min(saves, keep) if keep else saves
        per = params * CHECKPOINT_BYTES_PER_PARAM * (2 if with_critic else 1)
        return cls(per, kept, per * kept)


@dataclass(frozen=True)
class GPUMemoryEstimate:
    """Per GPU, while vLLM generates (the peak of a colocated run): the actor's weights and optimizer state
    where they are not offloaded, plus vLLM's reserved share."""

    weights: float
    optimizer: float
    vllm: float
    gpu: float

    @property
    def total(self) -> float:
        return self.weights + self.optimizer + self.vllm

    @classmethod
    def of(
        cls,
        params: float,
        gpus: int,
        gpu_bytes: float,
        vllm_share: float,
        param_offload: bool,
        optimizer_offload: bool,
    ) -> GPUMemoryEstimate:
        shard = params / max(1, gpus)
        return cls(
            weights=0.0 if param_offload else 4 * shard,
            optimizer=0.0 if optimizer_offload else 8 * shard,
            vllm=vllm_share * gpu_bytes,
            gpu=gpu_bytes,
        )

    def describe(self) -> str:
        return (
            f"~{self.total / GIB:.0f} of {self.gpu / GIB:.0f} GiB per GPU while generating (actor weights "
            f"{self.weights / GIB:.0f} + optimizer {self.optimizer / GIB:.0f} + vLLM {self.vllm / GIB:.0f})"
        )


def model_shape(model: str) -> tuple[int, int, int] | None:
    """(hidden size, layers, vocabulary) of the language model, from a local config.json or a known name."""
    config = Path(model) / "config.json"
    if config.is_file():
        text = json.loads(config.read_text())
        text = text.get("text_config", text)
        return text["hidden_size"], text["num_hidden_layers"], text["vocab_size"]
    return KNOWN_SHAPES.get(model)


@dataclass(frozen=True)
class TrainingMemoryEstimate:
    """Per GPU, in the actor's training step (vLLM asleep, its memory freed; or awake where it cannot sleep):
    fp32 weights, gradients and Adam's moments where they are not offloaded, and one micro-batch."""

    states: float
    activations: float
    logits: float
    masks: float
    vllm: float
    gpu: float

    @property
    def total(self) -> float:
        return self.states + self.activations + self.logits + self.masks + self.vllm + RUNTIME_OVERHEAD

    @classmethod
    def of(
        cls,
        params: float,
        shape: tuple[int, int, int],
        gpus: int,
        gpu_bytes: float,
        tokens: int,
        scored: int,
        *,
        sequence: int = 0,
        param_offload: bool = False,
        optimizer_offload: bool = False,
        checkpointing: bool = True,
        vllm_awake: float = 0.0,
    ) -> TrainingMemoryEstimate:
        """`tokens`: one micro-batch's (its sequences padded to the prompt and response limits), `scored` of them
        the response tokens whose log-probabilities the loss takes; `sequence`: the padded length of each of
        its sequences when SDPA takes a padding mask (no flash-attn), else 0."""
        hidden, layers, vocab = shape
        shard = params / max(1, gpus)
        per_layer = CHECKPOINT_BYTES if checkpointing else WORKING_SET_BYTES
        return cls(
            states=(0.0 if param_offload else 8 * shard) + (0.0 if optimizer_offload else 8 * shard),
            activations=tokens * hidden * layers * per_layer,
            logits=vocab * (tokens * LOGIT_BYTES + scored * SCORED_LOGIT_BYTES),
            masks=(tokens // sequence) * sequence**2 * PADDED_MASK_BYTES if sequence else 0.0,
            vllm=vllm_awake,
            gpu=gpu_bytes,
        )

    def describe(self) -> str:
        return (
            f"~{self.total / GIB:.0f} of {self.gpu / GIB:.0f} GiB per GPU in the training step (weights, grads and "
            f"Adam {self.states / GIB:.0f} + activations {self.activations / GIB:.0f} + logits {self.logits / GIB:.0f}"
            + (f" + padding masks {self.masks / GIB:.0f}" if self.masks else "")
            + (f" + vLLM awake {self.vllm / GIB:.0f}" if self.vllm else "")
            + f" + runtime {RUNTIME_OVERHEAD / GIB:.0f})"
        )
