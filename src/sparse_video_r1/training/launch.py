"""What `sh train.sh` runs: resolve the run for this machine, check it, then hand it to verl's trainer.

GPUs visible: the seed's setting (Qwen2.5-VL-3B, GRPO, vLLM) on NExT-QA (`data/nextqa`, or DATA_DIR;
`DATA_DIR=synthetic` for the embedded benchmark), with flash-attention when it is installed and PyTorch
SDPA otherwise. No GPU: the tiny offline model on the synthetic benchmark through our CPU backend, a few
steps (both built on first use). A dry run composes the GPU run, runs every pre-flight check and verl's
own `validate_config`, prints a verdict per check and the composed config, writes nothing, and exits.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

from sparse_video_r1.training.checks import flash_attn_available
from sparse_video_r1.training.launching import (
    CONFIG_DIR,
    compose,
    count,
    ensure_tiny_model,
    gpu_bytes,
    hydra_value,
    report,
    resolve_device,
    verl_environment,
    visible_gpus,
)
from sparse_video_r1.training.preflight import preflight

CONFIG_NAME = "sparse_video_r1"
SYNTHETIC = Path("data/synthetic")
NEXTQA = Path("data/nextqa")
AGENT_LOOP_YAML = Path(str(files("sparse_video_r1.agent") / "agent_loop.yaml"))
SDPA = [  # what training without flash-attn takes: verl's remove-padding path calls flash-attn directly
    "actor_rollout_ref.model.use_remove_padding=false",
    "++actor_rollout_ref.model.override_config.attn_implementation=sdpa",
]


def _arguments(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="train.sh", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="checkpoint path or hub name")
    parser.add_argument("--data-dir", default="", help="folder with train.parquet and val.parquet")
    parser.add_argument("--gpus", type=count, help="GPUs per node (default: the config's)")
    parser.add_argument("--experiment", default="", help="trainer.experiment_name")
    parser.add_argument(
        "--frames-per-request", "--frames-per-round", type=count, help="frames one request may ask for"
    )
    parser.add_argument("--rounds", type=count, help="assistant turns per episode")
    parser.add_argument("--steps", type=count, help="trainer.total_training_steps")
    parser.add_argument("--variant", default="", help="qwen7b | debug_1gpu | ppo | love_r1")
    parser.add_argument(
        "--freeze-vision", action="store_true", help="the vision tower's weights do not train"
    )
    parser.add_argument("--device", default="auto", choices=["auto", "gpu", "cpu"])
    parser.add_argument("--dry-run", action="store_true", help="check, print the composed config, exit")
    return parser.parse_known_args(argv)


def _ensure_synthetic() -> Path:
    if not (SYNTHETIC / "train.parquet").is_file():
        from sparse_video_r1.data.prepare import prepare_synthetic

        print(f"[train] preparing the synthetic benchmark in {SYNTHETIC}")
        prepare_synthetic(str(SYNTHETIC), videos=24, seed=0)
    return SYNTHETIC


def resolve(args: argparse.Namespace, extra: list[str], visible_gpus: int) -> tuple[str, list[str]]:
    """The device ("gpu" or "cpu") and the Hydra overrides that the user's variables mean here."""
    device = resolve_device(args.device, visible_gpus, args.dry_run, "train")
    variants = [v for v in (args.variant, "cpu" if device == "cpu" else "") if v]  # cpu last: it wins
    overrides = [f"+variant=[{','.join(variants)}]"] if variants else []
    model = args.model or (str(ensure_tiny_model().resolve()) if device == "cpu" else "")
    if model:
        overrides.append(f"actor_rollout_ref.model.path={hydra_value(model, 'MODEL')}")
    if device == "gpu" and not flash_attn_available():
        overrides += SDPA
    data_dir = _data_dir(args.data_dir, device, args.dry_run)
    overrides += [
        f"data.train_files={hydra_value(str((data_dir / 'train.parquet').resolve()), 'DATA_DIR')}",
        f"data.val_files={hydra_value(str((data_dir / 'val.parquet').resolve()), 'DATA_DIR')}",
    ]
    if args.experiment:
        overrides.append(f"trainer.experiment_name={hydra_value(args.experiment, 'EXPERIMENT')}")
    counts = {
        "trainer.n_gpus_per_node": args.gpus,
        "svr1.episode.frames_per_request": args.frames_per_request,
        "svr1.episode.max_rounds": args.rounds,
        "trainer.total_training_steps": args.steps,
    }
    overrides += [f"{key}={value}" for key, value in counts.items() if value is not None]
    if args.steps is not None:
        # verl's loop also ends at the last epoch, so on a small dataset STEPS (and a resume past an epoch's
        # end) would stop short: with STEPS the steps decide. `trainer.total_epochs=N` still caps them.
        overrides.append(f"trainer.total_epochs={10**6}")
    return device, overrides + extra


def _data_dir(given: str, device: str, dry_run: bool) -> Path:
    """DATA_DIR, "synthetic" for the embedded benchmark; by default NExT-QA on a GPU, synthetic on CPU."""
    if given == "synthetic" or (not given and device == "cpu"):
        return SYNTHETIC if dry_run else _ensure_synthetic()
    if given:
        return Path(given)
    if not (NEXTQA / "train.parquet").is_file():
        raise SystemExit(
            f"[train] no training data: {NEXTQA.resolve()} is not prepared. Prepare NExT-QA with "
            f"`svr1 prepare nextqa --raw-dir RAW --out-dir {NEXTQA} --samples 1000` (the seed's setting), "
            "give DATA_DIR=/your/prepared/folder, or DATA_DIR=synthetic for the embedded synthetic benchmark"
        )
    return NEXTQA


def main(argv: list[str] | None = None) -> int:
    from omegaconf import OmegaConf

    args, extra = _arguments(argv)
    visible = visible_gpus()
    device, overrides = resolve(args, extra, visible)
    print(f"[train] {'dry run, ' if args.dry_run else ''}device: {device} ({visible} GPUs visible)")
    loop = hydra_value(str(AGENT_LOOP_YAML), "agent loop")
    overrides.insert(0, f"actor_rollout_ref.rollout.agent.agent_loop_config_path={loop}")
    config = compose(CONFIG_NAME, overrides, "train")
    if config is None:
        return 2
    verdicts = preflight(
        config, device=device, visible_gpus=visible, dry_run=args.dry_run, gpu_bytes=gpu_bytes()
    )
    failed = report(verdicts, "train")
    freeze_vision = args.freeze_vision or bool(config.svr1.get("freeze_vision"))
    if freeze_vision:
        print("[train] the vision tower is frozen (FREEZE_VISION=1 / svr1.freeze_vision)")
    if args.dry_run:
        print(OmegaConf.to_yaml(config, resolve=True))
        print(f"[train] dry run: {'failed: ' + ', '.join(failed) if failed else 'every check passed'}")
        return 1 if failed else 0
    if failed:
        print(f"[train] not starting: {', '.join(failed)} failed", file=sys.stderr)
        return 1
    command = [
        sys.executable,
        "-m",
        "verl.trainer.main_ppo",
        f"--config-path={CONFIG_DIR}",
        f"--config-name={CONFIG_NAME}",
    ]
    print("[train] " + " ".join(command + overrides))
    env = verl_environment(device, config.trainer.default_local_dir, freeze_vision)
    return subprocess.run(command + overrides, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
