"""Checks before any heavy work: each returns the problems it found, in words that say what to change;
`preflight` runs them all on a composed config and gives one verdict per check (ok, note or fail)."""

from __future__ import annotations

import importlib.util
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sparse_video_r1.agent.budget import TokenBudget
from sparse_video_r1.agent.episode import EpisodeConfig
from sparse_video_r1.training.estimates import GIB, DiskEstimate, GPUMemoryEstimate, parameter_count

COLUMNS = ("prompt", "data_source", "agent_name", "reward_model", "extra_info")
EXTRA_INFO = ("video", "duration", "question", "options")


def _files(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def check_data(files: Sequence[str], videos_to_open: int = 8, seed: int = 0) -> tuple[list[str], int, float]:
    """Every file exists with our columns; a sample of its videos opens. Returns (problems, longest prompt
    in characters, longest video in seconds) so the budget check can use the real prompts and labels."""
    import pandas as pd

    from sparse_video_r1.video import VideoError, open_video

    problems, longest, longest_video = [], 0, 0.0
    for name in files:
        path = Path(name)
        if not path.is_file():
            problems.append(f"data file {path} does not exist (prepare it with `svr1 prepare ...`)")
            continue
        table = pd.read_parquet(path)
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            problems.append(
                f"{path}: missing columns {', '.join(missing)}; was it written by `svr1 prepare`?"
            )
            continue
        if table.empty:
            problems.append(f"{path}: no rows")
            continue
        absent = [k for k in EXTRA_INFO if k not in table["extra_info"].iloc[0]]
        if absent:
            problems.append(
                f"{path}: extra_info lacks {', '.join(absent)}; was it written by `svr1 prepare`?"
            )
            continue
        longest = max(longest, max(len(p[0]["content"]) for p in table["prompt"]))
        longest_video = max(longest_video, max(float(e["duration"]) for e in table["extra_info"]))
        rows = random.Random(seed).sample(range(len(table)), min(videos_to_open, len(table)))
        for row in rows:
            video = table["extra_info"].iloc[row]["video"]
            try:
                open_video(video).frames_at([0.0])
            except VideoError as error:
                problems.append(f"{path}, row {row}: {error}")
    return problems, longest, longest_video


def frame_label_tokens(model: str, wording: str, longest_video: float) -> tuple[int, bool]:
    """Tokens of the longest frame label the data can need ("Frame at 3599.95 s: ", and the vision start
    and end tokens around its image), counted with the model's tokenizer when it loads offline (Qwen's
    splits every digit); else one token a character, a cautious estimate. (tokens, counted exactly)."""
    from sparse_video_r1.agent.wording import WORDINGS

    label = WORDINGS[wording].frame_label(max(0.0, longest_video - 0.05) + 0.01)  # two decimals, all digits
    try:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    except Exception:  # not downloaded here: estimate
        return len(label) + 2, False
    return len(tokenizer.encode(label, add_special_tokens=False)) + 2, True


def check_model(path_or_name: str | None) -> list[str]:
    if not path_or_name:
        return ["no model: set MODEL (a local checkpoint or a hub name like Qwen/Qwen2.5-VL-3B-Instruct)"]
    path = Path(path_or_name)
    looks_local = path.is_absolute() or path_or_name.startswith(".") or path.exists()
    if looks_local and not (path / "config.json").is_file():
        return [f"model {path} has no config.json: not a Hugging Face checkpoint"]
    return []


def check_gpus(wanted_per_node: int, nnodes: int, visible: int) -> list[str]:
    if visible == 0:
        return [f"the run wants {wanted_per_node} GPUs (trainer.n_gpus_per_node) and none is visible here"]
    if nnodes == 1 and wanted_per_node > visible:
        return [
            f"the run wants {wanted_per_node} GPUs (trainer.n_gpus_per_node) but {visible} are visible: "
            f"set N_GPUS={visible} or VARIANT=debug_1gpu"
        ]
    return []


def check_budget(
    budget: TokenBudget, prompt_length: int, response_length: int, limit_images: int, max_frames: int
) -> list[str]:
    problems = []
    if budget.prompt > prompt_length:
        problems.append(
            f"the first turn needs up to {budget.prompt} tokens but data.max_prompt_length is {prompt_length}: "
            "raise it, or lower svr1.episode.first_frames / max_pixels (zoom mode: overview_frames / _pixels)"
        )
    if budget.response > response_length:
        problems.append(
            f"a full episode needs up to {budget.response} response tokens but data.max_response_length is "
            f"{response_length}: raise it, or lower ROUNDS / FRAMES_PER_ROUND / svr1.episode.max_pixels "
            "(zoom mode: max_zooms / zoom_frames / zoom_pixels)"
        )
    if limit_images < max_frames:
        problems.append(
            f"actor_rollout_ref.rollout.limit_images={limit_images} is below the {max_frames} frames an episode "
            "can hold"
        )
    return problems


@dataclass(frozen=True)
class Verdict:
    check: str
    status: Literal["ok", "note", "fail"]
    detail: str

    def line(self) -> str:
        return f"[train] {self.status.upper():4} {self.check}: {self.detail}"


def _verdict(check: str, problems: list[str], ok: str) -> Verdict:
    return Verdict(check, "fail", "; ".join(problems)) if problems else Verdict(check, "ok", ok)


def flash_attn_available() -> bool:
    """flash-attn installed and loadable against this torch (a build for another torch fails to import)."""
    if importlib.util.find_spec("flash_attn") is None:
        return False
    try:
        import flash_attn  # noqa: F401
    except Exception:
        return False
    return True


def trl_value_head_available() -> bool:
    """trl with AutoModelForCausalLMWithValueHead, which verl's PPO critic wraps the model in."""
    for module in ("trl.experimental.ppo", "trl"):
        try:
            if hasattr(importlib.import_module(module), "AutoModelForCausalLMWithValueHead"):
                return True
        except Exception:
            continue
    return False


def check_ppo(config, flash_attn: bool, trl: bool) -> list[str]:
    """verl 0.9.1 loads the PPO critic with attn_implementation="flash_attention_2" hard-coded
    (verl/utils/model.py: load_valuehead_model) through trl's value head: both must be installed."""
    if not config.critic.get("enable"):
        return []
    missing = [name for name, present in (("flash-attn", flash_attn), ("trl 0.27-0.29", trl)) if not present]
    if not missing:
        return []
    return [
        f"the ppo variant's critic needs {' and '.join(missing)}: verl 0.9.1 loads the critic with "
        "flash-attention 2 hard-coded and wraps it in trl's value head; install them with "
        "`SVR1_EXTRAS=dev,gpu bash scripts/setup.sh` on a node with a CUDA toolkit, or train with GRPO"
    ]


def model_availability(model: str) -> Verdict:
    """A local checkpoint, a hub name already in the Hugging Face cache, or one that will be downloaded."""
    problems = check_model(model)
    if problems:
        return Verdict("model", "fail", problems[0])
    if Path(model).is_dir():
        return Verdict("model", "ok", f"local checkpoint {model}")
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model, "config.json"), str):
        return Verdict("model", "ok", f"{model} is in the Hugging Face cache")
    return Verdict(
        "model",
        "note",
        f"{model} is not in the Hugging Face cache: it downloads on first use (needs the hub)",
    )


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


def verl_validation(config) -> Verdict:
    """verl's own `validate_config`, as `main_ppo` runs it before starting Ray."""
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    try:
        validate_config(config, need_reference_policy(config), need_critic(config))
    except Exception as error:  # verl raises assertions, ValueErrors and Hydra instantiation errors
        if "huggingface.co" in str(error):  # the critic's config builds the model's config from the hub
            return Verdict(
                "verl validate_config", "note", "needs the model's config.json, not on this machine"
            )
        return Verdict("verl validate_config", "fail", (str(error) or type(error).__name__).splitlines()[0])
    return Verdict("verl validate_config", "ok", "passed")


def check_step_grpo(config) -> list[str]:
    """step_grpo finds an episode's replies as the runs of generated tokens in its response mask; verl's
    token-level rejection sampling (algorithm.rollout_correction.rollout_rs=token_k1|k2|k3) takes rejected
    tokens out of that mask first, which would split one reply into two steps and shift every later step
    against its group. Refused up front; sequence-level options keep a reply whole."""
    from verl.trainer.ppo.rollout_corr_helper import TOKEN_LEVEL_ROLLOUT_RS_OPTIONS

    if config.algorithm.adv_estimator != "step_grpo":
        return []
    correction = config.algorithm.get("rollout_correction") or {}
    options = [o.strip() for o in str(correction.get("rollout_rs") or "").split(",") if o.strip()]
    token_level = [o for o in options if o in TOKEN_LEVEL_ROLLOUT_RS_OPTIONS]
    if not token_level:
        return []
    return [
        f"step_grpo cannot run with token-level rejection sampling (rollout_rs={','.join(token_level)}): it "
        "removes tokens from the response mask in which step_grpo finds each reply, splitting replies into "
        "false steps; use a sequence-level option (seq_*), or algorithm.adv_estimator=grpo"
    ]


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
    verdicts = [_verdict("data", problems, "files, columns and a sample of videos open")]
    verdicts.append(model_availability(config.actor_rollout_ref.model.path))
    if device == "gpu":
        gpus = check_gpus(config.trainer.n_gpus_per_node, config.trainer.nnodes, visible_gpus)
        verdicts.append(binding(_verdict("gpus", gpus, f"{visible_gpus} visible")))
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
        verdicts.append(binding(_verdict("ppo critic", ppo, "flash-attn and trl present")))
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
        _verdict(
            "token budget",
            budget_problems,
            f"prompt <= {budget.prompt}, response <= {budget.response} ({labels} tokens a frame label, {counted})",
        )
    )
    verdicts.append(_verdict("advantages", check_step_grpo(config), str(config.algorithm.adv_estimator)))
    verdicts.append(verl_validation(config))
    return verdicts
