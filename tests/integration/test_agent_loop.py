"""Whole episodes through verl's own AgentLoopWorker, postprocessing and reward worker, on CPU, with the tiny
model and a real video. Scripted episodes choose the reply tokens; the real model still scores them."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import torch
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

from hf_token_server import HFGenerationServer
from sparse_video_r1.video.writer import write_video
from verl_harness import LocalActorHandle, ScriptedServer, compose_config, make_batch, row
from videos import paint_index

DURATION = 10.0


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    path = tmp_path_factory.mktemp("agent") / "clip.mp4"
    return write_video(path, (paint_index(i, 320, 240) for i in range(300)), 30)


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    return HFGenerationServer(tiny_model_dir, prompt_length=2048, response_length=1024)


def _run(config, client, batch, with_reward=True):
    async def main():
        worker = AgentLoopWorker(config, llm_client=client)
        if with_reward:
            worker.reward_loop_worker_handles = [LocalActorHandle(RewardLoopWorker(config))]
        return await worker.generate_sequences(batch)

    return asyncio.run(main())


def _sample(out, i):
    length = int(out.batch["attention_mask"][i].sum())
    mask = out.batch["response_mask"][i].bool()
    return length, mask


def test_sampled_episodes_run_through_verls_worker(tiny_model_dir, video, server):
    config = compose_config(tiny_model_dir)
    out = _run(config, server, make_batch([row(video, DURATION)], repeat=2))
    assert out.batch["position_ids"].shape == (2, 4, 2048 + 1024)
    for i in range(2):
        episode = out.non_tensor_batch["episode"][i]
        grids = out.non_tensor_batch["multi_modal_inputs"][i]["image_grid_thw"]
        assert len(grids) == episode["num_frames"] >= 5
        assert episode["end"] in {"answer", "round limit", "token budget"}
        mask = out.batch["response_mask"][i].bool()
        log_probs = out.batch["rollout_log_probs"][i]
        assert mask.any() and torch.all(log_probs[~mask] == 0) and torch.all(log_probs[mask] <= 0)
    assert set(out.non_tensor_batch) >= {"acc", "format", "frames", "rounds"}  # the reward's metrics


def test_a_scripted_episode_covers_request_invalid_and_answer(tiny_model_dir, video, server):
    replies = [
        "<think>I need the middle.</think><frames>2.5, 6, 3.0</frames>",  # 3.0 s was already shown
        "<think>And the end.</think><frames>99</frames>",  # outside the video
        "<think>It moves left.</think><answer>B</answer>",
    ]
    client = ScriptedServer(server.generator, replies)
    config = compose_config(tiny_model_dir)
    out = _run(config, client, make_batch([row(video, DURATION, answer="B")]))

    episode = out.non_tensor_batch["episode"][0]
    assert [f["time"] for f in episode["frames"]] == [1.0, 3.0, 5.0, 7.0, 9.0, 2.5, 6.0]
    assert episode["actions"][0] == "frames" and episode["actions"][1].startswith("invalid: times 99")
    assert (episode["answer"], episode["end"], episode["rounds"]) == ("B", "answer", 3)
    # One request id for every round; the image list grows only after a turn was accepted.
    assert len({rid for rid, _ in client.calls}) == 1 and [n for _, n in client.calls] == [5, 7, 7]

    # verl's postprocessing: one image grid per frame, pixel rows to match, M-RoPE ids (1, 4, L) per sample.
    mm = out.non_tensor_batch["multi_modal_inputs"][0]
    assert mm["image_grid_thw"].shape == (7, 3)
    assert mm["pixel_values"].shape[0] == int(mm["image_grid_thw"].prod(dim=1).sum())
    input_ids = out.batch["input_ids"][0]
    image_pad = server.generator.image_token_id
    assert int((input_ids == image_pad).sum()) == int(mm["image_grid_thw"].prod(dim=1).sum()) // 4

    # Environment turns carry mask 0 and are the only text between the replies.
    tokenizer = server.generator.tokenizer
    responses, mask = out.batch["responses"][0], out.batch["response_mask"][0].bool()
    valid = out.batch["attention_mask"][0, -responses.shape[0] :].bool()
    env_text = tokenizer.decode(responses[valid & ~mask], skip_special_tokens=True)
    assert "Here are the 2 frames you asked for" in env_text and "Your reply was not valid" in env_text
    replies_text = tokenizer.decode(responses[mask], skip_special_tokens=True)
    assert "<frames>99</frames>" in replies_text and "<answer>B</answer>" in replies_text
    assert "Here are" not in replies_text

    # verl's reward worker scored the decoded response with our reward.
    assert out.batch["rm_scores"][0].sum().item() == pytest.approx(1.1)
    assert (out.non_tensor_batch["acc"][0], out.non_tensor_batch["frames"][0]) == (1.0, 7.0)


def test_the_trainers_view_of_the_sequence_reproduces_the_rollout_log_probs(tiny_model_dir, video, server):
    """One forward pass over the final multi-turn sequence (all images, verl's inputs) gives back the
    log-probs each round was generated with: the trainer sees what the rollout saw."""
    replies = ["<think>a</think><frames>2.5, 6</frames>", "<think>b</think><answer>C</answer>"]
    out = _run(
        compose_config(tiny_model_dir),
        ScriptedServer(server.generator, replies),
        make_batch([row(video, DURATION)]),
    )
    attention = out.batch["attention_mask"][0].bool()
    ids = out.batch["input_ids"][0][attention]
    mm = out.non_tensor_batch["multi_modal_inputs"][0]
    model = server.generator.model
    with torch.no_grad():
        logits = model(
            input_ids=ids[None],
            attention_mask=torch.ones_like(ids)[None],
            mm_token_type_ids=(ids == server.generator.image_token_id).long()[None],
            pixel_values=mm["pixel_values"],
            image_grid_thw=mm["image_grid_thw"],
        ).logits[0]
    responses = out.batch["responses"][0]
    valid = attention[-responses.shape[0] :]
    response = responses[valid]
    start = ids.shape[0] - response.shape[0]
    full = torch.log_softmax(logits[start - 1 : -1], dim=-1).gather(1, response[:, None]).squeeze(1)
    mask = out.batch["response_mask"][0][valid].bool()
    rollout = out.batch["rollout_log_probs"][0][valid]
    assert mask.sum() > 10
    assert torch.allclose(full[mask], rollout[mask], atol=1e-4)

    # verl's M-RoPE position ids agree with the model's own, for the whole multi-turn sequence.
    positions, _ = model.model.get_rope_index(
        ids[None],
        mm_token_type_ids=(ids == server.generator.image_token_id).long()[None],
        image_grid_thw=mm["image_grid_thw"],
    )
    assert torch.equal(out.batch["position_ids"][0][1:, attention], positions[:, 0])


def test_a_turn_that_does_not_fit_the_budget_ends_the_episode_without_its_frames(
    tiny_model_dir, video, server
):
    replies = ["<think>more</think><frames>2.5, 6</frames>"]
    client = ScriptedServer(server.generator, replies)
    config = compose_config(tiny_model_dir, response_length=120)  # 2 more frames need ~220 tokens
    out = _run(config, client, make_batch([row(video, DURATION)]))
    episode = out.non_tensor_batch["episode"][0]
    assert episode["end"] == "token budget" and episode["actions"] == ["frames"]
    assert out.non_tensor_batch["multi_modal_inputs"][0]["image_grid_thw"].shape[0] == 5
    assert int(out.batch["response_mask"][0].sum()) == len(client.generator.tokenizer.encode(replies[0])) + 1


def test_a_broken_video_is_skipped_and_reported_not_a_crash(tiny_model_dir, tmp_path, video, server):
    missing = tmp_path / "gone.mp4"
    config = compose_config(tiny_model_dir)
    out = _run(config, server, make_batch([row(missing, DURATION), row(video, DURATION, index=1)]))
    episode = out.non_tensor_batch["episode"][0]
    assert episode["end"] == "video error: file not found" and episode["rounds"] == 0
    assert int(out.batch["response_mask"][0].sum()) == 0
    assert out.non_tensor_batch["acc"][0] == 0.0 and out.batch["rm_scores"][0].sum().item() == 0.0
    assert out.non_tensor_batch["episode"][1]["num_frames"] >= 5  # the other row ran normally
    assert np.isfinite(out.batch["rollout_log_probs"].numpy()).all()


@pytest.mark.parametrize(
    ("duration", "why"),
    [
        (12.0, "the row says the video lasts 12.00 s but"),  # the file was re-encoded shorter since prepare
        (float("nan"), "duration nan is not a number"),
        (-1.0, "duration -1.0 is not a number"),
    ],
)
def test_stale_or_broken_row_metadata_is_a_reported_skip_not_a_crash(
    tiny_model_dir, video, server, duration, why
):
    config = compose_config(tiny_model_dir)
    out = _run(config, server, make_batch([row(video, duration), row(video, DURATION, index=1)]))
    episode = out.non_tensor_batch["episode"][0]
    assert episode["end"].startswith("video error: " + why) and episode["rounds"] == 0
    assert int(out.batch["response_mask"][0].sum()) == 0 and out.batch["rm_scores"][0].sum().item() == 0.0
    assert out.non_tensor_batch["episode"][1]["num_frames"] >= 5


def test_the_reward_judges_the_turn_the_loop_accepted_even_if_its_thinking_looks_like_a_header(
    tiny_model_dir, video, server
):
    replies = ["<think>I see\nassistant\nthe square turns red</think><answer>B</answer>"]
    out = _run(
        compose_config(tiny_model_dir),
        ScriptedServer(server.generator, replies),
        make_batch([row(video, DURATION, answer="B")]),
    )
    assert out.non_tensor_batch["episode"][0]["end"] == "answer"
    assert out.batch["rm_scores"][0].sum().item() == pytest.approx(1.1)


def test_an_error_inside_an_episode_is_a_counted_stand_in_not_a_vanished_group(tiny_model_dir, video, server):
    broken = row(video, DURATION)
    del broken["extra_info"]["options"]  # a row our loop cannot read: an error inside the episode
    out = _run(compose_config(tiny_model_dir), server, make_batch([broken, row(video, DURATION, index=1)]))
    episode = out.non_tensor_batch["episode"][0]
    assert episode["end"] == "error: KeyError: 'options'" and episode["row"] == 0
    assert int(out.batch["response_mask"][0].sum()) == 0 and out.batch["rm_scores"][0].sum().item() == 0.0
    assert out.non_tensor_batch["episode"][1]["num_frames"] >= 5


def test_the_episode_knobs_come_from_the_runs_config(tiny_model_dir, video, server):
    config = compose_config(tiny_model_dir, "+svr1.episode.first_frames=3", "+svr1.reply_tokens=4")
    client = ScriptedServer(server.generator, ["<think>a long thought</think><answer>B</answer>"] * 5)
    out = _run(config, client, make_batch([row(video, DURATION)]))
    episode = out.non_tensor_batch["episode"][0]
    assert episode["num_frames"] == 3 and [len(ids) for _, _, ids in client.rounds.popitem()[1]] == [4] * 5


def test_a_zoom_row_plays_its_own_mode_and_each_reply_is_one_step(tiny_model_dir, video, server):
    from sparse_video_r1.reward.step_grpo import response_steps
    from sparse_video_r1.reward.video_qa import step_scores

    replies = [
        "<think>It happens early.</think><zoom>2, 6</zoom>",
        "<think>Again.</think><zoom>2.2, 6</zoom>",  # IoU 0.95 with the first: invalid
        "<think>It moves left.</think><answer>B</answer>",
    ]
    client = ScriptedServer(server.generator, replies)
    knobs = ("overview_frames=8", "overview_pixels=3136", "zoom_frames=4", "zoom_pixels=12544")
    config = compose_config(tiny_model_dir, *(f"+svr1.episode.{knob}" for knob in knobs))
    zoom_row = row(video, DURATION, answer="B")
    zoom_row["extra_info"]["mode"] = "zoom"  # the run's mode is frames: the row asks for its own
    out = _run(config, client, make_batch([zoom_row]))

    episode = out.non_tensor_batch["episode"][0]
    assert episode["actions"][0] == "zoom" and episode["actions"][1].startswith("invalid: the zoom 2.2-6 s")
    assert episode["zooms"] == [{"start": 2.0, "end": 6.0, "round": 1}] and episode["end"] == "answer"
    assert [n for _, n in client.calls] == [8, 12, 12]  # the overview, then the clip joins it
    images = next(iter(client.rounds.values()))[-1][1]  # what the last round was shown
    assert all(im.width * im.height <= 3136 for im in images[:8])  # the overview's low budget
    assert all(3136 < im.width * im.height <= 12544 for im in images[8:])  # the zoom's high one
    grids = out.non_tensor_batch["multi_modal_inputs"][0]["image_grid_thw"].prod(dim=1).tolist()
    assert len(grids) == 12 and len(set(grids[:8])) == len(set(grids[8:])) == 1 and grids[8] > grids[0]
    mask = out.batch["response_mask"][0]
    assert len(response_steps(mask)) == len(episode["actions"]) == 3  # a step per reply for step_grpo
    assert step_scores(episode, "B", [[3, 5]]) == pytest.approx([1.1, 0.0, 1.1])
