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
    subprocess.run(
        [
            sys.executable,
            "-m",
            "verl.model_merger",
            "merge",
            "--backend",
            "fsdp",
            "--local_dir",
            str(actor_dir),
            "--target_dir",
            str(target_dir),
        ],
        check=True,
        stdout=subprocess.DEVNULL,  # its progress; errors still reach stderr
    )
    return target_dir
