"""LVBench from either release a user downloads: the official repository with its download script, or the
copy on the Hugging Face hub that lmms-eval reads.

1. The official release (github zai-org/LVBench, formerly THUDM/LVBench), cloned as RAW:

       RAW/data/video_info.meta.jsonl   (or RAW/video_info.meta.jsonl) one video a line:
           {"key": "<youtube id>", "type": "<video type>", "video_info": {"duration_minutes": 65.3, ...},
            "qa": [{"uid": "...", "question": "What year ...?\\n(A) 2013\\n(B) 2014\\n(C) 2015\\n(D) 2016",
                    "answer": "B", "question_type": ["temporal grounding", "reasoning"],
                    "time_reference": "00:15-00:19"}, ...]}

   Its `scripts/download.sh` runs video2dataset in `scripts/` on the YouTube urls of the meta file
   (`https://www.youtube.com/watch?v=<key>`, in file order), which writes shards of numbered samples, not
   files named by key:

       RAW/scripts/videos/00000/00000000.mp4    a sample's video, when its download succeeded
       RAW/scripts/videos/00000/00000000.json   its sidecar: {"url": ..., "key": "00000000", "status":
                                                "success" | "failed_to_download" | ..., "error_message": ...}
       RAW/scripts/videos/00000.parquet         the shard's table of the same (url, key, status, ...)

   The videos are found through the sidecars (and the shard tables): the url names the YouTube id, the
   sample's key its file. A video whose download failed is skipped with video2dataset's error. Videos
   fetched another way may lie at RAW/videos/<key>.mp4.

2. lmms-lab/LVBench on the hub (what lmms-eval's `lvbench` task reads), downloaded as RAW: one question a
   row in RAW/data/train-*.parquet, the video at RAW/<video_path> once its video_chunks are unpacked; the
   options written inside `question` (or in an `options` column), `answer` a letter.

The options are split out of the question's text. A question can belong to several question types (the
official score counts it under each): `type` is them joined with "; ". LVBench has no duration buckets.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from sparse_video_r1.data.options import split_options
from sparse_video_r1.data.release import (
    Entry,
    Skip,
    letter_index,
    question,
    read_jsonl,
    read_parquet_rows,
    skipped,
    unlettered,
)
from sparse_video_r1.data.splits import DatasetError, Question

SPLIT = "test"
META = "video_info.meta.jsonl"
DOWNLOADS = ("scripts/videos", "videos")  # where video2dataset's shards (or <key>.mp4 files) may be
YOUTUBE_ID = re.compile(r"(?:[?&]v=|youtu\.be/)([\w-]{6,})")


def read(raw_dir: Path) -> tuple[list[Question], str]:
    """Every question of the release found in RAW, and a line saying what was read."""
    tried = [raw_dir / "data" / META, raw_dir / META]
    meta = next((p for p in tried if p.is_file()), None)
    if meta is not None:
        return _official(raw_dir, meta)
    tables = sorted((raw_dir / "data").glob("*.parquet")) or sorted(raw_dir.glob("*.parquet"))
    if tables:
        return _hub_copy(raw_dir, tables)
    raise DatasetError(
        "no LVBench questions: expected the official release's "
        + " or ".join(str(p) for p in tried)
        + f", or lmms-lab/LVBench's {raw_dir / 'data' / 'train-00000-of-00001.parquet'}"
    )


def _official(raw_dir: Path, meta: Path) -> tuple[list[Question], str]:
    downloads = downloaded_videos(raw_dir)
    questions = []
    for video in read_jsonl(meta):
        key = video.get("key", str)
        path, failure = downloads.get(key, (raw_dir / "videos" / f"{key}.mp4", ""))
        for index, record in enumerate(video.get("qa", list)):
            if not isinstance(record, dict):
                raise video.error(f"qa[{index}] must be an object, not {type(record).__name__}")
            entry = video.nested("qa", index, record)
            questions.append(_question(entry, key, str(entry.get("uid", (str, int))), path, failure))
    videos = len({q.video_id for q in questions})
    found = sum(1 for path, failure in downloads.values() if not failure)
    where = f"; {found} videos found through video2dataset's sidecars" if downloads else ""
    return questions, f"read {len(questions)} questions about {videos} videos from {meta}{where}"


def downloaded_videos(raw_dir: Path) -> dict[str, tuple[Path, str]]:
    """YouTube id -> (its video file, why it is absent or ""), from video2dataset's sidecars (every
    sample's JSON, and each shard's parquet table) in the folders the download script writes."""
    found: dict[str, tuple[Path, str]] = {}
    for folder in (raw_dir / d for d in DOWNLOADS):
        for table in sorted(folder.glob("*.parquet")):
            for record in _parquet_records(table):
                _add(found, record, folder / table.stem)
        for sidecar in sorted(folder.glob("*/*.json")):
            try:
                record = json.loads(sidecar.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise DatasetError(f"{sidecar}: not a readable video2dataset sidecar ({error})") from None
            if isinstance(record, dict):
                _add(found, record, sidecar.parent)
    return found


def _add(found: dict[str, tuple[Path, str]], record: dict, shard: Path) -> None:
    match = YOUTUBE_ID.search(str(record.get("url") or ""))
    if not match or not record.get("key"):
        return
    path = shard / f"{record['key']}.mp4"
    status = record.get("status") or "success"
    failure = "" if status == "success" else f"video2dataset: {status}: {record.get('error_message') or ''}"
    if not failure or match.group(1) not in found:  # a success wins over a failed try of the same video
        found[match.group(1)] = (path, failure.strip().rstrip(":"))


def _parquet_records(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except Exception as error:  # pyarrow raises several types for a file that is not parquet
        raise DatasetError(f"{path}: not a readable video2dataset shard table ({error})") from None


def _hub_copy(raw_dir: Path, tables: list[Path]) -> tuple[list[Question], str]:
    questions = []
    for table in tables:
        for entry in read_parquet_rows(table, ("video_path", "question", "answer"), optional=HUB_OPTIONAL):
            video_path = entry.get("video_path", str)
            key = entry.get("key", str, default="") or Path(video_path).stem
            uid = str(entry.get("uid", (str, int), default="") or entry.place.split("#")[-1])
            questions.append(_question(entry, key, uid, raw_dir / video_path, ""))
    videos = len({q.video_id for q in questions})
    return (
        questions,
        f"read {len(questions)} questions about {videos} videos from {', '.join(map(str, tables))}",
    )


HUB_OPTIONAL = ("key", "uid", "options", "question_type")


def _question(entry: Entry, key: str, uid: str, video: Path, failure: str) -> Question:
    try:
        text, options = _options(entry)
        answer = letter_index(entry.get("answer", str), options)
    except Skip as reason:
        return skipped(entry, reason, video_id=key, qid=uid, video=video)
    kinds = entry.record.get("question_type") or []
    kinds = [kinds] if isinstance(kinds, str) else [str(kind) for kind in kinds]
    return question(
        entry,
        video_id=key,
        qid=uid,
        text=text,
        options=options,
        answer=answer,
        type="; ".join(kind.strip() for kind in kinds),
        video=video,
        skip=failure,
    )


def _options(entry: Entry) -> tuple[str, tuple[str, ...]]:
    """The question's text and options: written inside the text ("(A) 2013" lines), or in an `options`
    column (the hub copy may give them apart), with or without their letters."""
    text = entry.get("question", str)
    listed = entry.record.get("options")
    try:
        if listed is not None and len(listed):
            return text, unlettered(tuple(str(option).strip() for option in listed))
        return split_options(text, max_options=None)
    except ValueError as error:
        raise Skip(f"field 'question' holds no options A, B, ... ({error})") from None
