"""The `svr1` command: one subcommand per step of a researcher's day, each importing its heavy stack lazily.

The subcommands live in this folder by the step they serve: `video.py` (tiny-model, probe, frames), `data.py`
(prepare), `evaluation.py` (eval, merge, report), `training.py` (sft-data, demo); `options.py` holds the flags
several of them share.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from sparse_video_r1.cli import data, evaluation, training, video

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="svr1",
        description="Sparse-Video-R1: train video-language models to ask only for the frames they need.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for step in (video, data, evaluation, training):
        step.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)
