"""Decoders behind the frame service: torchcodec (PyTorch's maintained decoder) and PyAV (bundles FFmpeg).

A backend opens one file, reads its header, and returns the frame on screen at each of a sorted list of
absolute stream times, with that frame's presentation time. It knows nothing of caching, threads or
timeouts; the reader serialises every call to one backend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import numpy as np

BACKENDS = ("torchcodec", "pyav")


@dataclass(frozen=True)
class StreamInfo:
    begin: float  # presentation time of the first frame, in seconds
    duration: float  # seconds during which the video stream's frames are on screen
    fps: float
    num_frames: int
    width: int
    height: int
    codec: str


class Backend(Protocol):
    name: str
    info: StreamInfo

    def frames_played_at(self, stream_seconds: Sequence[float]) -> list[tuple[float, np.ndarray]]:
        """(presentation time, HxWx3 uint8 RGB) of the frame on screen at each sorted absolute time."""
        ...

    def index_all_frames(self) -> None:
        """Make time lookups exact for a variable-frame-rate stream, at whatever one-off cost that takes."""
        ...


def _stream_info(
    begin: float | None, duration: float | None, fps: float, num_frames: int | None, **rest
) -> StreamInfo:
    """Fill in a frame count or duration the header lacks from the other."""
    if fps <= 0:
        raise ValueError("the header gives no frame rate")
    if not num_frames and not duration:
        raise ValueError("the header gives neither a frame count nor a duration")
    num_frames = int(num_frames) if num_frames else max(1, round(duration * fps))
    duration = float(duration) if duration else num_frames / fps
    return StreamInfo(begin=float(begin or 0.0), duration=duration, fps=fps, num_frames=num_frames, **rest)


def decode_threads() -> int:
    """FFmpeg threads per open torchcodec decoder: SVR1_DECODE_THREADS, default 1. An overview of a long
    video decodes most of the file (its frames are closer together than the keyframes); frame threads
    share that work when the host has idle cores, and only add overhead when it has none."""
    return max(1, int(os.environ.get("SVR1_DECODE_THREADS", "1")))


def _tagged_duration(stream) -> float | None:
    """Matroska/WebM give a stream's length only as a DURATION tag ("00:01:02.500000000"); the container's
    duration there covers every stream, audio included."""
    tag = (stream.metadata or {}).get("DURATION")
    if not tag:
        return None
    hours, minutes, seconds = tag.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


class TorchCodecBackend:
    """torchcodec in approximate seek mode: opening reads only the header, not every packet. Its time
    lookups go through the average frame rate, exact for constant-rate streams; a variable-rate stream is
    re-opened in exact mode, which indexes every frame once."""

    name = "torchcodec"

    def __init__(self, path: str) -> None:
        from torchcodec.decoders import VideoDecoder

        self._path = path
        self._decoder = VideoDecoder(
            path, seek_mode="approximate", dimension_order="NHWC", num_ffmpeg_threads=decode_threads()
        )
        meta = self._decoder.metadata
        duration = meta.duration_seconds_from_header
        if duration is None and meta.num_frames_from_header is None:
            duration = _pyav_tagged_duration(path) or meta.duration_seconds
        self.info = _stream_info(
            begin=meta.begin_stream_seconds,
            duration=duration,
            fps=float(meta.average_fps or 0.0),
            num_frames=meta.num_frames_from_header,
            width=int(meta.width),
            height=int(meta.height),
            codec=str(meta.codec),
        )

    def frames_played_at(self, stream_seconds: Sequence[float]) -> list[tuple[float, np.ndarray]]:
        batch = self._decoder.get_frames_played_at(seconds=list(stream_seconds))
        # Copies, not views into the batch: a cached frame must not keep its whole batch alive.
        return [
            (pts, frame.copy())
            for pts, frame in zip(batch.pts_seconds.tolist(), batch.data.numpy(), strict=True)
        ]

    def index_all_frames(self) -> None:
        from torchcodec.decoders import VideoDecoder

        self._decoder = VideoDecoder(
            self._path, seek_mode="exact", dimension_order="NHWC", num_ffmpeg_threads=decode_threads()
        )


def _pyav_tagged_duration(path: str) -> float | None:
    import av

    with av.open(path) as container:
        return _tagged_duration(container.streams.video[0]) if container.streams.video else None


class PyAVBackend:
    """PyAV: seek to the keyframe before a time, decode forward to it; keep decoding forward (no seek) when
    the next requested time is close after the last one."""

    name = "pyav"
    _forward_window = 2.0  # seconds: nearer than this, decoding on beats seeking back to a keyframe

    def __init__(self, path: str) -> None:
        import av

        self._container = av.open(path)
        if not self._container.streams.video:
            self._container.close()
            raise ValueError("the file has no video stream")
        self._stream = stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = stream.time_base or Fraction(1, 1_000_000)
        begin = float(stream.start_time * time_base) if stream.start_time is not None else 0.0
        if stream.duration is not None:
            duration = float(stream.duration * time_base)
        else:
            duration = _tagged_duration(stream) or (self._container.duration or 0) / 1_000_000 or None
        self.info = _stream_info(
            begin=begin,
            duration=duration,
            fps=float(stream.average_rate or stream.guessed_rate or 0),
            num_frames=stream.frames,
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            codec=str(stream.codec_context.name),
        )
        self._reset()

    def _reset(self) -> None:
        self._frames = None  # the running decode iterator
        self._shown = None  # the last decoded frame at or before the previous target
        self._next_frame = None  # the first decoded frame after it, not yet shown

    def _frame_at(self, target: float):
        near = (
            self._shown is not None and self._shown.time <= target < self._shown.time + self._forward_window
        )
        if not near:
            self._container.seek(int(target / self._stream.time_base), stream=self._stream, backward=True)
            self._frames = self._container.decode(self._stream)
            self._shown = self._next_frame = None
        while True:
            if self._next_frame is None:
                self._next_frame = next(self._frames, None)
                if self._next_frame is None:
                    break
            if self._next_frame.time is not None and self._next_frame.time > target + 1e-6:
                break
            self._shown, self._next_frame = self._next_frame, None
        if self._shown is None:
            raise ValueError(f"no frame is on screen at {target:.3f} s")
        if self._next_frame is None and self._ended_early(self._shown, target):
            raise ValueError(f"the stream ends at {self._shown.time:.3f} s, before {target:.3f} s")
        return self._shown

    def _ended_early(self, last, target: float) -> bool:
        """True when the stream ran out before `target` although neither its last frame nor its header
        says it should still be on screen: a file cut short."""
        slack = 1.5 / self.info.fps
        shown_for = float(last.duration * last.time_base) if last.duration and last.time_base else 0.0
        header_end = self.info.begin + self.info.duration
        return target > last.time + max(shown_for, slack) and target < header_end - slack

    def frames_played_at(self, stream_seconds: Sequence[float]) -> list[tuple[float, np.ndarray]]:
        try:
            frames = [self._frame_at(target) for target in stream_seconds]
        except Exception:
            self._reset()  # a failed decode leaves the iterator unusable
            raise
        return [(frame.time, frame.to_ndarray(format="rgb24")) for frame in frames]

    def index_all_frames(self) -> None:
        """Nothing to do: PyAV always finds frames by their presentation times."""


def open_backend(path: str, name: str) -> Backend:
    if name == "torchcodec":
        return TorchCodecBackend(path)
    if name == "pyav":
        return PyAVBackend(path)
    raise ValueError(f"unknown video backend {name!r}; choose one of {', '.join(BACKENDS)} or 'auto'")


def backends_to_try(choice: str = "auto") -> list[str]:
    """`choice` (or SVR1_VIDEO_BACKEND when it is "auto") as the list of backends to try, in order."""
    if choice == "auto":
        choice = os.environ.get("SVR1_VIDEO_BACKEND", "auto")
    if choice == "auto":
        return list(BACKENDS)
    if choice not in BACKENDS:
        raise ValueError(f"unknown video backend {choice!r}; choose one of {', '.join(BACKENDS)} or 'auto'")
    return [choice]
