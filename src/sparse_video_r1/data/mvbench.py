"""MVBench from its official release on the Hugging Face hub, OpenGVLab/MVBench.

The download, unpacked (each video/*.zip into video/):

    RAW/json/action_sequence.json        a JSON list per task (20 tasks):
        [{"video": "ZS9XR.mp4", "question": "...", "candidates": ["...", ...],
          "answer": "<the right candidate's text>", "start": 11.1, "end": 19.6}, ...]
    RAW/video/star/Charades_v1_480/ZS9XR.mp4    under the folder MVBench's own table gives each task
    RAW/video/tvqa/frames_fps3_hq/<item>/       episodic_reasoning: a folder of frames per item

A task whose JSON is absent is not read; the line returned says which were found. A video is looked for in
its task's folder, then in the re-cut or re-encoded folders later uploads use (`RECUT`, `data0613/`).
Episodic reasoning items are folders of frames unless a re-cut video of them is there: such items are
listed in skipped.csv. A video is used whole: the "start"/"end" some tasks give (the clip of a longer
video that the re-cut folders hold) are not applied. `type` is the task's name.
"""

from __future__ import annotations

from pathlib import Path

from sparse_video_r1.data.release import candidate_fields, first_existing, question, read_json_list
from sparse_video_r1.data.splits import DatasetError, Question

SPLIT = "test"
CHARADES, CLEVRER, PERCEPTION = "star/Charades_v1_480", "clevrer/video_validation", "perception/videos"
TASKS = {  # task -> the folder its videos are in under RAW/video/, as MVBench's own evaluation table gives it
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
# Later uploads ship some sources re-cut to the question's clip or re-encoded, in other folders (the ones
# lmms-eval reads), and clevrer and star also under data0613/: each is tried after the original.
RECUT = {
    CHARADES: ["star/Charades_segment"],
    "sta/sta_video": ["sta/sta_video_segment"],
    "tvqa/frames_fps3_hq": ["tvqa/video_fps3_hq_segment"],
    "nturgbd": ["nturgbd_convert"],
    "ssv2_video": ["ssv2_video_mp4"],
}
FRAME_FOLDERS = {"tvqa/frames_fps3_hq"}  # its items are folders of frames, not video files
FRAMES_SKIP = "a folder of frames, not a video file (and no video of it under tvqa/video_fps3_hq_segment)"


def folders(task: str) -> list[str]:
    """The folders under RAW/video/ where a task's videos may be, in the order they are tried."""
    original = TASKS[task]
    mirrored = [f"data0613/{original}"] if original in (CHARADES, CLEVRER) else []
    return [original, *RECUT.get(original, []), *mirrored]


def read(raw_dir: Path) -> tuple[list[Question], str]:
    """Every question of the task files found in RAW/json/, and a line saying which were."""
    found = [task for task in TASKS if (raw_dir / "json" / f"{task}.json").is_file()]
    if not found:
        raise DatasetError(f"no MVBench questions: expected {raw_dir / 'json'}/<task>.json for its 20 tasks")
    questions = []
    for task in found:
        for index, entry in enumerate(read_json_list(raw_dir / "json" / f"{task}.json")):
            fields = candidate_fields(entry)
            path = first_existing(
                [raw_dir / "video" / folder / fields["video_id"] for folder in folders(task)]
            )
            frames_only = TASKS[task] in FRAME_FOLDERS and not path.is_file()
            questions.append(
                question(
                    entry,
                    **fields,
                    qid=f"{task}_{index}",
                    type=task,
                    video=path,
                    skip=FRAMES_SKIP if frames_only else "",
                )
            )
    absent = [task for task in TASKS if task not in found]
    return questions, (
        f"read {len(questions)} questions from {len(found)} of MVBench's {len(TASKS)} tasks in "
        f"{raw_dir / 'json'}: {', '.join(found)}" + (f" (absent: {', '.join(absent)})" if absent else "")
    )
