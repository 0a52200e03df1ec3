"""Each benchmark's fixture prepared and evaluated end to end with the tiny model, its official scores in
results.json, and a run split into shards that merges into the files and scores of one run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmark_fixtures import MAKERS
from sparse_video_r1.cli import main as svr1
from sparse_video_r1.evaluation.official_scores import official_scores
from sparse_video_r1.evaluation.records import SampleRecord, read_samples
from sparse_video_r1.evaluation.report import load_runs, table_rows

OFFICIAL_KEYS = {
    "videomme": {"overall", "by_duration"},
    "lvbench": {"overall", "by_question_type"},
    "mlvu": {"M-Avg", "tasks", "by_task"},
    "longvideobench": {"overall", "by_duration_group"},
    "mvbench": {"average", "tasks", "by_task"},
}


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> dict[str, Path]:
    """Each benchmark's fixture, prepared: benchmark -> its split's parquet."""
    root = tmp_path_factory.mktemp("benchmarks")
    splits = {}
    for name, make in MAKERS.items():
        release = make(root / name / "raw")
        assert svr1(release.argv(root / name / "prepared")) == 0
        splits[name] = root / name / "prepared" / f"{release.split}.parquet"
    return splits


def _eval(split: Path, model: Path, out: Path, *extra: str) -> dict:
    argv = ["eval", "--data", str(split), "--method", "uniform", "--model", str(model), "--out-dir", str(out),
            "--first-frames", "2", "--reply-tokens", "4", *extra]  # fmt: skip
    assert svr1(argv) == 0
    shard = extra[extra.index("--shard") + 1].replace("/", "-of-") if "--shard" in extra else ""
    return json.loads((out / (f"shard-{shard}" if shard else "") / "results.json").read_text())


@pytest.mark.parametrize("name", list(OFFICIAL_KEYS))
def test_each_benchmark_evaluates_with_its_official_scores(name, prepared, tiny_model_dir, tmp_path):
    results = _eval(prepared[name], tiny_model_dir, tmp_path / "run")
    records = read_samples(tmp_path / "run" / f"samples_{prepared[name].parent.name}.jsonl")
    assert results["benchmark"] == name and results["results"]["samples"] == len(records) > 0
    official = results["results"]["official"]
    assert set(official) == OFFICIAL_KEYS[name] | {"failures"}
    groups = next(v for k, v in official.items() if k.startswith("by_"))
    assert sum(g["n"] for g in groups.values()) >= len(records)  # an LVBench question may count in two types
    if name in ("videomme", "longvideobench"):
        assert set(groups) == {r.duration_group for r in records} and "" not in groups
    # The report's table shows the benchmark's headline and its groups.
    header, (row,) = table_rows(load_runs([tmp_path / "run"]))
    headline = {"mlvu": "M-Avg", "mvbench": "average"}.get(name)
    if headline:
        assert row[header.index(f"{headline} (%)")] == f"{100 * official[headline]:.1f}"
    assert [f"{g} (%)" for g in groups] == header[
        header.index("unparsed") - len(groups) : header.index("unparsed")
    ]


def _record(kind: str, correct: bool, group: str = "", failure: str | None = None) -> SampleRecord:
    return SampleRecord(doc_id=f"{kind}{group}{correct}", target="A", resps=[], filtered_resps=[],
                        parsed="A" if correct else None, correct=correct, type=kind, question="", options=[],
                        video="", duration_group=group, failure=failure)  # fmt: skip


def test_official_aggregations_follow_each_benchmarks_rules():
    # MLVU's M-Avg and MVBench's average are means over tasks, not over questions.
    records = [
        _record("plotQA", True),
        _record("plotQA", True),
        _record("plotQA", True),
        _record("needle", False),
    ]
    assert official_scores("mlvu", records)["M-Avg"] == 0.5 and official_scores("mlvu", records)["tasks"] == 2
    assert official_scores("mvbench", records)["average"] == 0.5
    # Video-MME per duration bucket, in the benchmark's order; a failed sample counts as wrong, as lmms-eval
    # counts it (an hour-long video whose decoding failed may not quietly leave the long bucket).
    records = [_record("t", True, "long"), _record("t", False, "short"), _record("t", True, "medium"),
               _record("t", True, "long", failure="video error: decoding timed out")]  # fmt: skip
    scores = official_scores("videomme", records)
    assert list(scores["by_duration"]) == ["short", "medium", "long"] and scores["overall"]["n"] == 4
    assert scores["by_duration"]["long"] == {"acc": 0.5, "n": 2} and scores["failures"] == 1
    # LongVideoBench's groups in numeric order; LVBench counts a question under each of its types.
    groups = official_scores("longvideobench", [_record("t", True, g) for g in ("600", "15", "3600", "60")])
    assert list(groups["by_duration_group"]) == ["15", "60", "600", "3600"]
    lvbench = official_scores("lvbench", [_record("reasoning; key information retrieval", True)])
    assert set(lvbench["by_question_type"]) == {"reasoning", "key information retrieval"}
    assert (
        official_scores("nextqa", [_record("CW", True), _record("TN", False)])["by_group"]["C"]["acc"] == 1.0
    )
    assert official_scores("synthetic", records) == {}


def test_a_sharded_run_merges_into_the_files_and_scores_of_one_run(
    prepared, tiny_model_dir, tmp_path, capsys
):
    from sparse_video_r1.evaluation.shards import merge_shards

    split = prepared["videomme"]  # three questions
    whole = _eval(split, tiny_model_dir, tmp_path / "whole")
    with pytest.raises(ValueError, match="shards 1/2 are missing"):
        assert _eval(split, tiny_model_dir, tmp_path / "sharded", "--shard", "0/2")["results"]["samples"] == 2
        merge_shards(tmp_path / "sharded")
    assert _eval(split, tiny_model_dir, tmp_path / "sharded", "--shard", "1/2")["results"]["samples"] == 1
    assert svr1(["merge", str(tmp_path / "sharded")]) == 0
    name = f"samples_{split.parent.name}.jsonl"
    assert (tmp_path / "sharded" / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()
    merged = json.loads((tmp_path / "sharded" / "results.json").read_text())
    assert merged["results"] == whole["results"] and merged["shards"]["count"] == 2
    assert json.loads((tmp_path / "sharded" / "run.json").read_text()) == json.loads(
        (tmp_path / "whole" / "run.json").read_text()
    )
    # A shard is refused another --limit than it was made with, and a shard that is not K/N is an error.
    argv = ["eval", "--data", str(split), "--method", "uniform", "--model", str(tiny_model_dir),
            "--out-dir", str(tmp_path / "sharded"), "--frames", "2", "--max-new-tokens", "4"]  # fmt: skip
    assert svr1([*argv, "--shard", "0/2", "--limit", "2"]) == 2
    assert svr1([*argv, "--shard", "2/2"]) == 2
    assert "other settings (limit: None -> 2)" in capsys.readouterr().err
    # The merged folder is a finished run: the unsharded command resumes it with nothing left to do.
    again = _eval(split, tiny_model_dir, tmp_path / "sharded")
    assert again["results"] == whole["results"]
