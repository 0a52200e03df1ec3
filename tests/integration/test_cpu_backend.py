"""The CPU backend's touch points on verl: still where we expect them, registered, and never on a GPU box."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_every_verl_internal_we_touch_is_still_there():
    from sparse_video_r1 import verl_internals

    verl_internals.check()  # raises, naming what moved, after a verl upgrade that breaks us
    verl_internals.check_vllm_rollout()


def test_the_plugin_registers_the_cpu_platform_and_the_vllm_cpu_rollout_in_a_fresh_process():
    code = """
import os
os.environ['VERL_USE_EXTERNAL_MODULES'] = 'sparse_video_r1.cpu_backend.plugin'
import verl
from verl.utils.device import get_device_name, get_nccl_backend, get_resource_name
from verl.workers.rollout.base import get_rollout_class
from verl.workers.rollout.replica import RolloutReplicaRegistry
from verl.utils import distributed
from verl.workers.engine.fsdp import transformer_impl
unpinned = not transformer_impl.CPUOffloadPolicy(pin_memory=True).pin_memory  # the KL term's reference model
print(get_device_name(), get_nccl_backend(), get_resource_name(), get_rollout_class('vllm_cpu').__module__,
      RolloutReplicaRegistry.get('vllm_cpu').__name__, distributed.initialize_global_process_group_ray.__svr1_gloo__,
      unpinned)
"""
    out = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        .stdout.splitlines()[-1]
        .split()
    )  # the last line: vLLM logs to stdout on import
    assert out == [
        "cpu", "gloo", "GPU", "verl.workers.rollout.vllm_rollout.vllm_rollout", "CPUvLLMReplica", "True", "True"
    ]  # fmt: skip


def test_the_cpu_platform_refuses_to_switch_on_where_a_gpu_is_visible(monkeypatch):
    import torch

    from sparse_video_r1.cpu_backend.platform import enable_cpu_platform

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU cannot be had here; its answer can
    with pytest.raises(RuntimeError, match="a GPU is visible"):
        enable_cpu_platform()
