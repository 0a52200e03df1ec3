"""`svr1 tiny-model | probe | frames`: the tiny offline model and a look at videos and their frames."""

from __future__ import annotations

import argparse
import time


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


def add_commands(commands) -> None:
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
