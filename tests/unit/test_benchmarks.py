"""`svr1 prepare videomme | lvbench | mlvu | longvideobench | mvbench` on small releases in their official
layouts (tests/benchmark_fixtures.py): the rows, the skips, and errors that name the file and the place."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmark_fixtures import MAKERS, Release, make_lvbench, make_mvbench
from sparse_video_r1.cli import main as svr1

# Every download layout a user can get: the official release (and its download script), the hub copy
# lmms-eval reads, and the other branch or folder a release ships.
LAYOUTS = {
    **MAKERS,
    "lvbench-keyed": lambda root: make_lvbench(root, layout="keyed"),
    "lvbench-hub": lambda root: make_lvbench(root, layout="hub"),
    "mvbench-video-branch": lambda root: make_mvbench(root, branch="video"),
}


def _rows(out: Path, release: Release) -> dict[str, pd.Series]:
    table = pd.read_parquet(out / f"{release.split}.parquet")
    return {row["extra_info"]["qid"]: row for _, row in table.iterrows()}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_release_becomes_rows_of_its_split_with_options_answers_types_and_skips(layout, tmp_path, capsys):
    release = LAYOUTS[layout](tmp_path / "raw")
    name = release.name
    assert svr1(release.argv(tmp_path / "out")) == 0
    rows = _rows(tmp_path / "out", release)
    assert set(rows) == set(release.rows)
    for qid, expected in release.rows.items():
        row, info = rows[qid], rows[qid]["extra_info"]
        assert row["data_source"] == name and info["split"] == release.split
        assert info["video_id"] == expected.video_id and info["question"] == expected.question
        assert tuple(info["options"]) == expected.options
        assert row["reward_model"]["ground_truth"] == expected.answer
        assert info["answer_index"] == "ABCDE".index(expected.answer)
        assert info["type"] == expected.type and info["duration_group"] == expected.duration_group
        assert Path(info["video"]).is_file() and info["num_frames"] > 0
        assert f"{expected.question}\nA. {expected.options[0]}" in row["prompt"][0]["content"]
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv", dtype=str).set_index("source")["reason"]
    assert set(skipped.index) == set(release.skipped)
    for source, reason in release.skipped.items():
        assert skipped[source].startswith(reason), (source, skipped[source])
    out = capsys.readouterr().out
    assert out.startswith("read ") and f"| {release.split} | {len(release.rows)} |" in out


@pytest.mark.parametrize("name", ["videomme", "mvbench"])
def test_samples_are_seeded(name, tmp_path):
    release = MAKERS[name](tmp_path / "raw")
    digests = {}
    for run, seed in (("a", "1"), ("b", "1")):
        out = tmp_path / run
        assert svr1(release.argv(out, "--samples", "1", "--seed", seed)) == 0
        assert len(_rows(out, release)) == 1
        digests[run] = hashlib.sha256((out / f"{release.split}.parquet").read_bytes()).hexdigest()
    assert digests["a"] == digests["b"]


def test_lvbench_finds_the_download_scripts_videos_through_video2datasets_sidecars(tmp_path, capsys):
    release = make_lvbench(tmp_path / "raw")  # videos/00000/00000000.mp4, not videos/<key>.mp4
    assert svr1(release.argv(tmp_path / "out")) == 0
    rows = _rows(tmp_path / "out", release)
    assert Path(rows["1"]["extra_info"]["video"]).name == "00000000.mp4"
    assert "2 videos found through video2dataset's sidecars" in capsys.readouterr().out
    # The sidecars alone (no shard table) are enough, and so is the shard table alone.
    for kept in ("json", "parquet"):
        raw = tmp_path / kept
        release = make_lvbench(raw)
        videos = raw / "LVBench" / "scripts" / "videos"
        for path in videos.rglob("*.json" if kept == "parquet" else "*.parquet"):
            path.unlink()
        assert svr1(release.argv(tmp_path / f"out-{kept}")) == 0
        assert set(_rows(tmp_path / f"out-{kept}", release)) == {"1", "2"}


def test_a_prepare_that_writes_no_row_is_an_error_naming_the_most_common_reason(tmp_path, capsys):
    release = make_lvbench(tmp_path / "raw")
    for path in sorted((release.raw / "scripts" / "videos").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()  # the videos were never downloaded
    assert svr1(release.argv(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "test.parquet has no rows: all 6 questions were skipped" in err
    assert "most often (4) because: file not found" in err and "skipped.csv" in err


def test_an_mvbench_clip_is_cut_out_of_its_original_video_or_taken_re_cut(tmp_path):
    from sparse_video_r1.video import open_video

    for branch in ("main", "video"):
        release = make_mvbench(tmp_path / branch, branch=branch)
        assert svr1(release.argv(tmp_path / f"out-{branch}")) == 0
        info = _rows(tmp_path / f"out-{branch}", release)["action_sequence_0"]["extra_info"]
        clip = open_video(info["video"])
        assert Path(info["video"]).name == "ZS9XR_1.1_2.6.mp4" and abs(clip.duration - 1.5) < 0.11
        if branch == "main":  # cut by prepare from the 4 s original: frames 11 to 25 of it, no more
            assert Path(info["video"]).parent == tmp_path / f"out-{branch}" / "clips"
            assert clip.num_frames == 15


def test_mlvu_and_mvbench_say_which_task_files_they_read(tmp_path, capsys):
    for name in ("mlvu", "mvbench"):
        assert svr1(MAKERS[name](tmp_path / name).argv(tmp_path / f"out-{name}")) == 0
    out = capsys.readouterr().out
    assert "from 4 of MLVU's 7 multiple-choice tasks" in out and "8_sub_scene" not in out
    assert (
        "from 5 of MVBench's 20 tasks" in out
        and "action_sequence, action_antonym, object_existence, action_localization, episodic_reasoning"
        in out
    )


def _change(path: Path, change) -> None:
    """Apply `change` to the records of a release file (a JSON list, JSON Lines or parquet) in place."""
    if path.suffix == ".parquet":
        records = pq.read_table(path).to_pylist()
        change(records)
        pq.write_table(pa.Table.from_pylist(records), path)
    elif path.suffix == ".jsonl":
        records = [json.loads(line) for line in path.read_text().splitlines()]
        change(records)
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    else:
        records = json.loads(path.read_text())
        change(records)
        path.write_text(json.dumps(records))


MALFORMED = [  # benchmark, a change to its questions file, what the error says after the file's name
    ("videomme", lambda r: [x.pop("task_type") for x in r], ": missing columns task_type"),
    ("videomme", lambda r: r[1].update(options=None), "row #1: field 'options' is missing"),
    ("lvbench", lambda r: r[0]["qa"][1].pop("answer"), "line 1, qa[1]: field 'answer' is missing"),
    ("lvbench", lambda r: r[1].update(qa={"uid": 4}), "line 2: field 'qa' must be a list, not dict"),
    ("mlvu", lambda r: r[0].update(question=7), "entry #0: field 'question' must be a string, not int"),
    (
        "longvideobench",
        lambda r: r[0].update(correct_choice="1"),
        "entry #0: field 'correct_choice' must be an",
    ),
    ("longvideobench", lambda r: r[3].pop("video_path"), "entry #3: field 'video_path' is missing"),
    ("mvbench", lambda r: r[0].update(candidates="yes, no"), "entry #0: field 'candidates' must be a list"),
]
# A problem with one record's content: that record is skipped with the reason, the rest is prepared.
CONTENT = [  # benchmark, a change, the source of the record skipped, the start of its reason
    ("videomme", lambda r: r[2].update(answer="F"), "#2", "answer 'F' is not a letter A-D"),
    ("lvbench", lambda r: r[0]["qa"][0].update(question="Which?"), "1 qa[0]", "field 'question' holds no options"),
    ("mlvu", lambda r: r[0].update(answer="a cat"), "#0", "answer 'a cat' is none of the candidates"),
    ("longvideobench", lambda r: r[1].update(correct_choice=5), "#1", "field 'correct_choice' is 5, not an index"),
    ("mvbench", lambda r: r[0].update(answer="Lifting"), "#0", "answer 'Lifting' is none of the candidates"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change", "place", "reason"), CONTENT)
def test_a_record_whose_content_cannot_be_a_question_is_skipped_with_its_reason(
    name, change, place, reason, tmp_path
):
    release = MAKERS[name](tmp_path / "raw")
    _change(release.file, change)
    assert svr1(release.argv(tmp_path / "out")) == 0
    skipped = pd.read_csv(tmp_path / "out" / "skipped.csv", dtype=str).set_index("source")["reason"]
    source = f"{release.file.name}:{place}"
    assert skipped[source].startswith(reason), skipped[source]
    assert len(_rows(tmp_path / "out", release)) == len(release.rows) - 1


@pytest.mark.parametrize(("name", "change", "message"), MALFORMED)
def test_a_malformed_release_file_names_the_file_the_place_and_the_field(
    name, change, message, tmp_path, capsys
):
    release = MAKERS[name](tmp_path / "raw")
    _change(release.file, change)
    assert svr1(release.argv(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert f"error: {release.file}" in err and message in err, err


@pytest.mark.parametrize(
    ("name", "cut", "message"),
    [
        ("lvbench", "{not json\n", "line 4: not JSON"),
        ("mlvu", "", ": not JSON"),
        ("mvbench", "]", ": not JSON"),
    ],
)
def test_a_file_that_is_not_json_names_the_file_and_the_line(name, cut, message, tmp_path, capsys):
    release = MAKERS[name](tmp_path / "raw")
    text = release.file.read_text()
    release.file.write_text(text + cut if cut else text[:-3])
    assert svr1(release.argv(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert f"error: {release.file}" in err and message in err, err


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("videomme", "no Video-MME questions: expected"),
        ("lvbench", "no LVBench questions: expected"),
        ("mlvu", "no MLVU questions: expected"),
        ("longvideobench", "no LongVideoBench questions: expected"),
        ("mvbench", "no MVBench questions: expected"),
    ],
)
def test_a_folder_without_the_release_says_what_was_expected(name, message, tmp_path, capsys):
    argv = ["prepare", name, "--raw-dir", str(tmp_path), "--out-dir", str(tmp_path / "out")]
    assert svr1(argv) == 2
    assert message in capsys.readouterr().err


def test_options_inside_a_text_are_the_last_block_of_lettered_lines():
    from sparse_video_r1.data.options import split_options, strip_instructions

    videomme = ("Select the best answer to the following multiple-choice question based on the video. Respond "
                "with only the letter (A, B, C, or D) of the correct option.\nWhat is the man doing?\nA. running\n"
                "B. eating\nC. sleeping\nD. reading\nThe best answer is:")  # fmt: skip
    question, options = split_options(videomme)
    assert options == ("running", "eating", "sleeping", "reading")
    assert strip_instructions(question) == "What is the man doing?"
    question, options = split_options(
        "Question:What moves?\nOption:\n(A) cat\n(B) dog\nOnly give the best option."
    )
    assert (strip_instructions(question), options) == ("What moves?", ("cat", "dog"))
    # A transcript's speaker lines before the question are not its options; nor is one lettered line.
    subtitles = "Subtitles:\nA: hello there\nB: hi\nWhich greeting comes first?\nA) hello\nB) hi\nC) bye"
    assert split_options(subtitles)[1] == ("hello", "hi", "bye")
    assert split_options("Given:\nA) one thing\nWhat next?\n(A) x\n(B) y")[1] == ("x", "y")
    with pytest.raises(ValueError, match="no option lines"):
        split_options("What is shown?")
    with pytest.raises(ValueError, match="at most 5"):
        split_options("Pick one.\n" + "\n".join(f"{letter}. {letter.lower()}" for letter in "ABCDEF"))
