"""`svr1 eval | merge | report`: score a model on a prepared split, join a sharded run, compare runs."""

from __future__ import annotations

import argparse
import sys

from sparse_video_r1.cli.options import add_episode_options, add_video_options, episode_overrides


def _eval(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from sparse_video_r1.evaluation.run import EvalConfig, evaluate

    episode = episode_overrides(args)
    settings = {
        knob.name: getattr(args, knob.name) for knob in fields(EvalConfig) if hasattr(args, knob.name)
    }
    config = EvalConfig(
        **settings,  # every flag named after a setting: --out-dir, --video-fps, --shard, ...
        max_pixels=episode.pop("max_pixels", EvalConfig.max_pixels),
        min_pixels=episode.pop("min_pixels", EvalConfig.min_pixels),
        episode=episode,
    )
    try:
        results = evaluate(config)
    except ValueError as error:  # settings that cannot run: say why, without a traceback
        print(f"error: {error}", file=sys.stderr)
        return 2
    summary = results["results"]
    print(
        f"{results['run']}: accuracy {summary['acc']:.1%} on the {summary['n']} answered questions, "
        f"{summary['acc_all']:.1%} on all {summary['samples']} ({summary['failures']} failed: not scored; "
        f"{summary['unparsed']} unparsed: wrong); {summary['mean_frames']:.1f} frames and "
        f"{summary['mean_rounds']:.1f} rounds per question; files in {config.run_dir}"
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


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sparse_video_r1.evaluation.report import make_report

    training = {Path(d).resolve().parent.name if Path(d).name == "tensorboard" else Path(d).name: Path(d)
                for d in args.training}  # fmt: skip
    try:
        written = make_report(
            [Path(d) for d in args.run_dirs], Path(args.out), training=training, pairs=args.compare
        )
    except ValueError as error:
        print(f"svr1 report: {error}", file=sys.stderr)
        return 2
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def add_commands(commands) -> None:
    from sparse_video_r1.evaluation.config import METHOD_ALIASES, METHODS, EvalConfig

    evaluation = commands.add_parser("eval", help="evaluate a model on a prepared split (resumable)")
    evaluation.add_argument(
        "--data", required=True, help="a split from `svr1 prepare`, e.g. data/nextqa/val.parquet"
    )
    evaluation.add_argument(
        "--method",
        required=True,
        choices=[*METHODS, *METHOD_ALIASES],
        help="whole_video: frames at 1 fps as images; video: Qwen's native video input (the seed's Full "
        "Video row); frames: an episode that asks for frames (also: agent); zoom: an overview, then zooms "
        "(LOVE-R1)",
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
        "--first-frames",
        "--frames",
        type=int,
        default=EvalConfig.first_frames,
        help="the frames shown first: a one-turn method's all, an episode's opening (default: 5)",
    )
    add_episode_options(evaluation, skip=("first_frames", "mode"))  # the mode is the method's
    add_video_options(evaluation)
    evaluation.add_argument("--limit", type=int, help="only the first N questions")
    evaluation.add_argument("--seed", type=int, default=0, help="seed for random frames (default: 0)")
    evaluation.add_argument(
        "--reply-tokens",
        "--max-new-tokens",
        type=int,
        default=EvalConfig.reply_tokens,
        help="the most tokens one reply may have (default: 256)",
    )
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

    report = commands.add_parser(
        "report", help="compare runs: table, paired tests, accuracy-vs-frames plot, trajectories"
    )
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
    report.add_argument(
        "--compare",
        nargs=2,
        action="append",
        default=[],
        metavar=("RUN", "AGAINST"),
        help="compare two runs (by their names in the table) question by question: wins, losses, ties and "
        "McNemar's exact test, in table.md and results.json; repeatable",
    )
    report.set_defaults(handler=_report)
