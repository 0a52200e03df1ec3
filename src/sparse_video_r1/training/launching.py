"""What `train.sh` and `sft.sh` share: shell variables as Hydra overrides, composing our config, printing
the pre-flight verdicts, and the environment every process verl starts needs."""

from __future__ import annotations

import argparse
import os
import re
import sys
from importlib.resources import files
from pathlib import Path

from sparse_video_r1.training.checks import Verdict

CONFIG_DIR = Path(str(files("sparse_video_r1.training") / "config"))
TINY_MODEL = Path("outputs/tiny-model")


def count(text: str) -> int | None:
    """A positive whole number from a launcher's variable; empty means unset."""
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def resolve_device(requested: str, visible_gpus: int, dry_run: bool, tag: str) -> str:
    """The device, "gpu" or "cpu": DEVICE as given, else a GPU when one is visible (a dry run composes the GPU run);
    DEVICE=cpu on a machine with a GPU is refused."""
    device = requested if requested != "auto" else ("gpu" if visible_gpus or dry_run else "cpu")
    if device == "cpu" and visible_gpus and not dry_run:
        raise SystemExit(
            f"[{tag}] DEVICE=cpu is for machines without a GPU: this one has one, so train on it"
        )
    return device


def hydra_value(value: str, name: str) -> str:
    """`value` as a quoted Hydra override value that reaches verl verbatim, whatever characters a path
    holds (`,`, `'`, `[`, `=`, spaces). `${` cannot: verl resolves its config in place
    (OmegaConf.resolve), which turns an escaped `${...}` back into a live interpolation."""
    if "${" in value:
        raise SystemExit(
            f"[launch] {name}={value!r} holds '${{', which verl's config would read as an interpolation; "
            "rename the folder or point to it through a symlink"
        )
    # In Hydra's quoted strings a backslash escapes only a quote, or another backslash before a quote
    # or the closing quote.
    escaped = re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""), value)
    return f"'{escaped}'"


def visible_gpus() -> int:
    import torch

    return torch.cuda.device_count()


def gpu_bytes() -> float | None:
    import torch

    return float(torch.cuda.get_device_properties(0).total_memory) if torch.cuda.is_available() else None


def compose(config_name: str, overrides: list[str], tag: str):
    """Our config with the overrides, or None after saying why it does not compose."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            return hydra_compose(config_name=config_name, overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        print(f"[{tag}] error: the config does not compose: {error}", file=sys.stderr)
        if "not in struct" in str(error) or "Could not override" in str(error):
            print(f"[{tag}] keys verl's schema lacks need a leading '+' (e.g. +trainer.x=1)", file=sys.stderr)
        return None


def report(verdicts: list[Verdict], tag: str) -> list[str]:
    """Print one line per verdict (failures to stderr); the names of the failed checks."""
    for verdict in verdicts:
        line = verdict.line().replace("[train]", f"[{tag}]", 1)
        print(line, file=sys.stderr if verdict.status == "fail" else sys.stdout)
    return [v.check for v in verdicts if v.status == "fail"]


def ensure_tiny_model() -> Path:
    if not (TINY_MODEL / "config.json").is_file():
        from sparse_video_r1.tiny_model import build_tiny_model

        print(f"[launch] building the tiny offline Qwen2.5-VL in {TINY_MODEL}")
        build_tiny_model(TINY_MODEL)
    return TINY_MODEL


def verl_environment(device: str, run_dir: str, freeze_vision: bool = False) -> dict[str, str]:
    """The environment of verl's processes: ours plugins (the CPU backend first where there is no GPU, its
    platform must be in place before any verl worker module loads; then our trainer and internals),
    TensorBoard events beside the run's checkpoints, and the vision tower frozen when asked."""
    env = dict(os.environ)
    env.setdefault("TENSORBOARD_DIR", str(Path(run_dir).resolve() / "tensorboard"))
    plugins = ["sparse_video_r1.training.verl_plugin"]
    if device == "cpu":
        from sparse_video_r1.cpu_backend.launch import cpu_environment

        env.update(cpu_environment())
        plugins.insert(0, env["VERL_USE_EXTERNAL_MODULES"])
    env["VERL_USE_EXTERNAL_MODULES"] = ",".join(plugins)
    if freeze_vision:
        from sparse_video_r1.verl_internals import FREEZE_VISION  # the name verl's processes read

        env[FREEZE_VISION] = "1"
    return env
