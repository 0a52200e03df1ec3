"""The `svr1` command: one subcommand per step of a researcher's day; each imports its heavy stack lazily."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence

Handler = Callable[[argparse.Namespace], int]


def _tiny_model(args: argparse.Namespace) -> int:
    from sparse_video_r1.tiny_model import TinyModelSpec, build_tiny_model

    start = time.perf_counter()
    out = build_tiny_model(args.out_dir, TinyModelSpec(seed=args.seed))
    size_mb = sum(f.stat().st_size for f in out.iterdir()) / 1e6
    print(f"tiny Qwen2.5-VL written to {out} ({size_mb:.1f} MB, {time.perf_counter() - start:.1f} s)")
    return 0


def _probe(args: argparse.Namespace) -> int:
    from sparse_video_r1.video.tools import probe_command

    return probe_command(args.videos, backend=args.backend)


def _frames(args: argparse.Namespace) -> int:
    from sparse_video_r1.video.tools import frames_command

    return frames_command(
        args.video,
        args.at,
        args.out,
        max_pixels=args.max_pixels,
        timestamps=args.timestamps,
        backend=args.backend,
    )


def _seconds_list(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected seconds separated by commas, like 1.5,20; got {text!r}"
        ) from None


# `svr1 prepare BENCHMARK`: its help and what its --raw-dir holds (the official release, unpacked)
BENCHMARKS = {
    "videomme": (
        "Video-MME test from lmms-lab/Video-MME",
        "holds videomme/test-*.parquet, data/<videoID>.mp4",
    ),
    "lvbench": ("LVBench from zai-org/LVBench", "holds video_info.meta.jsonl (or data/), videos/<key>.mp4"),
    "mlvu": ("MLVU dev, its 7 multiple-choice tasks, from MLVU/MVLU", "holds MLVU/json/*.json, MLVU/video/"),
    "longvideobench": (
        "LongVideoBench val from longvideobench/LongVideoBench",
        "holds lvb_val.json, videos/",
    ),
    "mvbench": ("MVBench's 20 tasks from OpenGVLab/MVBench", "holds json/<task>.json, video/<source>/"),
}


def _prepare(args: argparse.Namespace) -> int:
    from sparse_video_r1.data import prepare
    from sparse_video_r1.data.splits import DatasetError

    try:
        if args.dataset == "nextqa":
            train, val = args.train_samples or args.samples, args.val_samples or args.samples
            return prepare.prepare_nextqa(
                args.raw_dir, args.out_dir, train, val, args.seed, args.test_samples
            )
        if args.dataset == "nextgqa":
            return prepare.prepare_nextgqa(
                args.raw_dir, args.gqa_dir, args.out_dir, args.val_samples, args.seed
            )
        if args.dataset in BENCHMARKS:
            return prepare.prepare_benchmark(
                args.dataset, args.raw_dir, args.out_dir, args.samples, args.seed
            )
        return prepare.prepare_synthetic(args.out_dir, args.videos, args.seed, args.shuffle_options)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _eval(args: argparse.Namespace) -> int:
    from sparse_video_r1.evaluation.run import EvalConfig, evaluate

    episode = _episode_overrides(args)
    config = EvalConfig(
        data=args.data,
        method=args.method,
        model=args.model,
        out_dir=args.out_dir,
        backend=args.backend,
        frames=args.frames,
        max_pixels=episode.pop("max_pixels", EvalConfig.max_pixels),
        min_pixels=episode.pop("min_pixels", EvalConfig.min_pixels),
        limit=args.limit,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
        device=args.device,
        concurrency=args.concurrency,
        tensor_parallel_size=args.tensor_parallel_size,
        base_url=args.base_url,
        api_attempts=args.api_attempts,
        api_max_wait=args.api_max_wait,
        run=args.run,
        episode=episode,
        video_fps=args.video_fps,
        video_max_frames=args.video_max_frames,
        video_max_pixels=args.video_max_pixels,
        video_min_pixels=args.video_min_pixels,
        shard=args.shard,
    )
    results = evaluate(config)
    summary = results["results"]
    print(
        f"{results['run']}: accuracy {summary['acc']:.1%} on the {summary['n']} answered questions, "
        f"{summary['acc_all']:.1%} on all {summary['samples']} ({summary['failures']} failed: not scored; "
        f"{summary['unparsed']} unparsed: wrong); {summary['mean_frames']:.1f} frames and "
        f"{summary['mean_rounds']:.1f} rounds per question; files in {args.out_dir}"
    )
    return 0


def _merge(args: argparse.Namespace) -> int:
    from sparse_video_r1.evaluation.shards import merge_shards

    try:
        results = merge_shards(args.out_dir)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = results["results"]
    print(
        f"merged {results['shards']['count']} shards into {args.out_dir}: accuracy {summary['acc']:.1%} on "
        f"{summary['n']} answered questions ({summary['failures']} failed, {summary['unparsed']} unparsed)"
    )
    return 0


def _add_episode_options(parser: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """One flag per EpisodeConfig field (`--max-rounds`, ...), its help and default taken from the field."""
    from dataclasses import fields
    from typing import get_args, get_type_hints

    from sparse_video_r1.agent.episode import EpisodeConfig

    group = parser.add_argument_group("episode (the agent's rules; in training: svr1.episode.*)")
    for knob in fields(EpisodeConfig):
        if knob.name in skip:
            continue
        group.add_argument(
            "--" + knob.name.replace("_", "-"),
            dest=f"episode_{knob.name}",
            metavar=None if isinstance(knob.default, str) else "N",
            type=type(knob.default),
            choices=list(get_args(get_type_hints(EpisodeConfig)[knob.name])) or None,
            help=f"{knob.metadata['help']} (default: {knob.default})",
        )


def _add_video_options(parser: argparse.ArgumentParser) -> None:
    """The video method's knobs, their defaults those of EvalConfig (the seed's Full Video row)."""
    from sparse_video_r1.evaluation.config import EvalConfig

    group = parser.add_argument_group(
        "--method video (defaults: the seed's Full Video row, via qwen-vl-utils)"
    )
    for name, kind, help_text in (
        ("video_fps", float, "frames a second"),
        ("video_max_frames", int, "frames at most"),
        ("video_max_pixels", int, "pixels a frame at most (360 x 420)"),
        ("video_min_pixels", int, "pixels a frame at least (128 x 28 x 28)"),
    ):
        default = getattr(EvalConfig, name)
        group.add_argument("--" + name.replace("_", "-"), type=kind, default=default, metavar="N",
                           help=f"{help_text} (default: {default})")  # fmt: skip


def _episode_overrides(args: argparse.Namespace) -> dict:
    """The EpisodeConfig fields given on the command line."""
    prefix = "episode_"
    return {k[len(prefix) :]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}


def _sft_data(args: argparse.Namespace) -> int:
    from sparse_video_r1.agent.episode import EpisodeConfig
    from sparse_video_r1.training.sft_data import Mix, sft_data_command

    teacher = None
    if args.teacher_url:
        teacher = {"base_url": args.teacher_url, "model": args.teacher_model, "attempts": args.api_attempts}
    config = EpisodeConfig(**_episode_overrides(args))
    mix = Mix(one_round=args.one_round, looks=args.looks, seed=args.seed)
    return sft_data_command(args.data, args.out_dir, config, teacher, mix)


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sparse_video_r1.evaluation.report import make_report

    training = {Path(d).resolve().parent.name if Path(d).name == "tensorboard" else Path(d).name: Path(d)
                for d in args.training}  # fmt: skip
    written = make_report([Path(d) for d in args.run_dirs], Path(args.out), training=training)
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sparse_video_r1.demo import run_demo

    return run_demo(args.out_dir, learn=args.learn, seed=args.seed, questions=args.questions)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="svr1",
        description="Sparse-Video-R1: train video-language models to ask only for the frames they need.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    tiny = commands.add_parser(
        "tiny-model", help="build a tiny random Qwen2.5-VL checkpoint offline (for tests and the CPU demo)"
    )
    tiny.add_argument("out_dir", help="directory to write the checkpoint to")
    tiny.add_argument("--seed", type=int, default=0, help="the same seed gives the same files (default: 0)")
    tiny.set_defaults(handler=_tiny_model)

    backends = ["auto", "torchcodec", "pyav"]
    backend_help = "decoder (default: auto, torchcodec else PyAV per file)"
    probe = commands.add_parser("probe", help="print each video's metadata, or why it cannot be decoded")
    probe.add_argument("videos", nargs="+", metavar="VIDEO")
    probe.add_argument("--backend", default="auto", choices=backends, help=backend_help)
    probe.set_defaults(handler=_probe)

    frames = commands.add_parser("frames", help="write the frames on screen at given times as PNG images")
    frames.add_argument("video", metavar="VIDEO")
    frames.add_argument("--at", required=True, type=_seconds_list, help="seconds, comma-separated: 1.5,20")
    frames.add_argument("--out", required=True, help="directory for the images")
    frames.add_argument("--max-pixels", type=int, help="resize to this pixel budget the Qwen2.5-VL way")
    frames.add_argument("--timestamps", action="store_true", help="draw each frame's time in red")
    frames.add_argument("--backend", default="auto", choices=backends, help=backend_help)
    frames.set_defaults(handler=_frames)

    prepare = commands.add_parser("prepare", help="turn a dataset into verl's parquet files")
    datasets = prepare.add_subparsers(dest="dataset", metavar="DATASET", required=True)
    nextqa = datasets.add_parser("nextqa", help="NExT-QA multiple choice from the official download")
    nextqa.add_argument(
        "--raw-dir", required=True, help="holds nextqa/*.csv, map_vid_vidorID.json, NExTVideo/"
    )
    nextqa.add_argument(
        "--samples", type=int, help="N questions each of train and val (the seed paper: 1000)"
    )
    nextqa.add_argument("--train-samples", type=int, help="N train questions (default: all)")
    nextqa.add_argument("--val-samples", type=int, help="N val questions (default: all)")
    nextqa.add_argument("--test-samples", type=int, help="N test questions (default: all)")
    nextgqa = datasets.add_parser("nextgqa", help="NExT-GQA: NExT-QA val/test questions with evidence spans")
    nextgqa.add_argument("--raw-dir", required=True, help="the NExT-QA download (for NExTVideo/)")
    nextgqa.add_argument("--gqa-dir", required=True, help="holds {val,test}.csv and gsub_{val,test}.json")
    nextgqa.add_argument("--val-samples", type=int, help="N val questions (default: all)")
    synthetic = datasets.add_parser("synthetic", help="make the embedded synthetic video-QA benchmark")
    synthetic.add_argument(
        "--videos", type=int, default=24, help="videos to make, 3 questions each (default: 24)"
    )
    synthetic.add_argument(
        "--shuffle-options",
        action="store_true",
        help="shuffle each question's options (default: one fixed order per question type)",
    )
    benchmarks = []
    for name, (about, layout) in BENCHMARKS.items():
        benchmark = datasets.add_parser(name, help=about)
        benchmark.add_argument("--raw-dir", required=True, help=layout)
        benchmark.add_argument("--samples", type=int, help="a seeded sample of N questions (default: all)")
        benchmarks.append(benchmark)
    for sub in (nextqa, nextgqa, synthetic, *benchmarks):
        sub.add_argument("--out-dir", required=True, help="where the parquet files, manifest and skips go")
        sub.add_argument(
            "--seed", type=int, default=0, help="sampling (and synthetic content) seed (default: 0)"
        )
    prepare.set_defaults(handler=_prepare)

    evaluation = commands.add_parser("eval", help="evaluate a model on a prepared split (resumable)")
    evaluation.add_argument(
        "--data", required=True, help="a split from `svr1 prepare`, e.g. data/nextqa/val.parquet"
    )
    evaluation.add_argument(
        "--method",
        required=True,
        choices=["uniform", "random", "whole_video", "video", "agent", "zoom"],
        help="whole_video: frames at 1 fps as images; video: Qwen's native video input (the seed's Full "
        "Video row); agent: an episode that asks for frames; zoom: an overview, then zooms (LOVE-R1)",
    )
    evaluation.add_argument(
        "--model", required=True, help="checkpoint path or name (an API model for --backend openai)"
    )
    evaluation.add_argument(
        "--out-dir", required=True, help="run folder: samples_<task>.jsonl and results.json"
    )
    evaluation.add_argument(
        "--backend",
        default="hf",
        choices=["hf", "vllm", "openai"],
        help="transformers (one question at a time), vLLM's engine (batched), or an OpenAI-compatible server",
    )
    evaluation.add_argument(
        "--concurrency",
        type=int,
        help="vllm: questions advanced together (default: 64); openai: requests in flight (default: 1)",
    )
    evaluation.add_argument(
        "--tensor-parallel-size", type=int, default=1, help="vllm: GPUs one model is split over (default: 1)"
    )
    evaluation.add_argument(
        "--frames", type=int, default=5, help="frames per question (the agent: its first frames) (default: 5)"
    )
    _add_episode_options(evaluation, skip=("first_frames", "mode"))  # --frames; --method agent or zoom
    _add_video_options(evaluation)
    evaluation.add_argument("--limit", type=int, help="only the first N questions")
    evaluation.add_argument("--seed", type=int, default=0, help="seed for random frames (default: 0)")
    evaluation.add_argument("--max-new-tokens", type=int, default=256)
    evaluation.add_argument("--device", default="cpu", help="transformers device: cpu or cuda")
    evaluation.add_argument(
        "--base-url", default="https://api.openai.com/v1", help="OpenAI-compatible server"
    )
    evaluation.add_argument(
        "--api-attempts", type=int, default=5, help="tries per API request (backoff 1, 2, 4 s...)"
    )
    evaluation.add_argument(
        "--api-max-wait",
        type=float,
        default=60.0,
        help="longest wait between API tries in seconds; a server asking for more is a failure (default: 60)",
    )
    evaluation.add_argument("--run", default="", help="name in reports (default: the out dir's name)")
    evaluation.add_argument(
        "--shard",
        default="",
        metavar="K/N",
        help="answer questions K, K+N, ... into OUT/shard-K-of-N/, one GPU or node per shard; then `svr1 merge OUT`",
    )
    evaluation.set_defaults(handler=_eval)

    merge = commands.add_parser(
        "merge", help="join the shards of `svr1 eval --shard K/N` into one run's files"
    )
    merge.add_argument("out_dir", metavar="OUT", help="the --out-dir the shards were given")
    merge.set_defaults(handler=_merge)

    sft = commands.add_parser(
        "sft-data",
        help="multi-turn SFT trajectories of our episodes, played by an oracle that knows the spans",
    )
    sft.add_argument(
        "--data", required=True, help="a folder from `svr1 prepare` (train/val.parquet with spans)"
    )
    sft.add_argument("--out-dir", required=True, help="where train.parquet, val.parquet, skipped.csv go")
    sft.add_argument("--teacher-url", help="an OpenAI-compatible server that writes the thinking")
    sft.add_argument("--teacher-model", default="gpt-4o", help="the teacher model (default: gpt-4o)")
    sft.add_argument("--api-attempts", type=int, default=5, help="tries per teacher request (default: 5)")
    sft.add_argument(
        "--one-round",
        type=float,
        default=0.0,
        help="share of one-round episodes, answered (or guessed) from the first frames (default: 0)",
    )
    sft.add_argument(
        "--looks",
        type=int,
        default=0,
        help="one-frame episodes per row, the frame inside the evidence: lessons in seeing (default: 0)",
    )
    sft.add_argument("--seed", type=int, default=0, help="the draws of one-round rows, looks and guesses")
    _add_episode_options(sft)
    sft.set_defaults(handler=_sft_data)

    report = commands.add_parser("report", help="compare runs: table, accuracy-vs-frames plot, trajectories")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    report.add_argument(
        "--out", required=True, help="folder for table.md, the plot, pictures and report.html"
    )
    report.add_argument(
        "--training",
        nargs="*",
        default=[],
        metavar="TB_DIR",
        help="TensorBoard folders of training runs (beside their checkpoints): their curves join the report",
    )
    report.set_defaults(handler=_report)

    demo = commands.add_parser(
        "demo", help="the whole story on CPU: synthetic data, tiny model, SFT, GRPO, evaluations, report"
    )
    demo.add_argument(
        "--out-dir", default="outputs/demo", help="where the demo writes (default: outputs/demo)"
    )
    demo.add_argument("--learn", action="store_true", help="train long enough to learn (see the README)")
    demo.add_argument(
        "--seed", type=int, default=0, help="data, model, SFT mix and sampling seed (default: 0)"
    )
    demo.add_argument(
        "--questions", type=int, help="held-out questions per evaluation (default: 9; --learn: 150)"
    )
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
