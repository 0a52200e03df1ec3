"""LongVideoBench's validation set from its official release on the Hugging Face hub,
longvideobench/LongVideoBench.

The download, unpacked (videos.tar.part.* joined and untarred into videos/):

    RAW/lvb_val.json             a JSON list of questions:
        [{"video_id": "86CxyhFV9MI", "id": "86CxyhFV9MI_0", "question": "...",
          "candidates": ["...", ...] (2 to 5), "correct_choice": 1, "duration_group": 15|60|600|3600,
          "question_category": "S2E", "duration": 8.5, "video_path": "86CxyhFV9MI.mp4",
          "subtitle_path": "86CxyhFV9MI_en.json", ...}, ...]
    RAW/videos/86CxyhFV9MI.mp4

`type` is the question category, `duration_group` the duration group ("15", "60", "600", "3600").
Subtitles are not read. lvb_test_wo_gt.json, the test set, has no answers and is not read.
"""

from __future__ import annotations

from pathlib import Path

from sparse_video_r1.data.release import Entry, Skip, question, read_json_list, skipped
from sparse_video_r1.data.splits import DatasetError, Question

SPLIT = "val"
QUESTIONS = "lvb_val.json"


def read(raw_dir: Path) -> tuple[list[Question], str]:
    """Every question of lvb_val.json, and a line saying what was read."""
    path = raw_dir / QUESTIONS
    if not path.is_file():
        raise DatasetError(f"no LongVideoBench questions: expected {path}")
    questions = []
    for entry in read_json_list(path):
        options = entry.strings("candidates")
        video_id, qid = entry.get("video_id", str), str(entry.get("id", (str, int)))
        video = raw_dir / "videos" / entry.get("video_path", str)
        try:
            answer = _choice(entry, options)
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
                type=entry.get("question_category", str),
                duration_group=str(entry.get("duration_group", (int, str))),
                video=video,
            )
        )
    return questions, f"read {len(questions)} questions from {path}"


def _choice(entry: Entry, options: tuple[str, ...]) -> int:
    choice = entry.get("correct_choice", int)
    if not 0 <= choice < len(options):
        raise Skip(f"field 'correct_choice' is {choice}, not an index of the {len(options)} candidates")
    return choice
