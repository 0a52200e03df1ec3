"""The frame service: the exact frame on screen at every time, for every backend and every supported case."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from transformers import Qwen2VLImageProcessor

from sparse_video_r1.video import (
    FrameGrid,
    TimestampError,
    VideoError,
    clip_timestamps,
    open_video,
    overview_timestamps,
    random_timestamps,
    resize_to_budget,
    uniform_timestamps,
)
from sparse_video_r1.video.cache import LRUCache, decoder_cache, frame_cache
from sparse_video_r1.video.reader import DECODE_CHUNK, DECODE_SPAN
from sparse_video_r1.video.tools import probe_command
from sparse_video_r1.video.writer import write_video
from videos import make_broken, make_variable_rate, paint_index, read_index

BACKENDS = ["torchcodec", "pyav"]


def _expected(case, seconds):
    return [min(case.num_frames - 1, math.floor(t * case.fps + 1e-6)) for t in seconds]


def _times(duration: float, fps: float) -> list[float]:
    """Start, end, frame boundaries and their neighbours, out of order, with duplicates."""
    times = [0.0, duration, duration / 2, duration / 3, duration / 2, 0.4 / fps]
    for k in (1, 7, 29, 30, 31, 250, 299):
        boundary = k / fps
        times += [t for t in (boundary - 1e-4, boundary, boundary + 1e-4) if 0 <= t <= duration]
    return times


@pytest.fixture(autouse=True)
def _fresh_caches():
    frame_cache.clear()
    decoder_cache.clear()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["h264_bframes_ntsc", "h264_odd_size", "vp9_webm", "one_frame"])
def test_every_backend_returns_the_exact_frame_on_screen(video_cases, name, backend):
    case = video_cases[name]
    video = open_video(case.path, backend=backend)
    assert (video.num_frames, video.width, video.height) == (case.num_frames, case.width, case.height)
    assert video.fps == pytest.approx(case.fps, rel=1e-6)
    assert video.duration == pytest.approx(case.num_frames / case.fps, abs=1e-3)
    times = _times(video.duration, case.fps)
    images = video.frames_at(times)
    assert [read_index(im) for im in images] == _expected(case, times)
    assert all(im.size == (case.width, case.height) and im.mode == "RGB" for im in images)
    # Served again from the cache: the same frames, nothing decoded.
    decodes = _count_decodes(video)
    assert [read_index(im) for im in video.frames_at(times[::-1])] == _expected(case, times[::-1])
    assert decodes == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_frame_rate_is_served_by_presentation_time(tmp_path, backend):
    starts = make_variable_rate(tmp_path / "vfr.mp4")
    video = open_video(tmp_path / "vfr.mp4", backend=backend)
    times = [0.0, 0.05, 0.1, 0.119, 0.2, 0.35, 0.99, video.duration, 0.04]
    expected = [max(i for i, start in enumerate(starts) if start <= t + 1e-9) for t in times]
    assert [read_index(im) for im in video.frames_at(times, max_pixels=160 * 128)] == expected
    assert [read_index(im) for im in video.frames_at(times)] == expected


def _count_decodes(video) -> list[int]:
    """Frames the real backend is asked to decode, per call (a spy that delegates)."""
    calls: list[int] = []
    backend = video._decoder.backend
    real = backend.frames_played_at
    backend.frames_played_at = lambda seconds: calls.append(len(seconds)) or real(seconds)
    return calls


def test_the_cache_serves_a_group_of_rollouts_without_decoding_again(video_cases):
    video = open_video(video_cases["h264_bframes_ntsc"].path)
    decodes = _count_decodes(video)
    first = video.frames_at([1.0, 2.0, 3.0])
    # Another rollout of the group opens the same file: same decoder; only the new frame is decoded.
    again = open_video(video_cases["h264_bframes_ntsc"].path)
    assert again._decoder is video._decoder
    second = again.frames_at([2.0, 3.0, 4.0])
    assert decodes == [3, 1]
    assert np.array_equal(np.asarray(first[1]), np.asarray(second[0]))
    again.frames_at([4.0, 1.0])
    assert decodes == [3, 1]


def test_frames_at_a_pixel_budget_are_cached_at_that_size_only(video_cases):
    video = open_video(video_cases["h264_bframes_ntsc"].path)
    decodes = _count_decodes(video)
    budget = {"min_pixels": 4 * 28 * 28, "max_pixels": 64 * 28 * 28}
    first = video.frames_at([1.0, 2.0], **budget)
    again = video.frames_at([2.0, 1.0], **budget)
    assert decodes == [2]  # decoded once; the second call is a cache hit
    full = video.frames_at([1.0])
    assert decodes == [2, 1]  # the full-size frame was not kept: memory follows what callers ask for
    assert np.array_equal(np.asarray(first[0]), np.asarray(again[1]))
    assert np.array_equal(np.asarray(first[0]), np.asarray(resize_to_budget(full[0], **budget)))
    assert first[0].size == (252, 168)  # 320x240 at <= 64 x 28 x 28 pixels, sides multiples of 28


def test_a_group_starting_together_opens_and_decodes_each_frame_once(video_cases, monkeypatch):
    import sparse_video_r1.video.reader as reader

    opened: list[str] = []
    decoded: list[int] = []
    real_open = reader.open_backend

    def spied_open(path, name):
        backend = real_open(path, name)
        opened.append(name)
        real = backend.frames_played_at
        backend.frames_played_at = lambda seconds: decoded.append(len(seconds)) or real(seconds)
        return backend

    monkeypatch.setattr(reader, "open_backend", spied_open)
    path = video_cases["h264_bframes_ntsc"].path
    barrier = threading.Barrier(8)

    def rollout(_):
        barrier.wait()  # eight rollouts of a group ask at the same moment
        return [read_index(im) for im in open_video(path).frames_at([1.0, 5.0, 9.0])]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(rollout, range(8)))
    assert results == [_expected(video_cases["h264_bframes_ntsc"], [1.0, 5.0, 9.0])] * 8
    assert opened == ["torchcodec"] and decoded == [3]


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_service_says_which_frame_it_showed_by_the_episodes_rule(tmp_path, backend):
    path = write_video(tmp_path / "two.mp4", (paint_index(i, 64, 48) for i in range(60)), 30)
    video = open_video(path, backend=backend)
    times = [0.0, 1.0, 1.99, 2.0, 1.0 / 30 - 1e-4]
    shown = [read_index(im) for im in video.frames_at(times)]
    assert video.frame_indices(times) == shown == [0, 30, 59, 59, 0]
    assert video.grid == FrameGrid.of(2.0, 30) and [video.grid.frame_at(t) for t in times] == shown


def test_a_long_call_decodes_in_chunks_and_keeps_only_resized_frames(tmp_path):
    path = write_video(tmp_path / "long.mp4", (paint_index(i, 320, 240) for i in range(200)), 25)
    video = open_video(path)
    decodes = _count_decodes(video)
    times = [i / 25 for i in range(200)]
    images = video.frames_at(times, max_pixels=4 * 28 * 28)
    assert max(decodes) <= DECODE_CHUNK and sum(decodes) == 200
    assert all(im.width * im.height <= 4 * 28 * 28 for im in images)
    assert frame_cache.size == sum(np.asarray(im).nbytes for im in images)  # no full-size frame kept


def test_a_decode_that_timed_out_stops_instead_of_running_on(tmp_path):
    path = write_video(tmp_path / "slow.mp4", (paint_index(i, 64, 48) for i in range(100)), 25)
    video = open_video(path, timeout=0.5)
    backend = video._decoder.backend
    real, release, chunks = backend.frames_played_at, threading.Event(), []

    def slow(seconds):
        chunks.append(len(seconds))
        release.wait()
        return real(seconds)

    backend.frames_played_at = slow
    with pytest.raises(VideoError, match="timed out"):
        video.frames_at([i / 25 for i in range(100)])
    release.set()
    time.sleep(0.5)
    assert chunks == [DECODE_CHUNK]  # the abandoned decode stopped after the chunk it was in


def test_a_long_decode_that_keeps_making_progress_is_not_cut_off(tmp_path):
    """The deadline follows progress, not the whole call: an hour-long overview decodes for minutes, chunk
    by chunk, and must not time out while every chunk finishes in time (it failed, uncounted, before)."""
    path = write_video(tmp_path / "long.mp4", (paint_index(i, 64, 48) for i in range(100)), 25)
    video = open_video(path, timeout=0.5)
    backend = video._decoder.backend
    real = backend.frames_played_at

    def steady(seconds):
        time.sleep(0.15)  # each chunk in time, the whole call (7 chunks) well past the timeout
        return real(seconds)

    backend.frames_played_at = steady
    began = time.monotonic()
    images = video.frames_at([i / 25 for i in range(100)])
    assert [read_index(im) for im in images] == list(range(100)) and time.monotonic() - began > 1.0


def test_a_chunk_asks_the_decoder_to_run_through_a_bounded_stretch_of_the_video(tmp_path):
    """An exact decoder runs through every frame between two targets: sparse targets (an overview) go a
    few to a chunk, so a stall or a cancel is noticed within a chunk's bounded work."""
    path = write_video(tmp_path / "sparse.mp4", (paint_index(i, 64, 48) for i in range(1500)), 25)
    video = open_video(path)
    calls = []
    real = video._decoder.backend.frames_played_at
    video._decoder.backend.frames_played_at = lambda seconds: calls.append(seconds) or real(seconds)
    video.frames_at([i * 6.0 for i in range(10)])  # 150 frames apart: three to a chunk (300 frames)
    spans = [round((max(c) - min(c)) * 25) for c in calls]
    assert all(span <= DECODE_SPAN for span in spans) and [len(c) for c in calls] == [3, 3, 3, 1]


def test_lru_cache_stays_within_its_byte_budget():
    cache = LRUCache(capacity=1000, size_of=lambda a: a.nbytes)
    for key in range(10):
        cache.put(key, np.zeros(300, np.uint8))
    assert cache.size <= 1000 and len(cache) == 3
    assert cache.get(9) is not None and cache.get(0) is None
    cache.put("huge", np.zeros(5000, np.uint8))  # larger than the whole budget: not kept
    assert cache.get("huge") is None and cache.size <= 1000


def test_frames_are_exact_under_threads_and_asyncio(video_cases):
    case = video_cases["h264_bframes_ntsc"]
    rng = np.random.default_rng(0)
    requests = [sorted(rng.uniform(0, case.num_frames / case.fps, 5).round(3).tolist()) for _ in range(24)]

    def serve(times):
        return [read_index(im) for im in open_video(case.path).frames_at(times)]

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(serve, requests)) == [_expected(case, t) for t in requests]

    async def main():
        return await asyncio.gather(*(asyncio.to_thread(serve, t) for t in requests))

    frame_cache.clear()
    assert asyncio.run(main()) == [_expected(case, t) for t in requests]


def test_a_stuck_decoder_times_out_and_is_replaced(video_cases):
    case = video_cases["h264_bframes_ntsc"]
    video = open_video(case.path, timeout=0.5)
    release = threading.Event()
    backend = video._decoder.backend
    real = backend.frames_played_at
    backend.frames_played_at = lambda seconds: release.wait() and real(seconds)  # a decode that hangs
    try:
        with pytest.raises(VideoError, match=r"timed out: no progress for 0\.5 s") as error:
            video.frames_at([1.0])
        assert error.value.path == str(case.path)
        # The same Video, and other videos, go on working: the stuck decoder is replaced, not waited for.
        assert read_index(video.frames_at([1.0])[0]) == _expected(case, [1.0])[0]
        assert video._decoder.backend is not backend
        other = open_video(video_cases["vp9_webm"].path, timeout=0.5)
        assert read_index(other.frames_at([0.5])[0]) == 15
    finally:
        release.set()


@pytest.fixture(scope="module")
def broken_files(video_cases, tmp_path_factory):
    return make_broken(tmp_path_factory.mktemp("broken"), video_cases["h264_bframes_ntsc"].path)


@pytest.mark.parametrize(
    ("name", "cause"),
    [
        ("empty", "file is empty"),
        ("garbage", "cannot open as a video"),
        ("cut_header", "cannot open as a video"),
    ],
)
def test_unopenable_files_raise_one_clear_error_naming_the_file(broken_files, name, cause):
    with pytest.raises(VideoError, match=cause) as error:
        open_video(broken_files[name])
    assert error.value.path == str(broken_files[name]) and str(broken_files[name]) in str(error.value)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("at", [5.0, 8.0, "end"])
def test_a_file_cut_short_fails_when_its_missing_frames_are_asked_for(broken_files, backend, at):
    video = open_video(broken_files["cut_data"], backend=backend)
    assert read_index(video.frames_at([0.0])[0]) == 0
    at = video.duration if at == "end" else at
    with pytest.raises(VideoError, match="cannot decode the frames at") as error:
        video.frames_at([at])
    assert error.value.path == str(broken_files["cut_data"]) and f"{at:.3f} s" in str(error.value)


def test_missing_file_bad_times_and_unknown_backend_are_clear_errors(tmp_path, video_cases):
    with pytest.raises(VideoError, match="file not found"):
        open_video(tmp_path / "nope.mp4")
    with pytest.raises(ValueError, match="unknown video backend 'decord'"):
        open_video(video_cases["vp9_webm"].path, backend="decord")
    video = open_video(video_cases["h264_bframes_ntsc"].path)
    for bad in ([-0.1], [video.duration + 0.01], [float("nan")], [1.0, 99.0]):
        with pytest.raises(TimestampError, match="outside"):
            video.frames_at(bad)
    assert read_index(video.frames_at([np.float32(1.0)])[0]) == 29  # numpy times are times too


@pytest.mark.parametrize("backend", BACKENDS)
def test_webm_duration_is_the_video_streams_not_the_longer_audios(tmp_path, backend):
    path = tmp_path / "av.webm"
    with av.open(str(path), "w") as container:
        video_stream = container.add_stream("libvpx-vp9", rate=25)
        video_stream.width, video_stream.height, video_stream.pix_fmt = 160, 128, "yuv420p"
        audio_stream = container.add_stream("libopus", rate=48000)
        for i in range(50):  # 2 s of video
            container.mux(
                video_stream.encode(av.VideoFrame.from_ndarray(paint_index(i, 160, 128), format="rgb24"))
            )
        container.mux(video_stream.encode())
        for i in range(200):  # 4 s of audio
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 960), np.float32), format="flt", layout="mono")
            frame.sample_rate, frame.pts = 48000, i * 960
            container.mux(audio_stream.encode(frame))
        container.mux(audio_stream.encode())
    video = open_video(path, backend=backend)
    assert (video.duration, video.num_frames) == (2.0, 50)
    assert [read_index(im) for im in video.frames_at([0.0, 1.0, 2.0])] == [0, 25, 49]


def test_probe_reports_every_file_and_fails_when_one_is_broken(video_cases, broken_files, capsys):
    good = str(video_cases["vp9_webm"].path)
    assert probe_command([good]) == 0
    assert probe_command([good, str(broken_files["empty"]), str(broken_files["cut_data"])]) == 1
    out = capsys.readouterr().out
    assert (
        "vp9" in out and "file is empty" in out and "cannot decode" in out and "2 of 3 videos failed" in out
    )


def test_a_minimum_pixel_budget_alone_upscales(video_cases):
    video = open_video(video_cases["one_frame"].path)  # 192x128
    (image,) = video.frames_at([0.0], min_pixels=512 * 28 * 28)
    assert image.width * image.height >= 512 * 28 * 28 and image.width % 28 == 0


def test_resize_follows_qwen_pixel_budget_and_the_processor_keeps_it():
    image = Image.new("RGB", (640, 360))
    resized = resize_to_budget(image, min_pixels=4 * 28 * 28, max_pixels=128 * 28 * 28)
    width, height = resized.size
    assert width % 28 == 0 and height % 28 == 0 and width * height <= 128 * 28 * 28
    assert abs(width / height - 640 / 360) < 0.2
    grid = Qwen2VLImageProcessor(min_pixels=4 * 28 * 28, max_pixels=128 * 28 * 28)(resized)["image_grid_thw"]
    assert grid.tolist() == [[1, height // 14, width // 14]]


def test_overview_clip_and_timestamps_on_a_video(video_cases):
    video = open_video(video_cases["h264_bframes_ntsc"].path)
    overview = video.overview(fps=2, max_frames=8, max_pixels=64 * 28 * 28, timestamps=True)
    assert len(overview.times) == len(overview.images) == 8
    red = np.asarray(overview.images[0])[:20, :40]
    assert ((red[..., 0] > 200) & (red[..., 1] < 60)).any()  # the time, drawn in red
    clip = video.clip(2.0, 4.0, 4)
    assert all(2.0 <= t <= 4.0 for t in clip.times)
    assert [read_index(im) for im in clip.images] == _expected(video_cases["h264_bframes_ntsc"], clip.times)


def test_timestamp_choices():
    assert uniform_timestamps(10, 5) == [1.0, 3.0, 5.0, 7.0, 9.0]
    drawn = random_timestamps(40, 5, seed=3)
    assert drawn == random_timestamps(40, 5, seed=3) != random_timestamps(40, 5, seed=4)
    assert drawn == sorted(drawn) and len(set(drawn)) == 5 and all(0 <= t < 40 for t in drawn)
    assert len(overview_timestamps(30, fps=2)) == 60 and len(overview_timestamps(3600, fps=2)) == 768
    assert clip_timestamps(10, 20, 2) == [12.5, 17.5]
    with pytest.raises(TimestampError):
        clip_timestamps(5, 1, 2)
    with pytest.raises(ValueError):
        uniform_timestamps(10, 0)


def test_cli_frames_writes_images(video_cases, tmp_path):
    from sparse_video_r1.cli import main

    assert main(["frames", str(video_cases["vp9_webm"].path), "--at", "0.5,2", "--out", str(tmp_path)]) == 0
    written = sorted(Path(tmp_path).glob("*.png"))
    assert [read_index(Image.open(p)) for p in written] == [15, 60]
    assert main(["frames", str(video_cases["vp9_webm"].path), "--at", "9", "--out", str(tmp_path)]) == 1


def test_a_process_whose_decode_timed_out_exits_cleanly(tmp_path):
    """A decode abandoned on its deadline keeps running inside the decoder; exiting while it does aborted
    the process ("terminate called without an active exception", exit 134) after its results were written."""
    import subprocess
    import sys

    path = write_video(tmp_path / "hd.mp4", (paint_index(i, 1280, 720) for i in range(240)), 30, gop=240)
    script = (
        "import sys; from sparse_video_r1.video import VideoError, open_video\n"
        f"open_video({str(path)!r})\n"  # opened once; the process's decoder then serves a short deadline
        f"video = open_video({str(path)!r}, timeout=0.02)\n"
        "try:\n    video.frames_at([i / 30 for i in range(0, 240, 3)])\nexcept VideoError as e:\n"
        "    print('timed out' if 'timed out' in str(e) else e)\n"
    )
    for _ in range(3):
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0 and "timed out" in run.stdout, (run.returncode, run.stderr[-2000:])
