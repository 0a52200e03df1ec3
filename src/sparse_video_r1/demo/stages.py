"""The demo's stages, each kept in a folder named by its settings: data, SFT, GRPO, evaluations."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

from tqdm import tqdm

from sparse_video_r1.demo.console import GRPO_PHASES, SFT_PHASES, Stage, quiet, run_logged, watching
from sparse_video_r1.demo.settings import (
    CPU_PIXELS,
    EPISODE,
    GRPO_KNOBS,
    REPLY_TOKENS,
    RUNS,
    ZOOM,
    DemoSettings,
)


def data(out: Path, settings: DemoSettings) -> tuple[Path, Path]:
    """The synthetic benchmark and the tiny model."""
    from sparse_video_r1.data.prepare import prepare_synthetic
    from sparse_video_r1.tiny_model import TinyModelSpec, build_tiny_model

    stage = Stage(out, "data", settings.videos, settings.seed)
    synthetic, model = stage.dir / "synthetic", stage.dir / "tiny-model"
    if not stage.done:
        with quiet(stage.log, "the data"):
            prepare_synthetic(str(synthetic), videos=settings.videos, seed=settings.seed)
            build_tiny_model(model, TinyModelSpec(seed=settings.seed))
        stage.finish()
    return synthetic, model


def sft(out: Path, settings: DemoSettings, synthetic: Path, model: Path) -> Path:
    """SFT trajectories of every training row in both modes (one model, both protocols), then verl's SFT
    trainer; the Hugging Face weights of its last checkpoint."""
    from sparse_video_r1.agent.episode import EpisodeConfig
    from sparse_video_r1.training.sft_data import Mix, write_sft_data
    from sparse_video_r1.training.sft_launch import latest_hf_checkpoint

    mix = Mix(
        one_round=settings.one_round, looks=settings.looks, seed=settings.seed, policies=settings.policies
    )
    stage = Stage(out, "sft", str(synthetic), EPISODE, ZOOM, asdict(mix), settings.sft_steps, settings.sft_lr)
    checkpoints = stage.dir / "checkpoints"
    if not stage.done:
        with quiet(stage.log, "the SFT trajectories") as console:
            for mode, config in (
                ("frames", EpisodeConfig(**EPISODE)),
                ("zoom", EpisodeConfig(**EPISODE, **ZOOM)),
            ):
                tqdm.write(f"  trajectories in {mode} mode", file=console)
                write_sft_data(synthetic, stage.dir / mode, config, mix=mix)
            _merge(stage.dir / "trajectories", stage.dir / "frames", stage.dir / "zoom")
        env = {**os.environ, "MODEL": str(model), "DATA_DIR": str(stage.dir / "trajectories"),
               "STEPS": str(settings.sft_steps), "LR": str(settings.sft_lr), "DEVICE": "cpu",
               "LOG_DIR": str(stage.dir / "logs")}  # fmt: skip
        command = [
            "sh",
            "sft.sh",
            f"trainer.default_local_dir={checkpoints}",
            f"trainer.seed={settings.seed}",
        ]
        run_logged(command, stage.log, env, settings.sft_steps, "SFT (verl's SFT trainer)", SFT_PHASES)
        stage.finish()
    sft_model = stage.dir / "sft-model"  # the run's Hugging Face weights, under a name the report can show
    if not sft_model.exists():
        sft_model.symlink_to(latest_hf_checkpoint(checkpoints).relative_to(stage.dir))
    return sft_model


def _merge(into: Path, *parts: Path) -> None:
    """One SFT data folder from several, split by split (rows shuffled together by the SFT trainer)."""
    import pandas as pd

    into.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        tables = [pd.read_parquet(part / f"{split}.parquet") for part in parts]
        pd.concat(tables, ignore_index=True).to_parquet(into / f"{split}.parquet")


def grpo(out: Path, settings: DemoSettings, synthetic: Path, sft_model: Path) -> tuple[Path, Path]:
    """GRPO from the SFT checkpoint, with a greedy evaluation of the held-out questions every `test_freq`
    steps (and before the first), which the report draws beside the training reward; the exported model
    and the run's TensorBoard folder."""
    from sparse_video_r1.training.export import export_checkpoint, latest_actor

    knobs = [
        getattr(settings, knob.name) for knob in fields(DemoSettings) if knob.name.startswith(GRPO_KNOBS)
    ]
    stage = Stage(out, "grpo", str(sft_model), knobs, EPISODE, settings.seed)
    checkpoints, trained = stage.dir / "checkpoints", stage.dir / "trained-model"
    if not stage.done:
        env = {**os.environ, "MODEL": str(sft_model), "DATA_DIR": str(synthetic), "DEVICE": "cpu",
               "STEPS": str(settings.grpo_steps), "LOG_DIR": str(stage.dir / "logs")}  # fmt: skip
        overrides = [
            f"trainer.default_local_dir={checkpoints}",
            f"data.train_batch_size={settings.grpo_prompts}",
            f"actor_rollout_ref.rollout.n={settings.grpo_group}",
            f"actor_rollout_ref.rollout.temperature={settings.temperature}",
            f"actor_rollout_ref.actor.ppo_mini_batch_size={settings.grpo_prompts}",
            f"actor_rollout_ref.actor.optim.lr={settings.grpo_lr}",
            f"actor_rollout_ref.actor.loss_agg_mode={settings.loss_agg_mode}",
            f"algorithm.norm_adv_by_std_in_grpo={settings.norm_adv_by_std}",
            f"reward.custom_reward_function.reward_kwargs.frame_cost={settings.frame_cost}",
            f"svr1.episode.wording={EPISODE['wording']}",
            f"data.seed={settings.seed}",
            f"trainer.save_freq={settings.grpo_steps}",  # one checkpoint, at the end
            f"trainer.test_freq={settings.test_freq or -1}",
            f"trainer.val_before_train={settings.test_freq > 0}",
            f"data.val_max_samples={settings.questions}",
        ]
        if settings.kl_coef:
            overrides += [
                "actor_rollout_ref.actor.use_kl_loss=true",
                f"actor_rollout_ref.actor.kl_loss_coef={settings.kl_coef}",
            ]
        command = ["sh", "train.sh", *overrides]
        run_logged(command, stage.log, env, settings.grpo_steps, "GRPO (verl's trainer)", GRPO_PHASES)
        with quiet(stage.log, "the export"):
            export_checkpoint(latest_actor(checkpoints), trained)
        stage.finish()
    return trained, checkpoints / "tensorboard"


def evaluate(settings: DemoSettings, synthetic: Path, models: dict[str, Path]) -> list[Path]:
    """The evaluations (`RUNS`) of the given models ("sft", "trained") on vLLM (its CPU build here), one
    engine per model shared by its runs: baselines, the frame-request agent and zoom mode on the same
    questions; their folders, in table order. A run's folder sits beside its model's stage, so a model
    evaluated before is not evaluated again; the engine's output goes to evaluation.log there."""
    from sparse_video_r1.agent.episode import EpisodeConfig
    from sparse_video_r1.evaluation.run import EvalConfig
    from sparse_video_r1.evaluation.run import evaluate as run_evaluation
    from sparse_video_r1.evaluation.vllm_chat import VLLMChat

    images = max(EpisodeConfig(**EPISODE).most_images, EpisodeConfig(**EPISODE, **ZOOM).most_images)
    directories = {}
    for model in models:
        runs = models[model].parent / "runs"
        todo = []
        for name, method, _, episode in (run for run in RUNS if run[2] == model):
            directory = directories[name] = runs / name
            if not ((directory / "results.json").is_file() and _answered(directory) >= settings.questions):
                todo.append((name, method, episode, directory))
        if not todo:
            continue
        runs.mkdir(parents=True, exist_ok=True)
        with quiet(runs / "evaluation.log", f"the evaluation of {models[model].name}") as console:
            bar = tqdm(total=settings.questions, desc=f"starting vLLM for {models[model].name}", file=console)
            engine = VLLMChat(models[model], reply_tokens=REPLY_TOKENS, max_images=images, **CPU_PIXELS)
            for name, method, episode, directory in todo:
                bar.reset()
                bar.set_description(name)
                config = EvalConfig(
                    data=str(synthetic / "val.parquet"), method=method, model=str(models[model]),
                    out_dir=str(directory), backend="vllm", limit=settings.questions, reply_tokens=REPLY_TOKENS,
                    seed=settings.seed, run=name, episode={"wording": EPISODE["wording"], **episode}, **CPU_PIXELS,
                )  # fmt: skip
                with watching(bar, lambda d=directory: (_answered_so_far(d), "")):
                    run_evaluation(config, chat=engine)
            bar.close()
            engine.close()
    return [directories[name] for name, *_ in RUNS if name in directories]


def _answered(directory: Path) -> int:
    return json.loads((directory / "results.json").read_text())["results"]["samples"]


def _answered_so_far(directory: Path) -> int:
    """Questions a run's records hold so far (evaluate writes one line per question as it finishes)."""
    return sum(path.read_text(errors="replace").count("\n") for path in directory.glob("samples_*.jsonl"))
