"""`svr1 prepare DATASET`: a dataset's official release (or nothing, for the synthetic set) into verl's parquet files."""

from __future__ import annotations

import argparse
import sys

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


def add_commands(commands) -> None:
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
