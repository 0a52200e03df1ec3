"""`svr1 demo`: its knobs, what it says where it cannot run, and a console that shows stages and progress
while every engine and worker writes into the stage's log."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from sparse_video_r1.demo.settings import LEARN, QUICK, with_knobs


def test_on_a_gpu_node_the_demo_says_in_one_line_why_not_and_what_to_run_instead(monkeypatch, tmp_path):
    import torch

    from sparse_video_r1.demo.run import run_demo

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # no GPU here; its answer can be faked
    with pytest.raises(SystemExit) as refused:
        run_demo(tmp_path)
    message = str(refused.value)
    assert "\n" not in message and "scripts/gpu_check.sh" in message and "DEVICE=cpu" in message
    assert not any(tmp_path.iterdir())  # nothing was started


def test_a_knob_is_set_by_name_and_read_as_its_type():
    changed = with_knobs(LEARN, ["grpo_lr=3e-5", "norm_adv_by_std=false", "policies=oracle=1,impatient=3"])
    assert changed.grpo_lr == 3e-5 and changed.norm_adv_by_std is False
    assert changed.policies == (("oracle", 1.0), ("impatient", 3.0)) and changed.sft_steps == LEARN.sft_steps
    assert with_knobs(QUICK, []) == QUICK
    for wrong, message in (
        ("lr=1", "KNOB one of"),
        ("norm_adv_by_std=maybe", "true or false"),
        ("policies=oracle=1,lazy=1", "lazy"),
        ("grpo_steps=many", "invalid literal"),
    ):
        with pytest.raises(ValueError, match=message):
            with_knobs(LEARN, [wrong])  # fmt: skip


def test_a_failed_stage_prints_its_logs_last_lines_and_where_the_log_is(tmp_path):
    from sparse_video_r1.demo.console import SFT_PHASES, run_logged

    log = tmp_path / "sft.log"
    command = ["sh", "-c", "for i in $(seq 1 40); do echo line $i; done; echo boom >&2; exit 3"]
    with pytest.raises(SystemExit) as failed:
        run_logged(command, log, {}, steps=5, what="SFT", phases=SFT_PHASES)
    message = str(failed.value)
    assert "exit 3" in message and "| boom" in message and "| line 40" in message and str(log) in message
    assert "| line 1\n" not in message  # the tail, not the whole log


# The demo's evaluation stage, alone in a process as the demo runs it: vLLM's engine (and its engine-core
# process) start and generate inside it; the console keeps only the stage's progress.
EVALUATION = """
import sys
from pathlib import Path
from dataclasses import replace
from sparse_video_r1.data.prepare import prepare_synthetic
from sparse_video_r1.demo import stages
from sparse_video_r1.demo.settings import QUICK
work, model = Path(sys.argv[1]), Path(sys.argv[2])
prepare_synthetic(str(work / "data"), videos=4, seed=0)
(work / "trained").mkdir()
(work / "trained" / "model").symlink_to(model)
runs = stages.evaluate(replace(QUICK, questions=2), work / "data", {"trained": work / "trained" / "model"})
print("runs:", *(run.name for run in runs))
"""


@pytest.mark.slow
def test_the_evaluation_stage_keeps_vllms_output_in_its_log_and_off_the_console(tiny_model_dir, tmp_path):
    run = subprocess.run(
        [sys.executable, "-c", EVALUATION, str(tmp_path), str(tiny_model_dir)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    console = run.stdout + run.stderr
    assert run.returncode == 0, console[-3000:]
    assert "runs: uniform-5 random-5 agent-1-round agent-sft+grpo zoom-sft+grpo" in run.stdout
    engine_lines = [line for line in console.splitlines() if re.search(r"\b(INFO|WARNING|DEBUG)\b", line)]
    assert not engine_lines, engine_lines[:5]
    log = (tmp_path / "trained" / "runs" / "evaluation.log").read_text()
    assert re.search(r"INFO .*vllm|EngineCore", log), log[-2000:]  # vLLM wrote, into the log
    assert "zoom-sft+grpo" in console  # the progress bars name the runs
