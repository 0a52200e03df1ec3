"""MLVU's dev set (multiple choice) from its official release on the Hugging Face hub, MLVU/MVLU.

The download, unpacked:

    RAW/MLVU/json/1_plotQA.json          a JSON list per task:
        [{"video": "movie101_66.mp4", "duration": 246.0, "question": "...",
          "candidates": ["...", ...], "answer": "<the right candidate's text>", "question_type": "plotQA"},
         ...]
    RAW/MLVU/json/{2_needle,3_ego,4_count,5_order,6_anomaly_reco,7_topic_reasoning}.json
    RAW/MLVU/video/1_plotQA/movie101_66.mp4

Only the seven multiple-choice tasks are read: 8_sub_scene and 9_summary are open-ended (scored by a
judge model), so they have no options to choose from. A task file that is absent is not read; the line
returned says which were. `type` is the question type (else the task's name); the qid is
"<task>_<index in its file>"; MLVU has no duration buckets.
"""

from __future__ import annotations

from pathlib import Path

from sparse_video_r1.data.release import Skip, candidate_fields, question, read_json_list, skipped
from sparse_video_r1.data.splits import DatasetError, Question

SPLIT = "dev"
TASKS = ("1_plotQA", "2_needle", "3_ego", "4_count", "5_order", "6_anomaly_reco", "7_topic_reasoning")


def read(raw_dir: Path) -> tuple[list[Question], str]:
    """Every question of the multiple-choice task files found, and a line saying which were."""
    root = raw_dir / "MLVU"
    found = [task for task in TASKS if (root / "json" / f"{task}.json").is_file()]
    if not found:
        raise DatasetError(
            f"no MLVU questions: expected {root / 'json' / '1_plotQA.json'} and the other tasks"
        )
    questions = []
    for task in found:
        name = task.split("_", 1)[1]
        for index, entry in enumerate(read_json_list(root / "json" / f"{task}.json")):
            qid, video_id = f"{name}_{index}", entry.get("video", str)
            video = root / "video" / task / video_id
            try:
                fields = candidate_fields(
                    entry, last=True
                )  # as MLVU's scorer picks among repeated candidates
            except Skip as reason:
                questions.append(skipped(entry, reason, video_id=video_id, qid=qid, video=video))
                continue
            questions.append(
                question(
                    entry,
                    **fields,
                    qid=qid,
                    type=entry.get("question_type", str, default=name) or name,
                    video=video,
                )
            )
    missing = [task for task in TASKS if task not in found]
    return questions, (
        f"read {len(questions)} questions from {len(found)} of MLVU's {len(TASKS)} multiple-choice tasks in "
        f"{root / 'json'}" + (f" (absent: {', '.join(missing)})" if missing else "")
    )
