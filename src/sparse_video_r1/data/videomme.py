"""Video-MME (test split) from its official release on the Hugging Face hub, lmms-lab/Video-MME.

The download, unpacked (the videos_chunked_*.zip archives unzip into data/):

    RAW/videomme/test-00000-of-00001.parquet   one row per question:
        video_id "001", duration "short"|"medium"|"long", domain, sub_category, url,
        videoID "fFjv93ACGo8", question_id "001-1", task_type, question,
        options ["A. text", "B. text", "C. text", "D. text"], answer "A".."D"
    RAW/data/fFjv93ACGo8.mp4                   the video, named by its YouTube id (a few are .MP4 or .mkv)

Each question keeps its task type as `type` and its duration bucket as `duration_group`; the options lose
their "A. " prefixes. Subtitles (subtitle.zip) are not read.
"""

from __future__ import annotations

from pathlib import Path

from sparse_video_r1.data.release import (
    Skip,
    first_existing,
    letter_index,
    question,
    read_parquet_rows,
    skipped,
    unlettered,
)
from sparse_video_r1.data.splits import DatasetError, Question

SPLIT = "test"
EXTENSIONS = ("mp4", "MP4", "mkv")
COLUMNS = ("videoID", "duration", "question_id", "task_type", "question", "options", "answer")


def read(raw_dir: Path) -> tuple[list[Question], str]:
    """Every question of RAW/videomme/test-*.parquet, and a line saying what was read."""
    files = sorted((raw_dir / "videomme").glob("test-*.parquet"))
    if not files:
        raise DatasetError(
            f"no Video-MME questions: expected {raw_dir / 'videomme' / 'test-00000-of-00001.parquet'}"
        )
    questions = []
    for path in files:
        for entry in read_parquet_rows(path, COLUMNS):
            options = unlettered(entry.strings("options"))
            video_id, qid = entry.get("videoID", str), entry.get("question_id", str)
            video = first_existing([raw_dir / "data" / f"{video_id}.{ext}" for ext in EXTENSIONS])
            try:
                answer = letter_index(entry.get("answer", str), options)
            except Skip as reason:
                questions.append(skipped(entry, reason, video_id=video_id, qid=qid, video=video))
                continue
            questions.append(
                question(
                    entry,
                    video_id=video_id,
                    qid=qid,
                    text=entry.get("question", str),
                    options=options,
                    answer=answer,
                    type=entry.get("task_type", str),
                    duration_group=entry.get("duration", str),
                    video=video,
                )
            )
    return questions, f"read {len(questions)} questions from {', '.join(str(p) for p in files)}"
