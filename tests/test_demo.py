"""`svr1 demo`: its knobs, and what it says where it cannot run."""

from __future__ import annotations

import pytest

from sparse_video_r1.demo import LEARN, QUICK, with_knobs


def test_on_a_gpu_node_the_demo_says_in_one_line_why_not_and_what_to_run_instead(monkeypatch, tmp_path):
    import torch

    from sparse_video_r1.demo import run_demo

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
