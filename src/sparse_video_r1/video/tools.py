"""`svr1 probe` and `svr1 frames`: look at a user's videos the way the agent will, for debugging data."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sparse_video_r1.video.reader import VideoError, VideoInfo, open_video
from sparse_video_r1.video.timestamps import TimestampError


def probe(path: str | Path, backend: str = "auto") -> VideoInfo:
    """Header metadata, after checking that the first and the last frame decode (catches cut files)."""
    video = open_video(path, backend=backend)
    video.frames_at([0.0, video.duration])
    return video.info


def probe_command(paths: Sequence[str], backend: str = "auto") -> int:
    """Print one line per video: its metadata, or the error. Exit status 1 when any video failed."""
    header = f"{'duration':>9} {'fps':>7} {'frames':>7} {'size':>10} {'codec':>6} {'backend':>10}  path"
    print(header)
    failed = 0
    for path in paths:
        try:
            info = probe(path, backend)
        except VideoError as error:
            failed += 1
            print(f"{'ERROR':>9} {error.cause}  {path}")
            continue
        size = f"{info.width}x{info.height}"
        print(
            f"{info.duration:>8.2f}s {info.fps:>7.3f} {info.num_frames:>7} {size:>10} {info.codec:>6} "
            f"{info.backend:>10}  {path}"
        )
    if failed:
        print(f"{failed} of {len(paths)} videos failed")
    return 1 if failed else 0


def frames_command(
    path: str,
    at: Sequence[float],
    out_dir: str,
    *,
    max_pixels: int | None = None,
    timestamps: bool = False,
    backend: str = "auto",
) -> int:
    """Write the frame on screen at each time as OUT_DIR/<video>_<time>s.png."""
    try:
        video = open_video(path, backend=backend)
        images = video.frames_at(at, max_pixels=max_pixels, timestamps=timestamps)
    except (VideoError, TimestampError) as error:
        print(f"error: {error}")
        return 1
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = Path(path).stem
    for seconds, image in zip(at, images, strict=True):
        target = out / f"{stem}_{seconds:08.3f}s.png"
        image.save(target)
        print(f"{seconds:.3f} s -> {target} ({image.width}x{image.height})")
    return 0
