"""`svr1 demo`: the five stages in order, then where the report is."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from sparse_video_r1.demo import stages
from sparse_video_r1.demo.console import say
from sparse_video_r1.demo.settings import LEARN, PAIRS, QUICK, players, with_knobs

GPU_NODE = (
    "[demo] this node has a GPU, and the demo trains the tiny model on CPU (DEVICE=cpu), which the launchers "
    "refuse where a GPU is visible: run `sh scripts/gpu_check.sh` (the same stages, GPU-sized, ~10 minutes), "
    "then the GPU quick start in the README"
)


def run_demo(
    out_dir: str | Path,
    learn: bool = False,
    seed: int = 0,
    questions: int | None = None,
    knobs: list[str] = (),
) -> int:
    import torch
    from transformers.utils import logging as transformers_logging

    from sparse_video_r1.evaluation.report import make_report

    if torch.cuda.is_available():
        raise SystemExit(GPU_NODE)
    transformers_logging.disable_progress_bar()  # its "Loading weights" bars, once per evaluation
    settings = with_knobs(replace(LEARN if learn else QUICK, seed=seed), list(knobs))
    if questions:
        settings = replace(settings, questions=questions)
    began = time.perf_counter()
    out = Path(out_dir).resolve()
    kind = "learning run" if learn else "quick run (every stage, too short to learn; --learn trains)"
    say(f"1/5 the synthetic benchmark ({settings.videos} videos) and the tiny model; a {kind}, seed {seed}")
    synthetic, model = stages.data(out, settings)
    say(
        f"2/5 SFT: trajectories of {players(settings)}, then {settings.sft_steps} steps of verl's SFT trainer"
    )
    sft_model = stages.sft(out, settings, synthetic, model)
    say(f"3/5 GRPO from the SFT checkpoint: {settings.grpo_steps} steps of verl's trainer")
    trained, curves = stages.grpo(out, settings, synthetic, sft_model)
    say(f"4/5 evaluations on {settings.questions} held-out questions (vLLM)")
    runs = stages.evaluate(settings, synthetic, {"sft": sft_model, "trained": trained})
    say("5/5 the report")
    report = out / "report"
    sft_curves = sft_model.parent / "checkpoints" / "tensorboard"
    written = make_report(
        runs, report, samples_to_draw=2, training={"sft": sft_curves, "grpo": curves}, pairs=PAIRS
    )
    say(f"done in {time.perf_counter() - began:.0f} s")
    for name in ("table.md", "results.json", "accuracy_vs_frames.png", "report.html"):
        print(f"  {report / name}")
    pictures = [key for key in written if key.startswith("trajectories/")]
    print(f"  {len(pictures)} trajectory pictures in {report / 'trajectories'}")
    return 0
