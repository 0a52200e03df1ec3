"""`open_video(path) -> Video`: exact frames at any time, from caches shared by every rollout of a process.

How a time becomes a frame: on a constant-frame-rate video, frame i is on screen during
[i / fps, (i + 1) / fps), so time t shows frame floor(t * fps). That index keys the frame cache, and the
decoder is asked for the middle of the frame's interval, which float rounding cannot push into a
neighbour. Every decoded frame's presentation time is checked against its index; a video whose frames do
not sit on that grid (variable frame rate) is re-indexed once and served by exact time lookups, uncached.

Concurrency: one decoder per video and process, used by one thread at a time; a thread that waited for
it looks in the frame cache again before decoding, so a GRPO group decodes each frame once. No call
waits longer than its timeout: decoder work runs on a daemon thread, and a decoder that overruns is
marked dead and replaced on the next call.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from PIL import Image

from sparse_video_r1.video.backends import Backend, StreamInfo, backends_to_try, open_backend
from sparse_video_r1.video.cache import decoder_cache, frame_cache
from sparse_video_r1.video.images import budget_size, draw_timestamp, resize_to
from sparse_video_r1.video.timestamps import check_timestamps, clip_timestamps, overview_timestamps

DECODE_TIMEOUT = float(os.environ.get("SVR1_DECODE_TIMEOUT", "60"))
_open_locks = [threading.Lock() for _ in range(64)]  # opens of one file wait for each other
T = TypeVar("T")


class VideoError(Exception):
    """A video could not be opened or decoded; the message names the file and the cause."""

    def __init__(self, path: str | Path, cause: str) -> None:
        self.path = str(path)
        self.cause = cause
        super().__init__(f"{path}: {cause}")


class _Overrun(Exception):
    """Decoder work did not finish before its deadline."""


@dataclass(frozen=True)
class VideoInfo:
    path: str
    duration: float  # seconds during which the video's frames are on screen
    fps: float
    num_frames: int
    width: int
    height: int
    codec: str
    backend: str

    @classmethod
    def of(cls, path: str, backend: str, stream: StreamInfo) -> VideoInfo:
        fields = {k: v for k, v in stream.__dict__.items() if k != "begin"}
        return cls(path=path, backend=backend, **fields)


@dataclass(frozen=True)
class Frames:
    """Frames with the times they were taken at, in request order."""

    times: list[float]
    images: list[Image.Image]


class _Decoder:
    def __init__(self, name: str, backend: Backend) -> None:
        self.name = name
        self.backend = backend
        self.lock = threading.Lock()
        self.on_grid = True  # frames sit at begin + i / fps (constant frame rate)
        self.dead = False  # overran a deadline: never used again


def _with_deadline(work: Callable[[], T], deadline: float, lock: threading.Lock | None = None) -> T:
    """Run `work` on a daemon thread and wait for it until `deadline` (time.monotonic()). With `lock`, the
    lock is taken here within the deadline and released by the worker when it finishes."""
    if lock is not None and not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise _Overrun
    outcome: dict = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as error:
            outcome["error"] = error
        finally:
            if lock is not None:
                lock.release()
            done.set()

    threading.Thread(target=run, name="svr1-decode", daemon=True).start()
    if not done.wait(max(0.0, deadline - time.monotonic())):
        raise _Overrun
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _reason(error: BaseException) -> str:
    """The decoder's own words, without torchcodec's C++ source location in front of them."""
    text = str(error).strip() or type(error).__name__
    return re.sub(r"^[\w:]+, \S+\.cpp:\d+, ", "", text)


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


def _acquire(path: Path, names: Sequence[str], deadline: float, timeout: float) -> tuple[tuple, _Decoder]:
    """The process's live decoder for this unchanged file, opening one (once, whoever asks) if needed."""
    file_key = _file_key(path)
    stripe = _open_locks[hash(file_key) % len(_open_locks)]
    if not stripe.acquire(timeout=max(0.0, deadline - time.monotonic())):
        raise VideoError(path, f"opening timed out after {timeout:g} s")
    try:
        for name in names:
            decoder = decoder_cache.get((*file_key, name))
            if decoder is not None and not decoder.dead:
                return (*file_key, name), decoder
        failures = []
        for name in names:
            try:
                backend = _with_deadline(lambda name=name: open_backend(str(path), name), deadline)
            except _Overrun:
                failures.append(f"{name}: timed out after {timeout:g} s")
                continue
            except Exception as error:  # each backend fails in its own words: keep them all
                failures.append(f"{name}: {_reason(error)}")
                continue
            decoder = _Decoder(name, backend)
            decoder_cache.put((*file_key, name), decoder)
            return (*file_key, name), decoder
        raise VideoError(path, "cannot open as a video (" + "; ".join(failures) + ")")
    finally:
        stripe.release()


def open_video(path: str | Path, backend: str = "auto", timeout: float = DECODE_TIMEOUT) -> Video:
    """Open a video for frame lookups; reuses the process's open decoder for the same unchanged file.

    `backend` is "torchcodec", "pyav" or "auto" (SVR1_VIDEO_BACKEND, else torchcodec then PyAV per file).
    Raises VideoError naming the file when it is missing, empty or not a decodable video.
    """
    return Video(Path(path), backends_to_try(backend), timeout)


class Video:
    """An opened video. Times are seconds from its first frame; frames come back in request order.

    Calls block while decoding; from asyncio code use `await asyncio.to_thread(video.frames_at, times)`.
    """

    def __init__(self, path: Path, backends: Sequence[str], timeout: float) -> None:
        self.path = str(path)
        self._file = path
        self._backends = list(backends)
        self._timeout = timeout
        self._key, self._decoder = _acquire(path, self._backends, time.monotonic() + timeout, timeout)
        stream = self._decoder.backend.info
        self._begin = stream.begin
        self.info = VideoInfo.of(self.path, self._decoder.name, stream)

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

        With `max_pixels` and/or `min_pixels` frames are resized the Qwen2.5-VL way; with `timestamps`
        each frame carries its time drawn in red.
        """
        check_timestamps(seconds, self.duration, source=self.path)
        seconds = [float(t) for t in seconds]
        if min_pixels is None and max_pixels is None:
            arrays = self._arrays_at(seconds)
        else:
            size = budget_size(self.width, self.height, min_pixels or 28 * 28, max_pixels or 2**31)
            arrays = self._resized_at(seconds, size)
        images = [Image.fromarray(array) for array in arrays]
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

    def _cells(self, seconds: list[float]) -> list[int]:
        return [min(self.num_frames - 1, math.floor(t * self.fps + 1e-6)) for t in seconds]

    def _cached(self, cells: list[int]) -> list[np.ndarray] | None:
        found = [frame_cache.get((self._key, cell)) for cell in cells]
        return None if any(array is None for array in found) else found

    def _resized_at(self, seconds: list[float], size: tuple[int, int]) -> list[np.ndarray]:
        """Frames at a pixel budget, cached at that size too: the rollouts of a group ask for the same
        frames at the same budget, and resizing costs more than a cache hit."""

        def resize(array: np.ndarray) -> np.ndarray:
            if (array.shape[1], array.shape[0]) == size:
                return array
            resized = np.asarray(resize_to(Image.fromarray(array), size))
            resized.setflags(write=False)
            return resized

        if not self._decoder.on_grid:
            return [resize(array) for array in self._arrays_at(seconds)]
        cells = self._cells(seconds)
        found = {cell: frame_cache.get((self._key, cell, size)) for cell in set(cells)}
        missing = {cell: t for cell, t in zip(cells, seconds, strict=True) if found[cell] is None}
        if missing:
            full = self._arrays_at(list(missing.values()))
            if not self._decoder.on_grid:  # found off the grid just now: cells do not name frames
                return [resize(array) for array in self._arrays_at(seconds)]
            for cell, array in zip(missing, full, strict=True):
                found[cell] = resize(array)
                frame_cache.put((self._key, cell, size), found[cell])
        return [found[cell] for cell in cells]

    def _arrays_at(self, seconds: list[float]) -> list[np.ndarray]:
        cells = self._cells(seconds)
        if self._decoder.on_grid and (hit := self._cached(cells)) is not None:
            return hit
        deadline = time.monotonic() + self._timeout
        if self._decoder.dead:  # it overran an earlier call: open the file afresh
            self._key, self._decoder = _acquire(self._file, self._backends, deadline, self._timeout)
        decoder = self._decoder
        try:
            return _with_deadline(lambda: self._decode(decoder, seconds, cells), deadline, decoder.lock)
        except _Overrun:
            decoder.dead = True
            decoder_cache.discard(self._key, decoder)
            raise VideoError(self.path, f"decoding timed out after {self._timeout:g} s") from None
        except Exception as error:
            at = ", ".join(f"{t:.3f}" for t in seconds)
            raise VideoError(self.path, f"cannot decode the frames at {at} s ({_reason(error)})") from error

    def _decode(self, decoder: _Decoder, seconds: list[float], cells: list[int]) -> list[np.ndarray]:
        """Runs with the decoder to itself."""
        if decoder.on_grid:
            # Look again: another rollout may have decoded these frames while this one waited.
            found = {cell: frame_cache.get((self._key, cell)) for cell in set(cells)}
            missing = sorted(cell for cell, array in found.items() if array is None)
            if not missing:
                return [found[cell] for cell in cells]
            frame_time = 1.0 / self.fps
            pairs = decoder.backend.frames_played_at([self._begin + (c + 0.5) * frame_time for c in missing])
            on_grid = [
                abs(pts - self._begin - c * frame_time) <= frame_time / 4
                for c, (pts, _) in zip(missing, pairs, strict=True)
            ]
            if all(on_grid):
                for cell, (_, array) in zip(missing, pairs, strict=True):
                    array.setflags(write=False)  # shared by every caller that asks for this frame
                    frame_cache.put((self._key, cell), array)
                    found[cell] = array
                return [found[cell] for cell in cells]
            # Off the grid: those frames answered the wrong times. Index once, then look up by time.
            decoder.backend.index_all_frames()
            decoder.on_grid = False
        # At exactly `duration` the last frame is on screen; decoders treat the stream's end as exclusive.
        last = self._begin + self.duration - 1e-6
        stream_seconds = [min(self._begin + t, last) for t in seconds]
        order = sorted(range(len(seconds)), key=stream_seconds.__getitem__)
        pairs = decoder.backend.frames_played_at([stream_seconds[i] for i in order])
        arrays: list[np.ndarray] = [np.empty(0)] * len(seconds)
        for i, (_, array) in zip(order, pairs, strict=True):
            arrays[i] = array
        return arrays
