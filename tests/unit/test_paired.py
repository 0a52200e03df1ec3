"""Paired comparison of two runs on the same questions: wins, losses, ties, McNemar's exact test."""

from __future__ import annotations

import math

import pytest

from sparse_video_r1.evaluation.paired import compare, mcnemar_exact


def test_mcnemar_exact_is_the_two_sided_binomial_test_of_the_discordant_questions():
    # 20 wins against 4 losses: 2 x P(X <= 4), X ~ Binomial(24, 1/2).
    assert mcnemar_exact(20, 4) == pytest.approx(2 * sum(math.comb(24, k) for k in range(5)) / 2**24)
    assert mcnemar_exact(20, 4) == pytest.approx(0.001544, abs=1e-6)
    assert mcnemar_exact(4, 20) == mcnemar_exact(20, 4)  # two-sided
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(6, 0) == pytest.approx(2 / 64)
    scipy_stats = pytest.importorskip("scipy.stats")
    for wins, losses in ((13, 2), (30, 17), (9, 9), (1, 12)):
        expected = scipy_stats.binomtest(wins, wins + losses, 0.5).pvalue
        assert mcnemar_exact(wins, losses) == pytest.approx(expected)


def test_compare_counts_each_shared_question_once():
    a = [("q1", True), ("q2", True), ("q3", False), ("q4", False), ("q5", True), ("only-a", True)]
    b = [("q1", True), ("q2", False), ("q3", True), ("q4", False), ("q5", False), ("only-b", False)]
    c = compare("grpo", a, "sft", b)
    assert (c.n, c.wins, c.losses, c.both_right, c.both_wrong) == (5, 2, 1, 1, 1)
    assert c.acc_a == pytest.approx(3 / 5) and c.acc_b == pytest.approx(2 / 5)
    assert c.change == pytest.approx(0.2) and c.p_value == pytest.approx(1.0)
    assert c.as_dict()["change"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="share no question"):
        compare("a", [("x", True)], "b", [("y", True)])
