"""Frame service vs the peers: K=5 requested frames per turn, cold and warm, on a NExT-QA-like video;
and the memory of a LOVE-R1 overview (768 small frames of a 1280x720 video).

    .venv/bin/python benchmarks/frames.py [--repeats 15] [--video-dir ~/.cache/sparse-video-r1/bench-videos]

Videos (640x360, 30 fps H.264, keyframe every 250 frames, B-frames; 40 s, 1 min and 60 min; and a
1280x720 10 min one) are made once with FFmpeg's test source and kept in --video-dir. Every method gets
the same random times in each repeat. "Cold" is the first request for a video in the process (open +
decode; the file itself sits in the OS page cache, as it does in a training run after its first epoch).
"Warm" is another rollout of the same GRPO group asking for the same five frames, as all rollouts do on
their first turn. Medians. Memory is measured in a fresh process per method: its peak RSS during the call
above its RSS just before it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from sparse_video_r1.video import open_video
from sparse_video_r1.video.cache import decoder_cache, frame_cache

K = 5
VIDEOS = {"40 s": 40, "1 min": 60, "60 min": 3600}


def make_video(path: Path, seconds: int, size: str = "640x360") -> Path:
    import av

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    print(f"making {path} ({seconds} s; once)", flush=True)
    with (
        av.open(f"testsrc2=size={size}:rate=30:duration={seconds}", format="lavfi") as source,
        av.open(str(partial), "w") as out,
    ):
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height = map(int, size.split("x"))
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "superfast", "g": "250", "bf": "2", "crf": "32"}
        for frame in source.decode(video=0):
            frame = frame.reformat(format="yuv420p")
            frame.pts = None
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    partial.rename(path)
    return path


def ours_cold(path: Path, times: list[float]) -> None:
    frame_cache.clear()
    decoder_cache.clear()
    open_video(path).frames_at(times)


def ours_warm(path: Path, times: list[float]) -> None:
    open_video(path).frames_at(times)


def opencv_seek(path: Path, times: list[float]) -> None:
    """The original Sparse-Video-R1: a capture per request, a seek per frame (it kept no cache)."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    for t in times:
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(t * fps))
        ok, _ = capture.read()
        assert ok
    capture.release()


def decord_batch(path: Path, times: list[float]) -> None:
    import decord

    reader = decord.VideoReader(str(path))
    reader.get_batch([min(len(reader) - 1, int(t * reader.get_avg_fps())) for t in times]).asnumpy()


def _median_ms(
    run: Callable[[Path, list[float]], None], path: Path, requests: list[list[float]], warmup=None
):
    samples = []
    for times in requests:
        if warmup:
            warmup(path, times)
        start = time.perf_counter()
        run(path, times)
        samples.append(time.perf_counter() - start)
    return 1000 * statistics.median(samples)


def _row(name: str, ms: float | None, baseline: float | None) -> str:
    if ms is None:
        return f"| {name} | not installed | |"
    ratio = f"{baseline / ms:.1f}x" if baseline else ""
    return f"| {name} | {ms:.1f} | {ratio} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--video-dir", type=Path, default=Path.home() / ".cache/sparse-video-r1/bench-videos")
    args = parser.parse_args()
    paths = {
        name: make_video(args.video_dir / f"bench_{seconds}s.mp4", seconds)
        for name, seconds in VIDEOS.items()
    }
    try:
        import decord  # noqa: F401

        has_decord = True
    except ImportError:
        has_decord = False

    rng = np.random.default_rng(0)
    results: dict[str, dict[str, float | None]] = {}
    for name, path in paths.items():
        duration = VIDEOS[name]
        requests = [sorted(rng.uniform(0, duration, K).round(2).tolist()) for _ in range(args.repeats)]
        results[name] = {
            "ours cold": _median_ms(ours_cold, path, requests),
            "ours warm": _median_ms(ours_warm, path, requests, warmup=ours_cold),
            "opencv": _median_ms(opencv_seek, path, requests),
            "decord": _median_ms(decord_batch, path, requests) if has_decord else None,
        }

    print(
        f"\nK={K} frames per request, median ms over {args.repeats} requests; ratio = OpenCV seek time / method time\n"
    )
    for name, row in results.items():
        opencv = row["opencv"]
        print(
            f"**{name} video (640x360, 30 fps H.264)**\n\n| method | ms | vs OpenCV seek |\n| --- | --- | --- |"
        )
        print(_row("OpenCV seek per frame (original Sparse-Video-R1)", opencv, opencv))
        print(_row("decord get_batch (the original's recommended extra)", row["decord"], opencv))
        print(_row("ours, cold (first request for the video)", row["ours cold"], opencv))
        print(_row("ours, warm (another rollout, same frames)", row["ours warm"], opencv))
        print()
    cold_ratio = results["60 min"]["ours cold"] / results["1 min"]["ours cold"]
    print(f"ours, cold K={K}: 60 min video / 1 min video = {cold_ratio:.2f}x (target <= 1.5x)")
    print(
        f"frame cache: {frame_cache.size / 2**20:.1f} MiB held, limit {frame_cache.capacity / 2**20:.0f} MiB"
    )

    print("\n**Whole-video baseline input (40 s video at 1 fps, max_pixels 360*420)**\n")
    whole_video(paths["40 s"], args.repeats)

    hd = make_video(args.video_dir / "bench_600s_1280x720.mp4", 600, "1280x720")
    print("\n**LOVE-R1 overview memory: 768 frames at 32 x 28 x 28 pixels of a 10 min 1280x720 video**\n")
    overview_memory(hd)


def whole_video(path: Path, repeats: int) -> None:
    from qwen_vl_utils import fetch_video

    max_pixels = 360 * 420

    def qwen_utils(path: Path, _times) -> None:
        fetch_video({"video": str(path), "fps": 1.0, "max_pixels": max_pixels})

    def ours(path: Path, _times) -> None:
        frame_cache.clear()
        decoder_cache.clear()
        video = open_video(path)
        video.frames_at([i + 0.5 for i in range(int(video.duration))], max_pixels=max_pixels)

    requests = [[] for _ in range(max(3, repeats // 3))]
    theirs_ms = _median_ms(qwen_utils, path, requests)
    ours_ms = _median_ms(ours, path, requests)
    print("| method | ms | vs qwen-vl-utils |\n| --- | --- | --- |")
    print(f"| qwen-vl-utils fetch_video | {theirs_ms:.0f} | 1.0x |")
    print(f"| ours, cold, 40 frames resized | {ours_ms:.0f} | {theirs_ms / ours_ms:.1f}x |")


OVERVIEW = """
import resource, sys, time
from sparse_video_r1.video import open_video
video = open_video(sys.argv[1])
video.frames_at([0.0])  # libraries and decoder warm: the baseline is what a running rollout already holds
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
frames = video.overview(fps=2.0, max_frames=768, max_pixels=32 * 28 * 28)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(frames.images), seconds, (peak - before) / 1024)
"""


def overview_memory(path: Path) -> None:
    """Peak memory above the baseline while building one overview, in a fresh process."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", OVERVIEW, str(path)], capture_output=True, text=True, check=True
    ).stdout.split()
    count, seconds, peak_mb = int(out[0]), float(out[1]), float(out[2])
    print("| method | frames | s | peak MB above baseline | target |\n| --- | --- | --- | --- | --- |")
    print(f"| ours, cold | {count} | {seconds:.1f} | {peak_mb:.0f} | < 500 |")


if __name__ == "__main__":
    main()
