"""Checks before any heavy work: each returns the problems it found, in words that say what to change."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

COLUMNS = ("prompt", "data_source", "agent_name", "reward_model", "extra_info")
EXTRA_INFO = ("video", "duration", "question", "options")
FRAME_LABEL_TOKENS = 10  # "Frame at 12.5 s: " plus the vision start/end tokens around the image
TURN_TEXT_TOKENS = 120  # the environment's words around a turn's frames
TEMPLATE_TOKENS = 40  # system turn and chat-template markup
CHARS_PER_TOKEN = 3  # conservative for English with a byte-level BPE


def _files(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def check_data(files: Sequence[str], videos_to_open: int = 8, seed: int = 0) -> tuple[list[str], int]:
    """Every file exists with our columns; a sample of its videos opens. Returns (problems, longest prompt
    in characters) so the budget check can use the real prompts."""
    import pandas as pd

    from sparse_video_r1.video import VideoError, open_video

    problems, longest = [], 0
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
        rows = random.Random(seed).sample(range(len(table)), min(videos_to_open, len(table)))
        for row in rows:
            video = table["extra_info"].iloc[row]["video"]
            try:
                open_video(video).frames_at([0.0])
            except VideoError as error:
                problems.append(f"{path}, row {row}: {error}")
    return problems, longest


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


@dataclass(frozen=True)
class TokenBudget:
    prompt: int  # worst case: the first turn with its frames
    response: int  # worst case: every round used, every turn full of frames

    @classmethod
    def of(cls, episode: dict, reply_tokens: int, prompt_chars: int) -> TokenBudget:
        per_frame = episode["max_pixels"] // (28 * 28) + FRAME_LABEL_TOKENS
        first = min(episode["first_frames"], episode["max_frames"])
        later = min(
            episode["frames_per_request"] * (episode["max_rounds"] - 1), episode["max_frames"] - first
        )
        turns = episode["max_rounds"] - 1
        return cls(
            prompt=TEMPLATE_TOKENS + prompt_chars // CHARS_PER_TOKEN + first * per_frame,
            response=episode["max_rounds"] * reply_tokens + turns * TURN_TEXT_TOKENS + later * per_frame,
        )


def check_budget(
    budget: TokenBudget, prompt_length: int, response_length: int, limit_images: int, max_frames: int
) -> list[str]:
    problems = []
    if budget.prompt > prompt_length:
        problems.append(
            f"the first turn needs up to {budget.prompt} tokens but data.max_prompt_length is {prompt_length}: "
            "raise it, or lower svr1.episode.first_frames / max_pixels"
        )
    if budget.response > response_length:
        problems.append(
            f"a full episode needs up to {budget.response} response tokens but data.max_response_length is "
            f"{response_length}: raise it, or lower ROUNDS / FRAMES_PER_ROUND / svr1.episode.max_pixels"
        )
    if limit_images < max_frames:
        problems.append(
            f"actor_rollout_ref.rollout.limit_images={limit_images} is below the {max_frames} frames an episode can hold"
        )
    return problems


def check_run(config, visible_gpus: int, check_gpu_count: bool) -> list[str]:
    """Every check on a composed training config."""
    problems, longest = check_data([*_files(config.data.train_files), *_files(config.data.val_files)])
    problems += check_model(config.actor_rollout_ref.model.path)
    if check_gpu_count:
        problems += check_gpus(config.trainer.n_gpus_per_node, config.trainer.nnodes, visible_gpus)
    episode = dict(config.svr1.episode)
    budget = TokenBudget.of(episode, config.svr1.reply_tokens, longest)
    problems += check_budget(
        budget,
        config.data.max_prompt_length,
        config.data.max_response_length,
        config.actor_rollout_ref.rollout.limit_images,
        episode["max_frames"],
    )
    return problems
