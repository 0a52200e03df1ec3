"""Back-of-the-envelope sizes of a training run, printed by the pre-flight check before any GPU hour is spent.

Plain arithmetic on a parameter count and the config's numbers; the rules of thumb are verl's FSDP2 layout:
the actor keeps fp32 weights (4 bytes a parameter) and Adam's two fp32 moments (8 bytes), sharded over the
GPUs; a checkpoint holds both (12 bytes a parameter, ~45 GB for the 3B model); the reference model is
offloaded to CPU memory by verl; vLLM takes `gpu_memory_utilization` of each GPU while it generates.
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
