"""`svr1 sft-data | demo`: SFT trajectories from our episodes, and the whole story on CPU."""

from __future__ import annotations

import argparse
import sys

from sparse_video_r1.cli.options import add_episode_options, episode_overrides


def _sft_data(args: argparse.Namespace) -> int:
    from sparse_video_r1.agent.episode import EpisodeConfig
    from sparse_video_r1.training.sft_data import Mix, sft_data_command

    teacher = None
    if args.teacher_url:
        teacher = {"base_url": args.teacher_url, "model": args.teacher_model, "attempts": args.api_attempts}
    config = EpisodeConfig(**episode_overrides(args))
    mix = Mix(one_round=args.one_round, looks=args.looks, seed=args.seed, policies=args.policies)
    return sft_data_command(args.data, args.out_dir, config, teacher, mix)


def _policies(text: str) -> tuple[tuple[str, float], ...]:
    from sparse_video_r1.training.sft_data import parse_policies

    try:
        return parse_policies(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _demo(args: argparse.Namespace) -> int:
    from sparse_video_r1.demo.run import run_demo

    try:
        return run_demo(args.out_dir, args.learn, args.seed, args.questions, args.set)
    except ValueError as error:
        print(f"svr1 demo: {error}", file=sys.stderr)
        return 2


def add_commands(commands) -> None:
    sft = commands.add_parser(
        "sft-data",
        help="multi-turn SFT trajectories of our episodes, played by players that know the spans "
        "(the oracle and weaker ones)",
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
    sft.add_argument(
        "--policies",
        type=_policies,
        default=(("oracle", 1.0),),
        metavar="NAME=W,...",
        help="who plays the search episodes, by weight: oracle (scans in time order, answers once the evidence "
        "is on screen), impatient (may answer before it, a guess), overscan (may look again after it), "
        "random (asks for random times); e.g. oracle=0.4,impatient=0.6 (default: oracle=1)",
    )
    sft.add_argument(
        "--seed", type=int, default=0, help="the draws of one-round rows, looks, policies and guesses"
    )
    add_episode_options(sft)
    sft.set_defaults(handler=_sft_data)

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
    demo.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="change one of the run's knobs (demo.py DemoSettings), e.g. grpo_lr=3e-5, frame_cost=0, "
        "policies=oracle=1; the stages it changes run again in folders of their own; repeatable",
    )
    demo.set_defaults(handler=_demo)
