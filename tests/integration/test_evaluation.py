"""`svr1 eval`: every method with the tiny model, the OpenAI-compatible backend against a real local server,
failures recorded and never scored, and a run killed midway that resumes to the same files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from chat_server import ChatServer
from sparse_video_r1.evaluation.records import SampleRecord, read_samples, summarize
from sparse_video_r1.evaluation.run import EvalConfig, evaluate


@pytest.fixture(scope="module")
def val(tmp_path_factory) -> Path:
    from sparse_video_r1.data.prepare import prepare_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    prepare_synthetic(str(out), videos=4, seed=1)
    return out / "val.parquet"  # one video, four questions


def _run(val: Path, out: Path, method: str, model, **options) -> dict:
    config = EvalConfig(
        data=str(val), method=method, model=str(model), out_dir=str(out), reply_tokens=8, **options
    )
    return evaluate(config)


@pytest.mark.parametrize(
    ("method", "frames"), [("uniform", 5), ("random", 5), ("whole_video", 10), ("frames", 5)]
)
def test_every_method_runs_with_the_tiny_model(val, tiny_model_dir, tmp_path, method, frames):
    results = _run(val, tmp_path, method, tiny_model_dir, limit=2)
    records = read_samples(tmp_path / f"samples_{val.parent.name}.jsonl")
    assert [r.doc_id for r in records] == ["synth0003_0", "synth0003_1"]
    assert all(len(r.frames) >= frames and r.target in "ABCDE" and r.resps for r in records)
    summary = results["results"]
    assert summary["n"] == 2 and summary["failures"] == 0 and summary["mean_frames"] >= frames
    assert summary["unparsed"] == sum(r.parsed is None for r in records)  # noise is unparsed, never a guess
    config = results["config"]
    assert (config["method"], config["first_frames"], config["max_pixels"], config["temperature"]) == (
        method,
        5,
        100352,
        0.0,
    )
    assert "answer_prompt" in config and results["run"] == tmp_path.name


def test_random_frames_are_seeded(val, tiny_model_dir, tmp_path):
    seconds = {}
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        _run(val, tmp_path / name, "random", tiny_model_dir, limit=1, seed=seed)
        (record,) = read_samples(tmp_path / name / f"samples_{val.parent.name}.jsonl")
        seconds[name] = [f["time"] for f in record.frames]
    assert seconds["a"] == seconds["b"] != seconds["c"]


def test_the_openai_backend_scores_single_turn_and_multi_round_answers(val, tmp_path):
    truth = pd.read_parquet(val)["reward_model"].map(lambda r: r["ground_truth"]).tolist()
    with ChatServer(script=[f"{truth[0]}.", "The answer is probably none."]) as server:
        results = _run(
            val, tmp_path / "single", "uniform", "gpt-4o", backend="openai", base_url=server.base_url, limit=2
        )
        assert [r.images for r in server.requests] == [5, 5]
    assert (results["results"]["acc"], results["results"]["unparsed"]) == (0.5, 1)

    script = [
        "<think>the middle</think><frames>4.2, 6.3</frames>",
        f"<think>seen</think><answer>{truth[0]}</answer>",
    ]
    with ChatServer(script=script) as server:
        results = _run(
            val, tmp_path / "agent", "agent", "gpt-4o", backend="openai", base_url=server.base_url, limit=1
        )
        assert [r.images for r in server.requests] == [5, 7]  # the whole conversation, every round
    (record,) = read_samples(tmp_path / "agent" / f"samples_{val.parent.name}.jsonl")
    assert (record.correct, record.rounds, len(record.frames), record.end) == (True, 2, 7, "answer")
    assert results["results"]["mean_rounds"] == 2.0


def test_the_zoom_method_records_its_spans_and_draws_them(val, tmp_path):
    from sparse_video_r1.evaluation.trajectory_pictures import draw_trajectory

    truth = pd.read_parquet(val)["reward_model"].map(lambda r: r["ground_truth"]).tolist()
    script = [
        "<think>early on</think><zoom>1, 4</zoom>",
        "<think>far too short</think><zoom>5, 5.5</zoom>",
        f"<think>seen</think><answer>{truth[0]}</answer>",
    ]
    episode = {"overview_frames": 12, "overview_pixels": 3136, "zoom_frames": 6, "zoom_pixels": 12544}
    with ChatServer(script=script) as server:
        results = _run(
            val,
            tmp_path,
            "zoom",
            "gpt-4o",
            backend="openai",
            base_url=server.base_url,
            limit=1,
            episode=episode,
        )
        assert [r.images for r in server.requests] == [12, 18, 18]  # the overview, then the clip joins it
    (record,) = read_samples(tmp_path / f"samples_{val.parent.name}.jsonl")
    assert record.zooms == [{"start": 1.0, "end": 4.0, "round": 1}]
    assert record.actions[:2] == ["zoom", "invalid: the zoom 5-5.5 s lasts under 1 s"] and record.correct
    assert [f["round"] for f in record.frames] == [0] * 12 + [1] * 6
    assert all(1 <= f["time"] <= 4 for f in record.frames[12:])
    assert results["config"]["episode"]["mode"] == "zoom" and results["config"]["method"] == "zoom"
    picture = draw_trajectory("zoom", record, tmp_path)
    assert picture.stat().st_size > 10_000


def test_a_zoom_evaluation_gets_the_context_and_pixel_range_its_episode_needs(val, tmp_path):
    from sparse_video_r1.agent.budget import TokenBudget
    from sparse_video_r1.agent.episode import EpisodeConfig
    from sparse_video_r1.evaluation.backends import _max_context, _pixel_range

    zoom = EvalConfig(data=str(val), method="zoom", model="m", out_dir=str(tmp_path), reply_tokens=512)
    worst = TokenBudget.of(EpisodeConfig(mode="zoom"), 512, prompt_chars=2000).total
    assert _max_context(zoom) == worst > 40_000  # two default zooms alone are ~17k tokens
    assert _pixel_range(zoom) == (12544, 256 * 28 * 28)  # zoomed frames are not cut to 128 x 28 x 28
    agent = EvalConfig(data=str(val), method="agent", model="m", out_dir=str(tmp_path))  # the old name
    assert agent.method == "frames" and (_max_context(agent), _pixel_range(agent)) == (16384, (12544, 100352))


def test_api_failures_are_recorded_and_never_scored(val, tmp_path):
    with ChatServer(script=["B"] * 10) as server:
        server.fail_next(2, status=500)  # the first question exhausts its 2 attempts
        results = _run(
            val,
            tmp_path,
            "uniform",
            "gpt-4o",
            backend="openai",
            base_url=server.base_url,
            limit=2,
            api_attempts=2,
        )
    failed, answered = read_samples(tmp_path / f"samples_{val.parent.name}.jsonl")
    assert (
        failed.failure.startswith("api failure")
        and "after 2 attempts" in failed.failure
        and failed.metrics == {}
    )
    assert answered.failure is None and answered.parsed == "B"
    summary = results["results"]
    assert (summary["samples"], summary["failures"], summary["n"]) == (2, 1, 1)


def _eval_command(val: Path, out: Path, model: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sparse_video_r1",
        "eval",
        "--data",
        str(val),
        "--method",
        "uniform",
        "--model",
        str(model),
        "--out-dir",
        str(out),
        "--max-new-tokens",
        "8",
    ]


def test_a_run_folder_made_under_the_old_names_resumes(val, tiny_model_dir, tmp_path):
    """Runs pinned `method: agent`, `frames` and `max_new_tokens` before the renames; they still resume."""
    _run(val, tmp_path, "frames", tiny_model_dir, limit=1)
    pinned = json.loads((tmp_path / "run.json").read_text())
    old = {("max_new_tokens" if k == "reply_tokens" else "frames" if k == "first_frames" else k): v
           for k, v in pinned.items()} | {"method": "agent"}  # fmt: skip
    (tmp_path / "run.json").write_text(json.dumps(old))
    results = _run(val, tmp_path, "agent", tiny_model_dir, limit=2)  # the old command line's name
    assert results["method"] == "frames" and results["results"]["samples"] == 2


def test_a_run_killed_midway_resumes_to_the_same_files(val, tiny_model_dir, tmp_path):
    whole = tmp_path / "whole"
    subprocess.run(_eval_command(val, whole, tiny_model_dir), check=True, capture_output=True, timeout=300)

    killed = tmp_path / "killed"
    samples = killed / f"samples_{val.parent.name}.jsonl"
    process = subprocess.Popen(
        _eval_command(val, killed, tiny_model_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not (samples.exists() and samples.read_text().count("\n") >= 2):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert samples.read_text().count("\n") < 4, "the run finished before it could be killed"
    with samples.open("a") as handle:  # as if killed in the middle of writing a line
        handle.write('{"doc_id": "synth0003_')

    subprocess.run(_eval_command(val, killed, tiny_model_dir), check=True, capture_output=True, timeout=300)
    assert samples.read_bytes() == (whole / samples.name).read_bytes()
    resumed, uninterrupted = (json.loads((d / "results.json").read_text()) for d in (killed, whole))
    assert resumed["results"] == uninterrupted["results"]


REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("launcher", "method"),
    [
        ("qwen_uniform_frames", "uniform"),
        ("qwen_random_frames", "random"),
        ("qwen_whole_video", "video"),
        ("agent", "frames"),
        ("api_frames", "uniform"),
        ("api_agent", "frames"),
    ],
)
def test_each_evaluation_launcher_runs(val, tiny_model_dir, tmp_path, launcher, method):
    import os

    env = {**os.environ, "DATA": str(val), "LIMIT": "1", "OUT": str(tmp_path), "DEVICE": "cpu"}
    script = ["<think>x</think><answer>A</answer>"] * 2
    with ChatServer(script=script) as server:
        if launcher.startswith("api"):
            env.update(BASE_URL=server.base_url, MODEL="gpt-4o", OPENAI_API_KEY="test-key")
        else:  # on hf: the vllm backend's engine start (~35 s) is tested in test_vllm_engine.py
            env.update(MODEL=str(tiny_model_dir), BACKEND="hf")
        run = subprocess.run(
            ["sh", f"scripts/eval/{launcher}.sh", "--reply-tokens", "8"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert (results["method"], results["results"]["samples"]) == (method, 1)
    assert results["backend"] == ("openai" if "api" in launcher else "hf")
    if launcher.startswith("api"):
        assert server.requests and server.requests[0].authorization == "Bearer test-key"


def test_a_run_folder_refuses_other_settings_and_retries_its_failures(val, tmp_path):
    truth = pd.read_parquet(val)["reward_model"].map(lambda r: r["ground_truth"]).tolist()
    wrong = next(letter for letter in "ABCDE" if letter != truth[0])
    with ChatServer(script=[truth[1], wrong]) as server:
        server.fail_next(2, status=500)  # question 1 fails both its tries; question 2 is answered right
        options = {"backend": "openai", "base_url": server.base_url, "limit": 2, "api_attempts": 2}
        first = _run(val, tmp_path, "uniform", "gpt-4o", **options)["results"]
        with pytest.raises(ValueError, match=r"other settings \(first_frames: 5 -> 16\)"):
            _run(val, tmp_path, "uniform", "gpt-4o", first_frames=16, **options)
        again = _run(val, tmp_path, "uniform", "gpt-4o", **options)["results"]  # question 1: wrong
    assert (first["failures"], first["n"], first["acc"], first["acc_all"]) == (1, 1, 1.0, 0.5)
    assert (again["failures"], again["n"], again["acc"], again["acc_all"]) == (0, 2, 0.5, 0.5)


def test_summarize_scores_a_known_set_of_records():
    def record(doc, type_, parsed, correct, frames=5, failure=None):
        return SampleRecord(
            doc_id=doc, target="B", resps=[], filtered_resps=[], parsed=parsed, correct=correct, type=type_,
            question="q", options=[], video="v.mp4", frames=[{"time": 0.0, "round": 0}] * frames,
            rounds=2, failure=failure,
        )  # fmt: skip

    records = [
        record("1", "CW", "B", True, frames=5),
        record("2", "CH", "A", False, frames=7),
        record("3", "TN", "B", True, frames=9),
        record("4", "DO", None, False, frames=3),  # unparsed: wrong
        record("5", "TP", None, False, frames=0, failure="api failure: 500"),  # failed: not scored
    ]
    summary = summarize(records)
    assert (summary["samples"], summary["n"], summary["failures"], summary["unparsed"]) == (5, 4, 1, 1)
    assert (summary["acc"], summary["acc_all"], summary["mean_frames"]) == (0.5, 0.4, 6.0)
    assert {group: (s["acc"], s["n"]) for group, s in summary["by_group"].items()} == {
        "C": (0.5, 2),
        "D": (0.0, 1),
        "T": (1.0, 1),
    }
    # The 95% Wilson interval of 2 right out of 4: 0.5 +- 0.35.
    assert summary["acc_ci95"] == pytest.approx([0.1500, 0.8500], abs=1e-4)
    assert (summary["by_type"]["TN"]["acc"], summary["by_type"]["TN"]["n"]) == (
        1.0,
        1,
    ) and "TP" not in summary["by_type"]


def _with_broken_third_video(val: Path, out: Path) -> Path:
    """The first three questions, the third pointing at a video that is gone."""
    table = pd.read_parquet(val).head(3)
    rows = table.to_dict("records")
    rows[2]["extra_info"] = {**rows[2]["extra_info"], "video": str(out / "gone.mp4")}
    path = out / "data" / "val.parquet"
    path.parent.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_a_complete_last_record_without_its_newline_is_kept_on_resume(val, tmp_path):
    data = _with_broken_third_video(val, tmp_path)
    options = {"backend": "openai", "limit": 3}
    with ChatServer(script=["A", "B", "C", "D"]) as server:
        first = _run(data, tmp_path / "run", "uniform", "gpt-4o", base_url=server.base_url, **options)
        samples = tmp_path / "run" / "samples_data.jsonl"
        lines = samples.read_text().splitlines()
        assert first["results"]["samples"] == 3 and "video error" in lines[2]
        samples.write_text(lines[0] + "\n" + lines[1])  # killed after writing record 2, before its newline
        again = _run(data, tmp_path / "run", "uniform", "gpt-4o", base_url=server.base_url, **options)
    records = read_samples(samples)
    assert [r.doc_id for r in records] == [json.loads(line)["doc_id"] for line in lines]
    assert records[1].resps == json.loads(lines[1])["resps"]  # kept, not redone
    assert again["results"]["samples"] == 3 and again["results"]["failures"] == 1


@pytest.mark.parametrize("results_json", ["[]", '{"wall_time_s": null}', '{"wall_time_s": "x"}', "{"])
def test_an_unreadable_results_json_does_not_stop_a_resumed_run(val, tmp_path, results_json):
    with ChatServer(script=["A"] * 4) as server:
        options = {"backend": "openai", "base_url": server.base_url}
        _run(val, tmp_path, "uniform", "gpt-4o", limit=1, **options)
        (tmp_path / "results.json").write_text(results_json)
        results = _run(val, tmp_path, "uniform", "gpt-4o", limit=1, **options)
    assert results["results"]["samples"] == 1 and results["wall_time_s"] >= 0


@pytest.mark.parametrize("run_json", ['{"data": ', "[1, 2]", ""])
def test_an_unreadable_run_json_is_a_clear_error(val, tmp_path, run_json):
    (tmp_path / "run.json").write_text(run_json)
    with pytest.raises(ValueError, match=r"run\.json is not a readable run settings file"):
        _run(val, tmp_path, "uniform", "gpt-4o", backend="openai", limit=1)


def test_the_same_data_named_relatively_or_absolutely_is_the_same_run(val, tmp_path, monkeypatch):
    with ChatServer(script=["A"] * 4) as server:
        options = {"backend": "openai", "base_url": server.base_url, "limit": 1}
        _run(val, tmp_path / "run", "uniform", "gpt-4o", **options)
        monkeypatch.chdir(val.parent.parent)
        relative = Path(val.parent.name) / val.name
        assert _run(relative, tmp_path / "run", "uniform", "gpt-4o", **options)["results"]["samples"] == 1
    assert json.loads((tmp_path / "run" / "run.json").read_text())["data"] == str(val.absolute())


def test_the_video_method_picks_the_frames_qwen_vl_utils_picks():
    """The seed's Full Video row fed videos through qwen-vl-utils: the same count (fps x duration, at least 4,
    at most max_frames and the video's frames, even) and the same frames (first to last, evenly)."""
    import numpy as np
    from qwen_vl_utils.vision_process import smart_nframes

    from sparse_video_r1.evaluation.methods import VideoSetting
    from sparse_video_r1.video import FrameGrid

    for rate in (24, 29.97, 30):
        for tenths in range(5, 3000, 37):
            frames = max(1, round(tenths / 10 * rate))
            for most in (768, 33):
                count = smart_nframes({"fps": 1.0, "max_frames": most}, total_frames=frames, video_fps=rate)
                grid = FrameGrid(frames / rate, rate, frames)
                ours = [grid.frame_at(t) for t in VideoSetting(max_frames=most).times(grid)]
                assert ours == np.linspace(0, frames - 1, count).round().astype(int).tolist(), (tenths, rate)
