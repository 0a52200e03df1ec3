"""SFT trajectories: the oracle's search in our own episodes, written for verl's multi-turn SFT dataset."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from chat_server import ChatServer
from sparse_video_r1.agent.episode import EpisodeConfig, Question
from sparse_video_r1.agent.evidence import inside
from sparse_video_r1.agent.frame_requests import FrameRequestEpisode
from sparse_video_r1.agent.oracle import ORACLE, POLICIES, NoEvidence, evidence_seen, oracle_reply, scan_grid
from sparse_video_r1.agent.protocol import Answer, FrameRequest, parse_reply
from sparse_video_r1.data.synthetic import THINKING
from sparse_video_r1.training.sft_data import IMAGE, Mix, teacher_rewriter, write_sft_data
from sparse_video_r1.video import FrameGrid

QUESTION = Question("What colour is the disc?", ("red", "green", "blue", "yellow", "purple"))
GRID = FrameGrid.of(10.0, 10)
BRIEF = EpisodeConfig(wording="brief", max_pixels=12544, min_pixels=3136)


def _play(span, config: EpisodeConfig | None = None, rng=None, policy=ORACLE) -> FrameRequestEpisode:
    episode = FrameRequestEpisode(QUESTION, GRID, config or EpisodeConfig())
    episode.opening()
    while not episode.done:
        episode.step(oracle_reply(episode, [span], answer=2, rng=rng, policy=policy))
    return episode


def test_the_oracle_scans_in_time_order_and_answers_once_the_evidence_is_shown():
    assert scan_grid(FrameRequestEpisode(QUESTION, GRID)) == [0.25 + 0.5 * k for k in range(20)]
    episode = _play((4.1, 4.7))  # the opening's 1, 3, 5, 7, 9 s miss it
    record = episode.record
    assert record.actions == ["frames", "frames", "answer"] and record.answer == "C"
    assert [f["time"] for f in record.frames if f["round"] == 1] == [0.25, 0.75, 1.25, 1.75, 2.25]
    assert [f["time"] for f in record.frames if f["round"] == 2] == [2.75, 3.25, 3.75, 4.25, 4.75]


def test_the_oracle_answers_at_once_when_the_first_frames_show_the_evidence():
    assert _play((2.8, 3.4)).record.actions == ["answer"]


def test_evidence_is_a_frame_that_begins_inside_the_span():
    # At 10 fps the frame shown at 3.0 s begins at 3.0 s, after a span that ends at 3.0 s.
    episode = FrameRequestEpisode(QUESTION, GRID)
    episode.opening()
    assert evidence_seen(episode, [(2.4, 3.0)]) == [] and evidence_seen(episode, [(2.5, 3.1)]) == [3.0]


def test_evidence_at_the_very_end_is_found_by_the_last_request():
    record = _play((9.4, 10.0)).record
    assert record.actions == ["frames"] * 4 + ["answer"] and len(record.frames) == 25


def test_without_evidence_on_the_last_reply_the_oracle_guesses_or_gives_up():
    one_round = EpisodeConfig(max_rounds=1)
    episode = _play((4.1, 4.7), one_round, rng=random.Random(0))
    assert episode.record.end == "answer" and episode.record.actions == ["answer"]
    with pytest.raises(NoEvidence):
        _play((4.1, 4.7), one_round)


def test_the_impatient_player_may_answer_before_the_evidence_and_says_it_guesses():
    impatient = replace(POLICIES["impatient"], guess_early=1.0)
    record = _play((4.1, 4.7), rng=random.Random(0), policy=impatient).record
    assert record.actions == ["answer"] and len(record.frames) == 5  # the opening missed it; no request
    episode = FrameRequestEpisode(QUESTION, GRID)
    episode.opening()
    reply = oracle_reply(episode, [(4.1, 4.7)], 2, THINKING["colour"], random.Random(0), impatient)
    assert reply.startswith("<think>No colour flash yet. I answer now without having seen it, so I guess.")
    # Once the evidence is on screen it answers right, as the oracle does.
    assert _play((2.8, 3.4), rng=random.Random(0), policy=impatient).record.answer == "C"


def test_the_over_scanning_player_looks_again_after_seeing_the_evidence_then_answers_right():
    overscan = replace(POLICIES["overscan"], look_again=1.0)
    record = _play((2.8, 3.4), rng=random.Random(0), policy=overscan).record  # seen in the opening
    assert record.actions == ["frames"] * 4 + ["answer"] and record.answer == "C"
    episode = FrameRequestEpisode(QUESTION, GRID)
    episode.opening()
    reply = oracle_reply(episode, [(2.8, 3.4)], 2, THINKING["colour"], random.Random(0), overscan)
    assert reply.startswith(
        "<think>The screen flashes blue. I look at more frames to be sure.</think><frames>"
    )


def test_the_random_player_asks_for_unseen_random_times_and_answers_once_it_sees_the_evidence():
    for seed in range(5):
        episode = _play((4.1, 4.7), rng=random.Random(seed), policy=POLICIES["random"])
        frames = [GRID.frame_at(f["time"]) for f in episode.record.frames]
        assert len(frames) == len(set(frames)) and all(0 <= f["time"] <= 10 for f in episode.record.frames)
        assert episode.record.end == "answer"
    assert scan_grid(episode) != sorted(f["time"] for f in episode.record.frames if f["round"])


def test_a_policy_that_draws_needs_an_rng():
    episode = FrameRequestEpisode(QUESTION, GRID)
    episode.opening()
    with pytest.raises(ValueError, match="rng"):
        oracle_reply(episode, [(4.1, 4.7)], 2, policy=POLICIES["impatient"])


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    from sparse_video_r1.data.prepare import prepare_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    prepare_synthetic(str(out), videos=4, seed=2)
    return out


def test_trajectories_are_our_episodes_with_their_frames_in_order(data, tmp_path):
    written = write_sft_data(data, tmp_path, BRIEF, mix=Mix(one_round=0.5, looks=2, seed=1))
    train = pd.read_parquet(tmp_path / "train.parquet")
    assert written == {"train": len(train), "val": len(pd.read_parquet(tmp_path / "val.parquet"))}
    assert set(train["kind"]) == {"search", "one round", "look"} and len(train) == 9 + 2 * 6
    for _, row in train.iterrows():
        messages = list(row["messages"])
        assert [m["role"] for m in messages] == ["user", "assistant"] * (len(messages) // 2)
        assert sum(m["content"].count(IMAGE) for m in messages) == len(row["images"])
        replies = [parse_reply(m["content"]) for m in messages if m["role"] == "assistant"]
        assert all(isinstance(r, FrameRequest) for r in replies[:-1])
        if row["kind"] != "look":
            assert isinstance(replies[-1], Answer)  # searches end on the answer; looks may end on a request
    searches = train[train["kind"] == "search"]
    assert all(parse_reply(list(m)[-1]["content"]) == Answer("ABCDE"[idx]) for m, idx in zip(
        searches["messages"], _answers(data, searches), strict=True))  # fmt: skip


def test_a_mix_of_players_thinks_honestly_about_what_its_frames_showed(data, tmp_path):
    policies = (("oracle", 1.0), ("impatient", 1.0), ("overscan", 1.0), ("random", 1.0))
    write_sft_data(data, tmp_path, BRIEF, mix=Mix(seed=3, policies=policies, looks=3))
    train = pd.read_parquet(tmp_path / "train.parquet")
    assert set(train["policy"]) == {"oracle", "impatient", "overscan", "random"}
    assert len(set(train[train["kind"] == "look"]["policy"])) > 1  # the mix plays the looks too
    rows = {(e["video_id"], e["qid"]): e for e in pd.read_parquet(data / "train.parquet")["extra_info"]}
    for _, row in train.iterrows():
        info = rows[(row["video_id"], row["qid"])]
        answer_text = info["options"][int(info["answer_index"])]
        shown, seen = [], False
        for message in row["messages"]:
            if message["role"] == "user":
                shown += [float(t) for t in re.findall(r"([0-9.]+) s: <image>", message["content"])]
                seen = seen or any(inside(t, info["spans"]) for t in shown)
                continue
            thinking = message["content"].split("</think>")[0]
            if not seen:  # never the hidden answer: before the evidence it does not know it
                assert answer_text not in thinking, (row["policy"], thinking)
            assert shown  # every reply comes after frames
            if "guess" in thinking:
                assert not seen or "must answer" not in thinking
    early = train["messages"].map(lambda m: any("I answer now without" in t["content"] for t in m))
    assert early.any() and set(train[early]["policy"]) == {"impatient"}
    assert set(train[early]["kind"]) == {"search", "look"}


def test_a_mix_must_name_known_players_with_weights():
    with pytest.raises(ValueError, match="impatient"):
        Mix(policies=(("oracel", 1.0),))
    with pytest.raises(ValueError, match="all be 0"):
        Mix(policies=(("oracle", 0.0),))


def test_zoom_trajectories_zoom_into_the_evidence_then_answer(data, tmp_path):
    from sparse_video_r1.agent.protocol import Zoom

    zoom = EpisodeConfig(
        mode="zoom", wording="brief", overview_frames=12, overview_pixels=3136, zoom_frames=4
    )
    write_sft_data(data, tmp_path, zoom, mix=Mix(looks=2))  # looks are a frame-request lesson: none here
    train = pd.read_parquet(tmp_path / "train.parquet")
    assert len(train) == 9  # one search a row, no looks
    spans = {
        (e["video_id"], e["qid"]): e["spans"] for e in pd.read_parquet(data / "train.parquet")["extra_info"]
    }
    for _, row in train.iterrows():
        messages = list(row["messages"])
        replies = [
            parse_reply(m["content"], actions=("answer", "zoom"))
            for m in messages
            if m["role"] == "assistant"
        ]
        assert [type(r) for r in replies] == [Zoom, Answer]
        (start, end), *_ = spans[(row["video_id"], row["qid"])]
        assert replies[0].start < end and start < replies[0].end and replies[0].end - replies[0].start >= 1.8
        assert messages[0]["content"].count(IMAGE) == 12 and len(row["images"]) <= 12 + 4
    assert all(parse_reply(list(m)[-1]["content"]) == Answer("ABCDE"[idx]) for m, idx in zip(
        train["messages"], _answers(data, train), strict=True))  # fmt: skip


def _answers(data: Path, rows: pd.DataFrame) -> list[int]:
    table = pd.read_parquet(data / "train.parquet")
    truth = {(e["video_id"], e["qid"]): e["answer_index"] for e in table["extra_info"]}
    return [truth[(v, q)] for v, q in zip(rows["video_id"], rows["qid"], strict=True)]


def test_verls_sft_dataset_trains_the_assistant_turns_only(data, tmp_path, tiny_model_dir):
    from omegaconf import OmegaConf
    from transformers import AutoProcessor
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    write_sft_data(data, tmp_path, BRIEF)
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    config = OmegaConf.create(
        {"messages_key": "messages", "image_key": "images", "max_length": 4096, "pad_mode": "no_padding",
         "truncation": "error", "enable_thinking_default": None}
    )  # fmt: skip
    dataset = MultiTurnSFTDataset(str(tmp_path / "train.parquet"), processor.tokenizer, config, processor)
    table = pd.read_parquet(tmp_path / "train.parquet")
    longest = max(range(len(table)), key=lambda i: len(table.iloc[i]["messages"]))
    item = dataset[longest]
    ids, mask = item["input_ids"], item["loss_mask"].bool()
    trained = processor.tokenizer.decode(ids[mask])
    replies = [m["content"] for m in table.iloc[longest]["messages"] if m["role"] == "assistant"]
    assert trained.replace("<|im_end|>\n", "") == "".join(replies)
    assert "Frames:" not in trained and "<|image_pad|>" not in trained
    pads = int((ids == processor.image_token_id).sum())
    assert pads == int(item["multi_modal_inputs"]["image_grid_thw"].prod(dim=1).sum()) // 4


def test_the_longest_row_is_counted_as_verls_sft_dataset_counts_it_and_refused_before_training(
    data, tmp_path, tiny_model_dir
):
    """Zoom rows of long videos passed max_length 8192, and verl's dataset stopped SFT at the first of them."""
    from omegaconf import OmegaConf
    from transformers import AutoProcessor
    from verl.utils.dataset.multiturn_sft_dataset import MultiTurnSFTDataset

    from sparse_video_r1.training.sft_launch import length_verdict
    from sparse_video_r1.training.sft_lengths import longest_row

    zoom = EpisodeConfig(
        mode="zoom", wording="brief", overview_frames=12, overview_pixels=3136, zoom_frames=4
    )
    write_sft_data(data, tmp_path, zoom)
    path = tmp_path / "train.parquet"
    longest = longest_row([path], "messages", "images", str(tiny_model_dir))
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    config = OmegaConf.create(
        {"messages_key": "messages", "image_key": "images", "max_length": 8192, "pad_mode": "no_padding",
         "truncation": "error", "enable_thinking_default": None}
    )  # fmt: skip
    dataset = MultiTurnSFTDataset(str(path), processor.tokenizer, config, processor)
    row = int(longest.where.split()[-1])
    assert longest.exact and abs(longest.tokens - len(dataset[row]["input_ids"])) <= 8
    assert all(len(dataset[i]["input_ids"]) <= longest.tokens + 8 for i in range(len(dataset)))
    run = OmegaConf.create({"data": {"messages_key": "messages", "image_key": "images", "max_length": 256},
                            "model": {"path": str(tiny_model_dir)}})  # fmt: skip
    verdict = length_verdict([path], run)
    assert verdict.status == "fail" and f"{longest.tokens:,} tokens" in verdict.detail
    assert f"data.max_length={-(-longest.tokens // 1024) * 1024}" in verdict.detail
    run.data.max_length = longest.tokens
    assert length_verdict([path], run).status == "ok"


def test_a_teacher_writes_the_thinking_and_a_wrong_answer_is_dropped(data, tmp_path):
    table = pd.read_parquet(data / "train.parquet")
    control = table[table["extra_info"].map(lambda e: e["type"]) == "background"]
    truths = ["ABCDE"[e["answer_index"]] for e in control["extra_info"]]
    control.to_parquet(tmp_path / "train.parquet")  # the control question: the opening answers it
    wrong = next(letter for letter in "ABCDE" if letter != truths[1])
    script = [f"<think>The teacher sees it.</think><answer>{truths[0]}</answer>",
              f"<think>The teacher is wrong.</think><answer>{wrong}</answer>",
              f"<think>The teacher sees it again.</think><answer>{truths[2]}</answer>"]  # fmt: skip
    with ChatServer(script=script) as server:
        rewrite = teacher_rewriter(server.base_url, "teacher", attempts=1)
        written = write_sft_data(tmp_path, tmp_path / "out", BRIEF, rewrite)
        assert [r.images for r in server.requests] == [5, 5, 5]  # the teacher sees the frames
    assert written["train"] == 2
    replies = [
        list(m)[-1]["content"] for m in pd.read_parquet(tmp_path / "out" / "train.parquet")["messages"]
    ]
    assert replies[0].startswith("<think>The teacher sees it.</think>")
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv")
    assert skipped["reason"].str.contains("teacher's answer was wrong").sum() == 1
