"""Zoom mode (LOVE-R1): the overview, the zoom rules, the clip, and LOVE-R1's evaluation-time tricks."""

from __future__ import annotations

import random

import numpy as np
import pytest

from sparse_video_r1.agent.episode import EpisodeConfig, FrameAt, Question
from sparse_video_r1.agent.frame_requests import FrameRequestEpisode
from sparse_video_r1.agent.modes import make_episode
from sparse_video_r1.agent.protocol import Invalid, Zoom, parse_reply
from sparse_video_r1.agent.runner import decode_frames
from sparse_video_r1.agent.zoom import ZoomEpisode, iou, love_r1_span
from sparse_video_r1.video import FrameGrid, open_video
from sparse_video_r1.video.writer import write_video
from videos import paint_index

QUESTION = Question("What happens?", ("a", "b", "c", "d", "e"))
ZOOM = EpisodeConfig(mode="zoom")


def _episode(duration=600.0, fps=30.0, **knobs) -> ZoomEpisode:
    episode = make_episode(QUESTION, FrameGrid.of(duration, fps), EpisodeConfig(mode="zoom", **knobs))
    assert isinstance(episode, ZoomEpisode)
    return episode


def _frames(parts):
    return [part for part in parts if isinstance(part, FrameAt)]


def _zoom(start, end):
    return f"<think>Look closer.</think><zoom>{start}, {end}</zoom>"


def test_the_protocol_reads_a_zoom_only_where_the_mode_allows_it():
    assert parse_reply(_zoom(3, 9.5), actions=("answer", "zoom")) == Zoom(3.0, 9.5)
    assert isinstance(parse_reply(_zoom(3, 9.5)), Invalid)  # frame-request mode: not an action
    assert isinstance(parse_reply(_zoom(9, 3), actions=("answer", "zoom")), Invalid)
    assert isinstance(parse_reply("<think>x</think><zoom>3</zoom>", actions=("answer", "zoom")), Invalid)
    assert isinstance(parse_reply("<think>x</think><frames>3</frames>", actions=("answer", "zoom")), Invalid)


@pytest.mark.parametrize(("duration", "count"), [(600.0, 768), (100.0, 200), (10.0, 20)])
def test_the_overview_is_min_of_two_per_second_and_the_cap_at_the_low_budget_with_drawn_times(
    duration, count
):
    episode = _episode(duration)
    frames = _frames(episode.opening())
    assert len(frames) == count == len(episode.record.frames)
    assert all(f.max_pixels == 32 * 28 * 28 and f.drawn for f in frames)
    assert frames == sorted(frames, key=lambda f: f.time) and 0 < frames[0].time < frames[-1].time < duration


def test_a_zoom_shows_a_high_resolution_clip_inside_its_span_then_answering_is_required_after_two():
    episode = _episode(max_rounds=5)
    episode.opening()
    clip = _frames(episode.step(_zoom(100, 160)))
    assert len(clip) == 32 and all(100 <= f.time <= 160 and f.max_pixels == 256 * 28 * 28 for f in clip)
    clip = _frames(episode.step(_zoom(300, 304)))
    assert len(clip) == 32  # 4 s at 30 fps: 120 frames to choose from
    turn = episode.step(_zoom(400, 420))
    assert episode.record.actions[-1].startswith("invalid: no zooms are left") and not _frames(turn)
    assert episode.step("<think>Seen it.</think><answer>C</answer>") is None
    assert episode.record.zooms == [
        {"start": 100.0, "end": 160.0, "round": 1},
        {"start": 300.0, "end": 304.0, "round": 2},
    ]
    assert (episode.record.answer, episode.record.end) == ("C", "answer")


def test_a_clip_never_shows_one_video_frame_twice():
    episode = _episode(duration=60.0, fps=2.0)
    episode.opening()
    clip = _frames(episode.step(_zoom(10, 14)))  # 4 s at 2 fps: 8 frames, not 32
    assert len(clip) == 8


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (_zoom(10, 10.5), "lasts under 1 s"),
        (_zoom(0, 61), "lasts over 60 s"),
        (_zoom(590, 610), "outside the video"),
        (_zoom(101, 131), "repeats the zoom 100-130 s"),
    ],
)
def test_love_r1s_training_rules_make_a_zoom_invalid(reply, reason):
    episode = _episode()
    episode.opening()
    episode.step(_zoom(100, 130))
    turn = episode.step(reply)
    assert reason in episode.record.actions[-1] and episode.record.actions[-1].startswith("invalid")
    assert not _frames(turn) and len(episode.record.zooms) == 1


def test_a_short_video_allows_at_most_half_its_length():
    episode = _episode(duration=30.0)
    episode.opening()
    episode.step(_zoom(0, 16))
    assert "lasts over 15 s" in episode.record.actions[-1]


def test_love_r1s_evaluation_pads_widens_and_stops_at_a_repeat():
    assert love_r1_span(100, 102, 600) == (86.0, 116.0)  # padded to 95-107, widened to 30 s
    assert love_r1_span(50, 52, 80) == (45.0, 57.0)  # at least 10 s: already 12
    assert love_r1_span(1, 2, 600) == (0.0, 16.5)  # kept inside the video
    assert iou((0, 10), (5, 15)) == pytest.approx(1 / 3)
    episode = _episode(zoom_inference="love_r1")
    episode.opening()
    episode.step(_zoom(100, 102))
    turn = episode.step(_zoom(104, 110))  # 92-122 once padded and widened: IoU 0.67 with 86-116
    assert episode.record.actions == ["zoom", "zoom stopped: 92-122 s overlaps an earlier zoom (IoU 0.67)"]
    assert not _frames(turn) and episode.zooms_left == 0  # a zoom was kept: no fallback clip
    assert "This is your last reply" in "".join(part for part in turn if isinstance(part, str))
    episode.step(_zoom(300, 340))  # the forced answer's turn: anything else ends the episode
    assert episode.record.actions[-1] == "invalid: this was the last round, so it had to answer"
    assert episode.record.end == "round limit"


def test_love_r1s_evaluation_shows_two_frames_a_second_and_falls_back_to_the_whole_video():
    """As LOVE-R1's VLMEvalKit code: min(int(2 x span), 32) frames a clip; LongVideoBench's spans unwidened;
    a reply that is neither a zoom nor an answer stops the zooming, and the forced answer then sees the
    whole video as a clip when no zoom was kept."""
    episode = _episode(zoom_inference="love_r1")
    episode.opening()
    turn = episode.step(_zoom(100, 102))  # 86-116 s: 30 s, so 60 frames, at most 32
    assert len(_frames(turn)) == 32
    narrow = _episode(zoom_inference="love_r1", zoom_widen=False)
    narrow.opening()
    turn = narrow.step(_zoom(100, 102))  # padded to 95-107 s only: 24 frames
    assert narrow.record.zooms[0] | {"round": 1} == {"start": 95.0, "end": 107.0, "round": 1}
    assert len(_frames(turn)) == 24
    for reply in ("<think>hmm</think>", _zoom(150, 160)):  # unreadable; past the end of a 100 s video
        fallback = _episode(duration=100.0, zoom_inference="love_r1")
        fallback.opening()
        turn = fallback.step(reply)
        assert fallback.record.actions[-1].startswith("zoom stopped:") and fallback.rounds_left == 1
        assert fallback.record.zooms == [{"start": 0.0, "end": 100.0, "round": 1}]
        assert len(_frames(turn)) == 32 and fallback.zooms_left == 0
        fallback.step("<think>seen</think><answer>B</answer>")
        assert fallback.record.end == "answer"


@pytest.mark.parametrize(
    ("span", "duration"),
    [((9.5, 10.06), 10.06), ((0.9, 1.0), 2.2), ((0.0, 10.0), 10.0), ((3.33, 3.34), 7.77),
     ((10.0, 10.06), 10.06), ((0.0, 0.04), 10.06), ((1.04, 1.1), 2.27)],
)  # fmt: skip
def test_the_oracles_zoom_keeps_the_rules_at_the_edges(span, duration):
    from sparse_video_r1.agent.oracle import oracle_reply, zoom_span

    episode = _episode(duration=duration, fps=30.0)
    episode.opening()
    start, end = zoom_span([span], duration)
    assert start >= 0 and end <= duration and 1 <= end - start <= min(duration / 2, 60)
    assert start < span[1] and span[0] < end  # it covers the evidence
    reply = oracle_reply(episode, [span], answer=1)
    episode.step(reply)
    assert episode.record.actions == ["zoom"]


def test_the_oracle_zooms_into_evidence_in_the_last_tenth_of_a_second_once_then_answers():
    from sparse_video_r1.agent.oracle import oracle_reply

    episode = _episode(duration=10.06, fps=30.0)
    episode.opening()
    while not episode.done:
        episode.step(oracle_reply(episode, [(10.0, 10.06)], answer=1, rng=random.Random(0)))
    assert episode.record.actions == ["zoom", "answer"] and episode.record.answer == "B"


def test_a_video_too_short_for_any_zoom_offers_none():
    for inference, duration in (("strict", 1.8), ("love_r1", 2.5)):
        config = EpisodeConfig(mode="zoom", overview_frames=4, zoom_frames=4, zoom_inference=inference)
        episode = ZoomEpisode(QUESTION, FrameGrid.of(duration, 30.0), config)
        opening = "".join(part for part in episode.opening() if isinstance(part, str))
        assert "<zoom>" not in opening and episode.zooms_left == 0
        turn = episode.step("<think>x</think><zoom>0, 1</zoom>")
        why = f"the video ({duration:.1f} s) is too short to zoom into, so answer"
        kind = "invalid" if inference == "strict" else "zoom stopped"  # LOVE-R1's loop stops there
        assert episode.record.actions == [f"{kind}: {why}"] and "<zoom>" not in "".join(map(str, turn))


def test_on_a_video_too_short_for_a_zoom_the_oracle_answers():
    from sparse_video_r1.agent.oracle import NoEvidence, oracle_reply, zoom_span

    assert zoom_span([(0.9, 1.0)], 2.02) == (0.4, 1.41)  # 1.01 s, the longest a 2.02 s video allows
    assert zoom_span([(0.9, 1.0)], 1.9) is None  # at most 0.95 s: under the shortest zoom
    episode = _episode(duration=1.9)
    episode.opening()  # no overview frame falls inside 0.9-1.0 s
    with pytest.raises(NoEvidence):
        oracle_reply(episode, [(0.9, 1.0)], answer=1)
    assert "<answer>" in oracle_reply(episode, [(0.9, 1.0)], answer=1, rng=random.Random(0))  # never frames


def test_a_row_can_ask_for_its_own_mode():
    grid = FrameGrid.of(60.0, 30.0)
    assert type(make_episode(QUESTION, grid, ZOOM, mode="frames")) is FrameRequestEpisode
    assert type(make_episode(QUESTION, grid, EpisodeConfig(), mode="zoom")) is ZoomEpisode
    with pytest.raises(ValueError, match="unknown mode 'pan'"):
        make_episode(QUESTION, grid, EpisodeConfig(), mode="pan")


def test_overview_frames_come_from_the_real_video_at_the_low_budget_with_their_time_in_red(tmp_path):
    path = write_video(tmp_path / "v.mp4", (paint_index(i, 320, 240) for i in range(60)), 6)
    video = open_video(path)
    episode = make_episode(QUESTION, video.grid, EpisodeConfig(mode="zoom", overview_frames=4))
    frames = _frames(episode.opening())
    images = decode_frames(frames, video)
    assert len(images) == 4 and all(im.width * im.height <= 32 * 28 * 28 for im in images)
    red = [(np.asarray(im)[..., 0] > 200) & (np.asarray(im)[..., 1] < 60) for im in images]
    assert all(mask.any() for mask in red)


def test_the_modes_are_siblings_on_an_abstract_episode():
    from sparse_video_r1.agent.episode import Episode

    with pytest.raises(TypeError, match="abstract"):
        Episode(QUESTION, FrameGrid.of(60.0, 30.0))
    assert issubclass(ZoomEpisode, Episode) and issubclass(FrameRequestEpisode, Episode)
    assert not issubclass(ZoomEpisode, FrameRequestEpisode)
    assert not any(hasattr(ZoomEpisode, name) for name in ("_check_request", "_frames_left"))
