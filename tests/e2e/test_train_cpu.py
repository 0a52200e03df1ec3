"""`sh train.sh` on CPU, for real: verl's trainer (Ray, FSDP2, our agent loop, verl's vLLM rollout on vLLM's
CPU build, reward, weight sync, checkpoints) trains the tiny model on the synthetic benchmark, then a rerun
resumes from its checkpoint. Both run `VARIANT=love_r1`: zoom mode with per-step advantages (step_grpo) and
a frozen vision tower, on the CPU variant's small overview; frame-request training runs in test_learning."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Rollout and actor token probabilities, float32 both. verl's vLLM rollout masks the two vision placeholders
# out of its logits; the random tiny model's near-uniform distribution gives them 2 of ~770 shares, so the
# rollout's probabilities sit ~0.3% above the actor's: ~3e-5 at most. tests/e2e/test_learning.py holds the
# trained model's fixed-sequence log-probs to 1e-4 after every step.
PROBS_BOUND = 1e-4


def _metric(log: str, step: int, name: str) -> float:
    line = next(line for line in log.splitlines() if f"step:{step} -" in line)
    return float(re.search(rf"{re.escape(name)}:(?:np\.float64\()?([-0-9.e]+)", line).group(1))


def _train(work: Path, model: Path, data: Path, steps: int) -> str:
    env = {
        **os.environ,
        "VARIANT": "love_r1",
        "MODEL": str(model),
        "DATA_DIR": str(data),
        "STEPS": str(steps),
        "LOG_DIR": str(work / "logs"),
        "DEVICE": "cpu",
    }
    run = subprocess.run(
        ["sh", "train.sh", f"trainer.default_local_dir={work / 'checkpoints'}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-5000:]
    return run.stdout


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory) -> tuple[Path, str, str]:
    from sparse_video_r1.data.prepare import prepare_synthetic

    work = tmp_path_factory.mktemp("train-cpu")
    prepare_synthetic(str(work / "data"), videos=2, seed=0)
    first = _train(work, tiny_model_dir, work / "data", steps=1)
    second = _train(work, tiny_model_dir, work / "data", steps=2)
    return work, first, second


@pytest.mark.slow
def test_a_cpu_run_trains_with_the_synced_weights_and_checkpoints(runs):
    work, first, _ = runs
    assert "device: cpu" in first and "checks passed" in first and "CPUvLLMHttpServer" in first
    # The rollout generated with the weights the actor holds: their token probabilities agree.
    assert _metric(first, 1, "training/rollout_probs_diff_max") < PROBS_BOUND
    # Our trainer logs what the episodes did (frames shown, failures counted) beside verl's own metrics.
    assert _metric(first, 1, "episode/frames") >= 5 and _metric(first, 1, "episode/failed") == 0
    assert (work / "checkpoints" / "global_step_1" / "actor" / "model_world_size_1_rank_0.pt").is_file()
    assert list((work / "logs").glob("train_*.log"))


@pytest.mark.slow
def test_zoom_mode_trains_on_per_step_advantages_with_the_vision_tower_frozen(runs):
    import torch

    work, first, _ = runs
    assert _metric(first, 1, "episode/frames") >= 16  # the CPU variant's 16-frame overview
    assert 0 <= _metric(first, 1, "episode/zooms_per_episode") <= 2
    assert "episode/step_score" in first  # our trainer put a score on every step for step_grpo
    assert "[train] the vision tower is frozen" in first
    actor = work / "checkpoints" / "global_step_1" / "actor"
    weights = torch.load(actor / "model_world_size_1_rank_0.pt", map_location="cpu", weights_only=False)
    optim = torch.load(actor / "optim_world_size_1_rank_0.pt", map_location="cpu", weights_only=False)
    # Adam keeps state for every parameter that got a gradient: all but the vision tower's.
    vision = sum(name.startswith("model.visual.") for name in weights)
    assert vision > 0 and len(optim["param_groups"][0]["params"]) - len(optim["state"]) == vision


@pytest.mark.slow
def test_a_rerun_resumes_from_the_checkpoint(runs):
    work, _, second = runs
    assert "Resuming from" in second and "global_step_1" in second
    assert "step:1 -" not in second and _metric(second, 2, "training/rollout_probs_diff_max") < PROBS_BOUND
    assert (work / "checkpoints" / "latest_checkpointed_iteration.txt").read_text().strip() == "2"


@pytest.mark.slow
def test_the_checkpoint_exports_to_a_model_transformers_loads(runs, tmp_path):
    work, _, _ = runs
    from sparse_video_r1.training.export import export_checkpoint, latest_actor

    merged = export_checkpoint(latest_actor(work / "checkpoints"), tmp_path / "hf")
    from transformers import AutoModelForImageTextToText, AutoProcessor

    model = AutoModelForImageTextToText.from_pretrained(merged)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert AutoProcessor.from_pretrained(merged).tokenizer.eos_token == "<|im_end|>"
