"""A transformers rollout backend for verl on CPU, registered as `actor_rollout_ref.rollout.name=hf`.

The same generation core as the tests and the CPU evaluation (generation.HFGenerationServer) runs in one
named Ray actor per replica. verl's trainer side (HFReplica) launches it; its agent-loop workers call its
`generate`; the actor worker's weight sync (HFRolloutAdapter) sends it the new weights after each step.
"""

from __future__ import annotations

from typing import Any

import ray
import torch
from verl.workers.rollout.base import BaseRollout
from verl.workers.rollout.replica import RolloutReplica, TokenOutput

from sparse_video_r1.generation.server import HFGenerationServer


def server_name(replica_rank: int) -> str:
    return f"svr1_hf_rollout_{replica_rank}"


class HFServerActor:
    """The generation server plus the control methods verl calls on a rollout server by name."""

    def __init__(self, config: Any, model_config: Any, replica_rank: int) -> None:
        # The replica hands over verl's model config, a DictConfig or an HFModelConfig: both have get().
        self.server = HFGenerationServer(
            model_config.get("local_path") or model_config.get("path"),
            prompt_length=config.prompt_length,
            response_length=config.response_length,
            max_model_len=config.max_model_len,
        )
        self.replica_rank = replica_rank

    async def generate(
        self, request_id: str, *, prompt_ids: list[int], sampling_params: dict, **kwargs
    ) -> TokenOutput:
        return await self.server.generate(
            request_id, prompt_ids=prompt_ids, sampling_params=sampling_params, **kwargs
        )

    def update_weights(self, state_dict: dict[str, torch.Tensor], global_steps: int | None = None) -> None:
        self.server.generator.load_weights(state_dict)
        if global_steps is not None:
            self.server.global_steps = global_steps

    def set_global_steps(self, global_steps: int) -> None:
        self.server.global_steps = global_steps

    async def abort_all_requests(self, reject_request: bool = False) -> dict:
        return {"aborted_count": 0, "request_ids": []}

    # Memory and scheduling controls mean nothing for one in-process model on CPU.
    async def wake_up(self) -> None: ...
    async def sleep(self) -> None: ...
    async def clear_kv_cache(self) -> None: ...
    async def release_kv_cache(self) -> None: ...
    async def resume_kv_cache(self) -> None: ...
    async def resume_generation(self) -> None: ...
    async def wait_for_requests_to_drain(self) -> None: ...
    async def start_profile(self, **kwargs) -> None: ...
    async def stop_profile(self) -> None: ...


class HFReplica(RolloutReplica):
    """One HFServerActor per replica; it needs no accelerator of its own."""

    async def launch_servers(self) -> None:
        server = (
            ray.remote(HFServerActor)
            .options(name=server_name(self.replica_rank), max_concurrency=self.max_concurrency, num_cpus=0)
            .remote(self.config, self.model_config, self.replica_rank)
        )
        self.servers = [server]
        self._server_handle = server
        self._server_address = server_name(self.replica_rank)


class HFRolloutAdapter(BaseRollout):
    """The actor worker's side of the rollout: forwards weight syncs to its replica's server."""

    async def resume(self, tags: list[str]) -> None: ...

    async def release(self) -> None: ...

    async def update_weights(self, weights, wire_format: str = "named_tensors", **kwargs) -> None:
        if wire_format != "named_tensors":
            raise NotImplementedError(f"the hf rollout takes full named tensors, not {wire_format!r}")
        # Every rank must drain the generator: gathering sharded parameters is collective.
        state = {}
        for name, tensor in weights:
            full = tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor
            state[name] = full.detach().to("cpu", copy=True)
        replica = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        server = ray.get_actor(server_name(replica))
        await server.update_weights.remote(state, kwargs.get("global_steps"))
