"""One episode runner drives training, evaluation and SFT: the same row through the verl agent loop, the
hf evaluator and the SFT writer shows the model the same frames and the same turns, and records the same
episode. A difference between how we train and how we evaluate would silently move a published number."""

from __future__ import annotations

import asyncio
import contextlib
import io

import numpy as np
import pandas as pd
import pytest
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker

from hf_token_server import HFGenerationServer
from sparse_video_r1.agent.episode import EpisodeConfig, Question
from sparse_video_r1.evaluation.methods import Sample, agent
from sparse_video_r1.training.sft_data import IMAGE, play
from sparse_video_r1.video import open_video
from verl_harness import ScriptedServer, compose_config, make_batch

KNOBS = {"wording": "brief", "max_pixels": 12544, "min_pixels": 3136, "overview_frames": 8,
         "overview_pixels": 3136, "zoom_frames": 4, "zoom_pixels": 12544}  # fmt: skip
EPISODE = EpisodeConfig(**KNOBS)  # the run's mode is frames; a row may name zoom


@pytest.fixture(scope="module")
def colour_row(tmp_path_factory) -> dict:
    """A synthetic colour question whose flash the first frames miss, so the oracle searches."""
    from sparse_video_r1.data.prepare import prepare_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    with contextlib.redirect_stdout(io.StringIO()):
        prepare_synthetic(str(out), videos=4, seed=2)
    for row in pd.read_parquet(out / "train.parquet").to_dict("records"):
        info = row["extra_info"]
        trajectory = play(row, EPISODE)
        if info["type"] == "colour" and len(trajectory.messages) >= 4:
            return row
    raise AssertionError("no colour question needs a search in this data")


def _images(images) -> list[bytes]:
    return [np.asarray(image).tobytes() for image in images]


@pytest.mark.parametrize("mode", ["frames", "zoom"])
def test_training_evaluation_and_sft_show_the_same_frames_and_turns(mode, colour_row, tiny_model_dir):
    colour_row = {**colour_row, "extra_info": {**colour_row["extra_info"], "mode": mode}}
    info = colour_row["extra_info"]
    # The SFT writer: the oracle plays the row.
    sft = play(colour_row, EPISODE)
    sft_turns = [m["content"] for m in sft.messages if m["role"] == "user"]
    replies = [m["content"] for m in sft.messages if m["role"] == "assistant"]

    # The evaluator, on the hf backend's conversation, sent the same replies.
    sample = Sample("doc", Question(info["question"], tuple(info["options"])), "A", info["type"], info["video"],
                    seed=int(info["index"]), duration=info["duration"], mode=info["mode"])  # fmt: skip
    conversation = agent(sample, open_video(info["video"]), EPISODE)
    messages = next(conversation)
    for reply in replies:
        try:
            messages = conversation.send(reply)
        except StopIteration as stopped:
            record = stopped.value
    eval_turns = [m["content"] for m in messages if m["role"] == "user"]
    as_text = ["".join(IMAGE if p["type"] == "image" else p["text"] for p in turn) for turn in eval_turns]
    eval_images = [p["image"] for turn in eval_turns for p in turn if p["type"] == "image"]

    # The verl agent loop, its generation server scripted with the same replies.
    server = HFGenerationServer(tiny_model_dir, prompt_length=2048, response_length=1024)
    client = ScriptedServer(server.generator, replies)
    config = compose_config(tiny_model_dir, *(f"+svr1.episode.{k}={v}" for k, v in KNOBS.items()))
    batch = make_batch([{"raw_prompt": colour_row["prompt"], "extra_info": info, "agent_name": "frame_request",  # a row prepared before the rename
                         "index": info["index"], "data_source": "synthetic",
                         "reward_model": colour_row["reward_model"]}])  # fmt: skip

    async def main():
        return await AgentLoopWorker(config, llm_client=client).generate_sequences(batch)

    out = asyncio.run(main())
    episode = out.non_tensor_batch["episode"][0]
    verl_images = next(iter(client.rounds.values()))[-1][1]  # every frame the last round was given

    assert as_text == sft_turns  # the same words, the frames in the same places
    assert _images(eval_images) == _images(sft.images) == _images(verl_images)
    action = "zoom" if mode == "zoom" else "frames"  # the row's mode, honoured by all three
    assert episode["frames"] == record.frames and episode["zooms"] == record.zooms
    assert episode["actions"] == record.actions == [action] * (len(replies) - 1) + ["answer"]
    text = server.generator.tokenizer.decode(out.batch["input_ids"][0])
    for turn in sft_turns:  # every turn's words reached the trained sequence, in order
        for piece in filter(None, turn.split(IMAGE)):
            assert piece.strip() in text
