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

    .venv/bin/python benchmarks/frames.py --overview-long

runs only the overview of a 60-minute 1280x720 video (768 frames at 32 x 28 x 28 pixels): ours cold and
warm vs qwen-vl-utils' fetch_video (its own reader pick, and decord when installed: `pip install decord`),
beside the floor of one sequential decode of the whole file; time, CPU time and peak memory, each in a
fresh process, and whether ours finishes under the default decode deadline (SVR1_DECODE_TIMEOUT, 60 s
without progress). Its video (30 fps as real long videos are, keyframe every 8 s; made once, in about 15
minutes on 2 cores) is kept in --video-dir.
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


def make_video(path: Path, seconds: int, size: str = "640x360", rate: int = 30, gop: int = 250) -> Path:
    import av

    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    print(f"making {path} ({seconds} s; once)", flush=True)
    with (
        av.open(f"testsrc2=size={size}:rate={rate}:duration={seconds}", format="lavfi") as source,
        av.open(str(partial), "w") as out,
    ):
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height = map(int, size.split("x"))
        stream.pix_fmt = "yuv420p"
        # sc_threshold 0: no keyframes at scene cuts, so exactly one every `gop` frames
        stream.options = {"preset": "superfast", "g": str(gop), "bf": "2", "crf": "32", "sc_threshold": "0"}
        for frame in source.decode(video=0):
            frame = frame.reformat(format="yuv420p")
            frame.pts = None
            frame.pict_type = av.video.frame.PictureType.NONE  # the source marks every frame I: x264 obeys
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
    parser.add_argument(
        "--overview-long",
        action="store_true",
        help="only the overview of a 60-minute 1280x720 video vs qwen-vl-utils (time, peak memory, floor)",
    )
    args = parser.parse_args()
    if args.overview_long:
        overview_long(args.video_dir)
        return
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


# --- The overview of a 60-minute video: ours vs qwen-vl-utils, time and peak memory, beside the floor ---

LONG_SECONDS, LONG_SIZE, LONG_RATE, LONG_GOP = 3600, "1280x720", 30, 240  # Video-MME long, LVBench's rate
OVERVIEW_FPS, OVERVIEW_FRAMES, OVERVIEW_PIXELS = 2.0, 768, 32 * 28 * 28

# One method per fresh process. The baseline is its RSS after its libraries are imported and have decoded
# a tiny warm-up clip (what a running trainer already holds); the peak is the kernel's high-water mark of
# RSS (reset with /proc/self/clear_refs) during the timed call. Prints one JSON line.
LONG_CHILD = r"""
import gc, json, os, resource, sys, time
method, path, warm = sys.argv[1], sys.argv[2], sys.argv[3]
FPS, FRAMES, PIXELS = float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith(field + ":"))

def measure(call):
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the high-water mark starts again from the current RSS
        before, peak_of = status("VmRSS"), lambda: status("VmHWM")
    except OSError:  # no reset here: the process's lifetime peak, which may hide a smaller one
        before = status("VmRSS")
        peak_of = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    result = call()
    seconds, used = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    cpu_seconds.append(used.ru_utime + used.ru_stime - cpu.ru_utime - cpu.ru_stime)
    return result, seconds, peak_of() - before

cpu_seconds = []

out = {}
if method.startswith("ours"):
    from sparse_video_r1.video import open_video
    from sparse_video_r1.video.backends import decode_threads
    from sparse_video_r1.video.cache import decoder_cache, frame_cache
    overview = lambda p: open_video(p).overview(fps=FPS, max_frames=FRAMES, max_pixels=PIXELS)
    overview(warm)
    frame_cache.clear(); decoder_cache.clear()
    baseline = status("VmRSS")
    frames, out["seconds"], out["peak_mb"] = measure(lambda: overview(path))
    out["frames"], out["size"] = len(frames.images), "x".join(map(str, frames.images[0].size))
    out["backend"] = f"{open_video(path).info.backend}, {decode_threads()} FFmpeg threads"
    misses = frame_cache.misses
    again, out["warm_seconds"], out["warm_peak_mb"] = measure(lambda: overview(path))
    out["warm_decoded"] = frame_cache.misses - misses
    out["cache_mb"] = frame_cache.size / 2**20
    assert [a.tobytes() for a in again.images[:3]] == [a.tobytes() for a in frames.images[:3]]
elif method.startswith("qwen"):
    from qwen_vl_utils import fetch_video
    from qwen_vl_utils.vision_process import get_video_reader_backend
    fetch = lambda p: fetch_video(
        {"video": p, "fps": FPS, "max_frames": FRAMES, "min_pixels": 28 * 28, "max_pixels": PIXELS},
        return_video_metadata=True,
    )
    fetch(warm)
    (video, meta), out["seconds"], out["peak_mb"] = measure(lambda: fetch(path))
    out["frames"], out["size"] = video.shape[0], f"{video.shape[3]}x{video.shape[2]}"
    out["backend"] = meta.get("video_backend", get_video_reader_backend())
elif method.startswith("floor"):
    import av
    def decode_all(p):
        with av.open(p) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO" if method == "floor" else "SLICE"
            if method != "floor":
                stream.thread_count = 1
            return sum(1 for _ in container.decode(stream))
    decode_all(warm)
    out["frames"], out["seconds"], out["peak_mb"] = measure(lambda: decode_all(path))
    out["size"], out["backend"] = "as decoded (yuv420p)", f"PyAV {av.__version__}"
out["cpu_seconds"] = cpu_seconds[-2 if method.startswith("ours") else -1]
if method.startswith("ours"):
    out["warm_cpu_seconds"] = cpu_seconds[-1]
print(json.dumps(out))
"""


def _run_child(method: str, path: Path, warm: Path, env: dict | None = None) -> dict | str:
    import json
    import os
    import subprocess
    import sys

    args = [method, str(path), str(warm), str(OVERVIEW_FPS), str(OVERVIEW_FRAMES), str(OVERVIEW_PIXELS)]
    done = subprocess.run(
        [sys.executable, "-c", LONG_CHILD, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        return f"does not run here ({last[:120]})"
    return json.loads(done.stdout.strip().splitlines()[-1])


def overview_long(video_dir: Path) -> None:
    """Our overview of a 60-minute 1280x720 video vs qwen-vl-utils' fetch_video, each in a fresh process."""
    import importlib.util
    import os

    path = make_video(
        video_dir / f"bench_{LONG_SECONDS}s_{LONG_SIZE}_{LONG_RATE}fps_g{LONG_GOP}.mp4",
        LONG_SECONDS,
        LONG_SIZE,
        rate=LONG_RATE,
        gop=LONG_GOP,
    )
    warm = make_video(video_dir / "warmup_4s_320x240.mp4", 4, "320x240", rate=LONG_RATE, gop=LONG_GOP)
    forced = os.environ.get("FORCE_QWENVL_VIDEO_READER")
    picks = forced or next(
        (name for name in ("torchcodec", "decord") if importlib.util.find_spec(name)), "torchvision"
    )
    has_decord = importlib.util.find_spec("decord") is not None
    threads = min(4, len(os.sched_getaffinity(0)))
    runs = {
        "floor": ("floor: one sequential decode of the whole file (PyAV, FFmpeg threads auto)", None),
        "floor1": ("floor, one FFmpeg thread (PyAV)", None),
        "ours": ("ours, cold: open + `Video.overview` (the first episode on the video)", None),
        "ours-threads": (
            f"ours, cold, SVR1_DECODE_THREADS={threads} (FFmpeg frame threads)",
            {"SVR1_DECODE_THREADS": str(threads)},
        ),
        "qwen": (
            f"qwen-vl-utils `fetch_video`, {picks} reader"
            + (" (FORCE_QWENVL_VIDEO_READER)" if forced else " (its own pick here), 8 FFmpeg threads"),
            None,
        ),
    }
    if picks != "decord":
        runs["qwen-decord"] = (
            "qwen-vl-utils `fetch_video`, decord reader (FORCE_QWENVL_VIDEO_READER=decord)",
            {"FORCE_QWENVL_VIDEO_READER": "decord"},
        )
    started = time.perf_counter()
    results: dict[str, dict | str] = {}
    for method, (_, env) in runs.items():
        if method == "qwen-decord" and not has_decord:
            results[method] = "does not run here (decord is not installed: `pip install decord`)"
            continue
        print(f"  measuring {method} ...", flush=True)
        results[method] = _run_child(method, path, warm, env)
    took = time.perf_counter() - started

    qwen = results["qwen"]["seconds"] if isinstance(results["qwen"], dict) else None
    print(
        f"\n**Overview of a {LONG_SECONDS // 60}-minute {LONG_SIZE} video: {OVERVIEW_FRAMES} frames at "
        f"{OVERVIEW_PIXELS // 784} x 28 x 28 pixels, {OVERVIEW_FPS:g} fps capped**\n\n"
        f"Video: H.264 (libx264 superfast, crf 32, 2 B-frames), {LONG_RATE} fps, keyframe every {LONG_GOP} "
        f"frames ({LONG_GOP / LONG_RATE:g} s), {LONG_SECONDS * LONG_RATE} frames, "
        f"{path.stat().st_size / 2**20:.0f} MiB; overview frames are {LONG_SECONDS / OVERVIEW_FRAMES:.2f} s "
        f"apart. {len(os.sched_getaffinity(0))} CPUs. s = wall seconds (the ratio's basis), CPU s = user + "
        "system seconds of all its threads. Peak = peak RSS during the call above the process's RSS after "
        "its imports and a warm-up decode of a tiny clip. One fresh process per method.\n"
    )
    print("| method | frames | size | s | x vs qwen-vl-utils | CPU s | peak MB above baseline |")
    print("| --- | --- | --- | --- | --- | --- | --- |")

    def row(name: str, r: dict | str, prefix: str = "") -> None:
        if isinstance(r, str):
            print(f"| {name} | {r} | | | | | |")
            return
        seconds = r[f"{prefix}seconds"]
        ratio = f"{qwen / seconds:.2f}x" if qwen else ""
        print(
            f"| {name} | {r['frames']} | {r['size']} | {seconds:.2f} | {ratio} "
            f"| {r[f'{prefix}cpu_seconds']:.1f} | {r[f'{prefix}peak_mb']:.0f} |"
        )

    for method, (name, _) in runs.items():
        row(name, results[method])
        if method == "ours" and isinstance(results[method], dict):
            r = results[method]
            row(
                "ours, warm: the same overview again in the process (another rollout of the group, a later "
                f"epoch); {r['warm_decoded']} frames decoded, served from the {r['cache_mb']:.0f} MiB it "
                "left in the frame cache",
                r,
                "warm_",
            )
    ours = results["ours"]
    if isinstance(ours, dict):
        speedup = qwen / ours["seconds"] if qwen else float("nan")
        print(
            "\n| target | measured | pass |\n| --- | --- | --- |\n"
            f"| ours cold >= 3x faster than qwen-vl-utils ({picks} reader) | {speedup:.2f}x | "
            f"{'pass' if speedup >= 3 else 'FAIL'} |\n"
            f"| ours cold peak < 500 MB above baseline | {ours['peak_mb']:.0f} MB | "
            f"{'pass' if ours['peak_mb'] < 500 else 'FAIL'} |\n"
            f"| a later episode on the video is served from the cache | {ours['warm_decoded']} frames decoded, "
            f"{ours['warm_seconds']:.2f} s | {'pass' if ours['warm_decoded'] == 0 else 'FAIL'} |"
        )
        print(f"\nours decoded with {ours['backend']}.")
    from sparse_video_r1.video.reader import DECODE_TIMEOUT

    finished = "pass" if isinstance(ours, dict) else f"FAIL ({ours})"
    took_ours = f"{ours['seconds']:.0f} s in all" if isinstance(ours, dict) else "-"
    print(
        f"\n| deadline | measured | pass |\n| --- | --- | --- |\n| ours finishes under the default decode deadline "
        f"({DECODE_TIMEOUT:g} s without progress; a chunk reports progress) | {took_ours} | {finished} |"
    )
    print(f"(this section took {took:.0f} s)")


if __name__ == "__main__":
    main()
