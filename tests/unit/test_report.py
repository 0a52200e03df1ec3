"""The run report: table, accuracy plot, trajectory pictures and HTML page, on real synthetic videos."""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sparse_video_r1.evaluation.records import SampleRecord, summarize, wilson_interval
from sparse_video_r1.evaluation.report import load_runs, make_report, table_rows
from sparse_video_r1.evaluation.trajectory_pictures import choose_samples, frames_by_round
from sparse_video_r1.video import uniform_timestamps

TRICKY = """Is <b>"the" square</b> & 'circle' > 2 s apart?"""
NEXTQA_TYPES = ["CW", "TN", "DO", "CH", "TC", "DL", "CW", "TP"]
GREY = (150, 150, 150)  # the placeholder drawn for a frame that cannot be decoded


@pytest.fixture(scope="module")
def questions(tmp_path_factory) -> list[dict]:
    """8 questions of three real synthetic videos, as the evaluator reads them from the parquet files."""
    from sparse_video_r1.data.prepare import prepare_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    with contextlib.redirect_stdout(io.StringIO()):
        prepare_synthetic(str(out), videos=3, seed=0)
    table = pd.concat([pd.read_parquet(out / f"{split}.parquet") for split in ("train", "val")])
    return [{**row.extra_info, "target": row.reward_model["ground_truth"]} for row in table.itertuples()][:8]


def _record(row: dict, *, rounds: int, correct: bool, **changes) -> SampleRecord:
    """An episode of `rounds` replies: five uniform first frames, two more asked for by each reply but the
    last, which answers (the target when `correct`, else another letter)."""
    wrong = "A" if row["target"] != "A" else "B"
    answer = row["target"] if correct else wrong
    frames = [{"time": t, "round": 0} for t in uniform_timestamps(row["duration"], 5)]
    resps = []
    for r in range(1, rounds):
        times = [round(0.7 * r + 0.35, 2), round(9.5 - 0.8 * r, 2)]
        frames += [{"time": t, "round": r} for t in times]
        resps.append(
            f"<think>The event may be near {times[0]} s; look closer.</think><frames>{times}</frames>"
        )
    resps.append(
        f"<think>Round {rounds}: the square is clear now, and $x$ is fine.</think><answer>{answer}</answer>"
    )
    fields = {
        "doc_id": f"{row['video_id']}_{row['qid']}",
        "target": row["target"],
        "resps": resps,
        "filtered_resps": [answer],
        "parsed": answer,
        "correct": correct,
        "type": row["type"],
        "question": row["question"],
        "options": list(row["options"]),
        "video": row["video"],
        "frames": frames,
        "rounds": rounds,
        "end": "answer",
        "visual_tokens": 24 * len(frames),
        "metrics": {"acc": int(correct)},
    }
    return SampleRecord(**{**fields, **changes})


def _write_run(directory: Path, name: str, method: str, records: list[SampleRecord]) -> Path:
    directory.mkdir(parents=True)
    lines = "".join(record.to_json() + "\n" for record in records)
    (directory / "samples_synthetic.jsonl").write_text(lines, encoding="utf-8")
    info = {
        "task": "synthetic",
        "run": name,
        "method": method,
        "model": "/models/Qwen2.5-VL-3B-Instruct/",
        "backend": "hf",
        "frames": 5,
        "results": summarize(records),
        "wall_time_s": 12.34,
        "date": "2026-11-21T13:00:00",
        "config": {},
    }
    (directory / "results.json").write_text(json.dumps(info), encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def runs(questions, tmp_path_factory) -> dict[str, Path]:
    """uniform-5: one round, NExT-QA types, 3 of 8 right, one failure and one unparsed.
    agent: several rounds, synthetic types, 6 of 8 right, a tricky question and a missing video."""
    root = tmp_path_factory.mktemp("runs")
    uniform = [
        _record(q, rounds=1, correct=k in (0, 3, 5), type=NEXTQA_TYPES[k]) for k, q in enumerate(questions)
    ]
    uniform[6] = _record(questions[6], rounds=1, correct=False, type="CW", parsed=None, filtered_resps=[])
    uniform.append(
        _record(
            questions[7], rounds=0, correct=False, doc_id="failed", resps=[], frames=[], failure="API down"
        )
    )
    agent = [_record(q, rounds=1 + k % 4, correct=k not in (1, 4)) for k, q in enumerate(questions)]
    agent[3] = _record(questions[3], rounds=4, correct=True, question=TRICKY)
    agent[7] = _record(questions[7], rounds=4, correct=True, video=str(root / "gone.mp4"))
    return {
        "uniform-5": _write_run(root / "uniform-5", "uniform-5", "uniform", uniform),
        "agent": _write_run(root / "agent", "agent", "frames", agent),
        "unfinished": _write_unfinished(root / "unfinished"),
    }


def _write_unfinished(directory: Path) -> Path:
    directory.mkdir()
    (directory / "samples_synthetic.jsonl").write_text("", encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory) -> tuple[dict[str, Path], str]:
    """The report on the three run dirs (one unfinished), and what it printed."""
    out = tmp_path_factory.mktemp("report")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), pytest.warns(UserWarning, match="unfinished.*no results.json"):
        paths = make_report([runs["uniform-5"], runs["agent"], runs["unfinished"]], out, samples_to_draw=3)
    return paths, printed.getvalue()


def _table(markdown: str) -> list[dict[str, str]]:
    lines = [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.strip().splitlines()]
    return [dict(zip(lines[0], row, strict=True)) for row in lines[2:]]


def test_report_writes_every_file_and_returns_their_paths(report):
    paths, _ = report
    out = paths["table.md"].parent
    assert {"table.md", "results.json", "accuracy_vs_frames.png", "report.html"} <= set(paths)
    trajectories = sorted(key for key in paths if key.startswith("trajectories/"))
    assert len(trajectories) == 6  # three per usable run
    assert all(path.is_file() and path.stat().st_size > 0 for path in paths.values())
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == sorted(
        [*trajectories, "accuracy_vs_frames.png"]
    )


def test_table_has_a_row_per_run_with_accuracy_and_nextqa_groups(report):
    paths, printed = report
    markdown = paths["table.md"].read_text(encoding="utf-8")
    assert printed.strip() == markdown.strip()
    rows = {row["run"]: row for row in _table(markdown)}
    assert list(rows) == ["uniform-5", "agent"]
    uniform, agent = rows["uniform-5"], rows["agent"]
    assert uniform["acc (%)"] == "37.5" and agent["acc (%)"] == "75.0"  # 3 of 8, 6 of 8
    # right: 0 (CW), 3 (CH), 5 (DL); so C 2 of 3 (CW CH CW), T 0 of 3 (TN TC TP), D 1 of 2 (DO DL)
    assert (uniform["C (%)"], uniform["T (%)"], uniform["D (%)"]) == ("66.7", "0.0", "50.0")
    assert (agent["C (%)"], agent["T (%)"], agent["D (%)"]) == ("-", "-", "-")  # synthetic types only
    assert uniform["model"] == "Qwen2.5-VL-3B-Instruct" and uniform["method"] == "uniform"
    assert (uniform["unparsed"], uniform["failures"], uniform["samples"]) == ("1", "1", "9")
    assert (uniform["first frames"], uniform["mean frames"], uniform["mean rounds"]) == ("5", "5.0", "1.00")
    assert agent["mean rounds"] == "2.50" and float(agent["mean frames"]) > 5
    assert uniform["wall time (s)"] == "12.3" and uniform["backend"] == "hf"


def test_group_columns_appear_only_with_nextqa_types(runs):
    header, rows = table_rows(load_runs([runs["agent"]]))
    assert not {"C (%)", "T (%)", "D (%)"} & set(header) and len(rows) == 1
    # Another benchmark shows its own question types instead.
    assert header[9:12] == ["background (%)", "colour (%)", "pattern (%)"]
    header, _ = table_rows(load_runs([runs["agent"], runs["uniform-5"]]))
    assert header[9:12] == ["C (%)", "T (%)", "D (%)"]


def test_accuracy_comes_with_its_95_percent_interval(runs):
    header, rows = table_rows(load_runs([runs["agent"]]))
    agent = dict(zip(header, rows[0], strict=True))
    low, high = (float(x) for x in agent["95% CI"].split(" to "))
    assert low < float(agent["acc (%)"]) < high and 40 < high - low < 60  # 6 of 8: a wide interval
    assert wilson_interval(0, 10) == pytest.approx([0.0, 0.2775], abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx([0.2366, 0.7634], abs=1e-4)
    assert wilson_interval(0, 0) == [0.0, 1.0]


def test_pictures_open_and_have_plausible_sizes(report):
    paths, _ = report
    with Image.open(paths["accuracy_vs_frames.png"]) as plot:
        assert 800 <= plot.width <= 2000 and 500 <= plot.height <= 1500
    for key in (k for k in paths if k.startswith("trajectories/")):
        with Image.open(paths[key]) as picture:
            picture.load()
            assert picture.width == 1200 and 600 <= picture.height <= 6000, key
    assert "trajectories/agent_synth0001_0.png" in paths  # the 4-round tricky question was chosen


def test_html_is_self_contained_and_escapes_model_text(report):
    paths, _ = report
    page = paths["report.html"].read_text(encoding="utf-8")
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == 7  # the plot and six trajectories
    with Image.open(io.BytesIO(base64.b64decode(images[0]))) as embedded:
        assert embedded.format == "PNG"
    assert html.escape(TRICKY) in page and TRICKY not in page
    assert not re.search(r"(src|href)=['\"](?!data:)", page)  # no external assets
    assert "<table>" in page and "37.5" in page


def test_missing_video_draws_grey_placeholders(report):
    paths, _ = report
    greys = {}
    for key in ("trajectories/agent_synth0002_1.png", "trajectories/agent_synth0001_0.png"):
        pixels = np.asarray(Image.open(paths[key]).convert("RGB"))
        greys[key] = int((pixels == GREY).all(axis=-1).sum())
    assert greys["trajectories/agent_synth0002_1.png"] > 20_000  # its video is gone: 11 grey frames
    assert greys["trajectories/agent_synth0001_0.png"] < 1_000  # only text edges


def test_runs_without_results_are_skipped_and_none_usable_is_an_error(runs, tmp_path):
    with pytest.warns(UserWarning, match=r"skipping .*unfinished: it has no results.json"):
        assert [run.name for run in load_runs([runs["unfinished"], runs["agent"]])] == ["agent"]
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "results.json").write_text("{not json", encoding="utf-8")
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="no usable run"):
        make_report([runs["unfinished"], broken], tmp_path / "out")


def test_frames_are_grouped_by_the_reply_they_came_before(questions):
    record = _record(questions[0], rounds=3, correct=True)
    record.frames.append({"time": 4.0, "round": 3})  # asked for by the last reply; no reply followed
    rounds = frames_by_round(record)
    assert [len(frames) for frames in rounds] == [5, 2, 2, 1]
    assert [frame["round"] for frame in rounds[1]] == [1, 1] and len(record.resps) == 3


def test_samples_are_chosen_deterministically_multi_round_then_correct(questions):
    samples = [
        _record(questions[0], rounds=1, correct=True),
        _record(questions[1], rounds=3, correct=False),
        _record(questions[2], rounds=2, correct=True),
        _record(questions[3], rounds=4, correct=True, failure="video error"),
    ]
    chosen = choose_samples(samples, 3)
    assert [r.doc_id for r in chosen] == [samples[2].doc_id, samples[1].doc_id, samples[0].doc_id]
    assert choose_samples(list(reversed(samples)), 3) == chosen


def test_training_curves_come_from_the_runs_tensorboard_events(runs, tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    events = tmp_path / "grpo" / "tensorboard"
    writer = SummaryWriter(str(events))
    for step in range(1, 6):
        writer.add_scalar("critic/score/mean", 0.1 * step, step)
        writer.add_scalar("episode/frames", 12 - step, step)
        writer.add_scalar("episode/request_rate", 0.5, step)
    writer.close()
    with contextlib.redirect_stdout(io.StringIO()):
        paths = make_report([runs["agent"]], tmp_path / "out", samples_to_draw=1, training={"grpo": events})
    assert "training_grpo.png" in paths and Image.open(paths["training_grpo.png"]).width > 400
    page = paths["report.html"].read_text(encoding="utf-8")
    assert "<h2>Training</h2>" in page and "Training curves of grpo" in page
    assert "heldout_grpo.png" not in paths  # no held-out evaluation was logged
    writer = SummaryWriter(str(events))
    for step in (0, 5):
        writer.add_scalar("val-core/synthetic/acc/mean@1", 0.5 + 0.04 * step, step)
        writer.add_scalar("val-aux/synthetic/frames/mean@1", 9.0, step)
    writer.close()
    with contextlib.redirect_stdout(io.StringIO()):
        paths = make_report([runs["agent"]], tmp_path / "again", samples_to_draw=1, training={"grpo": events})
    assert Image.open(paths["heldout_grpo.png"]).width > 400
    assert "held-out accuracy against training reward" in paths["report.html"].read_text(encoding="utf-8")


def test_paired_comparisons_count_wins_and_losses_on_the_same_questions(runs, tmp_path):
    with contextlib.redirect_stdout(io.StringIO()):
        paths = make_report(
            [runs["uniform-5"], runs["agent"]], tmp_path, samples_to_draw=0, pairs=[("agent", "uniform-5")]
        )
    markdown = paths["table.md"].read_text(encoding="utf-8")
    paired = _table(markdown.split("\n\n")[1])
    # uniform-5 right on 0, 3, 5 (its failed question is in neither); agent right on all but 1 and 4.
    assert paired == [{
        "run": "agent", "against": "uniform-5", "questions": "8", "run acc (%)": "75.0",
        "against acc (%)": "37.5", "change (points)": "+37.5", "wins": "3", "losses": "0",
        "both right": "3", "both wrong": "2", "McNemar p": "0.25",
    }]  # fmt: skip
    results = json.loads(paths["results.json"].read_text())
    assert [row["run"] for row in results["runs"]] == ["uniform-5", "agent"]
    assert results["comparisons"][0]["wins"] == 3 and results["comparisons"][0]["p_value"] == 0.25
    assert "Paired comparisons" in paths["report.html"].read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="no run named grpo"):
        make_report([runs["agent"]], tmp_path / "again", pairs=[("grpo", "agent")])


def test_runs_with_evidence_spans_say_whether_they_answered_before_the_evidence(questions, tmp_path):
    spans = [[3.0, 3.6]]
    looked = _record(questions[0], rounds=1, correct=True, spans=spans)  # 5 uniform frames: 1, 3, 5, 7, 9 s
    guessed = _record(questions[1], rounds=1, correct=True, spans=[[4.0, 4.5]])
    scores = summarize([looked, guessed, _record(questions[2], rounds=1, correct=False)])
    assert scores["before_evidence"] == pytest.approx(1 / 3) and scores["acc_after_evidence"] == 1.0
    run = _write_run(tmp_path / "run", "agent", "agent", [looked, guessed])
    header, rows = table_rows(load_runs([run]))
    row = dict(zip(header, rows[0], strict=True))
    assert row["answered before evidence (%)"] == "50.0" and row["acc after evidence (%)"] == "100.0"


def test_each_round_of_a_picture_says_what_the_environment_made_of_the_reply(questions):
    from sparse_video_r1.evaluation.trajectory_pictures import _round_blocks

    record = _record(
        questions[0], rounds=2, correct=True, actions=["invalid: times 99 are outside", "answer"]
    )
    texts = [line for block in _round_blocks(record, 0, [], [], 5) for line in getattr(block, "lines", [])]
    assert "→ invalid: times 99 are outside" in texts
