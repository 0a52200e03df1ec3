"""What `sh sft.sh` runs: SFT with verl's own trainer, then the Hugging Face checkpoint `train.sh` takes.

verl's SFT trainer (`verl.trainer.sft_trainer`, FSDP, launched by torchrun) reads the multi-turn chats with
frames that `svr1 sft-data` writes and trains every assistant turn, masking the environment's. Our config
(`training/config/sft.yaml`) extends verl's `sft_trainer_engine`: the seeds' SFT (lr 1e-5, 2 epochs) on
Qwen2.5-VL-3B with GPUs; without a GPU, the tiny offline model in fp32 (`sft_variant/cpu.yaml`). The
checkpoint keeps its Hugging Face weights (`global_step_N/huggingface`), which this launcher names at the
end, so `MODEL=<that folder> sh train.sh` starts RL from it.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from sparse_video_r1.training.checks import Verdict, flash_attn_available, model_availability
from sparse_video_r1.training.launching import (
    CONFIG_DIR,
    compose,
    count,
    ensure_tiny_model,
    hydra_value,
    report,
    resolve_device,
    verl_environment,
    visible_gpus,
)

CONFIG_NAME = "sft"
SDPA = ["model.use_remove_padding=false", "++model.override_config.attn_implementation=sdpa"]


def _arguments(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="sft.sh", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="checkpoint path or hub name")
    parser.add_argument(
        "--data-dir", required=True, help="train.parquet (and val.parquet) from svr1 sft-data"
    )
    parser.add_argument("--gpus", type=count, help="GPUs per node (default: all visible)")
    parser.add_argument("--experiment", default="", help="trainer.experiment_name")
    parser.add_argument("--steps", type=count, help="trainer.total_training_steps (default: the epochs')")
    parser.add_argument("--epochs", type=count, help="trainer.total_epochs (default: 2)")
    parser.add_argument("--lr", default="", help="optim.lr (default: 1e-5; CPU: 2e-3)")
    parser.add_argument(
        "--freeze-vision", action="store_true", help="the vision tower's weights do not train"
    )
    parser.add_argument("--device", default="auto", choices=["auto", "gpu", "cpu"])
    parser.add_argument("--dry-run", action="store_true", help="check, print the composed config, exit")
    return parser.parse_known_args(argv)


def resolve(args: argparse.Namespace, extra: list[str], gpus: int) -> tuple[str, list[str]]:
    device = resolve_device(args.device, gpus, args.dry_run, "sft")
    overrides = ["+sft_variant=cpu"] if device == "cpu" else []
    model = args.model or (str(ensure_tiny_model().resolve()) if device == "cpu" else "")
    if model:
        overrides.append(f"model.path={hydra_value(model, 'MODEL')}")
    if device == "gpu" and not flash_attn_available():
        overrides += SDPA
    data = Path(args.data_dir)
    overrides.append(f"data.train_files={hydra_value(str((data / 'train.parquet').resolve()), 'DATA_DIR')}")
    if (data / "val.parquet").is_file():
        val = hydra_value(str((data / "val.parquet").resolve()), "DATA_DIR")
        overrides += [f"data.val_files={val}", "trainer.test_freq=50"]
    if args.experiment:
        overrides.append(f"trainer.experiment_name={hydra_value(args.experiment, 'EXPERIMENT')}")
    if args.lr:
        overrides.append(f"optim.lr={float(args.lr)}")
    if device == "gpu":
        overrides.append(f"trainer.n_gpus_per_node={args.gpus or max(1, gpus)}")
    if args.steps is not None:
        # verl's loop ends at the last epoch even before total_training_steps, then without a checkpoint:
        # with STEPS the steps decide (epochs only cap them when given too).
        overrides += [
            f"trainer.total_training_steps={args.steps}",
            f"trainer.total_epochs={args.epochs or 10**6}",
        ]
    elif args.epochs is not None:
        overrides.append(f"trainer.total_epochs={args.epochs}")
    return device, overrides + extra


def preflight(config) -> list[Verdict]:
    """The data has the columns verl's multi-turn dataset reads and every row fits `data.max_length`; the
    model is there."""
    import pyarrow.parquet as pq

    problems, files = [], []
    for name in (config.data.train_files, config.data.val_files):
        if name is None:
            continue
        if not Path(name).is_file():
            problems.append(f"{name} does not exist (write it with `svr1 sft-data`)")
            continue
        missing = {config.data.messages_key, config.data.image_key} - set(pq.read_schema(name).names)
        if missing:
            problems.append(f"{name} lacks {', '.join(sorted(missing))}; was it written by `svr1 sft-data`?")
            continue
        files.append(Path(name))
    data = Verdict.of("data", problems, "trajectories")
    verdicts = [data, model_availability(config.model.path)]
    if files:
        verdicts.append(length_verdict(files, config))
    return verdicts


def length_verdict(files: list[Path], config) -> Verdict:
    """verl's SFT dataset stops at the first row longer than `data.max_length` (truncation: error): a zoom
    trajectory of a long video (a 768-frame overview and its clips) passes 8,192 tokens. The longest row is
    counted before any GPU time is spent, its frames exactly from their sizes, its text with the model's
    tokenizer (else estimated)."""
    from sparse_video_r1.training.sft_lengths import longest_row

    longest = longest_row(files, config.data.messages_key, config.data.image_key, config.model.path)
    limit = int(config.data.max_length)
    detail = f"longest row {longest.where}: {longest.tokens:,} tokens ({longest.visual:,} visual)"
    if not longest.exact:
        detail += ", text estimated (no tokenizer here)"
    if longest.tokens <= limit:
        return Verdict("row length", "ok", f"{detail} <= data.max_length {limit:,}")
    wanted = -(-longest.tokens // 1024) * 1024
    return Verdict(
        "row length",
        "fail" if longest.exact else "note",
        f"{detail} > data.max_length {limit:,}: verl's SFT dataset would stop there; give data.max_length="
        f"{wanted} (zoom data of long videos needs it; memory grows with it), or fewer overview frames",
    )


def main(argv: list[str] | None = None) -> int:
    from omegaconf import OmegaConf

    args, extra = _arguments(argv)
    gpus = visible_gpus()
    device, overrides = resolve(args, extra, gpus)
    print(f"[sft] {'dry run, ' if args.dry_run else ''}device: {device} ({gpus} GPUs visible)")
    config = compose(CONFIG_NAME, overrides, "sft")
    if config is None:
        return 2
    failed = report(preflight(config), "sft")
    if args.dry_run:
        print(OmegaConf.to_yaml(config, resolve=True))
        print(f"[sft] dry run: {'failed: ' + ', '.join(failed) if failed else 'every check passed'}")
        return 1 if failed else 0
    if failed:
        print(f"[sft] not starting: {', '.join(failed)} failed", file=sys.stderr)
        return 1
    processes = config.trainer.n_gpus_per_node if device == "gpu" else 1
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes=1",
        f"--nproc_per_node={processes}", "-m", "verl.trainer.sft_trainer",
        f"--config-path={CONFIG_DIR}", f"--config-name={CONFIG_NAME}",
    ]  # fmt: skip
    print("[sft] " + " ".join(command + overrides))
    env = verl_environment(device, config.trainer.default_local_dir, args.freeze_vision)
    code = subprocess.run(command + overrides, env=env).returncode
    if code == 0:
        print(
            f"[sft] Hugging Face checkpoint: {latest_hf_checkpoint(Path(config.trainer.default_local_dir))}"
        )
    return code


def latest_hf_checkpoint(run_dir: Path) -> Path:
    """The Hugging Face weights of a run's last checkpoint: what `MODEL=... sh train.sh` takes."""
    step = (run_dir / "latest_checkpointed_iteration.txt").read_text().strip()
    return run_dir / f"global_step_{step}" / "huggingface"


if __name__ == "__main__":
    sys.exit(main())
