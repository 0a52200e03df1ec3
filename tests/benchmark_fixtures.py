"""Small releases of the long-video benchmarks in their official layouts, made at test time.

Each `make_<benchmark>(root)` writes a few questions about tiny real videos (and one missing and one broken
video) under `root` the way a user downloads and unpacks that benchmark, and returns a `Release`: what
`svr1 prepare <benchmark>` needs and what it should write. Import them like tests/videos.py:
`from benchmark_fixtures import make_videomme`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sparse_video_r1.video.writer import write_video
from videos import paint_index

BROKEN = b"\x00\x00\x00\x18ftypmp42" + bytes(500)  # an mp4 header and nothing else: does not open


@dataclass(frozen=True)
class Row:
    """What one prepared row should hold."""

    video_id: str
    question: str
    options: tuple[str, ...]
    answer: str  # the letter
    type: str
    duration_group: str = ""


@dataclass(frozen=True)
class Release:
    name: str  # the `svr1 prepare` subcommand and the rows' data_source
    raw: Path  # --raw-dir
    split: str  # the split written: OUT/<split>.parquet
    file: Path  # the questions file (for tests that break it)
    rows: dict[str, Row]  # qid -> the row it becomes
    skipped: dict[str, str]  # source ("file:line" or "file:#index") -> the start of its reason

    def argv(self, out_dir: Path, *extra: str) -> list[str]:
        return ["prepare", self.name, "--raw-dir", str(self.raw), "--out-dir", str(out_dir), *extra]


def video(path: Path, frames: int = 10) -> Path:
    """A tiny real H.264 video, 1 s at 10 fps unless told otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, (paint_index(i, 64, 48) for i in range(frames)), 10)


def broken(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(BROKEN)
    return path


def _json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


def make_videomme(root: Path) -> Release:
    """5 questions: 3 about two good videos, 1 about a missing video, 1 about a broken one."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = root / "Video-MME"
    video(raw / "data" / "fFjv93ACGo8.mp4")
    mp4 = video(raw / "data" / "Kx9_p1mLq0A.mp4", 20)
    mp4.rename(mp4.with_suffix(".mkv"))  # a few of the release's videos are .mkv (or .MP4)
    broken(raw / "data" / "brokenVid01.mp4")  # missingVid1 has no file
    records = [  # video_id, duration, videoID, question_id, task_type, question, answer
        ("001", "short", "fFjv93ACGo8", "001-1", "Counting Problem", "How many apples?", "C"),
        ("001", "short", "fFjv93ACGo8", "001-2", "Object Recognition", "What fruit is shown?", "A"),
        ("301", "medium", "Kx9_p1mLq0A", "301-1", "Temporal Reasoning", "What happens last?", "D"),
        ("601", "long", "missingVid1", "601-1", "Action Reasoning", "Why does he run?", "B"),
        ("602", "long", "brokenVid01", "602-1", "OCR Problems", "What is written?", "A"),
    ]
    table, rows = [], {}
    for vid, duration, youtube, qid, task, text, answer in records:
        options = [f"{qid} option {letter.lower()}." for letter in "ABCD"]
        table.append({
            "video_id": vid, "duration": duration, "domain": "Knowledge", "sub_category": "Humanity",
            "url": f"https://www.youtube.com/watch?v={youtube}", "videoID": youtube, "question_id": qid,
            "task_type": task, "question": text, "answer": answer,
            "options": [f"{letter}. {option}" for letter, option in zip("ABCD", options, strict=True)],
        })  # fmt: skip
        rows[qid] = Row(youtube, text, tuple(options), answer, task, duration)
    path = raw / "videomme" / "test-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(table), path)
    skipped = {f"{path.name}:#3": "file not found", f"{path.name}:#4": "cannot open as a video"}
    for qid in ("601-1", "602-1"):
        del rows[qid]
    return Release("videomme", raw, "test", path, rows, skipped)


def make_lvbench(root: Path, in_data_folder: bool = False) -> Release:
    """3 videos a line each (one good, one missing, one broken); the good one's 3 questions include one with
    two question types and one with 6 options (skipped)."""
    raw = root / "LVBench"
    video(raw / "videos" / "Cm73ma6Ibcs.mp4", 30)
    broken(raw / "videos" / "brokenLvb01.mp4")

    def qa(uid: int, question: str, options: list[str], answer: str, kinds: list[str]) -> dict:
        lines = [question, *(f"({chr(65 + i)}) {option}" for i, option in enumerate(options))]
        return {"uid": str(uid), "question": "\n".join(lines), "answer": answer, "question_type": kinds,
                "time_reference": "00:15-00:19"}  # fmt: skip

    lines = [
        {"key": "Cm73ma6Ibcs", "type": "documentary", "video_info": {"duration_minutes": 0.05}, "qa": [
            qa(1, "What year appears in the opening caption?", ["2013", "2014", "2015", "2016"], "B",
               ["temporal grounding", "reasoning"]),
            qa(2, "What colour is the car?", ["red", "blue", "green", "white"], "D", ["entity recognition"]),
            qa(3, "Which shot comes first?", ["a", "b", "c", "d", "e", "f"], "A", ["event understanding"]),
        ]},
        {"key": "missingLvb1", "type": "sports", "video_info": {"duration_minutes": 60.0},
         "qa": [qa(4, "Who scores?", ["him", "her"], "A", ["key information retrieval"])]},
        {"key": "brokenLvb01", "type": "cartoon", "video_info": {"duration_minutes": 61.5},
         "qa": [qa(5, "Who sings?", ["the cat", "the dog"], "B", ["summarization"])]},
    ]  # fmt: skip
    path = raw / "data" / "video_info.meta.jsonl" if in_data_folder else raw / "video_info.meta.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    rows = {
        "1": Row("Cm73ma6Ibcs", "What year appears in the opening caption?", ("2013", "2014", "2015", "2016"),
                 "B", "temporal grounding; reasoning"),
        "2": Row("Cm73ma6Ibcs", "What colour is the car?", ("red", "blue", "green", "white"), "D",
                 "entity recognition"),
    }  # fmt: skip
    skipped = {
        f"{path.name}:1 qa[2]": "6 options",
        f"{path.name}:2 qa[0]": "file not found",
        f"{path.name}:3 qa[0]": "cannot open as a video",
    }
    return Release("lvbench", raw, "test", path, rows, skipped)


def make_mlvu(root: Path) -> Release:
    """Two multiple-choice tasks (plotQA, count) and the open-ended 8_sub_scene, which is not read."""
    raw = root / "MLVU-dev"
    base = raw / "MLVU"
    video(base / "video" / "1_plotQA" / "movie101_66.mp4")
    video(base / "video" / "4_count" / "count_01.mp4", 15)
    broken(base / "video" / "4_count" / "count_02.mp4")  # plotQA's movie101_99.mp4 is missing

    def entry(name: str, question: str, candidates: list[str], answer: str, kind: str) -> dict:
        return {"video": name, "duration": 1.0, "question": question, "candidates": candidates,
                "answer": answer, "question_type": kind}  # fmt: skip

    plot = _json(base / "json" / "1_plotQA.json", [
        entry("movie101_66.mp4", "What does the girl hold?", ["a cup", "a book", "a dog", "a hat"], "a book",
              "plotQA"),
        entry("movie101_99.mp4", "Where is the boy?", ["home", "school", "park", "shop"], "park", "plotQA"),
    ])  # fmt: skip
    _json(base / "json" / "4_count.json", [
        entry("count_01.mp4", "How many birds fly by?", ["1", "2", "3", "4"], "4", "count"),
        entry("count_02.mp4", "How many cars pass?", ["0", "1", "2", "3"], "0", "count"),
        entry("count_01.mp4", "How many frames?", ["1", "2", "3", "4", "5", "6"], "6", "count"),
    ])  # fmt: skip
    _json(
        base / "json" / "8_sub_scene.json", [{"video": "x.mp4", "question": "Describe it.", "answer": "..."}]
    )
    rows = {
        "plotQA_0": Row("movie101_66.mp4", "What does the girl hold?", ("a cup", "a book", "a dog", "a hat"),
                        "B", "plotQA"),
        "count_0": Row("count_01.mp4", "How many birds fly by?", ("1", "2", "3", "4"), "D", "count"),
    }  # fmt: skip
    skipped = {
        "1_plotQA.json:#1": "file not found",
        "4_count.json:#1": "cannot open as a video",
        "4_count.json:#2": "6 options",
    }
    return Release("mlvu", raw, "dev", plot, rows, skipped)


def make_longvideobench(root: Path) -> Release:
    """4 validation questions (2, 4 and 5 candidates; one missing, one broken video) and a test file
    without answers, which is not read."""
    raw = root / "LongVideoBench"
    video(raw / "videos" / "86CxyhFV9MI.mp4")
    video(raw / "videos" / "gk3bFQ1s0Bw.mp4", 25)
    broken(raw / "videos" / "brokenLvbv1.mp4")

    def entry(vid: str, n: int, question: str, candidates: list[str], choice: int, group: int, kind: str):
        return {"video_id": vid, "id": f"{vid}_{n}", "question": question, "candidates": candidates,
                "correct_choice": choice, "duration_group": group, "question_category": kind,
                "duration": 1.0, "video_path": f"{vid}.mp4", "subtitle_path": f"{vid}_en.json",
                "topic_category": "NP-News-Programs", "level": "L1-Perception", "position": [1]}  # fmt: skip

    entries = [
        entry("86CxyhFV9MI", 0, "What is the man wearing?", ["a hat", "a scarf"], 1, 15, "S2E"),
        entry("gk3bFQ1s0Bw", 0, "What happens after the bell?",
              ["he sits", "he runs", "he sings", "he eats", "he sleeps"], 4, 60, "E2O"),
        entry("missingLvb1", 0, "Which sign is shown?", ["stop", "go", "wait", "turn"], 0, 600, "T3O"),
        entry("brokenLvbv1", 0, "Who speaks first?", ["the host", "the guest", "nobody"], 2, 3600, "SSS"),
    ]  # fmt: skip
    path = _json(raw / "lvb_val.json", entries)
    _json(raw / "lvb_test_wo_gt.json", [{k: v for k, v in entries[0].items() if k != "correct_choice"}])
    rows = {
        "86CxyhFV9MI_0": Row("86CxyhFV9MI", "What is the man wearing?", ("a hat", "a scarf"), "B", "S2E",
                             "15"),
        "gk3bFQ1s0Bw_0": Row("gk3bFQ1s0Bw", "What happens after the bell?",
                             ("he sits", "he runs", "he sings", "he eats", "he sleeps"), "E", "E2O", "60"),
    }  # fmt: skip
    skipped = {"lvb_val.json:#2": "file not found", "lvb_val.json:#3": "cannot open as a video"}
    return Release("longvideobench", raw, "val", path, rows, skipped)


def make_mvbench(root: Path) -> Release:
    """Four of the 20 tasks: action_antonym (one broken video), object_existence (one missing video, one
    question with 6 candidates), episodic_reasoning (a folder of frames: skipped) and action_sequence, whose
    video is in the re-cut folder later uploads use (star/Charades_segment)."""
    raw = root / "MVBench"
    video(raw / "video" / "ssv2_video" / "166583.mp4")
    video(raw / "video" / "clevrer" / "video_validation" / "video_10000.mp4", 12)
    broken(raw / "video" / "ssv2_video" / "74225.mp4")
    (raw / "video" / "tvqa" / "frames_fps3_hq" / "s01e02_seg02_clip_00").mkdir(parents=True)
    video(raw / "video" / "star" / "Charades_segment" / "ZS9XR_11.1_19.6.mp4")

    def entry(name: str, question: str, candidates: list[str], answer: str, **extra) -> dict:
        return {"video": name, "question": question, "candidates": candidates, "answer": answer, **extra}

    antonym = _json(raw / "json" / "action_antonym.json", [
        entry("166583.mp4", "What is the action performed by the person in the video?",
              ["Pushing something", "Pulling something", "Not sure"], "Pulling something"),
        entry("74225.mp4", "What is the action performed?", ["Lifting up", "Putting down", "Not sure"],
              "Not sure"),
    ])  # fmt: skip
    _json(raw / "json" / "object_existence.json", [
        entry("video_10000.mp4", "Are there any moving green objects?", ["yes", "no"], "no"),
        entry("video_10001.mp4", "Is the cube moving?", ["yes", "no"], "yes"),
        entry("video_10000.mp4", "How many?", ["0", "1", "2", "3", "4", "5"], "2"),
    ])  # fmt: skip
    _json(raw / "json" / "episodic_reasoning.json", [
        entry("s01e02_seg02_clip_00", "Why is Sheldon upset?", ["he lost", "he won", "he is tired"],
              "he lost", start=1.0, end=5.0),
    ])  # fmt: skip
    _json(raw / "json" / "action_sequence.json", [
        entry("ZS9XR_11.1_19.6.mp4", "What did the person do first?", ["Sat down", "Stood up"], "Stood up"),
    ])  # fmt: skip
    rows = {
        "action_sequence_0": Row("ZS9XR_11.1_19.6.mp4", "What did the person do first?", ("Sat down", "Stood up"),
                                 "B", "action_sequence"),
        "action_antonym_0": Row("166583.mp4", "What is the action performed by the person in the video?",
                                ("Pushing something", "Pulling something", "Not sure"), "B",
                                "action_antonym"),
        "object_existence_0": Row("video_10000.mp4", "Are there any moving green objects?", ("yes", "no"),
                                  "B", "object_existence"),
    }  # fmt: skip
    skipped = {
        "action_antonym.json:#1": "cannot open as a video",
        "object_existence.json:#1": "file not found",
        "object_existence.json:#2": "6 options",
        "episodic_reasoning.json:#0": "a folder of frames, not a video file",
    }
    return Release("mvbench", raw, "test", antonym, rows, skipped)


MAKERS = {
    "videomme": make_videomme,
    "lvbench": make_lvbench,
    "mlvu": make_mlvu,
    "longvideobench": make_longvideobench,
    "mvbench": make_mvbench,
}
