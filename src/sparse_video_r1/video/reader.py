"""`open_video(path) -> Video`: exact frames at any time, from a cache shared by every rollout of a process.

How a time becomes a frame: on a constant-frame-rate video, frame i is on screen during
[i / fps, (i + 1) / fps), so time t shows frame floor(t * fps). That index keys the frame cache, and the
decoder is asked for the middle of the frame's interval, which float rounding cannot push into a
neighbour. Every decoded frame's presentation time is checked against its index; a video whose frames do
not sit on that grid (variable frame rate) is then served by exact time lookups, uncached.
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from sparse_video_r1.video.backends import Backend, default_backends, open_backend
from sparse_video_r1.video.cache import decoder_cache, frame_cache
from sparse_video_r1.video.images import draw_timestamp, resize_to_budget
from sparse_video_r1.video.timestamps import check_timestamps, clip_timestamps, overview_timestamps

DECODE_TIMEOUT = float(os.environ.get("SVR1_DECODE_TIMEOUT", "60"))
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="svr1-decode")
T = TypeVar("T")


class VideoError(Exception):
    """A video could not be opened or decoded; the message names the file and the cause."""

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{path}: {cause}")


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration: float  # seconds during which frames are on screen
    fps: float
    num_frames: int
    width: int
    height: int
    codec: str
    backend: str


@dataclass(frozen=True)
class Frames:
    """Frames with the times they were taken at, in request order."""

    times: list[float]
    images: list[Image.Image]


class _Decoder:
    """One opened backend, used by one thread at a time."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.lock = threading.Lock()
        self.on_grid = True  # frames sit at begin + i / fps (constant frame rate)


def _run(path: str, work: Callable[[], T], timeout: float) -> T:
    """Run decoder work on the decode pool so that no caller waits longer than `timeout` seconds."""
    future = _pool.submit(work)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        future.cancel()
        raise VideoError(path, f"decoding timed out after {timeout:g} s") from None


def _file_key(path: Path) -> tuple[str, int, int]:
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise VideoError(path, "file not found") from None
    except OSError as error:
        raise VideoError(path, f"cannot read the file ({error.strerror})") from None
    if not path.is_file():
        raise VideoError(path, "not a regular file")
    if stat.st_size == 0:
        raise VideoError(path, "file is empty")
    return (str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def _reason(error: Exception) -> str:
    """The decoder's own words, without torchcodec's C++ source location in front of them."""
    text = str(error).strip() or type(error).__name__
    return re.sub(r"^[\w:]+, \S+\.cpp:\d+, ", "", text)


def _open_decoder(path: Path, backends: Sequence[str], timeout: float) -> tuple[str, _Decoder]:
    failures = []
    for name in backends:
        try:
            return name, _Decoder(_run(str(path), lambda name=name: open_backend(str(path), name), timeout))
        except VideoError:
            raise
        except Exception as error:  # each backend fails in its own words: keep them all for the message
            failures.append(f"{name}: {_reason(error)}")
    raise VideoError(path, "cannot open as a video (" + "; ".join(failures) + ")")


def open_video(path: str | Path, backend: str = "auto", timeout: float = DECODE_TIMEOUT) -> Video:
    """Open a video for frame lookups; reuses the process's open decoder for the same unchanged file.

    `backend` is "torchcodec", "pyav" or "auto" (SVR1_VIDEO_BACKEND, else torchcodec then PyAV per file).
    Raises VideoError naming the file when it is missing, empty or not a decodable video.
    """
    path = Path(path)
    backends = default_backends() if backend == "auto" else [backend]
    file_key = _file_key(path)
    for name in backends:
        decoder = decoder_cache.get((*file_key, name))
        if decoder is not None:
            return Video(path, (*file_key, name), decoder, timeout)
    name, decoder = _open_decoder(path, backends, timeout)
    decoder_cache.put((*file_key, name), decoder)
    return Video(path, (*file_key, name), decoder, timeout)


class Video:
    """An opened video. Times are seconds from its first frame; frames come back in request order."""

    def __init__(self, path: Path, key: tuple, decoder: _Decoder, timeout: float) -> None:
        self.path = str(path)
        self._key = key
        self._decoder = decoder
        self._timeout = timeout
        stream = decoder.backend.info
        self._begin = stream.begin
        self.info = VideoInfo(
            path=self.path,
            duration=stream.duration,
            fps=stream.fps,
            num_frames=stream.num_frames,
            width=stream.width,
            height=stream.height,
            codec=stream.codec,
            backend=decoder.backend.name,
        )

    duration = property(lambda self: self.info.duration)
    fps = property(lambda self: self.info.fps)
    num_frames = property(lambda self: self.info.num_frames)
    width = property(lambda self: self.info.width)
    height = property(lambda self: self.info.height)

    def __repr__(self) -> str:
        i = self.info
        return f"Video({self.path!r}, {i.duration:.2f} s, {i.fps:.3f} fps, {i.width}x{i.height}, {i.backend})"

    def frames_at(
        self,
        seconds: Sequence[float],
        *,
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        timestamps: bool = False,
    ) -> list[Image.Image]:
        """The frame on screen at each time (any order, duplicates allowed), as RGB images.

        With `max_pixels` (and optionally `min_pixels`) frames are resized the Qwen2.5-VL way; with
        `timestamps` each frame carries its time drawn in red.
        """
        check_timestamps(seconds, self.duration, source=self.path)
        arrays = self._arrays_at(seconds)
        images = [Image.fromarray(array) for array in arrays]
        if max_pixels is not None:
            images = [resize_to_budget(im, min_pixels or 28 * 28, max_pixels) for im in images]
        if timestamps:
            images = [draw_timestamp(im, t) for im, t in zip(images, seconds, strict=True)]
        return images

    def overview(self, fps: float = 2.0, max_frames: int = 768, **image_options) -> Frames:
        """LOVE-R1's fast view: frames across the whole video at `fps`, at most `max_frames`."""
        times = overview_timestamps(self.duration, fps, max_frames)
        return Frames(times, self.frames_at(times, **image_options))

    def clip(self, start: float, end: float, count: int, **image_options) -> Frames:
        """`count` frames spread over [start, end] (a LOVE-R1 zoom)."""
        times = clip_timestamps(start, end, count)
        return Frames(times, self.frames_at(times, **image_options))

    def _arrays_at(self, seconds: Sequence[float]) -> list[np.ndarray]:
        if not self._decoder.on_grid:
            return self._decode_exact(seconds)
        cells = [min(self.num_frames - 1, math.floor(t * self.fps + 1e-6)) for t in seconds]
        found = {cell: frame_cache.get((self._key, cell)) for cell in set(cells)}
        missing = sorted(cell for cell, array in found.items() if array is None)
        if missing:
            decoded = self._decode_cells(missing)
            if decoded is None:  # frames are off the grid: this video is served by exact times from now on
                return self._decode_exact(seconds)
            found.update(decoded)
        return [found[cell] for cell in cells]

    def _decode_cells(self, cells: list[int]) -> dict[int, np.ndarray] | None:
        frame_time = 1.0 / self.fps
        pairs = self._decode_pairs([self._begin + (cell + 0.5) * frame_time for cell in cells])
        decoded = {}
        for cell, (pts, array) in zip(cells, pairs, strict=True):
            if abs(pts - (self._begin + cell * frame_time)) > frame_time / 4:
                self._decoder.on_grid = False
                self._decoder.backend.index_all_frames()
                return None
            array.setflags(write=False)  # shared by every caller that asks for this frame
            frame_cache.put((self._key, cell), array)
            decoded[cell] = array
        return decoded

    def _decode_exact(self, seconds: Sequence[float]) -> list[np.ndarray]:
        # At exactly `duration` the last frame is on screen; decoders treat the stream's end as exclusive.
        last = self._begin + self.duration - 1e-6
        stream_seconds = [min(self._begin + t, last) for t in seconds]
        order = sorted(range(len(stream_seconds)), key=stream_seconds.__getitem__)
        pairs = self._decode_pairs([stream_seconds[i] for i in order])
        arrays: list[np.ndarray] = [np.empty(0)] * len(stream_seconds)
        for i, (_, array) in zip(order, pairs, strict=True):
            arrays[i] = array
        return arrays

    def _decode_pairs(self, sorted_seconds: list[float]) -> list[tuple[float, np.ndarray]]:
        decoder = self._decoder

        def work() -> list[tuple[float, np.ndarray]]:
            if not decoder.lock.acquire(timeout=self._timeout):
                raise TimeoutError("the decoder stayed busy")
            try:
                return decoder.backend.frames_played_at(sorted_seconds)
            finally:
                decoder.lock.release()

        try:
            return _run(self.path, work, self._timeout)
        except VideoError:
            decoder_cache.pop(self._key)  # a stuck decoder is not handed out again
            raise
        except Exception as error:
            at = ", ".join(f"{t - self._begin:.3f}" for t in sorted_seconds)
            raise VideoError(self.path, f"cannot decode the frames at {at} s ({_reason(error)})") from error
