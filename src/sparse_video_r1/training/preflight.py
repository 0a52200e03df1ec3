"""The pre-flight of a training run: every check on its composed config, one verdict each, and the
resources it needs (disk for the kept checkpoints, GPU memory while vLLM generates and in the actor's
training step), each naming a setting that fits when it is tight."""

from __future__ import annotations

import shutil
from pathlib import Path

from sparse_video_r1.agent.budget import TokenBudget
from sparse_video_r1.agent.episode import EpisodeConfig
from sparse_video_r1.training.checks import (
    Verdict,
    check_budget,
    check_data,
    check_gpus,
    check_ppo,
    check_step_grpo,
    flash_attn_available,
    frame_label_tokens,
    model_availability,
    trl_value_head_available,
    verl_validation,
)
from sparse_video_r1.training.estimates import GIB, DiskEstimate, GPUMemoryEstimate, parameter_count


def _files(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def preflight(
    config, *, device: str, visible_gpus: int, dry_run: bool, gpu_bytes: float | None
) -> list[Verdict]:
    """Every check on a composed training config, one verdict each. A dry run on a machine without a GPU
    shows a GPU run meant for another machine: what it finds about this machine (GPUs, installed kernels,
    free disk) is a note there, not a failure."""
    here = visible_gpus > 0 or not dry_run

    def binding(verdict: Verdict) -> Verdict:
        return verdict if here or verdict.status != "fail" else Verdict(verdict.check, "note", verdict.detail)

    problems, longest, longest_video = check_data(
        [*_files(config.data.train_files), *_files(config.data.val_files)]
    )
    verdicts = [Verdict.of("data", problems, "files, columns and a sample of videos open")]
    verdicts.append(model_availability(config.actor_rollout_ref.model.path))
    if device == "gpu":
        gpus = check_gpus(config.trainer.n_gpus_per_node, config.trainer.nnodes, visible_gpus)
        verdicts.append(binding(Verdict.of("gpus", gpus, f"{visible_gpus} visible")))
        verdicts.append(
            Verdict("attention", "ok", "flash-attention 2 with remove-padding")
            if flash_attn_available()
            else Verdict("attention", "note", "flash-attn not installed: PyTorch SDPA, remove-padding off")
        )
        params = parameter_count(config.actor_rollout_ref.model.path)
        verdicts += [binding(disk_verdict(config, params)), memory_verdict(config, params, gpu_bytes)]
        verdicts.append(training_memory_verdict(config, params, gpu_bytes))
    if config.critic.get("enable"):
        ppo = check_ppo(config, flash_attn_available(), trl_value_head_available())
        verdicts.append(binding(Verdict.of("ppo critic", ppo, "flash-attn and trl present")))
    episode = EpisodeConfig(**dict(config.svr1.episode))
    labels, exact = frame_label_tokens(config.actor_rollout_ref.model.path, episode.wording, longest_video)
    budget = TokenBudget.of(episode, config.svr1.reply_tokens, longest, labels)
    budget_problems = check_budget(
        budget,
        config.data.max_prompt_length,
        config.data.max_response_length,
        config.actor_rollout_ref.rollout.limit_images,
        episode.most_images,
    )
    counted = "counted" if exact else "estimated, no tokenizer here"
    verdicts.append(
        Verdict.of(
            "token budget",
            budget_problems,
            f"prompt <= {budget.prompt}, response <= {budget.response} ({labels} tokens a frame label, {counted})",
        )
    )
    verdicts.append(Verdict.of("advantages", check_step_grpo(config), str(config.algorithm.adv_estimator)))
    verdicts.append(verl_validation(config))
    return verdicts


def disk_verdict(config, params: float | None) -> Verdict:
    run_dir = Path(config.trainer.default_local_dir).resolve()
    existing = next(p for p in (run_dir, *run_dir.parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if params is None:
        return Verdict("disk", "note", f"model size unknown; {free / GIB:.0f} GiB free at {existing}")
    estimate = DiskEstimate.of(
        params,
        total_steps=config.trainer.get("total_training_steps") or 10**9,
        save_freq=config.trainer.save_freq,
        keep=config.trainer.get("max_actor_ckpt_to_keep"),
        with_critic=bool(config.critic.get("enable")),
    )
    detail = (
        f"{estimate.kept} checkpoints of ~{estimate.per_checkpoint / GIB:.0f} GiB kept at once "
        f"(trainer.max_actor_ckpt_to_keep), ~{estimate.total / GIB:.0f} GiB; {free / GIB:.0f} GiB free at {existing}"
    )
    return Verdict("disk", "fail" if estimate.total > free else "ok", detail)


def memory_verdict(config, params: float | None, gpu_bytes: float | None) -> Verdict:
    if params is None:
        return Verdict("gpu memory", "note", "model size unknown: no estimate")
    fsdp = config.actor_rollout_ref.actor.fsdp_config
    estimate = GPUMemoryEstimate.of(
        params,
        gpus=config.trainer.n_gpus_per_node * config.trainer.nnodes,
        gpu_bytes=gpu_bytes or 80 * GIB,
        vllm_share=config.actor_rollout_ref.rollout.gpu_memory_utilization,
        param_offload=bool(fsdp.get("param_offload")),
        optimizer_offload=bool(fsdp.get("optimizer_offload")),
    )
    assumed = "" if gpu_bytes else " (assuming 80 GiB GPUs)"
    if estimate.total <= 0.85 * estimate.gpu:
        return Verdict("gpu memory", "ok", estimate.describe() + assumed)
    spare = estimate.total - 0.85 * estimate.gpu  # what a setting must free to leave 15% for the runtime
    share = config.actor_rollout_ref.rollout.gpu_memory_utilization - spare / estimate.gpu
    advice = (
        "; it fits with actor_rollout_ref.actor.fsdp_config.optimizer_offload=true"
        if estimate.optimizer >= spare
        else f"; it fits with actor_rollout_ref.rollout.gpu_memory_utilization={share:.2f}"
    )
    status = "fail" if estimate.total > 0.95 * estimate.gpu else "note"
    return Verdict("gpu memory", status, estimate.describe() + assumed + advice)


def training_memory_verdict(config, params: float | None, gpu_bytes: float | None) -> Verdict:
    """The actor's training step, which can peak above generation (long episodes: the logits of every token,
    the checkpointed layer inputs): fails above 95% of the GPU, warns above 85%, and names the first of the
    usual settings that fits."""
    from sparse_video_r1.training.estimates import TrainingMemoryEstimate, model_shape

    shape = model_shape(config.actor_rollout_ref.model.path)
    if params is None or shape is None:
        return Verdict("gpu memory, training", "note", "model size unknown: no estimate")
    actor, rollout = config.actor_rollout_ref.actor, config.actor_rollout_ref.rollout
    response = config.data.max_response_length
    length = config.data.max_prompt_length + response
    gpu = gpu_bytes or 80 * GIB
    awake = 0.0 if rollout.get("free_cache_engine", True) else rollout.gpu_memory_utilization * gpu
    padding_removed = bool(config.actor_rollout_ref.model.get("use_remove_padding"))  # flash-attn's path

    def estimate(micro: int, optimizer_offload: bool, param_offload: bool) -> TrainingMemoryEstimate:
        tokens = actor.ppo_max_token_len_per_gpu if actor.get("use_dynamic_bsz") else micro * length
        return TrainingMemoryEstimate.of(
            params, shape, config.trainer.n_gpus_per_node * config.trainer.nnodes, gpu, tokens,
            min(tokens, micro * response), sequence=0 if padding_removed else length,
            param_offload=param_offload, optimizer_offload=optimizer_offload,
            checkpointing=bool(config.actor_rollout_ref.model.get("enable_gradient_checkpointing")),
            vllm_awake=awake,
        )  # fmt: skip

    micro = actor.ppo_micro_batch_size_per_gpu
    optimizer, weights = (
        bool(actor.fsdp_config.get("optimizer_offload")),
        bool(actor.fsdp_config.get("param_offload")),
    )
    now = estimate(micro, optimizer, weights)
    detail = now.describe() + ("" if gpu_bytes else " (assuming 80 GiB GPUs)")
    if now.total <= 0.85 * gpu:
        return Verdict("gpu memory, training", "ok", detail)
    changes = [  # the usual settings, cheapest first: (the override, what it changes)
        ("actor.ppo_micro_batch_size_per_gpu=1", (1, optimizer, weights)),
        ("actor.fsdp_config.optimizer_offload=true", (micro, True, weights)),
        ("actor.fsdp_config.param_offload=true", (micro, True, True)),
    ]
    fits = next((name for name, change in changes if estimate(*change).total <= 0.85 * gpu), None)
    advice = (
        f"; it fits with actor_rollout_ref.{fits}" if fits else "; shorten the episode (data.max_*_length)"
    )
    return Verdict("gpu memory, training", "fail" if now.total > 0.95 * gpu else "note", detail + advice)
