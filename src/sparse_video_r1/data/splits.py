"""From questions to verl's training files: one row per question, videos checked, skips listed, a summary.

Every dataset (NExT-QA, NExT-GQA, the synthetic benchmark) reads its own files into `Question` records and
hands them to `write_splits`, which keeps the rows whose video decodes, draws a reproducible sample,
and writes `OUT/<split>.parquet` in verl's schema, `OUT/skipped.csv` and a summary.
"""

from __future__ import annotations

import csv
import os
import random
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from sparse_video_r1.agent.episode import Question as EpisodeQuestion
from sparse_video_r1.agent.frame_requests import FrameRequestEpisode
from sparse_video_r1.agent.protocol import OPTION_LETTERS
from sparse_video_r1.data.manifest import Manifest, VideoEntry
from sparse_video_r1.video import VideoError
from sparse_video_r1.video.timestamps import FrameGrid
from sparse_video_r1.video.writer import cut_clip

AGENT_NAME = "svr1_episode"  # the agent loop registered in agent/agent_loop.yaml (old rows: frame_request)


class DatasetError(ValueError):
    """Input that cannot be read as the dataset it claims to be; the message names the file and line."""


@dataclass(frozen=True)
class Question:
    """One multiple-choice question about one video, as read from a dataset's files."""

    video_id: str
    qid: str
    text: str
    options: tuple[str, ...]
    answer: int  # index into options
    type: str
    video: Path | None  # None when the dataset's video map does not know the video
    source: str  # "file:line", for skips and errors
    spans: tuple[tuple[float, float], ...] = ()  # evidence intervals in seconds (NExT-GQA, synthetic)
    duration_group: str = ""  # the benchmark's own duration bucket, for its official scores (Video-MME, ...)
    skip: str = ""  # why the row cannot be used, known as it is read (more options than letters, ...)
    clip: tuple[float, float] | None = (
        None  # the question asks about these seconds of `video` (cut on writing)
    )


def verl_row(question: Question, video: VideoEntry, split: str, index: int, data_source: str) -> dict:
    """A row of verl's RL dataset; `extra_info` carries what the agent loop and the reward read."""
    grid = FrameGrid(video.duration, video.fps, video.num_frames)
    prompt = FrameRequestEpisode(EpisodeQuestion(question.text, question.options), grid).prompt_text()
    return {
        "data_source": data_source,
        "agent_name": AGENT_NAME,
        "prompt": [{"role": "user", "content": prompt}],
        "reward_model": {"style": "rule", "ground_truth": OPTION_LETTERS[question.answer]},
        "extra_info": {
            "index": index,
            "split": split,
            "video_id": question.video_id,
            "qid": question.qid,
            "type": question.type,
            "duration_group": question.duration_group,
            "question": question.text,
            "options": list(question.options),
            "answer_index": question.answer,
            "video": str(Path(video.path).resolve()),
            "duration": video.duration,
            "fps": video.fps,
            "num_frames": video.num_frames,
            "width": video.width,
            "height": video.height,
            "spans": [list(span) for span in question.spans],
        },
    }


@dataclass
class SplitReport:
    rows: int
    videos: int
    types: Counter
    skipped: int
    reasons: Counter  # why the skipped questions were skipped, by reason


def write_splits(
    splits: dict[str, list[Question]],
    out_dir: Path,
    *,
    data_source: str,
    samples: dict[str, int | None],
    seed: int,
    manifest: Manifest,
    odd_options: bool = False,
) -> dict[str, SplitReport]:
    """Write each split's parquet (a seeded sample of `samples[split]` rows when given), skipped.csv,
    and return what was written. Rows whose video is missing or undecodable are skipped, not dropped; so
    are questions with empty or repeated options, unless `odd_options` (a benchmark whose official scorer
    counts them keeps them, to score over the same questions)."""
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    splits = {split: [_cut(q, out_dir / "clips") for q in questions] for split, questions in splits.items()}
    manifest.probe_all([q.video for qs in splits.values() for q in qs if q.video is not None and not q.skip])
    reports, skipped = {}, []
    for split, questions in splits.items():
        good, first_seen = [], {}
        for question in questions:
            reason = _unusable(question, manifest, first_seen, odd_options)
            if reason:
                skipped.append(
                    {
                        "split": split,
                        "source": question.source,
                        "video_id": question.video_id,
                        "qid": question.qid,
                        "video": str(question.video or ""),
                        "reason": reason,
                    }
                )
            else:
                good.append(question)
        wanted = samples.get(split)
        if wanted is not None and wanted < len(good):
            good = random.Random(f"{seed}:{split}").sample(good, wanted)
        good.sort(key=lambda q: (q.video_id, q.qid))
        rows = [verl_row(q, manifest[q.video], split, i, data_source) for i, q in enumerate(good)]
        _atomic_parquet(pd.DataFrame(rows), out_dir / f"{split}.parquet")
        reports[split] = SplitReport(
            rows=len(rows),
            videos=len({q.video_id for q in good}),
            types=Counter(q.type for q in good),
            skipped=sum(1 for s in skipped if s["split"] == split),
            reasons=Counter(s["reason"] for s in skipped if s["split"] == split),
        )
    _write_skipped(skipped, out_dir / "skipped.csv")
    return reports


def _cut(question: Question, folder: Path) -> Question:
    """A question about a clip of its video, asked about that clip: cut once into OUT/clips/ (reused by a
    later prepare), or skipped with the reason when it cannot be cut."""
    if question.clip is None or question.skip or question.video is None or not question.video.is_file():
        return question
    start, end = question.clip
    target = folder / f"{question.video.stem}_{start:g}_{end:g}.mp4"
    if not target.is_file():
        try:
            cut_clip(question.video, start, end, target)
        except (VideoError, ValueError) as error:
            return replace(
                question, skip=f"its clip {start:g}-{end:g} s cannot be cut from {question.video}: {error}"
            )
    return replace(question, video=target, clip=None)


def _unusable(
    question: Question, manifest: Manifest, first_seen: dict[tuple[str, str], str], odd_options: bool
) -> str:
    """Why a question cannot become a row, or "" (`first_seen`: the source of each (video, qid) so far)."""
    key = (question.video_id, question.qid)
    if key in first_seen:
        return f"duplicate of video {key[0]} question {key[1]} at {first_seen[key]}"
    first_seen[key] = question.source
    if question.skip:
        return question.skip
    return (not odd_options and _odd_options(question)) or _video_problem(question, manifest)


def _odd_options(question: Question) -> str:
    empty = [OPTION_LETTERS[i] for i, option in enumerate(question.options) if not option.strip()]
    if empty:
        return f"option {', '.join(empty)} is empty"
    same = [
        (OPTION_LETTERS[i], OPTION_LETTERS[j])
        for i, a in enumerate(question.options)
        for j, b in enumerate(question.options[i + 1 :], i + 1)
        if a.strip().casefold() == b.strip().casefold()
    ]
    if same:
        return "options " + ", ".join(f"{a} and {b}" for a, b in same) + " are the same"
    return ""


def _video_problem(question: Question, manifest: Manifest) -> str:
    if question.video is None:
        return "video id not in the dataset's video map"
    entry = manifest[question.video]
    return "" if entry.ok else entry.reason


def _atomic_parquet(frame, path: Path) -> None:
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, index=False)
    os.replace(partial, path)


def _write_skipped(skipped: list[dict], path: Path) -> None:
    columns = ["split", "source", "video_id", "qid", "video", "reason"]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(skipped)


def summary_table(reports: dict[str, SplitReport], out_dir: Path) -> str:
    """A markdown table of rows, videos, question types and skipped rows per split."""
    types = sorted({t for r in reports.values() for t in r.types})
    lines = [
        "| split | rows | videos | skipped | " + " | ".join(types) + " |",
        "| --- | --- | --- | --- | " + " | ".join("---" for _ in types) + " |",
    ]
    for split, r in reports.items():
        counts = " | ".join(str(r.types.get(t, 0)) for t in types)
        lines.append(f"| {split} | {r.rows} | {r.videos} | {r.skipped} | {counts} |")
    lines.append(f"\nwritten to {out_dir}: " + ", ".join(f"{s}.parquet" for s in reports) + ", skipped.csv")
    return "\n".join(lines)
