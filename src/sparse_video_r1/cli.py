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


def _prepare(args: argparse.Namespace) -> int:
    from sparse_video_r1.data import prepare
    from sparse_video_r1.data.splits import DatasetError

    try:
        if args.dataset == "nextqa":
            train, val = args.train_samples or args.samples, args.val_samples or args.samples
            return prepare.prepare_nextqa(args.raw_dir, args.out_dir, train, val, args.seed)
        if args.dataset == "nextgqa":
            return prepare.prepare_nextgqa(
                args.raw_dir, args.gqa_dir, args.out_dir, args.val_samples, args.seed
            )
        return prepare.prepare_synthetic(args.out_dir, args.videos, args.seed)
    except DatasetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _eval(args: argparse.Namespace) -> int:
    from sparse_video_r1.evaluation.run import EvalConfig, evaluate

    config = EvalConfig(
        data=args.data,
        method=args.method,
        model=args.model,
        out_dir=args.out_dir,
        backend=args.backend,
        frames=args.frames,
        max_pixels=args.max_pixels,
        limit=args.limit,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
        device=args.device,
        base_url=args.base_url,
        api_attempts=args.api_attempts,
        api_max_wait=args.api_max_wait,
        run=args.run,
        min_pixels=args.min_pixels,
        episode={
            key: value
            for key, value in (("max_rounds", args.rounds), ("frames_per_request", args.frames_per_request))
            if value is not None
        },
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


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sparse_video_r1.evaluation.report import make_report

    written = make_report([Path(d) for d in args.run_dirs], Path(args.out))
    for name, path in written.items():
        print(f"{name}: {path}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sparse_video_r1.demo import run_demo

    return run_demo(args.out_dir, questions=args.questions)


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
    nextgqa = datasets.add_parser("nextgqa", help="NExT-GQA: NExT-QA val/test questions with evidence spans")
    nextgqa.add_argument("--raw-dir", required=True, help="the NExT-QA download (for NExTVideo/)")
    nextgqa.add_argument("--gqa-dir", required=True, help="holds {val,test}.csv and gsub_{val,test}.json")
    nextgqa.add_argument("--val-samples", type=int, help="N val questions (default: all)")
    synthetic = datasets.add_parser("synthetic", help="make the embedded synthetic video-QA benchmark")
    synthetic.add_argument(
        "--videos", type=int, default=24, help="videos to make, 4 questions each (default: 24)"
    )
    for sub in (nextqa, nextgqa, synthetic):
        sub.add_argument("--out-dir", required=True, help="where the parquet files, manifest and skips go")
        sub.add_argument(
            "--seed", type=int, default=0, help="sampling (and synthetic content) seed (default: 0)"
        )
    prepare.set_defaults(handler=_prepare)

    evaluation = commands.add_parser("eval", help="evaluate a model on a prepared split (resumable)")
    evaluation.add_argument(
        "--data", required=True, help="a split from `svr1 prepare`, e.g. data/nextqa/val.parquet"
    )
    evaluation.add_argument("--method", required=True, choices=["uniform", "random", "whole_video", "agent"])
    evaluation.add_argument(
        "--model", required=True, help="checkpoint path or name (an API model for --backend openai)"
    )
    evaluation.add_argument(
        "--out-dir", required=True, help="run folder: samples_<task>.jsonl and results.json"
    )
    evaluation.add_argument(
        "--backend",
        default="hf",
        choices=["hf", "openai"],
        help="transformers, or an OpenAI-compatible server",
    )
    evaluation.add_argument("--frames", type=int, default=5, help="frames per question (agent: first frames)")
    evaluation.add_argument("--max-pixels", type=int, default=128 * 28 * 28, help="pixel budget per frame")
    evaluation.add_argument("--min-pixels", type=int, default=16 * 28 * 28, help="smallest frame, in pixels")
    evaluation.add_argument("--rounds", type=int, help="agent: replies per episode (default: 5)")
    evaluation.add_argument("--frames-per-request", type=int, help="agent: frames per request (default: 5)")
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
    evaluation.set_defaults(handler=_eval)

    report = commands.add_parser("report", help="compare runs: table, accuracy-vs-frames plot, trajectories")
    report.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    report.add_argument(
        "--out", required=True, help="folder for table.md, the plot, pictures and report.html"
    )
    report.set_defaults(handler=_report)

    demo = commands.add_parser(
        "demo", help="the whole pipeline on CPU: data, tiny model, 2 training steps, evaluations, report"
    )
    demo.add_argument(
        "--out-dir", default="outputs/demo", help="where the demo writes (default: outputs/demo)"
    )
    demo.add_argument(
        "--questions", type=int, default=8, help="validation questions per evaluation (default: 8)"
    )
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
