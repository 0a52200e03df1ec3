"""The environment a CPU training run needs in every process it starts (Ray workers inherit it)."""

from __future__ import annotations


def cpu_environment() -> dict[str, str]:
    return {
        # verl imports these modules in every process at import time: our CPU platform and rollout backend.
        "VERL_USE_EXTERNAL_MODULES": "sparse_video_r1.cpu_backend.plugin",
        "VERL_PLATFORM": "cpu",
        "VERL_ENGINE_DEVICE": "cuda",  # verl registers its FSDP engines for cuda/npu only
        "TOKENIZERS_PARALLELISM": "false",
    }
