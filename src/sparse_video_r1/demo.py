"""`svr1 demo`: the whole pipeline on a CPU machine in a few minutes, with the tiny offline model.

Prepare the synthetic benchmark, build the tiny Qwen2.5-VL, train it two GRPO steps with `sh train.sh` (CPU
backend), export the checkpoint with verl's model merger, evaluate uniform frames, random frames and the
multi-round agent (base and trained), and write the comparison table, the accuracy-vs-frames plot and
trajectory pictures. The tiny model's accuracy is noise (random weights); the demo shows the pipeline.
On a GPU node the same steps take `MODEL=Qwen/Qwen2.5-VL-3B-Instruct` and a NExT-QA split.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from sparse_video_r1.training.export import export_checkpoint, latest_actor

REPO = Path(__file__).resolve().parents[2]


def _step(number: int, text: str) -> None:
    print(f"\n[demo] {number}/5 {text}", flush=True)


def _train(out: Path, model: Path, data: Path) -> Path:
    """Two GRPO steps through verl's trainer on CPU, then the checkpoint as a Hugging Face model."""
    checkpoints = out / "checkpoints"
    env = {
        **os.environ,
        "MODEL": str(model),
        "DATA_DIR": str(data),
        "STEPS": "2",
        "DEVICE": "cpu",
        "LOG_DIR": str(out / "logs"),
    }
    subprocess.run(
        ["sh", str(REPO / "train.sh"), f"trainer.default_local_dir={checkpoints}"],
        cwd=REPO,
        env=env,
        check=True,
    )
    return export_checkpoint(latest_actor(checkpoints), out / "trained-model")


def run_demo(out_dir: str | Path, questions: int = 8, max_new_tokens: int = 48) -> int:
    from sparse_video_r1.data.prepare import prepare_synthetic
    from sparse_video_r1.evaluation.report import make_report
    from sparse_video_r1.evaluation.run import EvalConfig, evaluate
    from sparse_video_r1.tiny_model import build_tiny_model

    began = time.perf_counter()
    out = Path(out_dir).resolve()
    data, model = out / "data", out / "tiny-model"
    _step(1, f"the synthetic benchmark in {data}, the tiny offline Qwen2.5-VL in {model}")
    if not (data / "val.parquet").is_file():
        prepare_synthetic(str(data), videos=8, seed=0)
    if not (model / "config.json").is_file():
        build_tiny_model(model)

    _step(2, "two GRPO steps with `sh train.sh` (CPU backend), then verl's model merger")
    trained = _train(out, model, data)

    _step(3, f"evaluations on {questions} validation questions")
    runs = [
        ("uniform-5", "uniform", model),
        ("random-5", "random", model),
        ("agent-base", "agent", model),
        ("agent-trained", "agent", trained),
    ]
    for name, method, checkpoint in runs:
        evaluate(
            EvalConfig(
                data=str(data / "val.parquet"),
                method=method,
                model=str(checkpoint),
                out_dir=str(out / "runs" / name),
                max_pixels=12544,  # the budget the CPU variant trains at: 16 visual tokens per frame
                min_pixels=3136,
                limit=questions,
                max_new_tokens=max_new_tokens,
                run=name,
            )
        )

    _step(4, "the report: table, accuracy-vs-frames plot, trajectory pictures")
    written = make_report([out / "runs" / name for name, _, _ in runs], out / "report", samples_to_draw=2)

    _step(5, f"done in {time.perf_counter() - began:.0f} s (random weights: the accuracies are noise)")
    for name in ("table.md", "accuracy_vs_frames.png", "report.html"):
        print(f"  {out / 'report' / name}")
    print(
        f"  {len([k for k in written if k.startswith('trajectories/')])} trajectory pictures in {out / 'report' / 'trajectories'}"
    )
    return 0
