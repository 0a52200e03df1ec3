"""The trainer's side of our rollouts, with verl's own FSDP2 actor on CPU (see tests/grpo_step_on_cpu.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sparse_video_r1.video.writer import write_video
from videos import paint_index


@pytest.fixture(scope="module")
def grpo_step(tiny_model_dir, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("grpo")
    video = write_video(root / "clip.mp4", (paint_index(i, 320, 240) for i in range(300)), 30)
    script = Path(__file__).parents[1] / "grpo_step_on_cpu.py"
    out = root / "result.json"
    run = subprocess.run(
        [sys.executable, str(script), str(tiny_model_dir), str(video), str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_verls_actor_computes_the_log_probs_the_rollout_generated_with(grpo_step):
    assert grpo_step["max_abs_actor_vs_rollout"] < 1e-5
    assert grpo_step["max_abs_actor_vs_hf"] < 1e-5


@pytest.mark.slow
def test_a_grpo_step_raises_the_right_answer_and_lowers_the_wrong_one(grpo_step):
    by_answer = {sample["answer"]: sample for sample in grpo_step["samples"]}
    right, wrong = by_answer["B"], by_answer["C"]
    assert right["reward"] > wrong["reward"] and right["advantage"] > 0 > wrong["advantage"]
    assert right["mean_log_prob_after"] > right["mean_log_prob_before"]
    assert wrong["mean_log_prob_after"] < wrong["mean_log_prob_before"]
    assert grpo_step["max_abs_weight_change"] > 0


@pytest.mark.slow
def test_environment_tokens_are_masked_out_of_the_loss(grpo_step):
    """A twin actor trained with the environment tokens' advantages and old log-probs scrambled ends with
    exactly the same weights."""
    assert grpo_step["env_tokens"] > 100
    assert grpo_step["max_abs_twin_difference"] == 0.0
