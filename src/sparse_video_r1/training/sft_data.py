"""`svr1 sft-data`: multi-turn SFT trajectories in our protocol, played by the oracle in our own episodes.

For each prepared row with evidence spans (the synthetic benchmark, NExT-GQA), the episode code renders
the turns exactly as training and evaluation do (same words, same frames at the same pixel budget), and
the oracle (`agent/oracle.py`) replies: a scan in time order until the evidence is on screen, then the
answer. The thinking comes from templates, or, with a teacher (any OpenAI-compatible server), is written
by the teacher given the true span and answer and kept only when the teacher's own answer is right.

Written in the format verl's SFT trainer reads for multi-turn chats with images (`MultiTurnSFTDataset`):
a `messages` column whose user turns mark each frame with `<image>`, and an `images` column with the
frames as PNG bytes in order. Every assistant turn is a training target; every user turn is masked.
"""

from __future__ import annotations

import io
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from sparse_video_r1.agent.episode import EpisodeConfig, Question
from sparse_video_r1.agent.oracle import GENERIC, ORACLE, POLICIES, NoEvidence, Policy, oracle_reply
from sparse_video_r1.agent.protocol import Answer, parse_reply
from sparse_video_r1.agent.runner import EpisodeRunner
from sparse_video_r1.data.synthetic import THINKING
from sparse_video_r1.video import FrameGrid, VideoError, open_video

IMAGE = "<image>"  # where verl's MultiTurnSFTDataset puts each frame of a turn
Rewriter = Callable[[list[dict], list[Image.Image], str, dict], str | None]


@dataclass
class Trajectory:
    messages: list[dict]
    images: list[Image.Image]


def play(
    row: dict,
    config: EpisodeConfig,
    rewrite: Rewriter | None = None,
    rng: random.Random | None = None,
    first: list[float] | None = None,
    policy: Policy = ORACLE,
) -> Trajectory:
    """One row's trajectory: a player's replies in our episode, through the runner training and evaluation
    drive (raises NoEvidence, VideoError). With `rng`, a reply that must answer without evidence is a guess,
    and the policy draws from it (see oracle_reply); `first` sets the first frames."""
    info = row["extra_info"]
    question = Question(info["question"], tuple(info["options"]))
    runner = EpisodeRunner.start(
        question, open_video(info["video"]), config, duration=info["duration"],
        seed=int(info.get("index", 0)), mode=info.get("mode"),
    )  # fmt: skip
    thinking = THINKING.get(info.get("type"), GENERIC)
    turn = runner.opening(first)
    messages, images = [{"role": "user", "content": turn.text(IMAGE)}], list(turn.images)
    while True:
        reply = oracle_reply(runner.episode, info["spans"], int(info["answer_index"]), thinking, rng, policy)
        if rewrite is not None:
            reply = rewrite(messages, images, reply, row)
            if reply is None:
                raise NoEvidence("the teacher's answer was wrong")
        messages.append({"role": "assistant", "content": reply})
        if first is not None:  # a look ends with its first reply
            return Trajectory(messages, images)
        turn = runner.step(reply)
        if turn is None:
            if runner.record.end != "answer":
                raise NoEvidence(f"the episode ended with {runner.record.end!r}")
            return Trajectory(messages, images)
        messages.append({"role": "user", "content": turn.text(IMAGE)})
        images += turn.images


def _png(image: Image.Image) -> dict:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"bytes": buffer.getvalue()}


@dataclass(frozen=True)
class Mix:
    """What trajectories a row becomes (all drawn with `seed`).

    `policies`: who plays a row's search episode and each of its looks, by weight (agent/oracle.py
    `POLICIES`): the oracle alone by default; a mix of weaker players gives RL behaviours to choose among.
    Zoom episodes and one-round episodes are the oracle's.
    `one_round`: the share of rows whose episode has one round instead: the oracle answers from the first
    frames, guessing when they miss the evidence, so the model can be evaluated with requests disabled
    (the same weights on 5 uniform frames). `looks`: short first turns per row with brief evidence: the
    first frames at random times, half of the time one inside the evidence, and a player's reply to them
    (the answer, a guess, or its first request). These are cheap lessons in seeing and in deciding to answer or ask
    (a few dozen tokens each) beside the long search episodes, whose decisions are a handful of their
    tokens."""

    one_round: float = 0.0
    looks: int = 0
    seed: int = 0
    policies: tuple[tuple[str, float], ...] = (("oracle", 1.0),)

    def __post_init__(self) -> None:
        unknown = [name for name, _ in self.policies if name not in POLICIES]
        if unknown or not self.policies or any(weight < 0 for _, weight in self.policies):
            raise ValueError(
                f"policies {dict(self.policies)}: give weights >= 0 to some of {', '.join(POLICIES)}"
            )
        if sum(weight for _, weight in self.policies) <= 0:
            raise ValueError(f"policies {dict(self.policies)}: the weights must not all be 0")


def parse_policies(text: str) -> tuple[tuple[str, float], ...]:
    """ "oracle=0.4,impatient=0.6" as (("oracle", 0.4), ("impatient", 0.6)), checked as a Mix checks them."""
    try:
        pairs = tuple(
            (name.strip(), float(weight)) for name, weight in (i.split("=") for i in text.split(","))
        )
    except ValueError:
        raise ValueError(f"{text!r}: expected NAME=WEIGHT,... like oracle=0.4,impatient=0.6") from None
    Mix(policies=pairs)
    return pairs


def _episodes(row: dict, config: EpisodeConfig, mix: Mix, rng: random.Random):
    """(kind, policy name, config, first frames, rng) of each trajectory a row becomes."""
    if rng.random() < mix.one_round:
        yield "one round", "oracle", replace(config, max_rounds=1), None, rng
    elif config.mode == "zoom":
        yield "search", "oracle", config, None, None
    else:
        name = _player(mix, rng)
        yield "search", name, config, None, rng if POLICIES[name].draws else None
    info = row["extra_info"]
    brief = [(s, e) for s, e in info["spans"] if e - s < 0.5 * info["duration"]]
    if not brief or config.mode == "zoom":  # a look is a frame-request lesson
        return
    grid = FrameGrid.of(info["duration"], info["fps"], info.get("num_frames"))
    count = min(config.first_frames, config.max_frames)
    for _ in range(mix.looks):
        times = [round(rng.uniform(0, grid.duration), 2) for _ in range(count)]
        if rng.random() < 0.5:
            start, end = rng.choice(brief)
            inside = range(math.ceil(start * grid.fps - 1e-6), math.ceil(end * grid.fps - 1e-6))
            frame = rng.choice(inside) if inside else grid.frame_at(start)
            times[rng.randrange(count)] = round((frame + 0.5) / grid.fps, 2)
        name = _player(mix, rng)
        yield "look", name, config, sorted(times), rng if POLICIES[name].draws else None


def _player(mix: Mix, rng: random.Random) -> str:
    names, weights = zip(*mix.policies, strict=True)
    return rng.choices(names, weights)[0] if len(names) > 1 else names[0]


def write_sft_data(
    data_dir: Path, out_dir: Path, config: EpisodeConfig, rewrite: Rewriter | None = None, mix: Mix = Mix()
) -> dict[str, int]:
    """OUT/{train,val}.parquet from DATA/{train,val}.parquet, and OUT/skipped.csv; rows written per split."""
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    written, skipped = {}, []
    for split in ("train", "val"):
        source = data_dir / f"{split}.parquet"
        if not source.is_file():
            continue
        rows, rng = [], random.Random(f"{mix.seed}:{split}")
        for row in tqdm(pd.read_parquet(source).to_dict("records"), desc=f"sft-data {split}", unit="row"):
            info = row["extra_info"]
            where = {"split": split, "video_id": info["video_id"], "qid": info["qid"]}
            if not len(info.get("spans", [])):
                skipped.append({**where, "reason": "no evidence spans"})
                continue
            for kind, policy, episode_config, first, draws in _episodes(row, config, mix, rng):
                try:
                    trajectory = play(row, episode_config, rewrite, draws, first, POLICIES[policy])
                except (NoEvidence, VideoError, ValueError) as error:
                    skipped.append({**where, "reason": f"{kind}: {error}"})
                    continue
                rows.append(
                    {
                        "messages": trajectory.messages,
                        "images": [_png(image) for image in trajectory.images],
                        "data_source": row["data_source"],
                        **where,
                        "type": info["type"],
                        "kind": kind,
                        "policy": policy,
                        "turns": len(trajectory.messages) // 2,
                    }
                )
        pd.DataFrame(rows).to_parquet(out_dir / f"{split}.parquet", index=False)
        written[split] = len(rows)
    pd.DataFrame(skipped, columns=["split", "video_id", "qid", "reason"]).to_csv(
        out_dir / "skipped.csv", index=False
    )
    return written


def teacher_rewriter(base_url: str, model: str, **chat_options) -> Rewriter:
    """Thinking written by a teacher model that is told the evidence span and the answer. An answer turn
    is kept only when the teacher's own answer is the right one; a request turn keeps the oracle's times."""
    from sparse_video_r1.evaluation.openai_chat import OpenAIChat

    chat = OpenAIChat(base_url, model, **chat_options)

    def rewrite(messages: list[dict], images: list[Image.Image], reply: str, row: dict) -> str | None:
        oracle = parse_reply(reply)
        action = reply[reply.index("</think>") + len("</think>") :]
        spans = ", ".join(f"{start:g}-{end:g} s" for start, end in row["extra_info"]["spans"])
        if isinstance(oracle, Answer):
            ask = (
                f"(You are writing training data.) The evidence is at {spans} and the answer is {oracle.letter}. "
                "Reply as <think>...</think><answer>X</answer>, reasoning in one or two sentences from "
                "what the frames show."
            )
        else:
            ask = (
                f"(You are writing training data.) The evidence is at {spans}, not yet on screen. The next "
                f"action is {action}. Write one or two sentences of reasoning that lead to it from what "
                "the frames so far show. Reply with the reasoning only."
            )
        text = chat([*_chat_messages(messages, images), {"role": "user", "content": ask}]).strip()
        if isinstance(oracle, Answer):
            return text if parse_reply(text) == oracle else None
        thought = text.replace("<think>", "").replace("</think>", "").strip()
        return f"<think>{thought}</think>{action}" if thought else reply

    return rewrite


def _chat_messages(messages: list[dict], images: list[Image.Image]) -> list[dict]:
    """Our SFT messages (text with <image> marks) as chat messages with image parts, for a teacher."""
    remaining = iter(images)
    converted = []
    for message in messages:
        parts = []
        for i, piece in enumerate(message["content"].split(IMAGE)):
            if i:
                parts.append({"type": "image", "image": next(remaining)})
            if piece:
                parts.append({"type": "text", "text": piece})
        converted.append({"role": message["role"], "content": parts})
    return converted


def sft_data_command(
    data_dir: str, out_dir: str, config: EpisodeConfig, teacher: dict | None, mix: Mix
) -> int:
    began = time.perf_counter()
    rewrite = teacher_rewriter(**teacher) if teacher else None
    written = write_sft_data(Path(data_dir), Path(out_dir), config, rewrite, mix)
    counts = ", ".join(f"{split} {n}" for split, n in written.items())
    print(
        f"trajectories written: {counts} ({time.perf_counter() - began:.1f} s); skips in {out_dir}/skipped.csv"
    )
    return 0
