"""Real test videos made at test time: every frame paints its own index, so a test can read back which
frame a decoder returned. 16 bits as a 4x4 grid of black/white blocks survives lossy coding."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from sparse_video_r1.video.writer import write_video


def paint_index(index: int, width: int, height: int) -> np.ndarray:
    frame = np.full((height, width, 3), 90, np.uint8)
    for bit in range(16):
        row, col = divmod(bit, 4)
        y0, x0 = row * height // 4, col * width // 4
        value = 255 if (index >> bit) & 1 else 0
        frame[y0 + 3 : y0 + height // 4 - 3, x0 + 3 : x0 + width // 4 - 3] = value
    return frame


def read_index(frame) -> int:
    array = np.asarray(frame)
    height, width = array.shape[:2]
    index = 0
    for bit in range(16):
        row, col = divmod(bit, 4)
        y, x = row * height // 4 + height // 8, col * width // 4 + width // 8
        if array[y - 2 : y + 3, x - 2 : x + 3].mean() > 128:
            index |= 1 << bit
    return index


@dataclass(frozen=True)
class Case:
    path: Path
    fps: float
    num_frames: int
    width: int
    height: int


def _frames(count: int, width: int, height: int):
    return (paint_index(i, width, height) for i in range(count))


def make_cases(root: Path) -> dict[str, Case]:
    """The decodable cases every backend must serve exactly."""
    ntsc = Fraction(30000, 1001)
    cases = {
        # B-frames, one keyframe in 250 frames, 29.97 fps, presentation starting at +2 s.
        "h264_bframes_ntsc": (
            root / "bframes.mp4",
            ntsc,
            300,
            320,
            240,
            {"gop": 250, "b_frames": 3, "start_frame": 60},
        ),
        # Odd width and height (4:4:4 chroma allows them), short GOP.
        "h264_odd_size": (root / "odd.mp4", 25, 50, 333, 187, {"gop": 12, "pixel_format": "yuv444p"}),
        "vp9_webm": (root / "vp9.webm", 30, 90, 320, 240, {"gop": 30}),
        "one_frame": (root / "one.mp4", 30, 1, 192, 128, {}),
    }
    out = {}
    for name, (path, fps, count, width, height, options) in cases.items():
        write_video(path, _frames(count, width, height), fps, **options)
        out[name] = Case(path, float(fps), count, width, height)
    return out


def make_variable_rate(path: Path) -> list[float]:
    """An H.264 mp4 whose frames are shown for irregular durations; returns each frame's start time."""
    starts_ms = [0, 40, 100, 120, 300, 340, 360, 700, 720, 1000]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 160, 128, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"bf": "0"}
        for index, start in enumerate(starts_ms):
            frame = av.VideoFrame.from_ndarray(paint_index(index, 160, 128), format="rgb24")
            frame.pts, frame.time_base = start, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return [s / 1000 for s in starts_ms]


def make_broken(root: Path, source: Path) -> dict[str, Path]:
    """Files that must fail with a clear error: empty, not a video, cut short (with and without an index)."""
    data = source.read_bytes()
    (root / "empty.mp4").write_bytes(b"")
    (root / "garbage.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, np.uint8).tobytes())
    (root / "cut_header.mp4").write_bytes(data[: len(data) // 2])  # the moov index sits at the end: lost
    faststart = root / "faststart.mp4"
    with av.open(str(source)) as src, av.open(str(faststart), "w", options={"movflags": "faststart"}) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    fast = faststart.read_bytes()
    (root / "cut_data.mp4").write_bytes(fast[: len(fast) // 3])  # index intact, most frames gone
    return {name: root / f"{name}.mp4" for name in ("empty", "garbage", "cut_header", "cut_data")}
