"""`lmms-eval --model svr1`: the real lmms-eval CLI, offline, runs our episodes with the tiny model on a local
task (a YAML, its hooks and a jsonl of three questions over real mp4s), and answers as `svr1 eval`'s path does."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from sparse_video_r1.agent.episode import Question
from sparse_video_r1.evaluation.backends import answer_samples
from sparse_video_r1.evaluation.config import EvalConfig
from sparse_video_r1.evaluation.methods import Sample
from sparse_video_r1.video.writer import write_video
from videos import paint_index

TASK = "svr1_local_mc"
QUESTIONS = [
    ("What is shown first?", ["a grid", "a cat", "a car"], "A"),
    ("How many blocks are white at the end?", ["none", "some", "all", "half"], "B"),
    ("What changes over time?", ["nothing", "the blocks"], "B"),
]
EPISODE = {"max_rounds": 2, "frames_per_request": 2, "max_frames": 4, "max_pixels": 12544, "min_pixels": 3136}
ZOOM = {
    "max_rounds": 2,
    "overview_frames": 4,
    "overview_pixels": 3136,
    "zoom_frames": 2,
    "zoom_pixels": 3136,
    "max_zooms": 1,
}
SETTINGS = {"first_frames": 2, "reply_tokens": 8}
OLD_NAMES = {"frames": 2, "max_new_tokens": 8}  # what model_args said before the renames: still taken

TASK_YAML = f"""\
task: {TASK}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {{docs}}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.doc_to_visual
doc_to_text: !function utils.doc_to_text
doc_to_target: answer
process_results: !function utils.process_results
generation_kwargs:
  max_new_tokens: 16
  until: ["\\n"]
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
metadata:
  version: 0.0
"""

TASK_HOOKS = """\
def doc_to_visual(doc):
    return [doc["video"]]


def doc_to_text(doc, lmms_eval_specific_kwargs=None):
    options = "\\n".join(f"{chr(65 + i)}. {option}" for i, option in enumerate(doc["options"]))
    return f"{doc['question']}\\n{options}\\nAnswer with the option's letter from the given choices directly."


def process_results(doc, results):
    return {"exact_match": float(results[0] == doc["answer"])}
"""


def _lmms_eval() -> Path:
    cli = Path(sys.executable).parent / "lmms-eval"
    if importlib.util.find_spec("lmms_eval") is None or not cli.exists():
        pytest.fail("lmms-eval is not installed: run `bash scripts/setup.sh` (dev extras install it)")
    return cli


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lmms-task")
    docs = []
    for i, (question, options, answer) in enumerate(QUESTIONS):
        video = root / f"video{i}.mp4"
        count = 20 + 10 * i
        write_video(video, (paint_index(k, 96, 64) for k in range(count)), 10)
        docs.append({"video": str(video), "question": question, "options": options, "answer": answer})
    data = root / "docs.jsonl"
    data.write_text("".join(json.dumps(doc) + "\n" for doc in docs))
    tasks = root / "tasks"
    tasks.mkdir()
    (tasks / f"{TASK}.yaml").write_text(TASK_YAML.format(docs=data))
    (tasks / "utils.py").write_text(TASK_HOOKS)
    return root


def _model_args(values: dict) -> str:
    return ",".join(f"{key}={value}" for key, value in values.items())


def _run_cli(task_dir: Path, out: Path, model_args: dict) -> list[dict]:
    """Runs lmms-eval offline; returns its samples (one per doc, in doc order)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(out / "hf"),
    }
    command = [str(_lmms_eval()), "--model", "svr1", "--model_args", _model_args(model_args)]
    command += ["--tasks", TASK, "--include_path", str(task_dir / "tasks"), "--batch_size", "1"]
    command += ["--output_path", str(out / "results"), "--log_samples"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (results,) = (out / "results").rglob("*_results.json")
    assert TASK in json.loads(results.read_text())["results"]
    (samples,) = (out / "results").rglob(f"*_samples_{TASK}.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    return sorted(rows, key=lambda row: row["doc_id"])


def _own_records(task_dir: Path, model: Path, method: str, episode: dict) -> list[dict]:
    """What `svr1 eval`'s path (answer_samples) records for the same questions and videos."""
    config = EvalConfig(
        data="", method=method, model=str(model), out_dir="", backend="hf", episode=episode, **SETTINGS
    )
    samples = [
        Sample(str(i), Question(q, tuple(options)), "", TASK, str(task_dir / f"video{i}.mp4"), seed=i)
        for i, (q, options, _) in enumerate(QUESTIONS)
    ]
    return [json.loads(record.to_json()) for record in answer_samples(config, samples)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mode", "method", "episode"), [("frames", "frames", EPISODE), ("zoom", "zoom", ZOOM)]
)
def test_lmms_eval_runs_our_episodes_and_answers_as_svr1_eval(
    task_dir, tiny_model_dir, tmp_path, mode, method, episode
):
    records = tmp_path / "records.jsonl"
    model_args = {"pretrained": tiny_model_dir, "mode": mode, "backend": "hf", "device": "cpu"}
    rows = _run_cli(task_dir, tmp_path, {**model_args, **OLD_NAMES, **episode, "records_path": records})
    assert [row["doc_id"] for row in rows] == list(range(len(QUESTIONS)))
    # lmms-eval writes a one-reply filtered_resps as the string itself
    answers = [row["filtered_resps"] for row in rows]
    assert all(answer == "" or (len(answer) == 1 and answer in "ABCDE") for answer in answers)
    ours = [json.loads(line) for line in records.read_text().splitlines()]
    assert [r["question"] for r in ours] == [q for q, _, _ in QUESTIONS]  # the options split off the prompt
    assert all(r["frames"] and r["resps"] for r in ours)  # a real episode ran on each video
    own = _own_records(task_dir, tiny_model_dir, method, episode)
    assert answers == [r["parsed"] or "" for r in own]
    assert [(r["resps"], r["frames"], r["end"]) for r in ours] == [
        (r["resps"], r["frames"], r["end"]) for r in own
    ]


def test_a_prompt_without_options_is_answered_empty_with_a_warning(task_dir, tiny_model_dir):
    _lmms_eval()
    from loguru import logger

    # Our module before lmms-eval's registry, which imports it through the entry point: no import cycle.
    plugin = importlib.import_module("sparse_video_r1.evaluation.lmms_eval_model")
    SparseVideoR1 = plugin.SparseVideoR1
    assert importlib.import_module("lmms_eval.models").get_model("svr1") is SparseVideoR1
    args = _model_args(
        {"pretrained": tiny_model_dir, "mode": "frames", "backend": "hf", **SETTINGS, **EPISODE}
    )
    model = SparseVideoR1.create_from_arg_string(args, {"batch_size": 1, "device": None})
    docs = [json.loads(line) for line in (task_dir / "docs.jsonl").read_text().splitlines()]
    model.task_dict = {TASK: {"test": docs}}
    question, options, _ = QUESTIONS[1]
    prompts = [question, "\n".join([question, *(f"({chr(65 + i)}) {o}" for i, o in enumerate(options))])]
    requests = [
        SimpleNamespace(args=(prompt, {"until": ["\n"]}, lambda doc: [doc["video"]], 1, TASK, "test"))
        for prompt in prompts
    ]
    warnings = []
    sink = logger.add(warnings.append, level="WARNING", format="{message}")
    try:
        answers = model.generate_until(requests)
    finally:
        logger.remove(sink)
    own = _own_records(task_dir, tiny_model_dir, "frames", EPISODE)[1]
    assert answers == ["", own["parsed"] or ""]
    assert any(f"{TASK} doc 1: no options" in message for message in warnings)
    with pytest.raises(NotImplementedError, match="loglikelihood"):
        model.loglikelihood(requests)
