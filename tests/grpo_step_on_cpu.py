"""The trainer side of a rollout batch, on CPU, with verl's own parts: run as a script (its own process,
because verl patches Qwen2.5-VL's forward process-wide and needs a process group).

    python tests/grpo_step_on_cpu.py MODEL_DIR VIDEO OUT.json

A GRPO group of scripted episodes (one answers right, one wrong) goes through verl's AgentLoopWorker and
reward worker; verl's ActorRolloutRefWorker (FSDP2 engine) computes log-probs on it and takes one GRPO
step with verl's advantage estimator and PPO loss, exactly as verl's trainer calls them. A second, fresh
actor trains on the same batch with the environment tokens' advantages and old log-probs scrambled; if
those tokens are masked out of the loss, both actors end with the same weights. Results go to OUT.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path

from sparse_video_r1.cpu_backend.platform import enable_cpu_platform

enable_cpu_platform()  # before any verl worker import

import numpy as np  # noqa: E402
import torch  # noqa: E402
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker  # noqa: E402
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker  # noqa: E402
from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage  # noqa: E402
from verl.utils import tensordict_utils as tu  # noqa: E402
from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from sparse_video_r1.generation import HFGenerator  # noqa: E402
from verl_harness import LocalActorHandle, ScriptedServer, compose_config, make_batch, row  # noqa: E402

CPU_ACTOR = [
    "actor_rollout_ref.actor.strategy=fsdp2",
    "actor_rollout_ref.model.use_remove_padding=False",
    "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
    # fp32 compute for exact log-probs (bf16 drifts ~3e-2); mixed_precision is not in verl's YAML, hence "+".
    "actor_rollout_ref.actor.fsdp_config.dtype=float32",
    "+actor_rollout_ref.actor.fsdp_config.mixed_precision.param_dtype=fp32",
    "+actor_rollout_ref.actor.fsdp_config.mixed_precision.reduce_dtype=fp32",
    "+actor_rollout_ref.actor.fsdp_config.mixed_precision.buffer_dtype=fp32",
    "actor_rollout_ref.actor.fsdp_config.use_torch_compile=False",
    "actor_rollout_ref.actor.use_torch_compile=False",
    "actor_rollout_ref.actor.ppo_mini_batch_size=1",
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=1",
    "actor_rollout_ref.rollout.n=2",
    "actor_rollout_ref.actor.optim.lr=1e-3",
    "actor_rollout_ref.actor.use_kl_loss=False",
    "actor_rollout_ref.actor.entropy_coeff=0",
    "actor_rollout_ref.actor.ppo_epochs=1",
]


def init_process_group() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", WORLD_SIZE="1", LOCAL_RANK="0"
    )
    torch.distributed.init_process_group("gloo", rank=0, world_size=1)


def rollout_batch(config, generator, video):
    replies = {
        0: ["<think>look</think><frames>2.5, 6</frames>", "<think>it moves left</think><answer>B</answer>"],
        1: ["<think>look</think><frames>4.5</frames>", "<think>it grows</think><answer>C</answer>"],
    }

    async def main():
        worker = AgentLoopWorker(config, llm_client=ScriptedServer(generator, replies))
        worker.reward_loop_worker_handles = [LocalActorHandle(RewardLoopWorker(config))]
        return await worker.generate_sequences(make_batch([row(video, 10.0, answer="B")], repeat=2))

    return asyncio.run(main())


def hf_log_probs(generator, batch) -> torch.Tensor:
    """Plain Hugging Face log-probs of every response token (before verl patches the model class)."""
    out = torch.zeros_like(batch.batch["responses"], dtype=torch.float32)
    for i in range(len(batch)):
        attention = batch.batch["attention_mask"][i].bool()
        ids = batch.batch["input_ids"][i][attention]
        mm = batch.non_tensor_batch["multi_modal_inputs"][i]
        valid = attention[-out.shape[1] :]
        response = batch.batch["responses"][i][valid]
        start = ids.shape[0] - response.shape[0]
        with torch.no_grad():
            logits = generator.model(
                input_ids=ids[None],
                attention_mask=torch.ones_like(ids)[None],
                mm_token_type_ids=(ids == generator.image_token_id).long()[None],
                pixel_values=mm["pixel_values"],
                image_grid_thw=mm["image_grid_thw"],
            ).logits[0]
        scores = torch.log_softmax(logits[start - 1 : -1].float(), -1).gather(1, response[:, None]).squeeze(1)
        out[i, valid] = scores
    return out


def actor_log_probs(actor, batch) -> torch.Tensor:
    """As verl's trainer computes old log-probs (RayPPOTrainer._compute_old_log_prob)."""
    td = left_right_2_no_padding(batch.to_tensordict())
    tu.assign_non_tensor(td, calculate_entropy=True, compute_loss=False)
    output = actor.compute_log_prob(td)
    return no_padding_2_padding(tu.get(output, "log_probs"), td).float()


def update(actor, batch, config) -> dict:
    """As verl's trainer updates the actor (RayPPOTrainer._update_actor)."""
    batch.meta_info["multi_turn"] = False
    td = left_right_2_no_padding(batch.to_tensordict())
    size = config.actor_rollout_ref.actor.ppo_mini_batch_size * config.actor_rollout_ref.rollout.n
    tu.assign_non_tensor(
        td,
        calculate_entropy=False,
        distillation_use_topk=False,
        distillation_only=False,
        global_batch_size=size,
        mini_batch_size=size,
        epochs=1,
        seed=0,
        dataloader_kwargs={"shuffle": False},
        compute_loss=True,
    )
    return tu.get(actor.update_actor(td), "metrics")


def new_actor(config):
    from verl.workers.engine_workers import ActorRolloutRefWorker

    actor = ActorRolloutRefWorker(config=config.actor_rollout_ref, role="actor")
    actor.init_model()
    return actor


def weights(actor) -> dict[str, torch.Tensor]:
    module = actor.actor.engine.module
    return {
        k: (v.full_tensor() if hasattr(v, "full_tensor") else v).detach().clone()
        for k, v in module.state_dict().items()
    }


def main(model_dir: str, video: str, out_path: str) -> None:
    init_process_group()
    config = compose_config(Path(model_dir), *CPU_ACTOR)
    generator = HFGenerator(model_dir)
    batch = rollout_batch(config, generator, video)
    batch.meta_info["temperature"] = config.actor_rollout_ref.rollout.temperature  # as the trainer sets it
    reference = hf_log_probs(generator, batch)
    mask = batch.batch["response_mask"].bool()

    actor = new_actor(config)
    initial = weights(actor)
    old = actor_log_probs(actor, batch)
    rewards = batch.batch["rm_scores"]
    advantages, _ = compute_grpo_outcome_advantage(rewards, batch.batch["response_mask"], np.array([0, 0]))
    batch.batch["old_log_probs"] = old
    batch.batch["advantages"] = advantages
    metrics = update(actor, batch, config)
    new = actor_log_probs(actor, batch)
    trained = weights(actor)

    # The same step, with the environment tokens' loss inputs scrambled.
    scrambled = batch.select_idxs(np.arange(len(batch)))  # a copy
    noise = torch.randn_like(old) * 100
    scrambled.batch["old_log_probs"] = torch.where(mask, old, old + noise)
    scrambled.batch["advantages"] = torch.where(mask, advantages, advantages - noise)
    twin = new_actor(config)
    update(twin, scrambled, config)
    twin_trained = weights(twin)

    per_sample = []
    for i in range(len(batch)):
        m = mask[i]
        per_sample.append(
            {
                "answer": batch.non_tensor_batch["episode"][i]["answer"],
                "reward": float(rewards[i].sum()),
                "advantage": float(advantages[i][m].mean()),
                "mean_log_prob_before": float(old[i][m].mean()),
                "mean_log_prob_after": float(new[i][m].mean()),
                "frames": batch.non_tensor_batch["episode"][i]["num_frames"],
            }
        )
    result = {
        "samples": per_sample,
        "env_tokens": int((~mask & batch.batch["attention_mask"][:, -mask.shape[1] :].bool()).sum()),
        "max_abs_actor_vs_rollout": float((old - batch.batch["rollout_log_probs"])[mask].abs().max()),
        "max_abs_actor_vs_hf": float((old - reference)[mask].abs().max()),
        "max_abs_weight_change": max(float((trained[k] - v).abs().max()) for k, v in initial.items()),
        "max_abs_twin_difference": max(float((trained[k] - twin_trained[k]).abs().max()) for k in trained),
        "metrics": {k: (v if isinstance(v, (int, float)) else str(v)) for k, v in metrics.items()},
    }
    Path(out_path).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main(*sys.argv[1:4])
