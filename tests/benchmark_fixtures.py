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


def make_lvbench(root: Path, layout: str = "video2dataset") -> Release:
    """LVBench as a user gets it, in one of three layouts, with the same questions: three videos a line each
    (one good, one missing or failed, one broken); the good one's 4 questions include one with two question
    types, one with 6 options (skipped) and one whose text holds no options (skipped).

    "video2dataset": the official repository (github zai-org/LVBench: data/video_info.meta.jsonl) after its
    scripts/download.sh, which runs `video2dataset --url_list=videos.txt --output_folder=videos
    --input_format txt --output_format files` in scripts/ on https://www.youtube.com/watch?v=<key> lines in
    the meta file's order (scripts/save_video_txt.py): shard 00000 holds samples 00000000, 00000001, ...,
    each an .mp4 when its download succeeded and always a sidecar .json {url, key, status, error_message,
    yt_meta_dict}, and the shard's table 00000.parquet (video2dataset's defaults, iejMac/video2dataset).
    "keyed": the meta file in RAW/ and the videos as RAW/videos/<key>.mp4 (fetched some other way).
    "hub": lmms-lab/LVBench, the copy lmms-eval reads: data/train-00000-of-00001.parquet, one question a
    row (key, type, uid, question, answer, question_type, time_reference, video_path), the video at
    RAW/<video_path> (lmms-eval's lvbench utils join the download folder and video_path)."""
    raw = root / "LVBench"

    def qa(uid: int, question: str, options: list[str], answer: str, kinds: list[str]) -> dict:
        lines = [question, *(f"({chr(65 + i)}) {option}" for i, option in enumerate(options))]
        return {"uid": uid, "question": "\n".join(lines), "answer": answer, "question_type": kinds,
                "time_reference": "00:15-00:19"}  # fmt: skip

    videos = [  # key, type, duration, its questions
        ("Cm73ma6Ibcs", "documentary", 0.05, [
            qa(1, "What year appears in the opening caption?", ["2013", "2014", "2015", "2016"], "B",
               ["temporal grounding", "reasoning"]),
            qa(2, "What colour is the car?", ["red", "blue", "green", "white"], "D", ["entity recognition"]),
            qa(3, "Which shot comes first?", ["a", "b", "c", "d", "e", "f"], "A", ["event understanding"]),
            {**qa(6, "Who waves?", [], "A", ["reasoning"]), "question": "Who waves?"},
        ]),
        ("missingLvb1", "sports", 60.0, [qa(4, "Who scores?", ["him", "her"], "A", ["key information retrieval"])]),
        ("brokenLvb01", "cartoon", 61.5, [qa(5, "Who sings?", ["the cat", "the dog"], "B", ["summarization"])]),
    ]  # fmt: skip
    rows = {
        "1": Row("Cm73ma6Ibcs", "What year appears in the opening caption?", ("2013", "2014", "2015", "2016"),
                 "B", "temporal grounding; reasoning"),
        "2": Row("Cm73ma6Ibcs", "What colour is the car?", ("red", "blue", "green", "white"), "D",
                 "entity recognition"),
    }  # fmt: skip
    if layout == "hub":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = [
            {"key": key, "type": kind, "video_path": f"{key}.mp4", **record}
            for key, kind, _, records in videos
            for record in records
        ]
        path = raw / "data" / "train-00000-of-00001.parquet"
        path.parent.mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist([{**r, "uid": str(r["uid"])} for r in table]), path)
        video(raw / "Cm73ma6Ibcs.mp4", 30)
        broken(raw / "brokenLvb01.mp4")
        places = {"1": "#0", "2": "#1", "3": "#2", "6": "#3", "4": "#4", "5": "#5"}
        where = {uid: f"{path.name}:{place}" for uid, place in places.items()}
        missing = "file not found"
    else:
        lines = [
            {"key": k, "type": t, "video_info": {"duration_minutes": d}, "qa": q} for k, t, d, q in videos
        ]
        path = raw / ("video_info.meta.jsonl" if layout == "keyed" else "data/video_info.meta.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
        where = {"1": f"{path.name}:1 qa[0]", "2": f"{path.name}:1 qa[1]", "3": f"{path.name}:1 qa[2]",
                 "6": f"{path.name}:1 qa[3]", "4": f"{path.name}:2 qa[0]", "5": f"{path.name}:3 qa[0]"}  # fmt: skip
        if layout == "keyed":
            video(raw / "videos" / "Cm73ma6Ibcs.mp4", 30)
            broken(raw / "videos" / "brokenLvb01.mp4")
            missing = "file not found"
        else:
            missing = "video2dataset: failed_to_download: Video unavailable"
            _video2dataset(
                raw / "scripts" / "videos", [(k, 30 if k == "Cm73ma6Ibcs" else 0) for k, *_ in videos]
            )
    skipped = {
        where["3"]: "6 options",
        where["6"]: "field 'question' holds no options",
        where["4"]: missing,
        where["5"]: "cannot open as a video",
    }
    return Release("lvbench", raw, "test", path, rows, skipped)


def _video2dataset(out: Path, samples: list[tuple[str, int]]) -> None:
    """video2dataset's `--output_format files` output for YouTube keys in url-list order: a video of the given
    frames (0: its download failed; "brokenLvb01" downloads a file that does not decode), each sample's
    sidecar JSON, and the shard's parquet table and stats."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    shard, table = out / "00000", []
    shard.mkdir(parents=True)
    for index, (key, frames) in enumerate(samples):
        number = f"{index:08d}"
        ok = frames > 0 or key.startswith("broken")
        if frames:
            video(shard / f"{number}.mp4", frames)
        elif ok:
            broken(shard / f"{number}.mp4")
        sidecar = {"url": f"https://www.youtube.com/watch?v={key}", "key": number,
                   "status": "success" if ok else "failed_to_download",
                   "error_message": None if ok else "Video unavailable", "yt_meta_dict": {}}  # fmt: skip
        _json(shard / f"{number}.json", sidecar)
        table.append({k: v for k, v in sidecar.items() if k != "yt_meta_dict"})
    pq.write_table(pa.Table.from_pylist(table), out / "00000.parquet")
    _json(
        out / "00000_stats.json",
        {"count": len(samples), "successes": sum(1 for r in table if r["status"] == "success")},
    )


def make_mlvu(root: Path) -> Release:
    """MLVU/MVLU on the hub, unpacked: MLVU/json/<task>.json lists of {video, duration, question, candidates,
    answer (the right candidate's text), question_type}, videos in MLVU/video/<task>/. Four multiple-choice
    tasks and the open-ended 8_sub_scene (not read). As in the real 2_needle.json (entries #34 and #338), a
    needle answer is none of its candidates (skipped: no option can be right); as in anomaly_reco, candidates
    repeat or are empty (kept, as MLVU's choice_bench.py counts them; the right letter is the last candidate
    matching the answer, as its loop without a break picks)."""
    raw = root / "MLVU-dev"
    base = raw / "MLVU"
    video(base / "video" / "1_plotQA" / "movie101_66.mp4")
    video(base / "video" / "4_count" / "count_01.mp4", 15)
    broken(base / "video" / "4_count" / "count_02.mp4")  # plotQA's movie101_99.mp4 is missing
    video(base / "video" / "2_needle" / "needle_32.mp4", 12)
    video(base / "video" / "6_anomaly_reco" / "surveil_20.mp4", 12)

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
    _json(base / "json" / "2_needle.json", [
        entry("needle_32.mp4", "What is the man holding?", ["a cup", "a pen", "a key", "a phone"], "a pen",
              "needle"),
        entry("needle_32.mp4", "What colour is the door?", ["red", "green", "blue", "white"], "yellow ",
              "needle"),
    ])  # fmt: skip
    _json(base / "json" / "6_anomaly_reco.json", [
        entry("surveil_20.mp4", "Does this surveillance footage contain any anomalies? If yes, which kind?",
              ["Shoplifting", "Normal", "Robbery", "Normal"], "Normal", "anomaly_reco"),
        entry("surveil_20.mp4", "Which anomaly is shown?", ["Arson", "", "Fighting", "Explosion"], "Fighting",
              "anomaly_reco"),
    ])  # fmt: skip
    _json(
        base / "json" / "8_sub_scene.json", [{"video": "x.mp4", "question": "Describe it.", "answer": "..."}]
    )
    rows = {
        "plotQA_0": Row("movie101_66.mp4", "What does the girl hold?", ("a cup", "a book", "a dog", "a hat"),
                        "B", "plotQA"),
        "needle_0": Row("needle_32.mp4", "What is the man holding?", ("a cup", "a pen", "a key", "a phone"),
                        "B", "needle"),
        "count_0": Row("count_01.mp4", "How many birds fly by?", ("1", "2", "3", "4"), "D", "count"),
        "anomaly_reco_0": Row("surveil_20.mp4",
                              "Does this surveillance footage contain any anomalies? If yes, which kind?",
                              ("Shoplifting", "Normal", "Robbery", "Normal"), "D", "anomaly_reco"),
        "anomaly_reco_1": Row("surveil_20.mp4", "Which anomaly is shown?", ("Arson", "", "Fighting", "Explosion"),
                              "C", "anomaly_reco"),
    }  # fmt: skip
    skipped = {
        "1_plotQA.json:#1": "file not found",
        "2_needle.json:#1": "answer 'yellow' is none of the candidates",
        "4_count.json:#1": "cannot open as a video",
        "4_count.json:#2": "6 options",
    }
    return Release("mlvu", raw, "dev", plot, rows, skipped)


def make_longvideobench(root: Path) -> Release:
    """longvideobench/LongVideoBench on the hub, unpacked (videos.tar.part.* joined and untarred into
    videos/): lvb_val.json, a list of {video_id, id, question, candidates, correct_choice (an int index),
    duration_group (an int), question_category, duration, video_path, subtitle_path, ...} as its official
    loader and a published record show. 5 validation questions (2, 4 and 5 candidates; one missing and one
    broken video; a correct_choice past its candidates) and a test file without answers, which is not read."""
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
        entry("86CxyhFV9MI", 1, "Which word is shown?", ["yes", "no"], 2, 15, "T2O"),
    ]  # fmt: skip
    path = _json(raw / "lvb_val.json", entries)
    _json(raw / "lvb_test_wo_gt.json", [{k: v for k, v in entries[0].items() if k != "correct_choice"}])
    rows = {
        "86CxyhFV9MI_0": Row("86CxyhFV9MI", "What is the man wearing?", ("a hat", "a scarf"), "B", "S2E",
                             "15"),
        "gk3bFQ1s0Bw_0": Row("gk3bFQ1s0Bw", "What happens after the bell?",
                             ("he sits", "he runs", "he sings", "he eats", "he sleeps"), "E", "E2O", "60"),
    }  # fmt: skip
    skipped = {
        "lvb_val.json:#2": "file not found",
        "lvb_val.json:#3": "cannot open as a video",
        "lvb_val.json:#4": "field 'correct_choice' is 2, not an index of the 2 candidates",
    }
    return Release("longvideobench", raw, "val", path, rows, skipped)


def make_mvbench(root: Path, branch: str = "main") -> Release:
    """OpenGVLab/MVBench on the hub, five of its 20 tasks, from either branch.

    "main", unpacked (each video/*.zip into video/): json/<task>.json lists of {video, question, candidates,
    answer (the right candidate's text)} and, for the tasks about a clip of a longer video, its start and
    end in seconds; the original videos under video/<source folder> (ssv2 as .webm), episodic reasoning as
    folders of frames. Here: action_antonym (one broken video), object_existence (one missing video, one
    question with 6 candidates), episodic_reasoning (a folder of frames: skipped), action_sequence (an
    original Charades video and its clip's bounds: prepare cuts the clip) and action_localization (bounds
    but no video: file not found).
    "video" (the branch lmms-eval reads, `revision: video`), downloaded as RAW: the sources at the branch's
    root, the bounded tasks' clips re-cut as star/Charades_segment/<stem>_<start>_<end>.mp4 (named so by
    the task json), sta/sta_video_segment/, tvqa/video_fps3_hq_segment/, and ssv2 re-encoded as
    ssv2_video_mp4/<id>.mp4; the same questions, episodic reasoning now a video."""
    raw = root / "MVBench"
    main = branch == "main"
    base = raw / "video" if main else raw
    video(base / ("ssv2_video/166583.webm" if main else "ssv2_video_mp4/166583.mp4"))
    broken(base / ("ssv2_video/74225.webm" if main else "ssv2_video_mp4/74225.mp4"))
    video(base / "clevrer" / "video_validation" / "video_10000.mp4", 12)
    if main:
        (base / "tvqa" / "frames_fps3_hq" / "s01e02_seg02_clip_00").mkdir(parents=True)
        video(base / "star" / "Charades_v1_480" / "ZS9XR.mp4", 40)  # 4 s; its question is about 1.1-2.6 s
    else:
        video(base / "tvqa" / "video_fps3_hq_segment" / "s01e02_seg02_clip_00_1.0_5.0.mp4", 12)
        video(base / "star" / "Charades_segment" / "ZS9XR_1.1_2.6.mp4", 15)

    def entry(name: str, question: str, candidates: list[str], answer: str, **extra) -> dict:
        return {"video": name, "question": question, "candidates": candidates, "answer": answer, **extra}

    antonym = _json(raw / "json" / "action_antonym.json", [
        entry("166583.webm" if main else "166583.mp4", "What is the action performed by the person in the video?",
              ["Pushing something", "Pulling something", "Not sure"], "Pulling something"),
        entry("74225.webm" if main else "74225.mp4", "What is the action performed?",
              ["Lifting up", "Putting down", "Not sure"], "Not sure"),
    ])  # fmt: skip
    _json(raw / "json" / "object_existence.json", [
        entry("video_10000.mp4", "Are there any moving green objects?", ["yes", "no"], "no"),
        entry("video_10001.mp4", "Is the cube moving?", ["yes", "no"], "yes"),
        entry("video_10000.mp4", "How many?", ["0", "1", "2", "3", "4", "5"], "2"),
    ])  # fmt: skip
    episodic = "s01e02_seg02_clip_00" if main else "s01e02_seg02_clip_00_1.0_5.0.mp4"
    _json(raw / "json" / "episodic_reasoning.json", [
        entry(episodic, "Why is Sheldon upset?", ["he lost", "he won", "he is tired"], "he lost",
              start=1.0, end=5.0),
    ])  # fmt: skip
    sequence = "ZS9XR.mp4" if main else "ZS9XR_1.1_2.6.mp4"
    _json(raw / "json" / "action_sequence.json", [
        entry(sequence, "What did the person do first?", ["Sat down", "Stood up"], "Stood up", start=1.1, end=2.6),
    ])  # fmt: skip
    _json(raw / "json" / "action_localization.json", [
        entry("AO8RW.mp4" if main else "AO8RW_0.5_3.5.mp4", "When does he open the door?",
              ["at the start", "at the end"], "at the end", start=0.5, end=3.5),
    ])  # fmt: skip
    rows = {
        "action_sequence_0": Row(sequence, "What did the person do first?", ("Sat down", "Stood up"), "B",
                                 "action_sequence"),
        "action_antonym_0": Row("166583.webm" if main else "166583.mp4",
                                "What is the action performed by the person in the video?",
                                ("Pushing something", "Pulling something", "Not sure"), "B", "action_antonym"),
        "object_existence_0": Row("video_10000.mp4", "Are there any moving green objects?", ("yes", "no"),
                                  "B", "object_existence"),
    }  # fmt: skip
    skipped = {
        "action_antonym.json:#1": "cannot open as a video",
        "object_existence.json:#1": "file not found",
        "object_existence.json:#2": "6 options",
        "action_localization.json:#0": "file not found",
    }
    if main:
        skipped["episodic_reasoning.json:#0"] = "a folder of frames, not a video file"
    else:
        rows["episodic_reasoning_0"] = Row(episodic, "Why is Sheldon upset?", ("he lost", "he won", "he is tired"),
                                           "A", "episodic_reasoning")  # fmt: skip
    return Release("mvbench", raw, "test", antonym, rows, skipped)


MAKERS = {
    "videomme": make_videomme,
    "lvbench": make_lvbench,
    "mlvu": make_mlvu,
    "longvideobench": make_longvideobench,
    "mvbench": make_mvbench,
}
