"""The episode's rules, driven by scripted replies through every branch."""

from __future__ import annotations

import pytest

from sparse_video_r1.agent.episode import EpisodeConfig, FrameAt, Question
from sparse_video_r1.agent.frame_requests import FrameRequestEpisode
from sparse_video_r1.agent.zoom import ZoomEpisode
from sparse_video_r1.video import FrameGrid

FORTY = FrameGrid.of(40.0, 30)
QUESTION = Question("What does the man do after he sits down?", ("eat", "read", "sleep", "run", "sing"))


def _frames(parts):
    return [part.time for part in parts if isinstance(part, FrameAt)]


def _text(parts):
    return "".join(part for part in parts if isinstance(part, str))


def test_opening_shows_question_options_duration_frames_budget_and_format():
    episode = FrameRequestEpisode(QUESTION, FORTY)
    parts = episode.opening()
    text = _text(parts)
    assert _frames(parts) == [4.0, 12.0, 20.0, 28.0, 36.0]
    for piece in ("What does the man do", "A. eat", "E. sing", "40.0 seconds", "Frame at 12.0 s", "<think>"):
        assert piece in text
    assert "<frames>" in text and "5 replies left" in text and "20 more frames" in text
    assert all(p.max_pixels == EpisodeConfig().max_pixels for p in parts if isinstance(p, FrameAt))


def test_random_first_frames_are_seeded():
    config = EpisodeConfig(first_strategy="random")
    first = _frames(FrameRequestEpisode(QUESTION, FORTY, config, seed=1).opening())
    assert first == _frames(FrameRequestEpisode(QUESTION, FORTY, config, seed=1).opening())
    assert first != _frames(FrameRequestEpisode(QUESTION, FORTY, config, seed=2).opening())


def test_a_correct_path_request_then_answer():
    episode = FrameRequestEpisode(QUESTION, FORTY)
    episode.opening()
    turn = episode.step("<think>not sure</think><frames>5, 6.5, 12.0</frames>")
    assert _frames(turn) == [5.0, 6.5]  # 12.0 s was already shown
    assert "4 replies left" in _text(turn)
    assert episode.step("<think>he reads</think><answer>B</answer>") is None
    record = episode.record.as_dict()
    assert record["answer"] == "B" and record["end"] == "answer" and record["rounds"] == 2
    assert record["num_frames"] == 7 and record["frames"][-1] == {"time": 6.5, "round": 1}
    assert record["actions"] == ["frames", "answer"] and record["invalid_actions"] == 0


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("<frames>1</frames>", "start with <think>"),
        ("<think>x</think><frames>50</frames>", "outside the video"),
        ("<think>x</think><frames>-1</frames>", "not a time in seconds"),
        ("<think></think><answer>B</answer>", "thinking inside <think></think> is empty"),
        ("<think>x</think><frames>1,2,3,5,6,7</frames>", "at most 5 at a time"),
        ("<think>x</think><frames>4.0, 4.01, 20</frames>", "shown already"),
        ("<think>x</think><answer>B</answer><frames>1</frames>", "exactly one"),
    ],
)
def test_invalid_actions_cost_a_round_and_say_what_was_wrong(reply, why):
    episode = FrameRequestEpisode(QUESTION, FORTY)
    episode.opening()
    turn = episode.step(reply)
    assert turn is not None and why in _text(turn) and not _frames(turn)
    assert episode.rounds_left == 4 and episode.record.invalid_actions == 1


def test_the_last_round_must_answer():
    episode = FrameRequestEpisode(QUESTION, FORTY, EpisodeConfig(max_rounds=2))
    episode.opening()
    turn = episode.step("<think>x</think><frames>1</frames>")
    assert "last reply" in _text(turn) and "<frames>" not in _text(turn)
    assert episode.step("<think>x</think><frames>2</frames>") is None
    assert episode.record.end == "round limit" and episode.record.answer is None
    assert episode.record.actions[-1].startswith("invalid: this was the last round")


def test_invalid_replies_until_the_round_limit():
    episode = FrameRequestEpisode(QUESTION, FORTY, EpisodeConfig(max_rounds=3))
    episode.opening()
    assert episode.step("I think A") is not None
    assert episode.step("<think>x</think>") is not None
    assert episode.step("<think>x</think><answer>Z</answer>") is None
    assert episode.record.end == "round limit" and episode.record.invalid_actions == 3
    with pytest.raises(RuntimeError):
        episode.step("<think>x</think><answer>A</answer>")


def test_the_frame_cap_limits_requests():
    episode = FrameRequestEpisode(QUESTION, FORTY, EpisodeConfig(first_frames=5, max_frames=7))
    episode.opening()
    turn = episode.step("<think>x</think><frames>1, 2, 3</frames>")
    assert "only 2 more frames" in _text(turn)
    turn = episode.step("<think>x</think><frames>1, 2</frames>")
    assert _frames(turn) == [1.0, 2.0] and "no more can be shown" in _text(turn)


def test_the_runner_stops_on_its_token_budget():
    episode = FrameRequestEpisode(QUESTION, FORTY)
    episode.opening()
    episode.step("<think>x</think><frames>1</frames>")
    episode.stop("token budget")
    assert episode.done and episode.record.end == "token budget"
    episode.stop("something else")
    assert episode.record.end == "token budget"


def test_a_turn_that_never_reached_the_model_leaves_no_frames_in_the_record():
    episode = FrameRequestEpisode(QUESTION, FORTY)
    episode.opening()  # 5 frames
    episode.step("<think>x</think><frames>1, 2</frames>")  # a turn with 2 more, built
    episode.stop("token budget")  # ... but it did not fit: the model never saw it
    assert len(episode.record.frames) == 5 and episode.record.actions == ["frames"]
    shown = FrameRequestEpisode(QUESTION, FORTY)
    shown.opening()
    shown.step("<think>x</think><frames>1, 2</frames>")
    shown.step("<think>y</think><frames>3</frames>")  # replying to the turn shows it
    shown.stop("token budget")
    assert [f["time"] for f in shown.record.frames if f["round"]] == [1, 2]


def test_a_zoom_that_never_reached_the_model_is_not_recorded():
    config = EpisodeConfig(mode="zoom", overview_frames=8, zoom_frames=4)
    episode = ZoomEpisode(QUESTION, FORTY, config)
    episode.opening()
    episode.step("<think>x</think><zoom>10, 14</zoom>")
    episode.stop("token budget")
    assert episode.record.zooms == [] and len(episode.record.frames) == 8


def test_times_on_the_same_frame_are_one_frame_shown_and_charged_once():
    # 2.0 s at 30 fps: 1.99 s and 2.0 s both show the last frame, as the frame service decodes them.
    episode = FrameRequestEpisode(QUESTION, FrameGrid.of(2.0, 30), EpisodeConfig(first_frames=2))
    assert _frames(episode.opening()) == [0.5, 1.5]
    turn = episode.step("<think>the end</think><frames>1.99, 2.0</frames>")
    assert _frames(turn) == [1.99] and "Here is the 1 frame you asked for" in _text(turn)
    assert episode.record.as_dict()["num_frames"] == 3
    turn = episode.step("<think>again</think><frames>2.0, 1.97</frames>")
    assert "shown already" in _text(turn) and not _frames(turn)


@pytest.mark.parametrize("grid", [FrameGrid.of(1 / 30, 30), FrameGrid.of(0.0, 30, num_frames=1)])
def test_a_one_frame_video_opens_with_that_frame_once(grid):
    for strategy in ("uniform", "random"):
        episode = FrameRequestEpisode(QUESTION, grid, EpisodeConfig(first_strategy=strategy))
        parts = episode.opening()
        assert len(_frames(parts)) == 1 and "Here is 1 frame from it" in _text(parts)
        assert episode.record.as_dict()["num_frames"] == 1


def test_frame_labels_are_plain_times():
    episode = FrameRequestEpisode(QUESTION, FORTY)
    episode.opening()
    turn = episode.step("<think>x</think><frames>0</frames>")
    assert "Frame at 0.0 s" in _text(turn) and "-0.0" not in _text(turn)


def test_with_no_frames_left_the_turn_asks_for_an_answer_and_counts_rounds_truthfully():
    episode = FrameRequestEpisode(QUESTION, FORTY, EpisodeConfig(max_frames=6, max_rounds=5))
    episode.opening()
    turn = _text(episode.step("<think>x</think><frames>1</frames>"))
    assert "last reply" not in turn and "no more can be shown" in turn and "4 replies left" in turn
    assert "<frames>" not in turn
    turn = _text(episode.step("<think>x</think><frames>2</frames>"))
    assert "no more frames can be shown" in turn and "only 0" not in turn and "3 replies left" in turn
    assert "2 replies left" in _text(episode.step("<think>x</think><frames>3</frames>"))
    assert "This is your last reply" in _text(episode.step("<think>x</think><frames>4</frames>"))
    assert episode.step("<think>x</think><answer>B</answer>") is None
    assert episode.record.end == "answer" and episode.record.invalid_actions == 3


def test_an_evaluation_whose_next_turn_does_not_fit_records_only_what_the_model_saw(video_cases):
    """The evaluator drives the same rules: a backend's ContextFull takes the last turn back, its frames and
    visual tokens too (the record counted 7 frames where the model had seen 5)."""
    from sparse_video_r1.evaluation.methods import ContextFull, Sample, agent
    from sparse_video_r1.video import open_video

    video = open_video(video_cases["h264_bframes_ntsc"].path)
    sample = Sample("doc", QUESTION, "B", "t", str(video.path), seed=0)
    conversation = agent(sample, video, EpisodeConfig(max_pixels=3136, min_pixels=3136))
    opening = next(conversation)
    conversation.send("<think>x</think><frames>1, 2</frames>")
    with pytest.raises(StopIteration) as stopped:
        conversation.throw(ContextFull("no room"))
    record = stopped.value.value
    images = [part for part in opening[0]["content"] if part["type"] == "image"]
    assert record.end == "token budget" and len(record.frames) == len(images) == 5
    shown = sum((part["image"].width // 28) * (part["image"].height // 28) for part in images)
    assert record.visual_tokens == shown  # the opening's frames only
