"""A training checkpoint as a Hugging Face model (verl's model merger), ready for `svr1 eval` or transformers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def latest_actor(checkpoint_dir: Path) -> Path:
    """The actor folder of the last checkpoint verl recorded under a run's `trainer.default_local_dir`."""
    step = (checkpoint_dir / "latest_checkpointed_iteration.txt").read_text().strip()
    return checkpoint_dir / f"global_step_{step}" / "actor"


def export_checkpoint(actor_dir: Path, target_dir: Path) -> Path:
    """verl's model merger on `actor_dir`; its output is kept quiet unless it fails."""
    command = [
        sys.executable, "-m", "verl.model_merger", "merge", "--backend", "fsdp",
        "--local_dir", str(actor_dir), "--target_dir", str(target_dir),
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"verl's model merger failed on {actor_dir}:\n{run.stderr[-3000:]}")
    return target_dir
