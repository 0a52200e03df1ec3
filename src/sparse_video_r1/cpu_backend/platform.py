"""verl on a machine without a GPU: a CPU platform registered through verl's own platform layer.

verl asks its platform for the device name, the torch device module, the collective backend and the Ray
resource. This one answers "cpu", gloo, and "GPU" for Ray (verl's resource pools count only GPU bundles,
so a CPU box starts Ray with logical GPUs). It refuses to switch on where CUDA is present.
"""

from __future__ import annotations

import contextlib
import os
import types
from typing import Any

import torch
from verl.plugin.platform import PlatformBase, PlatformRegistry, set_platform


class _CPUDevice(types.SimpleNamespace):
    """`torch.cpu` plus the memory and naming queries verl makes of an accelerator module."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)

    @staticmethod
    def get_device_name(device: Any = None) -> str:
        return "CPU"

    @staticmethod
    def empty_cache() -> None:
        return None

    @staticmethod
    def mem_get_info(device: Any = None) -> tuple[int, int]:
        return (0, 0)

    memory_allocated = memory_reserved = max_memory_allocated = max_memory_reserved = staticmethod(
        lambda *a: 0
    )
    reset_peak_memory_stats = ipc_collect = set_per_process_memory_fraction = staticmethod(lambda *a: None)
    get_rng_state = staticmethod(torch.get_rng_state)
    set_rng_state = staticmethod(torch.set_rng_state)
    manual_seed = manual_seed_all = staticmethod(torch.manual_seed)


@PlatformRegistry.register(platform="cpu")
class PlatformCPU(PlatformBase):
    device_name = "cpu"
    vendor_name = "cpu"
    device_module = _CPUDevice()

    def is_available(self) -> bool:
        return True

    def current_device(self) -> torch.device:
        # verl moves modules with `.to(device=get_device_id())`: an index would mean cuda:N.
        return torch.device("cpu")

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        return None

    def synchronize(self, device_index: int | None = None) -> None:
        return None

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        return None

    def empty_cache(self) -> None:
        return None

    def get_device_capability(self, device_index: int = 0) -> tuple[int | None, int | None]:
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextlib.contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        return None

    def profiler_stop(self) -> None:
        return None

    def ray_resource_name(self) -> str:
        return "GPU"

    def ray_noset_envvars(self) -> list[str]:
        return ["RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES"]

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None


def enable_cpu_platform() -> PlatformCPU:
    """Make verl run on the CPU in this process. Call before importing verl's workers: some read the
    device at import time. Never switches on where a GPU is visible."""
    if torch.cuda.is_available():
        raise RuntimeError("a GPU is visible: verl's own CUDA platform must run here, not the CPU one")
    os.environ["VERL_PLATFORM"] = "cpu"
    os.environ.setdefault("VERL_ENGINE_DEVICE", "cuda")  # verl registers its FSDP engines for cuda/npu only
    platform = PlatformCPU()
    set_platform(platform)
    return platform
