"""Per-step rewards and decoupled GRPO advantages: each step is judged against the same step of its group."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparse_video_r1.reward.step_grpo import place_step_scores, response_steps, step_grpo_advantages
from sparse_video_r1.reward.video_qa import step_scores

# Two replies (mask 1) around one environment turn (mask 0), padded at the end.
MASK = torch.tensor([1, 1, 1, 0, 0, 0, 0, 1, 1, 0])


def test_the_steps_are_the_runs_of_generated_tokens():
    assert response_steps(MASK) == [(0, 3), (7, 9)]
    assert response_steps(torch.tensor([0, 0])) == []
    assert response_steps(torch.tensor([1, 1])) == [(0, 2)]


def test_each_step_score_sits_on_its_last_token():
    rewards = place_step_scores(MASK, [0.25, 1.0])
    assert rewards.tolist() == [0, 0, 0.25, 0, 0, 0, 0, 0, 1.0, 0]


def test_step_one_good_and_step_two_bad_get_opposite_signs_and_the_environment_none():
    # A group of three episodes of one question: the first zoomed well but answered wrong, the others the
    # reverse. Step by step, the first episode is the best at step 1 and the worst at step 2.
    masks = torch.stack([MASK, MASK, MASK])
    rewards = torch.stack([
        place_step_scores(MASK, [1.0, 0.1]),
        place_step_scores(MASK, [0.0, 1.1]),
        place_step_scores(MASK, [0.0, 1.1]),
    ])  # fmt: skip
    advantages, returns = step_grpo_advantages(rewards, masks, np.array(["q", "q", "q"]))
    first = advantages[0]
    assert (first[0:3] > 0).all() and (first[7:9] < 0).all()
    assert (advantages[:, 3:7] == 0).all() and (advantages[:, 9] == 0).all()  # environment and padding
    assert (advantages[1, 0:3] < 0).all() and (advantages[1, 7:9] > 0).all()
    assert torch.allclose(advantages[:, 2].sum(), torch.tensor(0.0), atol=1e-5)  # normalised per step
    assert torch.equal(advantages, returns)
    # Plain GRPO on the same totals: 1.1 each, so no signal at all, however good the first zoom was.
    totals = rewards.sum(dim=1)
    assert torch.allclose(totals, torch.full((3,), 1.1))


def test_groups_are_apart_and_a_step_without_peers_gets_nothing():
    short = torch.tensor([1, 1, 0, 0, 0, 0, 0, 0, 0, 0])  # answered at once: one step
    masks = torch.stack([MASK, short, MASK, MASK])
    rewards = torch.stack([
        place_step_scores(MASK, [1.0, 1.1]),
        place_step_scores(short, [0.1]),
        place_step_scores(MASK, [0.0, 0.1]),
        place_step_scores(MASK, [1.0, 0.1]),
    ])  # fmt: skip
    advantages, _ = step_grpo_advantages(rewards, masks, np.array(["a", "a", "b", "b"]))
    assert (advantages[0, 7:9] == 0).all()  # only episode 0 of group "a" has a step 2: no baseline
    assert (advantages[0, 0:3] > 0).all() and (advantages[1, 0:2] < 0).all()
    assert (advantages[2, 0:3] < 0).all() and (advantages[3, 0:3] > 0).all()
    assert (advantages[2, 7:9] == 0).all() and (advantages[3, 7:9] == 0).all()  # equal: no signal


def _record(actions, answer=None, zooms=(), frames=()):
    return {
        "actions": list(actions),
        "answer": answer,
        "end": "answer" if answer else "round limit",
        "zooms": list(zooms),
        "frames": list(frames),
    }


def test_zoom_steps_earn_evidence_or_inherit_the_answer():
    zooms = [{"start": 10, "end": 20, "round": 1}, {"start": 50, "end": 60, "round": 2}]
    record = _record(["zoom", "zoom", "answer"], "B", zooms)
    assert step_scores(record, "B", [[15, 18]], format_weight=0) == [1, 1, 1]  # the second inherits: right
    assert step_scores(record, "C", [[15, 18]], format_weight=0) == [1, 0, 0]  # the second inherits: wrong
    assert step_scores(record, "C", [[20, 25]], format_weight=0) == [0, 0, 0]  # touching ends miss
    assert step_scores(record, "B", [[15, 18]]) == pytest.approx([1.1, 1.1, 1.1])  # format on each valid one
    invalid = _record(["invalid: the zoom lasts under 1 s", "answer"], "B")
    assert step_scores(invalid, "B") == pytest.approx([0.0, 1.1])
    # A correct answer at once and a zoom into the evidence score alike at their step.
    at_once = _record(["answer"], "B")
    assert step_scores(at_once, "B", [[15, 18]])[0] == pytest.approx(step_scores(record, "B", [[15, 18]])[0])


def test_frame_steps_are_paid_for_evidence_only_when_the_answer_is_right():
    frames = [{"time": t, "round": r} for t, r in ((1, 0), (12, 1), (40, 1))]
    record = _record(["frames", "answer"], "A", frames=frames)
    assert step_scores(record, "A", [[10, 15]]) == pytest.approx([0.6, 1.1])
    assert step_scores(record, "B", [[10, 15]]) == pytest.approx([0.1, 0.1])
    assert step_scores(record, "A") == pytest.approx([1.1, 1.1])
    unanswered = _record(["frames", "invalid: no answer"], None, frames=frames)
    assert step_scores(unanswered, "A", [[10, 15]]) == pytest.approx([0.1, 0.0])
