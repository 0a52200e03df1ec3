"""Write frames to a real video file with PyAV (H.264 in mp4, VP9 in webm): for test videos, benchmarks
and the synthetic benchmark. Not on any training path."""

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
