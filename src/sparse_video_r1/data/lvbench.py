"""LVBench from its official release (github zai-org/LVBench, data/video_info.meta.jsonl).

The download, with the videos fetched by the repository's script:

    RAW/video_info.meta.jsonl     (or RAW/data/video_info.meta.jsonl) one video a line:
        {"key": "<youtube id>", "type": "<video type>", "video_info": {"duration_minutes": 65.3, ...},
         "qa": [{"uid": "...", "question": "What year ...?\\n(A) 2013\\n(B) 2014\\n(C) 2015\\n(D) 2016",
                 "answer": "B", "question_type": ["temporal grounding", "reasoning"],
                 "time_reference": "00:15-00:19"}, ...]}
    RAW/videos/<key>.mp4

The options are written inside the question's text and split out. A question can belong to several
question types (the official score counts it under each): `type` is them joined with "; ". LVBench has no
duration buckets, so `duration_group` stays empty.
"""

from __future__ import annotations

from pathlib import Path

from sparse_video_r1.data.options import split_options
from sparse_video_r1.data.release import Entry, letter_index, question, read_jsonl
from sparse_video_r1.data.splits import DatasetError, Question

SPLIT = "test"
META = "video_info.meta.jsonl"


def read(raw_dir: Path) -> tuple[list[Question], str]:
    """Every question of the meta file, and a line saying what was read."""
    tried = [raw_dir / META, raw_dir / "data" / META]
    path = next((p for p in tried if p.is_file()), None)
    if path is None:
        raise DatasetError("no LVBench questions: expected " + " or ".join(str(p) for p in tried))
    questions = []
    for video in read_jsonl(path):
        key = video.get("key", str)
        for index, record in enumerate(video.get("qa", list)):
            if not isinstance(record, dict):
                raise video.error(f"qa[{index}] must be an object, not {type(record).__name__}")
            questions.append(_question(video.nested("qa", index, record), key, raw_dir / "videos"))
    videos = len({q.video_id for q in questions})
    return questions, f"read {len(questions)} questions about {videos} videos from {path}"


def _question(entry: Entry, key: str, video_root: Path) -> Question:
    try:
        text, options = split_options(entry.get("question", str), max_options=None)
    except ValueError as error:
        raise entry.error(f"field 'question' holds no options A, B, ... ({error})") from None
    kinds = entry.record.get("question_type")
    kinds = [kinds] if isinstance(kinds, str) else entry.strings("question_type")
    return question(
        entry,
        video_id=key,
        qid=str(entry.get("uid", (str, int))),
        text=text,
        options=options,
        answer=letter_index(entry, entry.get("answer", str), options),
        type="; ".join(kind.strip() for kind in kinds),
        video=video_root / f"{key}.mp4",
    )
