"""`svr1 demo`: its knobs, what it says where it cannot run, and a console that shows stages and progress
while every engine and worker writes into the stage's log."""

from __future__ import annotations

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
