"""Flags more than one subcommand takes: the episode's knobs (from EpisodeConfig) and the video method's."""

from __future__ import annotations

import argparse
from collections.abc import Sequence


def add_episode_options(parser: argparse.ArgumentParser, skip: Sequence[str] = ()) -> None:
    """One flag per EpisodeConfig field (`--max-rounds`, ...), its help and default taken from the field."""
    from dataclasses import fields
    from typing import get_args, get_type_hints

    from sparse_video_r1.agent.episode import EpisodeConfig

    group = parser.add_argument_group("episode (the agent's rules; in training: svr1.episode.*)")
    for knob in fields(EpisodeConfig):
        if knob.name in skip:
            continue
        boolean = isinstance(knob.default, bool)
        group.add_argument(
            "--" + knob.name.replace("_", "-"),
            dest=f"episode_{knob.name}",
            metavar="true|false" if boolean else None if isinstance(knob.default, str) else "N",
            type=_true_or_false if boolean else type(knob.default),
            choices=list(get_args(get_type_hints(EpisodeConfig)[knob.name])) or None,
            help=f"{knob.metadata['help']} (default: {str(knob.default).lower() if boolean else knob.default})",
        )


def _true_or_false(text: str) -> bool:
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")
    return text.lower() == "true"


def add_video_options(parser: argparse.ArgumentParser) -> None:
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


def episode_overrides(args: argparse.Namespace) -> dict:
    """The EpisodeConfig fields given on the command line."""
    prefix = "episode_"
    return {k[len(prefix) :]: v for k, v in vars(args).items() if k.startswith(prefix) and v is not None}
