"""Whether an episode looked at the evidence: one rule for the reward, the training metrics and the records."""

from __future__ import annotations

from sparse_video_r1.agent.evidence import evidence_use, inside
from sparse_video_r1.reward import compute_score
from sparse_video_r1.training.episode_metrics import episode_metrics, group_metrics

SPANS = [(3.0, 3.6)]


def _frames(*rounds: list[float]) -> list[dict]:
    return [{"time": t, "round": r} for r, times in enumerate(rounds) for t in times]


def test_a_time_is_inside_a_span_from_its_start_up_to_its_end():
    assert inside(3.0, SPANS) and inside(3.59, SPANS)
    assert not inside(3.6, SPANS) and not inside(2.99, SPANS)
    assert inside(5.0, [(5.0, 5.0)])  # a span of no length holds its one instant


def test_an_answer_before_any_evidence_frame_and_one_after():
    before = evidence_use(_frames([1, 3.7, 5]), SPANS, answered=True)
    after = evidence_use(_frames([1, 5], [2.5, 3.1, 3.4]), SPANS, answered=True)
    assert before.label == "before evidence" and (before.requested, before.requested_inside) == (0, 0)
    assert after.label == "after evidence" and (after.requested, after.requested_inside) == (3, 2)
    assert evidence_use(_frames([3.1]), SPANS, answered=False).label == ""  # it never answered
    assert evidence_use(_frames([3.1]), [], answered=True) is None  # no spans: nothing to say


def test_the_reward_reports_answers_before_and_after_the_evidence():
    def score(frames, answer="A"):
        episode = {"end": "answer", "answer": answer, "frames": frames, "rounds": 1}
        return compute_score("synthetic", "", "A", {"episode": episode, "spans": SPANS})

    guessed, looked = score(_frames([1, 5])), score(_frames([1, 5], [3.2]))
    assert guessed["acc"] == 1 and (guessed["before_evidence"], guessed["after_evidence"]) == (1.0, 0.0)
    assert (looked["before_evidence"], looked["after_evidence"]) == (0.0, 1.0)
    unanswered = compute_score("synthetic", "", "A", {"episode": {"end": "round limit", "frames": []}})
    assert (unanswered["before_evidence"], unanswered["after_evidence"]) == (0.0, 0.0)


def test_training_metrics_of_evidence_and_of_groups_without_signal():
    records = [
        {"end": "answer", "frames": _frames([1, 5]), "actions": ["answer"]},  # guessed
        {"end": "answer", "frames": _frames([1, 5], [3.2, 8]), "actions": ["frames", "answer"]},  # looked
        {"end": "round limit", "frames": _frames([1], [2]), "actions": ["frames", "frames"]},
        {"end": "answer", "frames": _frames([1]), "actions": ["answer"]},  # a question without spans
    ]
    metrics = episode_metrics(records, [0.0, 1.0, 0.0, 1.0], [SPANS, SPANS, SPANS, None])
    assert metrics["episode/before_evidence"] == 0.25 and metrics["episode/after_evidence"] == 0.25
    assert metrics["episode/requested_in_evidence"] == 1 / 3  # 3.2 of 3.2, 8 and 2
    groups = group_metrics(["a", "a", "b", "b", "c", "c"], [1, 1, 0, 0, 1, 0], [1.1, 1.05, 0, 0, 1.1, 0.1])
    assert groups == {
        "episode/groups_all_right": 1 / 3,
        "episode/groups_all_wrong": 1 / 3,
        "episode/groups_zero_advantage": 1 / 3,  # only b: a's frame costs differ
    }
