"""The frame service: the exact frame on screen at every time, for every backend and every supported case."""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from transformers import Qwen2VLImageProcessor

from sparse_video_r1.video import (
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
from sparse_video_r1.video.tools import probe_command
from videos import make_broken, make_variable_rate, read_index

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
    # Served again from the cache: the same frames.
    assert [read_index(im) for im in video.frames_at(times[::-1])] == _expected(case, times[::-1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_variable_frame_rate_is_served_by_presentation_time(tmp_path, backend):
    starts = make_variable_rate(tmp_path / "vfr.mp4")
    video = open_video(tmp_path / "vfr.mp4", backend=backend)
    times = [0.0, 0.05, 0.1, 0.119, 0.2, 0.35, 0.99, video.duration, 0.04]
    expected = [max(i for i, start in enumerate(starts) if start <= t + 1e-9) for t in times]
    assert [read_index(im) for im in video.frames_at(times)] == expected


def test_the_cache_serves_a_group_of_rollouts_without_decoding_again(video_cases):
    video = open_video(video_cases["h264_bframes_ntsc"].path)
    first = video.frames_at([1.0, 2.0, 3.0])
    hits = frame_cache.hits
    # Another rollout of the group opens the same file: same decoder, and the overlapping frames are hits.
    again = open_video(video_cases["h264_bframes_ntsc"].path)
    assert again._decoder is video._decoder
    second = again.frames_at([2.0, 3.0, 4.0])
    assert frame_cache.hits - hits == 2
    assert np.array_equal(np.asarray(first[1]), np.asarray(second[0]))


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
    path = video_cases["h264_bframes_ntsc"].path
    video = open_video(path, timeout=0.5)
    video._decoder.lock.acquire()  # as if another thread's decode never returned
    try:
        with pytest.raises(VideoError, match=r"timed out after 0\.5 s") as error:
            video.frames_at([1.0])
        assert error.value.path == str(path)
    finally:
        video._decoder.lock.release()
    fresh = open_video(path)
    assert fresh._decoder is not video._decoder
    assert read_index(fresh.frames_at([1.0])[0]) == _expected(video_cases["h264_bframes_ntsc"], [1.0])[0]


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
def test_a_file_cut_short_fails_when_its_missing_frames_are_asked_for(broken_files, backend):
    video = open_video(broken_files["cut_data"], backend=backend)
    assert read_index(video.frames_at([0.0])[0]) == 0
    with pytest.raises(VideoError, match="cannot decode the frames") as error:
        video.frames_at([video.duration])
    assert error.value.path == str(broken_files["cut_data"])


def test_missing_file_and_bad_times_are_clear_errors(tmp_path, video_cases):
    with pytest.raises(VideoError, match="file not found"):
        open_video(tmp_path / "nope.mp4")
    video = open_video(video_cases["h264_bframes_ntsc"].path)
    for bad in ([-0.1], [video.duration + 0.01], [float("nan")], [1.0, 99.0]):
        with pytest.raises(TimestampError, match="outside"):
            video.frames_at(bad)


def test_probe_reports_every_file_and_fails_when_one_is_broken(video_cases, broken_files, capsys):
    good = str(video_cases["vp9_webm"].path)
    assert probe_command([good]) == 0
    assert probe_command([good, str(broken_files["empty"]), str(broken_files["cut_data"])]) == 1
    out = capsys.readouterr().out
    assert (
        "vp9" in out and "file is empty" in out and "cannot decode" in out and "2 of 3 videos failed" in out
    )


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
