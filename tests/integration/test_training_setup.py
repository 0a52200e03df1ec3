"""Training setup without training: the composed config of every variant, every pre-flight check against
its bad case, resolution from any directory, and `sh train.sh` in dry-run mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sparse_video_r1.agent.budget import TokenBudget
from sparse_video_r1.agent.episode import EpisodeConfig
from sparse_video_r1.training.checks import check_budget, check_data, check_gpus, check_model
from sparse_video_r1.training.launching import compose as compose_named

REPO = Path(__file__).resolve().parents[2]


def compose(overrides: list[str]):
    config = compose_named("sparse_video_r1", overrides, "test")
    assert config is not None, "the config does not compose"
    return config


PATHS = [
    "data.train_files=/d/train.parquet",
    "data.val_files=/d/val.parquet",
    "actor_rollout_ref.rollout.agent.agent_loop_config_path=/d/agent_loop.yaml",
]


def test_the_default_is_the_seed_setting_with_our_agent_and_reward():
    config = compose(PATHS)
    rollout = config.actor_rollout_ref.rollout
    assert config.actor_rollout_ref.model.path == "Qwen/Qwen2.5-VL-3B-Instruct"
    assert config.algorithm.adv_estimator == "grpo" and rollout.name == "vllm" and rollout.n == 8
    assert (
        config.actor_rollout_ref.actor.strategy == "fsdp2" and config.actor_rollout_ref.actor.optim.lr == 1e-6
    )
    assert (
        config.actor_rollout_ref.actor.kl_loss_coef == 0.01
        and config.actor_rollout_ref.actor.kl_loss_type == "low_var_kl"
    )
    assert rollout.limit_images == config.svr1.episode.max_frames == 25
    assert rollout.agent.default_agent_loop == "svr1_episode"
    assert config.reward.custom_reward_function.path == "pkg://sparse_video_r1.reward"
    assert list(config.trainer.logger) == ["console", "tensorboard"] and config.trainer.resume_mode == "auto"
    assert config.trainer.n_gpus_per_node == 4 and config.trainer.test_freq == 20


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            "qwen7b",
            {
                "actor_rollout_ref.model.path": "Qwen/Qwen2.5-VL-7B-Instruct",
                "actor_rollout_ref.rollout.tensor_model_parallel_size": 2,
            },
        ),
        (
            "debug_1gpu",
            {
                "trainer.n_gpus_per_node": 1,
                "actor_rollout_ref.rollout.n": 2,
                "trainer.total_training_steps": 5,
            },
        ),
        (
            "ppo",
            {
                "algorithm.adv_estimator": "gae",
                "critic.enable": True,
                "critic.model.path": "Qwen/Qwen2.5-VL-3B-Instruct",
            },
        ),
        (
            "love_r1",
            {
                "svr1.episode.mode": "zoom",
                "svr1.episode.overview_frames": 768,
                "svr1.episode.zoom_frames": 16,
                "svr1.freeze_vision": True,
                "algorithm.adv_estimator": "step_grpo",
                "actor_rollout_ref.actor.use_kl_loss": False,
                "actor_rollout_ref.rollout.n": 8,
                "actor_rollout_ref.rollout.limit_images": 800,
                "trainer.n_gpus_per_node": 8,
            },
        ),
        (
            "cpu",
            {
                "actor_rollout_ref.rollout.name": "vllm_cpu",
                "actor_rollout_ref.rollout.enable_sleep_mode": False,
                "trainer.device": "cpu",
                "actor_rollout_ref.model.use_remove_padding": False,
                "actor_rollout_ref.actor.fsdp_config.mixed_precision.param_dtype": "fp32",
                "svr1.episode.max_pixels": 12544,
            },
        ),
    ],
)
def test_each_variant_changes_what_it_says(variant, expected):
    from omegaconf import OmegaConf

    config = compose([*PATHS, f"+variant={variant}"])
    assert {key: OmegaConf.select(config, key) for key in expected} == expected
    assert config.algorithm.adv_estimator in {"grpo", "gae", "step_grpo"}  # the rest is the default's


def test_the_training_configs_episode_knobs_are_the_episodes_own_defaults():
    """The YAML lists every knob (so users see and override them); EpisodeConfig is where defaults live."""
    from dataclasses import asdict

    assert dict(compose(PATHS).svr1.episode) == asdict(EpisodeConfig())


def test_config_and_reward_resolve_from_any_working_directory(tmp_path, monkeypatch):
    from verl.trainer.ppo.reward import get_custom_reward_fn

    monkeypatch.chdir(tmp_path)
    config = compose(PATHS)
    reward = get_custom_reward_fn(config)
    assert reward("synthetic", "<think>x</think><answer>B</answer>", "B")["score"] == pytest.approx(1.1)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> Path:
    from sparse_video_r1.data.prepare import prepare_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    prepare_synthetic(str(out), videos=2, seed=0)
    return out


def test_data_checks_catch_missing_files_wrong_columns_and_bad_videos(synthetic, tmp_path):
    problems, longest, longest_video = check_data([str(synthetic / "train.parquet")])
    assert problems == [] and longest > 100 and longest_video == pytest.approx(10.0, abs=0.1)
    assert "does not exist" in check_data([str(tmp_path / "nope.parquet")])[0][0]
    table = pd.read_parquet(synthetic / "train.parquet")
    table.drop(columns=["agent_name"]).to_parquet(tmp_path / "columns.parquet")
    assert "missing columns agent_name" in check_data([str(tmp_path / "columns.parquet")])[0][0]
    broken = table.copy()
    broken["extra_info"] = [{**info, "video": str(tmp_path / "gone.mp4")} for info in table["extra_info"]]
    broken.to_parquet(tmp_path / "videos.parquet")
    problems, _, _ = check_data([str(tmp_path / "videos.parquet")])
    assert problems and "row" in problems[0] and "file not found" in problems[0]


def test_model_gpu_and_budget_checks_catch_their_bad_cases(tmp_path, tiny_model_dir):
    assert check_model(str(tiny_model_dir)) == [] and check_model("Qwen/Qwen2.5-VL-3B-Instruct") == []
    assert "no model" in check_model("")[0]
    assert "no config.json" in check_model(str(tmp_path))[0]
    assert (
        check_gpus(4, 1, 4) == []
        and "N_GPUS=2" in check_gpus(4, 1, 2)[0]
        and "none is visible" in check_gpus(4, 1, 0)[0]
    )
    episode = EpisodeConfig(**compose(PATHS).svr1.episode)
    budget = TokenBudget.of(episode, reply_tokens=256, prompt_chars=600)
    assert budget.prompt == 40 + 200 + 5 * 138 and budget.response == 5 * 256 + 4 * 120 + 20 * 138
    zoom = TokenBudget.of(EpisodeConfig(mode="zoom", max_rounds=3), reply_tokens=512, prompt_chars=600)
    # LOVE-R1: a 768-frame overview at 32 tokens a frame; two zooms of 32 frames at 256 tokens.
    assert zoom.prompt == 40 + 200 + 768 * 42 and zoom.response == 3 * 512 + 2 * 120 + 64 * 266
    assert check_budget(budget, 2048, 5120, 25, 25) == []
    assert "max_prompt_length is 512" in check_budget(budget, 512, 5120, 25, 25)[0]
    assert "max_response_length is 2048" in check_budget(budget, 2048, 2048, 25, 25)[0]
    assert "limit_images=5" in check_budget(budget, 2048, 5120, 5, 25)[0]


def test_frame_labels_are_counted_with_the_tokenizer_and_love_r1s_hour_long_overview_fits(tiny_model_dir):
    """A label is ~15 tokens for an hour-long video under Qwen's digit-by-digit pre-tokenizer, not the 10 the
    budget assumed: 768 overview frames took ~33k of a 32,768-token prompt limit, so verl rejected every
    such episode. The tiny model's tokenizer splits digits as Qwen's does."""
    from sparse_video_r1.agent.budget import FRAME_LABEL_TOKENS
    from sparse_video_r1.training.checks import frame_label_tokens

    labels, exact = frame_label_tokens(str(tiny_model_dir), "full", 3600.0)  # its small vocabulary splits
    assert exact and labels >= 15 > FRAME_LABEL_TOKENS  # "Frame" too: 18; Qwen's counts 15
    assert frame_label_tokens("no/such/model", "full", 3600.0) == (len("Frame at 3599.96 s: ") + 2, False)
    love_r1 = compose([*PATHS, "+variant=love_r1"])
    episode = EpisodeConfig(**love_r1.svr1.episode)
    budget = TokenBudget.of(episode, love_r1.svr1.reply_tokens, prompt_chars=1500, label_tokens=16)
    limits = (love_r1.data.max_prompt_length, love_r1.data.max_response_length)
    assert (
        check_budget(budget, *limits, love_r1.actor_rollout_ref.rollout.limit_images, episode.most_images)
        == []
    )
    assert love_r1.actor_rollout_ref.rollout.max_model_len >= sum(limits)
    assert check_budget(budget, 32768, limits[1], 800, 800) != []  # the old limit


def _train(env: dict, *args: str) -> subprocess.CompletedProcess:
    full = {**{k: v for k, v in os.environ.items() if k != "LOG_DIR"}, **env}
    return subprocess.run(
        ["sh", "train.sh", *args], cwd=REPO, env=full, capture_output=True, text=True, timeout=300
    )


def _repository_files() -> set[str]:
    """Every file git sees in the checkout, ignored ones included, but the environment and caches."""
    listed = subprocess.run(
        ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    return {line for line in listed if not any(part in line for part in (".venv/", "__pycache__", "_cache/"))}


@pytest.mark.parametrize("variant", ["", "qwen7b", "debug_1gpu", "ppo", "love_r1"])
def test_dry_run_runs_verls_validation_for_every_variant_and_writes_nothing(
    synthetic, tiny_model_dir, tmp_path, variant
):
    before = _repository_files()
    env = {"DRY_RUN": "1", "DATA_DIR": str(synthetic), "MODEL": str(tiny_model_dir), "VARIANT": variant}
    run = _train(env, "trainer.total_epochs=3")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "[train] OK   verl validate_config: passed" in run.stdout
    for check in ("data", "model", "gpus", "attention", "disk", "gpu memory", "token budget"):
        assert f" {check}: " in run.stdout, check
    images = 800 if variant == "love_r1" else 25  # love_r1: a 768-frame overview and 2 zooms of 16
    assert "total_epochs: 3" in run.stdout and f"limit_images: {images}" in run.stdout
    assert "[train] dry run: every check passed" in run.stdout
    if variant == "ppo":  # no flash-attn or trl here: a note on a machine without a GPU, never silent
        assert "NOTE ppo critic: the ppo variant's critic needs flash-attn" in run.stdout
    assert _repository_files() == before, "a dry run wrote into the repository"


def test_dry_run_fails_loudly_on_a_wrong_key_or_missing_data(synthetic, tmp_path):
    env = {"DRY_RUN": "1", "DATA_DIR": str(synthetic), "LOG_DIR": str(tmp_path)}
    wrong = _train(dict(env), "trainer.bogus=1")
    assert wrong.returncode == 2 and "does not compose" in wrong.stdout and "trainer.bogus" in wrong.stdout
    missing = _train({**env, "DATA_DIR": str(tmp_path / "none")})
    assert missing.returncode == 1 and "train.parquet does not exist" in missing.stdout
    assert "[train] dry run: failed: data" in missing.stdout
    assert list(tmp_path.glob("train_*.log")), "the output is teed to a log file"


def test_a_gpu_run_without_data_says_how_to_prepare_it(monkeypatch, tmp_path):
    from sparse_video_r1.training import launch

    monkeypatch.chdir(tmp_path)  # no data/nextqa here
    args, extra = launch._arguments([])
    with pytest.raises(SystemExit, match=r"svr1 prepare nextqa .*DATA_DIR=synthetic"):
        launch.resolve(args, extra, visible_gpus=4)
    args, extra = launch._arguments(["--data-dir", "synthetic", "--dry-run"])
    _, overrides = launch.resolve(args, extra, visible_gpus=4)
    assert any("data/synthetic/train.parquet" in o for o in overrides)


@pytest.mark.parametrize("flash", [True, False])
def test_without_flash_attn_a_gpu_run_takes_sdpa_without_remove_padding(monkeypatch, tmp_path, flash):
    from sparse_video_r1.training import launch

    monkeypatch.setattr(launch, "flash_attn_available", lambda: flash)
    args, extra = launch._arguments(["--data-dir", str(tmp_path), "--variant", "ppo"])
    _, overrides = launch.resolve(args, extra, visible_gpus=4)
    config = compose([*overrides, PATHS[2]])
    model = config.actor_rollout_ref.model
    assert model.use_remove_padding is flash and config.critic.model.use_remove_padding is flash
    assert model.get("override_config", {}).get("attn_implementation") == (None if flash else "sdpa")


def test_runs_keep_two_checkpoints_and_validate_on_a_sample():
    config = compose(PATHS)
    assert config.trainer.max_actor_ckpt_to_keep == 2 and config.data.val_max_samples == 128
    assert config.trainer.v1.trainer_mode == "svr1"
    debug = compose([*PATHS, "+variant=debug_1gpu"])
    assert debug.actor_rollout_ref.actor.fsdp_config.optimizer_offload is True


def test_disk_and_memory_estimates_of_the_seed_setting():
    from sparse_video_r1.training.estimates import GIB, DiskEstimate, GPUMemoryEstimate, parameter_count

    assert parameter_count("Qwen/Qwen2.5-VL-3B-Instruct") == 3.75e9
    every_20_steps = DiskEstimate.of(3.75e9, total_steps=1875, save_freq=20, keep=None, with_critic=False)
    assert every_20_steps.kept == 93 and every_20_steps.per_checkpoint == 45e9  # ~4 TB
    assert DiskEstimate.of(3.75e9, 1875, 20, keep=2, with_critic=False).total == 90e9
    one_gpu = dict(params=3.75e9, gpus=1, gpu_bytes=80 * GIB, vllm_share=0.4, param_offload=False)
    assert GPUMemoryEstimate.of(**one_gpu, optimizer_offload=False).total == 15e9 + 30e9 + 32 * GIB
    assert GPUMemoryEstimate.of(**one_gpu, optimizer_offload=True).total == 15e9 + 32 * GIB


def test_the_training_step_is_estimated_too_and_a_tight_run_is_told_the_setting_that_fits():
    """Generation was the only phase estimated; the actor's step (fp32 states, checkpointed activations,
    logits, SDPA's padding mask without flash-attn) can be the peak. The per-token terms are fitted to
    benchmarks/train_memory.py on an H200: 41.4 GiB measured for the 7B at 49,152 tokens."""
    from sparse_video_r1.training.estimates import GIB, RUNTIME_OVERHEAD, TrainingMemoryEstimate
    from sparse_video_r1.training.preflight import memory_verdict, training_memory_verdict

    step = TrainingMemoryEstimate.of(0.0, (3584, 28, 152064), 1, 0.0, 49152, 49152 // 4, sequence=49152)
    assert abs((step.total - RUNTIME_OVERHEAD) / GIB - 41.41) / 41.41 < 0.12
    love_r1 = compose([*PATHS, "+variant=love_r1", "actor_rollout_ref.model.use_remove_padding=false"])
    verdict = training_memory_verdict(love_r1, 8.29e9, 80 * GIB)
    assert verdict.status == "ok" and "padding masks 11" in verdict.detail
    tight = compose([*PATHS, "+variant=love_r1", "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2"])
    verdict = training_memory_verdict(tight, 8.29e9, 80 * GIB)
    assert verdict.status == "fail" and verdict.detail.endswith(
        "with actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1"
    )
    qwen7b = memory_verdict(compose([*PATHS, "+variant=qwen7b"]), 8.29e9, 80 * GIB)  # ~89% while generating
    assert qwen7b.status == "note" and qwen7b.detail.endswith("fsdp_config.optimizer_offload=true")


def test_a_local_checkpoint_is_counted_from_its_weights(tiny_model_dir):
    from transformers import AutoModelForImageTextToText

    from sparse_video_r1.training.estimates import parameter_count

    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir)
    unique = {id(p): p.numel() for p in model.parameters()}  # tied embeddings are stored once
    assert parameter_count(str(tiny_model_dir)) == sum(unique.values())


def test_the_ppo_critic_check_names_what_is_missing():
    from sparse_video_r1.training.checks import check_ppo

    ppo = compose([*PATHS, "+variant=ppo"])
    assert "needs flash-attn:" in check_ppo(ppo, flash_attn=False, trl=True)[0]
    assert "needs flash-attn and trl" in check_ppo(ppo, flash_attn=False, trl=False)[0]
    assert check_ppo(ppo, flash_attn=True, trl=True) == [] and check_ppo(compose(PATHS), False, False) == []


def test_sft_on_a_gpu_shards_with_fsdp2_which_takes_a_frozen_vision_tower():
    """verl's SFT default is FSDP1 with use_orig_params false, which refuses a unit holding frozen and
    trainable weights (FREEZE_VISION=1) when it wraps the model; FSDP2 shards each parameter alone."""
    gpu = compose_named("sft", ["data.train_files=/d/train.parquet"], "test")
    cpu = compose_named("sft", ["data.train_files=/d/train.parquet", "+sft_variant=cpu"], "test")
    assert gpu.engine.strategy == cpu.engine.strategy == "fsdp2"


def test_step_grpo_is_refused_with_token_level_rejection_sampling_which_would_split_its_steps():
    from sparse_video_r1.training.checks import check_step_grpo

    love_r1 = [*PATHS, "+variant=love_r1"]
    token = "algorithm.rollout_correction.rollout_rs=token_k1"
    assert check_step_grpo(compose(love_r1)) == []
    (problem,) = check_step_grpo(compose([*love_r1, token]))
    assert "rollout_rs=token_k1" in problem and "splitting replies" in problem
    assert check_step_grpo(compose([*love_r1, "algorithm.rollout_correction.rollout_rs=seq_mean_k3"])) == []
    assert check_step_grpo(compose([*PATHS, token])) == []  # plain GRPO needs no steps


def test_freeze_vision_reaches_the_training_processes_through_train_sh(
    monkeypatch, synthetic, tiny_model_dir
):
    """The README said FREEZE_VISION=1 works for train.sh, which never read it: the tower trained."""
    from sparse_video_r1.training import launch
    from sparse_video_r1.verl_internals import FREEZE_VISION

    run = _train({"FREEZE_VISION": "1", "DRY_RUN": "1", "DATA_DIR": str(synthetic)})
    assert run.returncode == 0 and "the vision tower is frozen" in run.stdout
    started = {}

    def start(command, env):  # verl's trainer is not run here: only what it would be started with
        started.update(env=env)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(launch.subprocess, "run", start)
    argv = [
        "--freeze-vision",
        "--device",
        "cpu",
        "--data-dir",
        str(synthetic),
        "--model",
        str(tiny_model_dir),
    ]
    assert launch.main(argv) == 0 and started["env"][FREEZE_VISION] == "1"


def test_a_variant_combines_with_the_cpu_variant_on_a_machine_without_a_gpu(monkeypatch, tmp_path):
    from sparse_video_r1.training import launch

    monkeypatch.setattr(launch, "ensure_tiny_model", lambda: tmp_path)
    args, extra = launch._arguments(["--variant", "debug_1gpu", "--data-dir", str(tmp_path)])
    device, overrides = launch.resolve(args, extra, visible_gpus=0)
    config = compose([*overrides, PATHS[2]])
    assert (
        device == "cpu" and config.actor_rollout_ref.rollout.name == "vllm_cpu"
    )  # cpu wins where both set a key
    assert config.trainer.total_training_steps == 2 and config.trainer.experiment_name == "cpu_tiny"
    assert config.data.train_batch_size == 2 and config.trainer.save_freq == 1


ODD = "it's a [odd], 50=50 folder"


def test_paths_with_hydras_special_characters_reach_the_config_verbatim(monkeypatch, tmp_path):
    from sparse_video_r1.training import launch

    model = tmp_path / ODD / "model\\x"
    args, extra = launch._arguments(["--model", str(model), "--data-dir", str(tmp_path / ODD)])
    _, overrides = launch.resolve(args, extra, visible_gpus=1)
    config = compose([*overrides, PATHS[2]])
    assert config.actor_rollout_ref.model.path == str(model)
    assert config.data.train_files == str(tmp_path / ODD / "train.parquet")


def test_an_interpolation_in_a_path_is_refused_not_followed(tmp_path):
    from sparse_video_r1.training import launch

    args, extra = launch._arguments(["--model", "/x/${oc.env:HOME}/m", "--data-dir", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"MODEL=.*holds '\$\{'"):
        launch.resolve(args, extra, visible_gpus=1)


def test_dry_run_takes_odd_paths_and_hints_only_at_unknown_keys(synthetic, tiny_model_dir, tmp_path):
    (tmp_path / ODD).mkdir()
    (tmp_path / ODD / "data").symlink_to(synthetic)
    (tmp_path / ODD / "model").symlink_to(tiny_model_dir)
    env = {"DRY_RUN": "1", "DATA_DIR": str(tmp_path / ODD / "data"), "MODEL": str(tmp_path / ODD / "model")}
    run = _train({**env, "LOG_DIR": str(tmp_path)})
    assert run.returncode == 0, run.stdout[-3000:]
    assert "50=50 folder/model" in run.stdout  # YAML quotes (and wraps) the path it prints
    assert "OK   verl validate_config: passed" in run.stdout
    syntax = _train({**env, "LOG_DIR": str(tmp_path)}, "trainer.logger=[console")
    assert (
        syntax.returncode == 2 and "does not compose" in syntax.stdout and "leading '+'" not in syntax.stdout
    )
    wrong = _train({**env, "LOG_DIR": str(tmp_path)}, "trainer.bogus=1")
    assert wrong.returncode == 2 and "leading '+'" in wrong.stdout
    bad = _train({**env, "LOG_DIR": str(tmp_path), "STEPS": "ten"})
    assert bad.returncode != 0 and "expected a whole number" in bad.stdout


def test_the_gpu_check_runs_its_gpu_free_stages(tmp_path):
    """scripts/gpu_check.sh itself needs a GPU; its dry run builds the reduced model and data and checks the
    training command it would run."""
    run = subprocess.run(
        ["sh", "scripts/gpu_check.sh", "--dry-run", "--work-dir", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "[gpu-check] PASS model" in run.stdout and "Qwen2.5-VL architecture" in run.stdout
    assert "[gpu-check] every stage passed" in run.stdout
    train_log = (tmp_path / "train_2.log").read_text()
    assert "OK   verl validate_config: passed" in train_log and "debug_1gpu" in train_log


def test_the_gpu_check_fails_a_hanging_stage_by_its_limit_and_a_cpu_build_of_vllm_first(
    monkeypatch, tmp_path
):
    import threading

    import torch

    from sparse_video_r1.training import gpu_check

    release = threading.Event()
    with pytest.raises(TimeoutError, match="no result after"):
        gpu_check.run_stage(lambda work, limit: release.wait() and "never", tmp_path, limit=-29.5)
    release.set()
    with pytest.raises(TimeoutError, match="no result after 1 s"):
        gpu_check._run(
            [sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "hang.log", timeout=1
        )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # this machine's vLLM is the CPU build
    with pytest.raises(RuntimeError, match=r"not CUDA: .*rerun `bash scripts/setup.sh` on this node"):
        gpu_check.environment(tmp_path, 60)
