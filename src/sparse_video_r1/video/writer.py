"""Write frames to a real video file with PyAV (H.264 in mp4, VP9 in webm): for test videos, benchmarks, the
synthetic benchmark, and clips `svr1 prepare` cuts out of longer videos (MVBench). Not on any training path."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import numpy as np

CODECS = {".mp4": "libx264", ".webm": "libvpx-vp9"}


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: Fraction | int = 30,
    *,
    gop: int = 60,
    b_frames: int = 2,
    start_frame: int = 0,
    pixel_format: str = "yuv420p",
    crf: int = 20,
) -> Path:
    """Encode HxWx3 uint8 RGB frames. `start_frame` shifts every presentation time (a stream that does not
    start at 0); `gop` is the keyframe interval; yuv444p allows odd frame sizes."""
    import av

    path = Path(path)
    codec = CODECS[path.suffix]
    rate = Fraction(fps)
    with av.open(str(path), "w") as container:
        stream = None
        for index, array in enumerate(frames):
            if stream is None:
                stream = container.add_stream(codec, rate=rate)
                stream.height, stream.width = array.shape[:2]
                stream.pix_fmt = pixel_format
                stream.codec_context.time_base = 1 / rate
                if codec == "libx264":
                    stream.options = {
                        "g": str(gop),
                        "bf": str(b_frames),
                        "crf": str(crf),
                        "preset": "veryfast",
                    }
                else:
                    stream.options = {
                        "g": str(gop),
                        "crf": str(crf + 10),
                        "b:v": "0",
                        "deadline": "realtime",
                        "cpu-used": "8",
                    }
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
            frame.pts = start_frame + index
            container.mux(stream.encode(frame))
        if stream is None:
            raise ValueError(f"{path}: no frames to write")
        container.mux(stream.encode())
    return path


def cut_clip(source: str | Path, start: float, end: float, target: str | Path, chunk: int = 64) -> Path:
    """The frames `source` shows in [start, end) as a video of their own at the source's rate, its times
    starting at 0 (a benchmark question about a clip of a longer video). Decoded by the frame service, a
    chunk at a time, so memory follows the chunk, not the clip."""
    from sparse_video_r1.video.reader import open_video

    video = open_video(source)
    first, last = video.grid.frame_at(start), video.grid.frame_at(min(end, video.duration))
    times = [(frame + 0.5) / video.fps for frame in range(first, max(last, first + 1))]
    odd = video.width % 2 or video.height % 2  # 4:2:0 needs even sides

    def frames():
        for at in range(0, len(times), chunk):
            yield from (np.asarray(image) for image in video.frames_at(times[at : at + chunk]))

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".partial-{target.name}")
    write_video(partial, frames(), Fraction(video.fps).limit_denominator(1001),
                pixel_format="yuv444p" if odd else "yuv420p")  # fmt: skip
    partial.replace(target)
    return target
