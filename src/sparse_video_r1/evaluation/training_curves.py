"""Training curves from a run's TensorBoard events, like the seed paper's training-curve figure.

verl writes its metrics to TensorBoard beside a run's checkpoints (`TENSORBOARD_DIR`, set by the
launchers): for RL the reward and response length, plus our `episode/*` metrics, and every `test_freq`
steps the greedy held-out evaluation (`val-core/<data source>/acc/mean@1`, `val-aux/...`); for SFT the
train and validation losses. `plot_training` draws whichever of the curves below a run has, one panel
each; beside it, for an RL run with held-out evaluations, the held-out accuracy against the training
reward, one figure.
"""

from __future__ import annotations

import re
from pathlib import Path

CURVES = {  # TensorBoard tag -> panel title
    "critic/score/mean": "reward",
    "episode/acc": "accuracy",
    "episode/format": "well-formed final answer",
    "episode/frames": "frames per episode",
    "episode/request_rate": "episodes that ask for frames",
    "episode/before_evidence": "answered before the evidence",
    "episode/groups_zero_advantage": "groups without signal (equal scores)",
    "episode/invalid_rate": "invalid replies",
    "response_length/mean": "response length (tokens)",
    "train/loss": "SFT loss (train)",
    "val/loss": "SFT loss (validation)",
}
# Training (sampled at the rollout temperature) beside the greedy held-out evaluation, per panel.
PROGRESS = {
    "accuracy and reward": [("critic/score/mean", "training reward"), ("episode/acc", "training accuracy"),
                            ("val-core/*/acc/mean@1", "held-out accuracy (greedy)")],
    "frames per episode": [("episode/frames", "training"), ("val-aux/*/frames/mean@1", "held-out (greedy)")],
    "answered before the evidence": [("episode/before_evidence", "training"),
                                     ("val-aux/*/before_evidence/mean@1", "held-out (greedy)")],
}  # fmt: skip


def read_scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar of the event files under `log_dir`, as (step, value) in step order; the last value
    written for a step wins (a resumed run writes its steps again)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    series: dict[str, dict[int, float]] = {}
    for events in sorted(Path(log_dir).rglob("events.out.tfevents.*"), key=lambda p: p.stat().st_mtime):
        accumulator = EventAccumulator(str(events), size_guidance={"scalars": 0})
        accumulator.Reload()
        for tag in accumulator.Tags()["scalars"]:
            for event in accumulator.Scalars(tag):
                series.setdefault(tag, {})[event.step] = event.value
    return {tag: sorted(points.items()) for tag, points in series.items()}


def plot_training(log_dir: Path, path: Path, title: str) -> list[str]:
    """Draw the run's curves into `path`; the tags drawn (none: nothing is written)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scalars = read_scalars(log_dir)
    tags = [tag for tag in CURVES if scalars.get(tag)]
    if not tags:
        return []
    columns = min(3, len(tags))
    rows = -(-len(tags) // columns)
    figure = Figure(figsize=(4.2 * columns, 3.0 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    for k, tag in enumerate(tags):
        axes = figure.add_subplot(rows, columns, k + 1)
        steps, values = zip(*scalars[tag], strict=True)
        axes.plot(steps, values, marker="o" if len(steps) < 40 else None, markersize=3, linewidth=1.4)
        axes.set_title(CURVES[tag], fontsize=10)
        axes.set_xlabel("step", fontsize=8)
        axes.tick_params(labelsize=8)
        axes.grid(alpha=0.3)
    figure.suptitle(title, fontsize=11)
    figure.savefig(path, dpi=130)
    return tags


def _find(scalars: dict[str, list], pattern: str) -> list[tuple[int, float]]:
    """The series of a tag, `*` standing for the data source's name (the first tag that matches)."""
    regex = re.compile(re.escape(pattern).replace(r"\*", "[^/]+") + "$")
    return next((points for tag, points in sorted(scalars.items()) if regex.match(tag)), [])


def plot_progress(log_dir: Path, path: Path, title: str) -> bool:
    """The RL run's held-out greedy accuracy beside its training reward (and frames, and answers before the
    evidence), into `path`; False (nothing written) when the run logged no held-out evaluation."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scalars = read_scalars(log_dir)
    if not _find(scalars, PROGRESS["accuracy and reward"][-1][0]):
        return False
    figure = Figure(figsize=(4.4 * len(PROGRESS), 3.4), layout="constrained")
    FigureCanvasAgg(figure)
    for k, (panel, lines) in enumerate(PROGRESS.items()):
        axes = figure.add_subplot(1, len(PROGRESS), k + 1)
        for pattern, label in lines:
            if points := _find(scalars, pattern):
                steps, values = zip(*points, strict=True)
                held_out = pattern.startswith("val")
                axes.plot(steps, values, label=label, marker="o" if held_out else None, markersize=4,
                          linewidth=2.0 if held_out else 1.2)  # fmt: skip
        axes.set_title(panel, fontsize=10)
        axes.set_xlabel("GRPO step", fontsize=8)
        axes.tick_params(labelsize=8)
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(fontsize=7)
    figure.suptitle(title, fontsize=11)
    figure.savefig(path, dpi=130)
    return True
