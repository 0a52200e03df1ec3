"""Checks before any heavy work: each returns the problems it found, in words that say what to change, or
its verdict (ok, note or fail); preflight.py runs them all on a composed config."""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sparse_video_r1.agent.budget import TokenBudget

COLUMNS = ("prompt", "data_source", "agent_name", "reward_model", "extra_info")
EXTRA_INFO = ("video", "duration", "question", "options")


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

    @classmethod
    def of(cls, check: str, problems: list[str], ok: str) -> Verdict:
        """A check's problems as its verdict: fail with them all, or ok in the words given."""
        return cls(check, "fail", "; ".join(problems)) if problems else cls(check, "ok", ok)


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
