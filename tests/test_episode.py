"""The episode's rules, driven by scripted replies through every branch."""

from __future__ import annotations

import pytest

from sparse_video_r1.agent.episode import Episode, EpisodeConfig, FrameAt, Question

QUESTION = Question("What does the man do after he sits down?", ("eat", "read", "sleep", "run", "sing"))


def _frames(parts):
    return [part.time for part in parts if isinstance(part, FrameAt)]


def _text(parts):
    return "".join(part for part in parts if isinstance(part, str))


def test_opening_shows_question_options_duration_frames_budget_and_format():
    episode = Episode(QUESTION, duration=40.0, fps=30)
    parts = episode.opening()
    text = _text(parts)
    assert _frames(parts) == [4.0, 12.0, 20.0, 28.0, 36.0]
    for piece in ("What does the man do", "A. eat", "E. sing", "40.0 seconds", "Frame at 12.0 s", "<think>"):
        assert piece in text
    assert "<frames>" in text and "5 replies left" in text and "20 more frames" in text
    assert all(p.max_pixels == EpisodeConfig().max_pixels for p in parts if isinstance(p, FrameAt))


def test_random_first_frames_are_seeded():
    config = EpisodeConfig(first_strategy="random")
    first = _frames(Episode(QUESTION, 40.0, config, seed=1).opening())
    assert first == _frames(Episode(QUESTION, 40.0, config, seed=1).opening())
    assert first != _frames(Episode(QUESTION, 40.0, config, seed=2).opening())


def test_a_correct_path_request_then_answer():
    episode = Episode(QUESTION, duration=40.0, fps=30)
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
        ("<think>x</think><frames>-1</frames>", "outside the video"),
        ("<think>x</think><frames>1,2,3,5,6,7</frames>", "at most 5 at a time"),
        ("<think>x</think><frames>4.0, 4.01, 20</frames>", "shown already"),
        ("<think>x</think><answer>B</answer><frames>1</frames>", "exactly one"),
    ],
)
def test_invalid_actions_cost_a_round_and_say_what_was_wrong(reply, why):
    episode = Episode(QUESTION, duration=40.0, fps=30)
    episode.opening()
    turn = episode.step(reply)
    assert turn is not None and why in _text(turn) and not _frames(turn)
    assert episode.rounds_left == 4 and episode.record.invalid_actions == 1


def test_the_last_round_must_answer():
    episode = Episode(QUESTION, 40.0, EpisodeConfig(max_rounds=2), fps=30)
    episode.opening()
    turn = episode.step("<think>x</think><frames>1</frames>")
    assert "last reply" in _text(turn) and "<frames>" not in _text(turn)
    assert episode.step("<think>x</think><frames>2</frames>") is None
    assert episode.record.end == "round limit" and episode.record.answer is None
    assert episode.record.actions[-1].startswith("invalid: this was the last round")


def test_invalid_replies_until_the_round_limit():
    episode = Episode(QUESTION, 40.0, EpisodeConfig(max_rounds=3))
    episode.opening()
    assert episode.step("I think A") is not None
    assert episode.step("<think>x</think>") is not None
    assert episode.step("<think>x</think><answer>Z</answer>") is None
    assert episode.record.end == "round limit" and episode.record.invalid_actions == 3
    with pytest.raises(RuntimeError):
        episode.step("<think>x</think><answer>A</answer>")


def test_the_frame_cap_limits_requests():
    episode = Episode(QUESTION, 40.0, EpisodeConfig(first_frames=5, max_frames=7), fps=30)
    episode.opening()
    turn = episode.step("<think>x</think><frames>1, 2, 3</frames>")
    assert "only 2 more frames" in _text(turn)
    turn = episode.step("<think>x</think><frames>1, 2</frames>")
    assert _frames(turn) == [1.0, 2.0] and "last reply" in _text(turn)


def test_the_runner_stops_on_its_token_budget():
    episode = Episode(QUESTION, 40.0)
    episode.opening()
    episode.step("<think>x</think><frames>1</frames>")
    episode.stop("token budget")
    assert episode.done and episode.record.end == "token budget"
    episode.stop("something else")
    assert episode.record.end == "token budget"
