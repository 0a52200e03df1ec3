"""`svr1 demo`'s evaluation stage: vLLM's engine and its engine-core process write into the stage's log,
and the console keeps the stage's progress."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

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
