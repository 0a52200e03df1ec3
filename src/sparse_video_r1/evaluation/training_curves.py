"""Training curves from a run's TensorBoard events, like the seed paper's training-curve figure.

verl writes its metrics to TensorBoard beside a run's checkpoints (`TENSORBOARD_DIR`, set by the
launchers): for RL the reward and response length, plus our `episode/*` metrics; for SFT the train and
validation losses. `plot_training` draws whichever of the curves below a run has, one panel each.
"""

from __future__ import annotations

from pathlib import Path

CURVES = {  # TensorBoard tag -> panel title
    "critic/score/mean": "reward",
    "episode/acc": "accuracy",
    "episode/format": "well-formed final answer",
    "episode/frames": "frames per episode",
    "episode/request_rate": "episodes that ask for frames",
    "episode/invalid_rate": "invalid replies",
    "response_length/mean": "response length (tokens)",
    "train/loss": "SFT loss (train)",
    "val/loss": "SFT loss (validation)",
}


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
