"""`scripts/gpu_check.sh`: prove the GPU path on a new node in about ten minutes, with no model hub.

Stages, each printed as pass/fail with its time and the node's peak GPU memory, each with a time limit (a
stage that hangs fails by its limit instead of blocking the node):

1. environment   CUDA, the GPU, and vLLM on its CUDA platform (a virtualenv built on a CPU machine holds
                 vLLM's CPU build: it would pass here and fail inside verl), flash-attn or SDPA
2. model         Qwen2.5-VL's real architecture at reduced size (~140 M parameters, bf16), built offline
3. data          the embedded synthetic benchmark
4. train         2 GRPO steps of `sh train.sh` (debug_1gpu: vLLM's CUDA rollout, FSDP2, bf16)
5. resume        a rerun to step 3 starts from the step-2 checkpoint
6. eval (hf)     the checkpoint exported, then a short `svr1 eval` of the agent with transformers on CUDA
7. eval (vllm)   the same questions on the `vllm` backend

`--dry-run` runs what needs no GPU (model, data, the training command's DRY_RUN): how CI checks this file.
Never part of the test suite's GPU-free CI beyond that.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


@dataclass
class Stage:
    name: str
    ok: bool
    seconds: float
    detail: str


class PeakGPUMemory:
    """The largest GPU memory in use on the node while it runs (NVML, every 0.2 s): every process counts,
    vLLM's and the trainer's alike."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeakGPUMemory:
        try:
            import pynvml

            pynvml.nvmlInit()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # no NVML (a dry run on CPU): no figure
            return self

        def poll() -> None:
            while not self._stop.wait(0.2):
                used = max(pynvml.nvmlDeviceGetMemoryInfo(h).used for h in handles)
                self.peak = max(self.peak, used)

        self._thread = threading.Thread(target=poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _run(command: list[str], log: Path, env: dict | None = None, timeout: float = 600) -> tuple[int, str]:
    """A stage's command into its log; past `timeout` its whole process group (Ray, vLLM) is killed."""
    with log.open("w") as handle:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            raise TimeoutError(f"no result after {timeout:.0f} s; see {log}") from None
    return code, log.read_text(errors="replace")


def _train(work: Path, steps: int, *, dry_run: bool = False, timeout: float = 600) -> tuple[int, str]:
    env = {
        **os.environ,
        "MODEL": str(work / "model"),
        "DATA_DIR": str(work / "data"),
        "VARIANT": "debug_1gpu",
        "STEPS": str(steps),
        "LOG_DIR": str(work / "logs"),
        "DRY_RUN": "1" if dry_run else "0",
    }
    overrides = [
        f"trainer.default_local_dir={work / 'checkpoints'}",
        "trainer.save_freq=1",
        "trainer.test_freq=-1",
        "data.val_max_samples=4",
        "actor_rollout_ref.rollout.gpu_memory_utilization=0.3",
    ]
    return _run(["sh", "train.sh", *overrides], work / f"train_{steps}.log", env, timeout)


def _step_times(log: str) -> list[float]:
    return [float(t) for t in re.findall(r"timing_s/step:([0-9.]+)", log)]


def environment(_work: Path, _limit: float) -> str:
    import importlib.metadata

    import torch

    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA GPU visible")
    version = importlib.metadata.version("vllm")
    from vllm.platforms import current_platform

    from sparse_video_r1.training.checks import flash_attn_available

    if current_platform.device_type != "cuda":
        raise RuntimeError(
            f"vLLM {version} runs on its {current_platform.device_type} platform here, not CUDA: this environment "
            "was set up without a GPU (vLLM's CPU build); rerun `bash scripts/setup.sh` on this node"
        )
    gpu = torch.cuda.get_device_properties(0)
    attention = "flash-attn" if flash_attn_available() else "SDPA (flash-attn not installed)"
    return f"{gpu.name}, {gpu.total_memory / 2**30:.0f} GiB; {attention}; vLLM {version} on CUDA"


def model(work: Path, _limit: float) -> str:
    from sparse_video_r1.tiny_model import GPU_CHECK_SPEC, build_tiny_model
    from sparse_video_r1.training.estimates import parameter_count

    build_tiny_model(work / "model", GPU_CHECK_SPEC)
    return f"{parameter_count(str(work / 'model')) / 1e6:.0f} M parameters, bf16, Qwen2.5-VL architecture"


def data(work: Path, _limit: float) -> str:
    from sparse_video_r1.data.prepare import prepare_synthetic

    prepare_synthetic(str(work / "data"), videos=8, seed=0)
    return "8 synthetic videos, 32 questions"


def train(work: Path, timeout: float) -> str:
    code, log = _train(work, steps=2, timeout=timeout)
    if code != 0 or "step:2 -" not in log:
        raise RuntimeError(f"train.sh exited {code}; see {work / 'train_2.log'}")
    times = ", ".join(f"{t:.1f}" for t in _step_times(log))
    return f"2 GRPO steps, step times {times} s"


def resume(work: Path, timeout: float) -> str:
    code, log = _train(work, steps=3, timeout=timeout)
    if code != 0 or "Resuming from" not in log or "step:3 -" not in log or "step:1 -" in log:
        raise RuntimeError(f"no resume to step 3 (exit {code}); see {work / 'train_3.log'}")
    return "resumed from global_step_2, ran step 3"


def evaluate(work: Path, timeout: float, backend: str) -> str:
    from sparse_video_r1.training.export import export_checkpoint, latest_actor

    exported = work / "exported"
    if not (exported / "config.json").is_file():
        export_checkpoint(latest_actor(work / "checkpoints"), exported)
    command = [
        sys.executable, "-m", "sparse_video_r1", "eval", "--data", str(work / "data" / "val.parquet"),
        "--method", "frames", "--model", str(exported), "--backend", backend, "--device", "cuda", "--limit", "4",
        "--out-dir", str(work / f"eval-{backend}"), "--reply-tokens", "64",
    ]  # fmt: skip
    code, log = _run(command, work / f"eval_{backend}.log", timeout=timeout)
    if code != 0:
        raise RuntimeError(f"svr1 eval --backend {backend} exited {code}; see {work / f'eval_{backend}.log'}")
    return log.strip().splitlines()[-1][:160]


def dry_train(work: Path, timeout: float) -> str:
    code, _ = _train(work, steps=2, dry_run=True, timeout=timeout)
    if code != 0:
        raise RuntimeError(f"DRY_RUN=1 train.sh exited {code}; see {work / 'train_2.log'}")
    return "the training command composes and passes its pre-flight checks"


StageRun = Callable[[Path, float], str]  # (work folder, time limit) -> what it found
STAGES: dict[str, tuple[StageRun, float]] = {  # name -> (stage, its time limit in seconds)
    "environment": (environment, 120),
    "model": (model, 300),
    "data": (data, 300),
    "train": (train, 900),
    "resume": (resume, 600),
    "eval (hf)": (lambda work, limit: evaluate(work, limit, "hf"), 420),
    "eval (vllm)": (lambda work, limit: evaluate(work, limit, "vllm"), 420),
}
DRY_STAGES: dict[str, tuple[StageRun, float]] = {
    "model": STAGES["model"],
    "data": STAGES["data"],
    "train (dry run)": (dry_train, 600),
}


def run_stage(stage: StageRun, work: Path, limit: float) -> str:
    """The stage's result, or TimeoutError past `limit`: a stage's commands are killed at their limit; one
    that hangs in this process (a driver call, an import) is left behind on its thread and reported."""
    outcome: dict = {}

    def call() -> None:
        try:
            outcome["detail"] = stage(work, limit)
        except BaseException as error:
            outcome["error"] = error

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    thread.join(limit + 30)  # commands inside are killed at `limit`; this bounds what runs in process
    if thread.is_alive():
        raise TimeoutError(f"no result after {limit + 30:.0f} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["detail"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_check.sh", description=__doc__.splitlines()[0])
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/gpu-check"))
    parser.add_argument("--dry-run", action="store_true", help="only the stages that need no GPU")
    args = parser.parse_args(argv)
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results: list[Stage] = []
    for name, (stage, limit) in (DRY_STAGES if args.dry_run else STAGES).items():
        began = time.perf_counter()
        with PeakGPUMemory() as memory:
            try:
                detail, ok = run_stage(stage, work, limit), True
            except Exception as error:
                detail, ok = f"{type(error).__name__}: {error}", False
        results.append(Stage(name, ok, time.perf_counter() - began, detail))
        peak = f", peak GPU memory {memory.peak / 2**30:.1f} GiB" if memory.peak else ""
        print(
            f"[gpu-check] {'PASS' if ok else 'FAIL'} {name} ({results[-1].seconds:.0f} s{peak}): {detail}",
            flush=True,
        )
        if not ok:
            break
    passed = all(stage.ok for stage in results) and len(results) == len(
        DRY_STAGES if args.dry_run else STAGES
    )
    total = sum(stage.seconds for stage in results)
    print(f"[gpu-check] {'every stage passed' if passed else 'FAILED'} in {total:.0f} s; logs in {work}")
    sys.stdout.flush()
    os._exit(0 if passed else 1)  # a stage left hanging on its thread must not keep the check alive


if __name__ == "__main__":
    sys.exit(main())
