"""Dataset preparation: NExT-QA and NExT-GQA from files in their real layout, and the synthetic benchmark."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from sparse_video_r1.cli import main as svr1
from sparse_video_r1.data.manifest import Manifest
from sparse_video_r1.data.synthetic import BACKGROUNDS, COLOURS, EVENT, make_scene, pattern_image, render
from sparse_video_r1.video import open_video, uniform_timestamps
from sparse_video_r1.video.writer import write_video
from videos import paint_index

TYPES = ["CW", "CH", "TN", "TC", "TP", "DC", "DL", "DO"]
HEADER = [
    "video",
    "frame_count",
    "width",
    "height",
    "question",
    "answer",
    "qid",
    "type",
    "a0",
    "a1",
    "a2",
    "a3",
    "a4",
]
TRICKY = 'Why does the "chef", smiling, put the café sign away?'


def _question(video: str, qid: int, kind: str, answer: int) -> list:
    text = TRICKY if qid == 0 else f"what does the man do in clip {video} question {qid}"
    return [video, 300, 160, 120, text, answer, qid, kind, *(f"option {k} of {qid}" for k in range(5))]


@pytest.fixture(scope="module")
def nextqa_raw(tmp_path_factory) -> Path:
    """Three good videos, one missing from disk, one corrupt, one absent from the map; 8 types; quotes."""
    raw = tmp_path_factory.mktemp("NExT-QA")
    (raw / "nextqa").mkdir()
    ids = ["1001", "1002", "1003", "1004", "1005", "1006"]
    mapping = {vid: f"01{i:02d}/{vid}" for i, vid in enumerate(ids[:5])}  # 1006 is not in the map
    (raw / "map_vid_vidorID.json").write_text(json.dumps(mapping))
    for vid in ids[:3]:
        path = raw / "NExTVideo" / f"{mapping[vid]}.mp4"
        path.parent.mkdir(parents=True)
        write_video(path, (paint_index(i, 160, 120) for i in range(40)), 10)
    corrupt = raw / "NExTVideo" / f"{mapping['1005']}.mp4"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))  # 1004 is missing from disk
    for split, videos in (("train", ids), ("val", ["1001", "1002", "1005"])):
        with (raw / "nextqa" / f"{split}.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            for v, vid in enumerate(videos):
                for qid in range(4):
                    writer.writerow(_question(vid, qid, TYPES[(v * 4 + qid) % 8], (v + qid) % 5))
    return raw


def _prepare(raw: Path, out: Path, *extra: str) -> int:
    return svr1(["prepare", "nextqa", "--raw-dir", str(raw), "--out-dir", str(out), *extra])


def test_nextqa_rows_carry_their_own_question_and_everything_the_agent_needs(nextqa_raw, tmp_path):
    assert _prepare(nextqa_raw, tmp_path) == 0
    train = pd.read_parquet(tmp_path / "train.parquet")
    assert len(train) == 12  # 3 good videos x 4 questions; the other 12 rows are skipped
    by_key = {(r["extra_info"]["video_id"], r["extra_info"]["qid"]): r for _, r in train.iterrows()}
    row = by_key[("1002", "1")]
    info = row["extra_info"]
    assert (
        info["question"] == "what does the man do in clip 1002 question 1"
    )  # not the video's first question
    assert list(info["options"]) == [f"option {k} of 1" for k in range(5)]
    assert row["reward_model"]["ground_truth"] == "ABCDE"[(1 + 1) % 5]
    assert info["answer_index"] == 2 and info["type"] == TYPES[(1 * 4 + 1) % 8] and info["split"] == "train"
    assert Path(info["video"]).is_file() and Path(info["video"]).name == "1002.mp4"
    assert info["duration"] == pytest.approx(4.0) and info["fps"] == 10 and info["num_frames"] == 40
    assert (info["width"], info["height"]) == (160, 120)
    assert row["data_source"] == "nextqa" and row["agent_name"] == "svr1_episode"
    content = row["prompt"][0]["content"]
    assert (
        "what does the man do in clip 1002 question 1\nA. option 0 of 1" in content
        and "4.0 seconds" in content
    )
    quoted = by_key[("1001", "0")]["extra_info"]["question"]
    assert quoted == TRICKY
    assert sorted(train["extra_info"].map(lambda e: e["index"])) == list(range(12))


def test_bad_videos_are_skipped_listed_and_counted(nextqa_raw, tmp_path, capsys):
    assert _prepare(nextqa_raw, tmp_path) == 0
    skipped = pd.read_csv(tmp_path / "skipped.csv", dtype=str)
    reasons = skipped.groupby("video_id")["reason"].first().to_dict()
    assert reasons["1004"] == "file not found"
    assert reasons["1005"].startswith("cannot open as a video")
    assert reasons["1006"] == "video id not in the dataset's video map"
    assert len(skipped) == 3 * 4 + 4  # train: 3 bad videos; val: 1 bad video
    assert skipped.iloc[0]["source"].startswith("train.csv:")
    out = capsys.readouterr().out
    assert "| train | 12 | 3 | 12 |" in out and "| val | 8 | 2 | 4 |" in out


def test_the_same_seed_gives_the_same_files_and_samples_are_reproducible(nextqa_raw, tmp_path):
    runs = {}
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        assert _prepare(nextqa_raw, tmp_path / name, "--samples", "5", "--seed", str(seed)) == 0
        runs[name] = hashlib.sha256((tmp_path / name / "train.parquet").read_bytes()).hexdigest()
    assert runs["a"] == runs["b"] != runs["c"]
    assert len(pd.read_parquet(tmp_path / "a" / "train.parquet")) == 5
    assert len(pd.read_parquet(tmp_path / "a" / "val.parquet")) == 5


def test_the_manifest_is_probed_once_and_reprobed_when_a_file_changes(nextqa_raw, tmp_path):
    videos = sorted((nextqa_raw / "NExTVideo").rglob("*.mp4"))
    manifest = Manifest(tmp_path / "manifest.csv")
    assert manifest.probe_all(videos) == len(videos)
    again = Manifest(tmp_path / "manifest.csv")  # loaded from disk
    assert again.probe_all(videos) == 0 and again[videos[0]].ok and again[videos[0]].num_frames == 40
    videos[0].touch()
    assert again.probe_all(videos) == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda text: text.replace("question,answer", "question,correct"), "missing columns answer"),
        (
            lambda text: text + '1001,300,160,120,"a question",7,9,CW,a,b,c,d,e\n',
            "line 14: answer '7' is not",
        ),
        (lambda text: text + "1001,300,160,120,too short\n", "line 14: expected 13 fields"),
    ],
)
def test_malformed_csvs_name_the_file_and_line(nextqa_raw, tmp_path, capsys, edit, message):
    broken = tmp_path / "raw"
    (broken / "nextqa").mkdir(parents=True)
    (broken / "map_vid_vidorID.json").write_text((nextqa_raw / "map_vid_vidorID.json").read_text())
    text = (nextqa_raw / "nextqa" / "val.csv").read_text(encoding="utf-8")
    (broken / "nextqa" / "val.csv").write_text(edit(text), encoding="utf-8")
    assert _prepare(broken, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert str(broken / "nextqa" / "val.csv") in err and message in err


def _copy_raw(nextqa_raw: Path, root: Path) -> Path:
    """The raw layout with the same map and videos, for a val.csv edited by the test."""
    broken = root / "raw"
    (broken / "nextqa").mkdir(parents=True)
    (broken / "map_vid_vidorID.json").write_text((nextqa_raw / "map_vid_vidorID.json").read_text())
    (broken / "NExTVideo").symlink_to(nextqa_raw / "NExTVideo")
    return broken


def test_a_csv_with_a_byte_order_mark_reads_like_one_without(nextqa_raw, tmp_path):
    raw = _copy_raw(nextqa_raw, tmp_path)
    text = (nextqa_raw / "nextqa" / "val.csv").read_text(encoding="utf-8")
    (raw / "nextqa" / "val.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert _prepare(raw, tmp_path / "out") == 0
    assert len(pd.read_parquet(tmp_path / "out" / "val.parquet")) == 8


def test_a_csv_that_is_not_utf8_names_the_file_and_line(nextqa_raw, tmp_path, capsys):
    raw = _copy_raw(nextqa_raw, tmp_path)
    text = (nextqa_raw / "nextqa" / "val.csv").read_text(encoding="utf-8")
    lines = [line.encode("utf-8") for line in text.splitlines(keepends=True)]
    lines[3] = lines[3].replace(b"what", b"caf\xe9 what")  # one Latin-1 byte in a UTF-8 file
    (raw / "nextqa" / "val.csv").write_bytes(b"".join(lines))
    assert _prepare(raw, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert f"{raw / 'nextqa' / 'val.csv'}, line 4: byte 0xe9 is not UTF-8" in err


def test_duplicate_questions_and_empty_or_repeated_options_are_skipped_with_their_line(nextqa_raw, tmp_path):
    raw = _copy_raw(nextqa_raw, tmp_path)
    text = (nextqa_raw / "nextqa" / "val.csv").read_text(encoding="utf-8")
    text += "1001,300,160,120,the same question again,1,0,CW,a,b,c,d,e\n"  # line 14: (1001, 0) again
    text += "1001,300,160,120,an empty option,1,7,CW,a,,c,d,e\n"  # line 15
    text += "1001,300,160,120,twice the same,1,8,CW,a,b,c,B ,e\n"  # line 16
    (raw / "nextqa" / "val.csv").write_text(text, encoding="utf-8")
    assert _prepare(raw, tmp_path / "out") == 0
    val = pd.read_parquet(tmp_path / "out" / "val.parquet")
    assert len(val) == 8 and val["extra_info"].map(lambda e: (e["video_id"], e["qid"])).is_unique
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv", dtype=str).set_index("source")["reason"]
    assert skipped["val.csv:14"] == "duplicate of video 1001 question 0 at val.csv:2"
    assert skipped["val.csv:15"] == "option B is empty"
    assert skipped["val.csv:16"] == "options B and D are the same"


def test_nextgqa_adds_the_evidence_spans(nextqa_raw, tmp_path):
    gqa = tmp_path / "nextgqa"
    gqa.mkdir()
    with (gqa / "val.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video_id", *HEADER[1:]])
        writer.writerow(
            ["1001", 300, 160, 120, "why?", "option 3 of 2", 2, "CW", *(f"option {k} of 2" for k in range(5))]
        )
    (gqa / "gsub_val.json").write_text(
        json.dumps({"1001": {"duration": 4, "location": {"2": [[0.5, 1.5], [2, 3]]}}})
    )
    code = svr1(
        [
            "prepare",
            "nextgqa",
            "--raw-dir",
            str(nextqa_raw),
            "--gqa-dir",
            str(gqa),
            "--out-dir",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0
    (row,) = pd.read_parquet(tmp_path / "o" / "val.parquet").to_dict("records")
    assert row["reward_model"]["ground_truth"] == "D" and row["data_source"] == "nextgqa"
    assert [list(span) for span in row["extra_info"]["spans"]] == [[0.5, 1.5], [2.0, 3.0]]


def test_rows_load_in_verls_dataset_with_the_tiny_models_processor(nextqa_raw, tiny_model_dir, tmp_path):
    from transformers import AutoProcessor
    from verl.utils.dataset.rl_dataset import RLHFDataset

    assert _prepare(nextqa_raw, tmp_path) == 0
    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    config = OmegaConf.create(
        {"max_prompt_length": 1024, "cache_dir": str(tmp_path / "cache"), "return_raw_chat": True}
    )
    dataset = RLHFDataset(str(tmp_path / "train.parquet"), processor.tokenizer, config, processor)
    assert len(dataset) == 12
    item = dataset[0]
    assert item["agent_name"] == "svr1_episode" and item["extra_info"]["video"].endswith(".mp4")
    assert item["raw_prompt"][0]["role"] == "user" and "seconds" in item["raw_prompt"][0]["content"]


def test_synthetic_benchmark_is_deterministic_and_in_the_same_schema(tmp_path):
    """The same seed gives byte-identical parquet files, identical scenes, and videos whose decoded
    pictures match. x264 is not always bit-reproducible from run to run, so pictures are compared within
    codec noise; a different video would be far off."""

    def run() -> tuple[dict, dict]:
        assert (
            svr1(["prepare", "synthetic", "--out-dir", str(tmp_path / "a"), "--videos", "4", "--seed", "3"])
            == 0
        )
        tables = {p.name: p.read_bytes() for p in (tmp_path / "a").glob("*.parquet")}
        pictures = {}
        for path in sorted((tmp_path / "a" / "videos").glob("*.mp4")):
            with av.open(str(path)) as container:
                pictures[path.name] = np.stack(
                    [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
                )
        return tables, pictures

    first_tables, first_pictures = run()
    assert set(first_tables) == {"train.parquet", "val.parquet"} and len(first_pictures) == 4
    tables, pictures = run()
    assert tables == first_tables
    for name, frames in pictures.items():
        assert frames.shape == first_pictures[name].shape
        assert np.abs(frames.astype(int) - first_pictures[name].astype(int)).mean() < 2, name
    scenes = [make_scene(random.Random(f"3:{i}")) for i in range(4)]
    assert scenes == [make_scene(random.Random(f"3:{i}")) for i in range(4)]
    assert all(np.array_equal(render(scene, 4.2), render(scene, 4.2)) for scene in scenes)
    train = pd.read_parquet(tmp_path / "a" / "train.parquet")
    assert len(train) == 9 and set(train["extra_info"].map(lambda e: e["type"])) == {
        "background",
        "colour",
        "pattern",
    }
    assert all(len(e["spans"]) >= 1 for e in train["extra_info"])
    assert all(list(e["options"]) == list(COLOURS) for e in train["extra_info"] if e["type"] == "colour")


def test_synthetic_evidence_is_on_screen_only_inside_its_spans():
    """The flash and the pattern fill the screen inside their spans and nowhere else, the background shows
    at every other moment, and five uniform frames usually miss the flash: an agent must ask for frames."""
    missed = 0
    corner = (2, 2)  # the grey square never reaches the corner
    for seed in range(40):
        scene = make_scene(random.Random(seed))
        background = BACKGROUNDS[scene.background]
        assert tuple(render(scene, scene.colour_at + EVENT / 2)[corner]) == COLOURS[scene.colour]
        pattern = np.asarray(pattern_image(scene.pattern))
        assert np.array_equal(render(scene, scene.pattern_at + EVENT / 2)[:20, :20], pattern[:20, :20])
        for start in (scene.colour_at, scene.pattern_at):
            assert tuple(render(scene, start - 0.1)[corner]) == background
            assert tuple(render(scene, start + EVENT)[corner]) == background
        missed += not any(scene.colour_at <= t < scene.colour_at + EVENT for t in uniform_timestamps(10.0, 5))
    assert missed >= 20  # most of the time


def test_synthetic_videos_decode_to_what_was_rendered(tmp_path):
    assert svr1(["prepare", "synthetic", "--out-dir", str(tmp_path), "--videos", "1", "--seed", "5"]) == 0
    assert not (tmp_path / "val.parquet").exists()  # one video: a train split only
    info = pd.read_parquet(tmp_path / "train.parquet").iloc[0]["extra_info"]
    video = open_video(info["video"])
    assert video.duration == 10.0 and math.isclose(video.fps, 10)
    scene = make_scene(random.Random("5:0"))  # the first draw of video 0's generator
    for t in (scene.pattern_at + EVENT / 2, scene.colour_at + EVENT / 2, 9.9):
        (frame,) = video.frames_at([t])
        error = np.abs(np.asarray(frame).astype(int) - render(scene, math.floor(t * 10) / 10).astype(int))
        assert error.mean() < 6, t  # H.264 is lossy; a wrong frame would be far off


def test_nextqa_writes_its_test_split_also_when_test_csv_is_the_only_one(nextqa_raw, tmp_path, capsys):
    raw = _copy_raw(nextqa_raw, tmp_path)
    text = (nextqa_raw / "nextqa" / "val.csv").read_text(encoding="utf-8")  # test.csv has val's columns
    (raw / "nextqa" / "test.csv").write_text(text, encoding="utf-8")
    assert _prepare(raw, tmp_path / "only") == 0
    assert sorted(p.name for p in (tmp_path / "only").glob("*.parquet")) == ["test.parquet"]
    test = pd.read_parquet(tmp_path / "only" / "test.parquet")
    assert len(test) == 8 and set(test["extra_info"].map(lambda e: e["split"])) == {"test"}
    skipped = pd.read_csv(tmp_path / "only" / "skipped.csv", dtype=str)
    assert set(skipped["split"]) == {"test"} and skipped.iloc[0]["source"].startswith("test.csv:")
    assert "| test | 8 | 2 | 4 |" in capsys.readouterr().out
    for split in ("train", "val"):
        (raw / "nextqa" / f"{split}.csv").write_text((nextqa_raw / "nextqa" / f"{split}.csv").read_text())
    assert _prepare(raw, tmp_path / "all", "--samples", "5", "--test-samples", "3") == 0
    sizes = {p.stem: len(pd.read_parquet(p)) for p in (tmp_path / "all").glob("*.parquet")}
    assert sizes == {"train": 5, "val": 5, "test": 3}


def test_nextqa_without_any_csv_names_the_three_it_looked_for(tmp_path, capsys):
    assert _prepare(tmp_path, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert all(str(tmp_path / "nextqa" / f"{split}.csv") in err for split in ("train", "val", "test"))
