"""MVBench from its release on the Hugging Face hub, OpenGVLab/MVBench, in either of its two branches.

The `main` branch, unpacked (each video/*.zip into video/):

    RAW/json/action_sequence.json        a JSON list per task (20 tasks):
        [{"video": "ZS9XR.mp4", "question": "...", "candidates": ["...", ...],
          "answer": "<the right candidate's text>", "start": 11.1, "end": 19.6}, ...]
    RAW/video/star/Charades_v1_480/ZS9XR.mp4    the original video, in the folder MVBench's own table gives
    RAW/video/ssv2_video/166583.webm            each task (clevrer and star also under video/data0613/)
    RAW/video/tvqa/frames_fps3_hq/<item>/       episodic_reasoning: a folder of frames per item

The `video` branch (what lmms-eval reads: `revision: video`), downloaded as RAW: the same 20 json files
and the sources at the branch's root, with the bounded tasks' clips cut out and some sources re-encoded:

    RAW/json/action_sequence.json        "video" names the clip: "ZS9XR_11.1_19.6.mp4"
    RAW/star/Charades_segment/ZS9XR_11.1_19.6.mp4     <stem>_<start>_<end>.mp4
    RAW/sta/sta_video_segment/  RAW/tvqa/video_fps3_hq_segment/  RAW/ssv2_video_mp4/  RAW/nturgbd_convert/
    RAW/clevrer/video_validation/ ... (the other sources as on main)

Four tasks ask about a clip of a longer video, given by the record's "start" and "end" seconds in the
original (action_sequence, action_prediction, object_interaction, action_localization; also episodic
reasoning's frame folders). For those the re-cut clip is used when either branch has it; else the original
with its bounds, which `svr1 prepare` cuts out (the question is asked about the clip, never the whole
video); else the question is skipped with the reason. Episodic reasoning items that are only folders of
frames are skipped too. `type` is the task's name.
"""

from __future__ import annotations

from pathlib import Path

from sparse_video_r1.data.release import (
    Entry,
    Skip,
    candidate_fields,
    question,
    read_json_list,
    skipped,
)
from sparse_video_r1.data.splits import DatasetError, Question

SPLIT = "test"
CHARADES, CLEVRER, PERCEPTION = "star/Charades_v1_480", "clevrer/video_validation", "perception/videos"
TVQA, STA = "tvqa/frames_fps3_hq", "sta/sta_video"
TASKS = {  # task -> the folder of its original videos on the main branch, as MVBench's own table gives it
    "action_sequence": CHARADES,
    "action_prediction": CHARADES,
    "action_antonym": "ssv2_video",
    "fine_grained_action": "Moments_in_Time_Raw/videos",
    "unexpected_action": "FunQA_test/test",
    "object_existence": CLEVRER,
    "object_interaction": CHARADES,
    "object_shuffle": PERCEPTION,
    "moving_direction": CLEVRER,
    "action_localization": STA,
    "scene_transition": "scene_qa/video",
    "action_count": PERCEPTION,
    "moving_count": CLEVRER,
    "moving_attribute": CLEVRER,
    "state_change": PERCEPTION,
    "fine_grained_pose": "nturgbd",
    "character_order": PERCEPTION,
    "egocentric_navigation": "vlnqa",
    "episodic_reasoning": TVQA,
    "counterfactual_inference": CLEVRER,
}
# The video branch's re-cut clips (<stem>_<start>_<end>.mp4) and re-encoded sources (<stem>.mp4).
RECUT = {
    CHARADES: "star/Charades_segment",
    STA: "sta/sta_video_segment",
    TVQA: "tvqa/video_fps3_hq_segment",
    "nturgbd": "nturgbd_convert",
    "ssv2_video": "ssv2_video_mp4",
}
BOUNDED = {CHARADES, STA, TVQA}  # sources whose questions ask about a clip [start, end] of the original
FRAME_FOLDERS = {TVQA}  # the main branch's items of these are folders of frames, not video files


def read(raw_dir: Path) -> tuple[list[Question], str]:
    """Every question of the task files found in RAW/json/, and a line saying which were."""
    found = [task for task in TASKS if (raw_dir / "json" / f"{task}.json").is_file()]
    if not found:
        raise DatasetError(f"no MVBench questions: expected {raw_dir / 'json'}/<task>.json for its 20 tasks")
    questions = []
    for task in found:
        for index, entry in enumerate(read_json_list(raw_dir / "json" / f"{task}.json")):
            questions.append(_question(raw_dir, task, index, entry))
    absent = [task for task in TASKS if task not in found]
    return questions, (
        f"read {len(questions)} questions from {len(found)} of MVBench's {len(TASKS)} tasks in "
        f"{raw_dir / 'json'}: {', '.join(found)}" + (f" (absent: {', '.join(absent)})" if absent else "")
    )


def _question(raw_dir: Path, task: str, index: int, entry: Entry) -> Question:
    qid, name = f"{task}_{index}", entry.get("video", str)
    try:
        fields = candidate_fields(entry)  # the first matching candidate, as lmms-eval's MVBench task reads it
        video, clip = locate(raw_dir, task, name, _bounds(entry))
    except Skip as reason:
        return skipped(entry, reason, video_id=name, qid=qid, video=None)
    return question(entry, **fields, qid=qid, type=task, video=video, clip=clip)


def _bounds(entry: Entry) -> tuple[float, float] | None:
    if entry.record.get("start") is None and entry.record.get("end") is None:
        return None
    start, end = entry.get("start", float), entry.get("end", float)
    if not 0 <= start < end:
        raise Skip(f"its clip runs from {start} s to {end} s")
    return start, end


def locate(raw_dir: Path, task: str, name: str, bounds: tuple[float, float] | None):
    """(the video file, the clip of it to cut out or None) for a record's `video`: the re-cut clip or
    re-encoded file first, then the original (with the record's bounds when its task asks about a clip),
    in RAW/video/ (main) or at RAW/ (the video branch). A Skip when none can be used."""
    original = TASKS[task]
    roots = (raw_dir / "video", raw_dir)
    recut = RECUT.get(original)
    if recut is not None:
        stem = Path(name).stem
        names = [name, *(f"{stem}_{a}_{b}.mp4" for a, b in _bound_names(bounds)), f"{stem}.mp4"]
        for root in roots:
            for candidate in (root / recut / clip for clip in names):
                if candidate.is_file():
                    return candidate, None
    mirrors = [f"data0613/{original}"] if original in (CHARADES, CLEVRER) else []
    for root in roots:
        for folder in (original, *mirrors):
            candidate = root / folder / name
            if candidate.is_file():
                if original not in BOUNDED:
                    return candidate, None
                if bounds is None:
                    raise Skip(
                        f"{candidate} is the whole video and the record gives no start and end of its clip"
                    )
                return candidate, bounds
    if original in FRAME_FOLDERS and any((root / original / name).is_dir() for root in roots):
        raise Skip(f"a folder of frames, not a video file (and no clip of it under {recut})")
    return raw_dir / "video" / original / name, None  # missing: skipped.csv says "file not found"


def _bound_names(bounds: tuple[float, float] | None) -> list[tuple[str, str]]:
    """How a re-cut clip's name may write its bounds: Python's repr ("11.1", "1.2999999999999998"), or
    without a trailing ".0" (an integer in the json)."""
    if bounds is None:
        return []
    start, end = bounds
    return [(repr(float(start)), repr(float(end))), (f"{start:g}", f"{end:g}")]
