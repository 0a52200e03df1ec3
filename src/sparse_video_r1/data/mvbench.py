"""MVBench from its official release on the Hugging Face hub, OpenGVLab/MVBench.

The download, unpacked (each video/*.zip into video/):

    RAW/json/action_sequence.json        a JSON list per task (20 tasks):
        [{"video": "ZS9XR.mp4", "question": "...", "candidates": ["...", ...],
          "answer": "<the right candidate's text>", "start": 11.1, "end": 19.6}, ...]
    RAW/video/star/Charades_v1_480/ZS9XR.mp4    under the folder MVBench's own table gives each task
    RAW/video/tvqa/frames_fps3_hq/<item>/       episodic_reasoning: a folder of frames per item

A task whose JSON is absent is not read; the line returned says which were found. Episodic reasoning items
are folders of frames, not video files: they are listed in skipped.csv. The whole video is used: the
"start"/"end" some tasks give (a clip of a longer video) are not applied. `type` is the task's name.
"""

from __future__ import annotations

from pathlib import Path

from sparse_video_r1.data.release import question, read_json_list, text_index
from sparse_video_r1.data.splits import DatasetError, Question

SPLIT = "test"
CHARADES, CLEVRER, PERCEPTION = "star/Charades_v1_480", "clevrer/video_validation", "perception/videos"
TASKS = {  # task -> folder of its videos under RAW/video/
    "action_sequence": CHARADES,
    "action_prediction": CHARADES,
    "action_antonym": "ssv2_video",
    "fine_grained_action": "Moments_in_Time_Raw/videos",
    "unexpected_action": "FunQA_test/test",
    "object_existence": CLEVRER,
    "object_interaction": CHARADES,
    "object_shuffle": PERCEPTION,
    "moving_direction": CLEVRER,
    "action_localization": "sta/sta_video",
    "scene_transition": "scene_qa/video",
    "action_count": PERCEPTION,
    "moving_count": CLEVRER,
    "moving_attribute": CLEVRER,
    "state_change": PERCEPTION,
    "fine_grained_pose": "nturgbd",
    "character_order": PERCEPTION,
    "egocentric_navigation": "vlnqa",
    "episodic_reasoning": "tvqa/frames_fps3_hq",
    "counterfactual_inference": CLEVRER,
}
FRAME_FOLDERS = {"episodic_reasoning"}
FRAMES_SKIP = "a folder of frames, not a video file"


def read(raw_dir: Path) -> tuple[list[Question], str]:
    """Every question of the task files found in RAW/json/, and a line saying which were."""
    found = [task for task in TASKS if (raw_dir / "json" / f"{task}.json").is_file()]
    if not found:
        raise DatasetError(f"no MVBench questions: expected {raw_dir / 'json'}/<task>.json for its 20 tasks")
    questions = []
    for task in found:
        for index, entry in enumerate(read_json_list(raw_dir / "json" / f"{task}.json")):
            video = entry.get("video", str)
            options = entry.strings("candidates")
            questions.append(
                question(
                    entry,
                    video_id=video,
                    qid=f"{task}_{index}",
                    text=entry.get("question", str),
                    options=options,
                    answer=text_index(entry, entry.get("answer", str), options),
                    type=task,
                    video=raw_dir / "video" / TASKS[task] / video,
                    skip=FRAMES_SKIP if task in FRAME_FOLDERS else "",
                )
            )
    absent = [task for task in TASKS if task not in found]
    return questions, (
        f"read {len(questions)} questions from {len(found)} of MVBench's {len(TASKS)} tasks in "
        f"{raw_dir / 'json'}: {', '.join(found)}" + (f" (absent: {', '.join(absent)})" if absent else "")
    )
