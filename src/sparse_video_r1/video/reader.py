"""`open_video(path) -> Video`: exact frames at any time, from caches shared by every rollout of a process.

How a time becomes a frame: on a constant-frame-rate video, frame i is on screen during
[i / fps, (i + 1) / fps) (`FrameGrid.frame_at`, the rule the episode uses too). That index keys the frame
cache, and the decoder is asked for the middle of the frame's interval, which float rounding cannot push
into a neighbour. Frames are decoded in chunks and resized as they come, so a call's memory follows the
size of what it returns. Every decoded frame's presentation time is checked against its index; a video
whose frames do not sit on that grid (variable frame rate) is re-indexed once and served by exact time
lookups, uncached.

Concurrency: one decoder per video and process, used by one thread at a time; a thread that waited for
it looks in the frame cache again before decoding, so a GRPO group decodes each frame once. No call waits
longer than its timeout without progress: decoder work runs on a daemon thread that reports each chunk it
finishes, so an hour-long overview that keeps decoding is never cut off, while a decoder that stalls for
the timeout is marked dead and replaced on the next call, and its unfinished work stops at its next
chunk. Chunks are bounded by the frames the decoder must run through, not only by the frames returned,
so a stall is noticed within about a second of it. At exit the process waits for abandoned decodes to
stop (a decoder thread killed inside FFmpeg aborts the process).
"""

from __future__ import annotations

import atexit
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
from sparse_video_r1.video.timestamps import (
    FrameGrid,
    check_timestamps,
    clip_timestamps,
    overview_timestamps,
)

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


class _Cancelled(Exception):
    """The caller stopped waiting: the decode gives up at its next chunk."""


class _Work:
    """Decoder work on its daemon thread: `cancel` asks it to stop at its next chunk, `progress()` says it
    finished one."""

    def __init__(self) -> None:
        self.cancel, self.done = threading.Event(), threading.Event()
        self.last_progress = time.monotonic()

    def progress(self) -> None:
        self.last_progress = time.monotonic()


_running: set[tuple[_Work, threading.Thread]] = set()  # abandoned work too, until it stops
_running_lock = threading.Lock()


def _with_deadline(work: Callable[[_Work], T], timeout: float, lock: threading.Lock | None = None) -> T:
    """Run `work(state)` on a daemon thread and wait while it progresses: it overruns once `timeout` seconds
    pass without it finishing or reporting a chunk done (`state.progress()`). With `lock`, the lock is taken
    here within the timeout and released by the worker when it finishes. On an overrun `state.cancel` is
    set: work that checks it stops, and frees what it holds, instead of running on."""
    if lock is not None and not lock.acquire(timeout=max(0.0, timeout)):
        raise _Overrun
    outcome: dict = {}
    state = _Work()

    def run() -> None:
        try:
            outcome["value"] = work(state)
        except BaseException as error:
            outcome["error"] = error
        finally:
            if lock is not None:
                lock.release()
            state.done.set()
            with _running_lock:
                _running.discard(entry)

    thread = threading.Thread(target=run, name="svr1-decode", daemon=True)
    entry = (state, thread)
    with _running_lock:
        _running.add(entry)
    thread.start()
    while not state.done.wait(max(0.0, state.last_progress + timeout - time.monotonic())):
        if time.monotonic() - state.last_progress >= timeout:
            state.cancel.set()
            raise _Overrun
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


@atexit.register
def _stop_decoding() -> None:
    """Abandoned decodes stop at their next chunk: wait for that, since a thread killed inside the decoder
    at exit aborts the process ("terminate called without an active exception")."""
    with _running_lock:
        running = list(_running)
    for state, _ in running:
        state.cancel.set()
    for _, thread in running:
        thread.join(timeout=30)


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


def _acquire(path: Path, names: Sequence[str], timeout: float) -> tuple[tuple, _Decoder]:
    """The process's live decoder for this unchanged file, opening one (once, whoever asks) if needed."""
    file_key = _file_key(path)
    stripe = _open_locks[hash(file_key) % len(_open_locks)]
    if not stripe.acquire(timeout=max(0.0, timeout)):
        raise VideoError(path, f"opening timed out after {timeout:g} s")
    try:
        for name in names:
            decoder = decoder_cache.get((*file_key, name))
            if decoder is not None and not decoder.dead:
                return (*file_key, name), decoder
        failures = []
        for name in names:
            try:
                backend = _with_deadline(lambda _, name=name: open_backend(str(path), name), timeout)
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
        self._key, self._decoder = _acquire(path, self._backends, timeout)
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
        size = None
        if min_pixels is not None or max_pixels is not None:
            size = budget_size(self.width, self.height, min_pixels or 28 * 28, max_pixels or 2**31)
        images = [Image.fromarray(array) for array in self._arrays_at(seconds, size)]
        if timestamps:
            images = [draw_timestamp(im, t) for im, t in zip(images, seconds, strict=True)]
        return images

    @property
    def grid(self) -> FrameGrid:
        return FrameGrid(self.duration, self.fps, self.num_frames)

    def frame_indices(self, seconds: Sequence[float]) -> list[int]:
        """Which frame `frames_at` shows for each time: its index on the video's frame grid (the episode's
        rule too). A variable-frame-rate file is served by exact presentation time; its index here is on
        the grid of its average rate."""
        return [self.grid.frame_at(t) for t in seconds]

    def overview(self, fps: float = 2.0, max_frames: int = 768, **image_options) -> Frames:
        """LOVE-R1's fast view: frames across the whole video at `fps`, at most `max_frames`."""
        times = overview_timestamps(self.duration, fps, max_frames)
        return Frames(times, self.frames_at(times, **image_options))

    def clip(self, start: float, end: float, count: int, **image_options) -> Frames:
        """`count` frames spread over [start, end] (a LOVE-R1 zoom)."""
        times = clip_timestamps(start, end, count)
        return Frames(times, self.frames_at(times, **image_options))

    def _arrays_at(self, seconds: list[float], size: tuple[int, int] | None) -> list[np.ndarray]:
        """The frames at `size` (None: as decoded), from the cache where it has them. Frames are cached at
        the size asked for: the rollouts of a group ask for the same frames at the same budget."""
        on_grid = self._decoder.on_grid
        cells = self.frame_indices(seconds)
        found = {cell: frame_cache.get((self._key, cell, size)) for cell in set(cells)} if on_grid else {}
        if on_grid and all(array is not None for array in found.values()):
            return [found[cell] for cell in cells]
        if self._decoder.dead:  # it overran an earlier call: open the file afresh
            self._key, self._decoder = _acquire(self._file, self._backends, self._timeout)
        decoder = self._decoder
        try:
            return _with_deadline(
                lambda state: self._decode(decoder, seconds, cells, size, state), self._timeout, decoder.lock
            )
        except _Overrun:
            decoder.dead = True
            decoder_cache.discard(self._key, decoder)
            raise VideoError(self.path, f"decoding timed out: no progress for {self._timeout:g} s") from None
        except Exception as error:
            at = ", ".join(f"{t:.3f}" for t in seconds)
            raise VideoError(self.path, f"cannot decode the frames at {at} s ({_reason(error)})") from error

    def _decode(
        self,
        decoder: _Decoder,
        seconds: list[float],
        cells: list[int],
        size: tuple[int, int] | None,
        state: _Work,
    ) -> list[np.ndarray]:
        """Runs with the decoder to itself. Decodes in chunks and resizes each frame as it comes, so memory
        follows the output size, not the source's; reports each chunk done, and stops at the next chunk
        once cancelled."""
        if decoder.on_grid:
            # Look again: another rollout may have decoded these frames while this one waited.
            found = {cell: frame_cache.get((self._key, cell, size)) for cell in set(cells)}
            missing = sorted(cell for cell, array in found.items() if array is None)
            frame_time = 1.0 / self.fps
            targets = [self._begin + (cell + 0.5) * frame_time for cell in missing]
            for chunk in _chunks(missing, state):
                pairs = decoder.backend.frames_played_at([targets[i] for i in chunk])
                if any(
                    abs(pts - self._begin - missing[i] * frame_time) > frame_time / 4
                    for i, (pts, _) in zip(chunk, pairs, strict=True)
                ):
                    # Off the grid: those frames answered the wrong times. Index once, look up by time.
                    decoder.backend.index_all_frames()
                    decoder.on_grid = False
                    break
                for i, (_, array) in zip(chunk, pairs, strict=True):
                    found[missing[i]] = _shared(_resize(array, size))
                    frame_cache.put((self._key, missing[i], size), found[missing[i]])
            else:
                return [found[cell] for cell in cells]
        # At exactly `duration` the last frame is on screen; decoders treat the stream's end as exclusive.
        last = self._begin + self.duration - 1e-6
        stream_seconds = [min(self._begin + t, last) for t in seconds]
        order = sorted(range(len(seconds)), key=stream_seconds.__getitem__)
        arrays: list[np.ndarray] = [np.empty(0)] * len(seconds)
        frames = [round(stream_seconds[i] * self.fps) for i in order]
        for chunk in _chunks(frames, state):
            picked = [order[k] for k in chunk]
            pairs = decoder.backend.frames_played_at([stream_seconds[i] for i in picked])
            for i, (_, array) in zip(picked, pairs, strict=True):
                arrays[i] = _shared(_resize(array, size))
        return arrays


DECODE_CHUNK = 16  # frames decoded at full size before they are resized: 44 MB at 1280x720
DECODE_SPAN = 300  # source frames a chunk may make the decoder run through (~0.4 s at 720p on one core)


def _chunks(frames: Sequence[int], state: _Work):
    """Positions into `frames` (frame numbers in ascending order), a chunk at a time: at most DECODE_CHUNK
    of them and, beyond the first, spanning at most DECODE_SPAN frames of the source, so each chunk is a
    bounded amount of decoding (an exact decoder runs through every frame between its targets). Progress is
    reported after each chunk; a cancelled decode stops before the next."""
    start = 0
    while start < len(frames):
        if state.cancel.is_set():
            raise _Cancelled
        end = start + 1
        while end < len(frames) and end - start < DECODE_CHUNK and frames[end] - frames[start] <= DECODE_SPAN:
            end += 1
        yield range(start, end)
        state.progress()
        start = end


def _resize(array: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    if size is None or (array.shape[1], array.shape[0]) == size:
        return array
    return np.asarray(resize_to(Image.fromarray(array), size))


def _shared(array: np.ndarray) -> np.ndarray:
    """Read-only: a cached frame is handed to every caller that asks for it."""
    array.setflags(write=False)
    return array
