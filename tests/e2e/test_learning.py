"""It learns: a small SFT checkpoint made by `sh sft.sh` (verl's SFT trainer on oracle trajectories), then a
few real GRPO steps of `sh train.sh` (verl's trainer, our agent loop and reward) make the replies the reward
paid for likelier and the others rarer, judged on the very replies the rollouts sampled (verl dumps them).

What would make it fail: a flipped advantage sign (the rewarded replies would fall), a rollout that keeps
stale weights (after each step's sync, verl's vLLM rollout scores a fixed sequence: its log-probs must match
that step's actor checkpoint and differ from the previous step's), or an SFT stage
that does not teach the protocol (no reply would parse, every reward would be 0, nothing would move).
Environment tokens kept out of the loss are checked exactly in test_trainer_step.py (a twin actor whose
environment tokens' advantages are scrambled ends with identical weights).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from sparse_video_r1.agent.episode import EpisodeConfig, FrameAt, Question
from sparse_video_r1.agent.frame_requests import FrameRequestEpisode
from sparse_video_r1.agent.runner import decode_frames
from sparse_video_r1.video import FrameGrid, open_video

REPO = Path(__file__).resolve().parents[2]
EPISODE = EpisodeConfig(wording="brief", max_pixels=12544, min_pixels=3136)
ONE_REPLY = EpisodeConfig(wording="brief", max_pixels=12544, min_pixels=3136, max_rounds=1)
GRPO_STEPS = 4
GROUP = 16  # replies sampled per step, all to the one question
# vLLM's and the actor's log-probs of one sequence, both float32: they agree to float32 noise.
SYNC_BOUND = 1e-4


def _launch(script: str, env: dict, *overrides: str) -> str:
    run = subprocess.run(
        ["sh", script, *overrides], cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-6000:]
    return run.stdout


@pytest.fixture(scope="module")
def learned(tiny_model_dir, tmp_path_factory):
    """(the question GRPO trained on, the SFT model, the GRPO model, the GRPO log, the sampled replies).

    SFT teaches the protocol on twelve videos' questions; GRPO then trains on another video's control
    question (the background's colour, on every frame), which the SFT model has never seen, in one-reply
    episodes: sampled, some replies break the protocol, some answer wrongly, and the reward tells them
    apart. verl writes every sampled reply with its score (`trainer.rollout_data_dir`)."""
    from sparse_video_r1.data.prepare import prepare_synthetic
    from sparse_video_r1.training.export import export_checkpoint, latest_actor
    from sparse_video_r1.training.sft_data import Mix, write_sft_data
    from sparse_video_r1.training.sft_launch import latest_hf_checkpoint

    work = tmp_path_factory.mktemp("learning")
    prepare_synthetic(str(work / "data"), videos=16, seed=0)  # 12 videos for SFT, 4 held out
    write_sft_data(work / "data", work / "trajectories", EPISODE, mix=Mix(one_round=1.0, seed=0))
    env = {"MODEL": str(tiny_model_dir), "DATA_DIR": str(work / "trajectories"), "STEPS": "120",
           "LR": "2e-3", "DEVICE": "cpu", "LOG_DIR": str(work / "logs")}  # fmt: skip
    _launch("sft.sh", env, f"trainer.default_local_dir={work / 'sft'}", "data.train_batch_size=4",
            "data.micro_batch_size_per_gpu=4")  # fmt: skip
    sft_model = latest_hf_checkpoint(work / "sft")

    held_out = pd.read_parquet(work / "data" / "val.parquet")
    question = held_out[held_out["extra_info"].map(lambda e: e["type"]) == "background"].iloc[:1]
    (work / "grpo-data").mkdir()
    for split in ("train", "val"):
        question.to_parquet(work / "grpo-data" / f"{split}.parquet")
    env = {"MODEL": str(sft_model), "DATA_DIR": str(work / "grpo-data"), "STEPS": str(GRPO_STEPS),
           "DEVICE": "cpu", "LOG_DIR": str(work / "logs")}  # fmt: skip
    log = _launch(
        "train.sh", env, f"trainer.default_local_dir={work / 'grpo'}", "data.train_batch_size=1",
        f"actor_rollout_ref.rollout.n={GROUP}", "actor_rollout_ref.actor.ppo_mini_batch_size=1",
        "actor_rollout_ref.actor.optim.lr=1e-4", "svr1.episode.wording=brief",
        f"svr1.episode.max_rounds={ONE_REPLY.max_rounds}", "trainer.save_freq=1",
        "trainer.max_actor_ckpt_to_keep=null", f"trainer.rollout_data_dir={work / 'rollouts'}",
        f"svr1.sync_probe_file={work / 'sync_probe.jsonl'}",
    )  # fmt: skip
    actors = [work / "grpo" / f"global_step_{step}" / "actor" for step in range(1, GRPO_STEPS + 1)]
    assert latest_actor(work / "grpo") == actors[-1]
    grpo_model = export_checkpoint(actors[-1], work / "grpo-model")
    sampled = [json.loads(line) for step in range(1, GRPO_STEPS + 1)
               for line in (work / "rollouts" / f"{step}.jsonl").read_text().splitlines()]  # fmt: skip
    probes = [json.loads(line) for line in (work / "sync_probe.jsonl").read_text().splitlines()]
    return question.iloc[0]["extra_info"], (sft_model, grpo_model, actors), log, sampled, probes


def _metric(log: str, step: int, name: str) -> float:
    line = next(line for line in log.splitlines() if f"step:{step} -" in line)
    return float(re.search(rf"{re.escape(name)}:(?:np\.float64\()?([-0-9.e]+)", line).group(1))


def _actor(architecture: Path, actor_dir: Path):
    """The actor's float32 weights as the step left them (its checkpoint: saved before the sync), in a
    transformers model. verl's model merger would round them to bfloat16."""
    import torch

    from sparse_video_r1.generation.hf_generator import HFGenerator

    generator = HFGenerator(architecture)
    saved = torch.load(actor_dir / "model_world_size_1_rank_0.pt", map_location="cpu", weights_only=False)
    generator.load_weights({name: getattr(value, "_local_tensor", value) for name, value in saved.items()})
    return generator


def _sampler_log_probs(generator, ids: list[int]) -> list[float]:
    """Teacher-forced log-probs of ids[1:] over the tokens a rollout may sample: verl's vLLM rollout masks
    the vision placeholders out of its logits (for a trained model they hold ~0.3% of the mass here)."""
    import torch

    tokens = torch.tensor([ids])
    with torch.no_grad():
        logits = generator.model(input_ids=tokens, attention_mask=torch.ones_like(tokens)).logits[0, :-1]
    logits[:, generator.banned_token_ids] = float("-inf")
    return torch.log_softmax(logits.float(), dim=-1).gather(1, tokens[0, 1:, None]).squeeze(1).tolist()


def _log_probabilities(model: Path, info: dict, replies: list[str]) -> list[float]:
    """The model's log-probability of each reply to the question's opening turn (a one-reply episode)."""
    from sparse_video_r1.generation.hf_generator import HFGenerator

    generator = HFGenerator(model)
    episode = FrameRequestEpisode(
        Question(info["question"], tuple(info["options"])),
        FrameGrid.of(info["duration"], info["fps"], info["num_frames"]),
        ONE_REPLY,
    )
    parts = episode.opening()
    images = decode_frames([part for part in parts if isinstance(part, FrameAt)], open_video(info["video"]))
    content = [{"type": "image"} if isinstance(p, FrameAt) else {"type": "text", "text": p} for p in parts]
    text = generator.processor.apply_chat_template(
        [{"role": "user", "content": content}], add_generation_prompt=True
    )
    prompt = generator.processor(text=[text], images=images, return_tensors="pt")["input_ids"][0].tolist()
    encode = generator.tokenizer.encode
    return [sum(generator.score(prompt, encode(reply), images=images)) for reply in replies]


@pytest.mark.slow
def test_grpo_makes_the_rewarded_replies_likelier_and_the_others_rarer(learned):
    info, (sft_model, grpo_model, _), _, sampled, _ = learned
    replies = [sample["output"] for sample in sampled]
    before = _log_probabilities(sft_model, info, replies)
    after = _log_probabilities(grpo_model, info, replies)
    # Each step's advantages: a reply's score against its group's (the step's GROUP replies) mean.
    scores = [sample["score"] for sample in sampled]
    advantages = []
    for start in range(0, len(scores), GROUP):
        group = scores[start : start + GROUP]
        advantages += [score - sum(group) / len(group) for score in group]
    assert any(advantages), "every reply scored the same: no signal to learn from"
    # The policy gradient raises the log-probability of replies with a positive advantage and lowers the
    # others': summed over the sampled replies, advantage x change in log-probability is positive. A
    # flipped advantage sign makes it negative.
    moved = [a * (new - old) for a, new, old in zip(advantages, after, before, strict=True)]
    assert sum(moved) > 0, sorted(zip(advantages, after, before, strict=True))
    rewarded = [new - old for a, new, old in zip(advantages, after, before, strict=True) if a > 0]
    others = [new - old for a, new, old in zip(advantages, after, before, strict=True) if a < 0]
    assert sum(rewarded) / len(rewarded) > sum(others) / len(others)


@pytest.mark.slow
def test_the_vllm_rollout_holds_each_steps_new_weights_and_the_rewards_vary(learned):
    _, (sft_model, _, actors), log, _, probes = learned
    assert "CPUvLLMHttpServer" in log, "the run did not use verl's vLLM rollout"
    assert [probe["step"] for probe in probes] == list(range(1, GRPO_STEPS + 1))
    previous = None
    for probe, actor_dir in zip(probes, actors, strict=True):
        ids = probe["token_ids"]
        actor = _sampler_log_probs(_actor(sft_model, actor_dir), ids)
        gap = max(abs(a - b) for a, b in zip(probe["log_probs"], actor, strict=True))
        assert gap <= SYNC_BOUND, (probe["step"], gap)
        if previous is not None:
            moved = max(abs(a - b) for a, b in zip(probe["log_probs"], previous, strict=True))
            assert moved > 10 * SYNC_BOUND, (probe["step"], moved)  # the weights changed, and vLLM saw it
        previous = probe["log_probs"]
    # The SFT model answers in the protocol, and not always the same: GRPO has a signal to follow.
    assert max(_metric(log, step, "episode/format") for step in range(1, GRPO_STEPS + 1)) > 0.5
    assert any(0 < _metric(log, step, "episode/acc") < 1 for step in range(1, GRPO_STEPS + 1))
