"""Imported by verl in every process of a CPU run (VERL_USE_EXTERNAL_MODULES): switches verl to the CPU
platform and registers the `vllm_cpu` rollout (verl's vLLM rollout with our CPU fixes). Does nothing where a
GPU is visible."""

import torch

if not torch.cuda.is_available():
    from sparse_video_r1.cpu_backend.platform import enable_cpu_platform

    enable_cpu_platform()  # first: some verl modules read the device when they are imported

    from sparse_video_r1 import verl_internals

    verl_internals.use_gloo_process_groups()
    verl_internals.unpinned_offload_on_cpu()  # the reference model of a KL term

    def _vllm_cpu_replica():
        from sparse_video_r1.cpu_backend.vllm_rollout import CPUvLLMReplica

        return CPUvLLMReplica

    verl_internals.register_rollout("vllm_cpu", _vllm_cpu_replica, verl_internals.rollout_adapter("vllm"))
