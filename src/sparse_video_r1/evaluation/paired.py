"""Two runs on the same questions, compared question by question: wins, losses, ties and an exact McNemar test.

Two checkpoints evaluated on one split answer the same questions, so their accuracies are paired: what
matters is the questions one gets right and the other wrong. McNemar's exact test asks whether those
discordant questions split evenly, as they would if the runs were equally good: a two-sided binomial test
on the wins among wins + losses. With 150 questions, two runs whose 95% intervals overlap can still differ
clearly (20 wins against 4 losses gives p = 0.0015), or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Comparison:
    """Run `a` against run `b` on the `n` questions both answered (failures left out of either)."""

    a: str
    b: str
    n: int
    acc_a: float
    acc_b: float
    wins: int  # a right, b wrong
    losses: int  # a wrong, b right
    both_right: int
    both_wrong: int
    p_value: float  # McNemar's exact test, two-sided

    @property
    def change(self) -> float:
        """Accuracy of a minus accuracy of b, on the shared questions."""
        return self.acc_a - self.acc_b

    def as_dict(self) -> dict:
        return {**asdict(self), "change": self.change}


def mcnemar_exact(wins: int, losses: int) -> float:
    """Two-sided exact McNemar p-value: the chance, if wins and losses were equally likely, of a split of
    the wins + losses discordant questions at least as uneven as this one."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare(
    a: str, a_results: Iterable[tuple[str, bool]], b: str, b_results: Iterable[tuple[str, bool]]
) -> Comparison:
    """Compare two runs given as (question id, correct) pairs; only the questions both answered count."""
    right_a, right_b = dict(a_results), dict(b_results)
    shared = [key for key in right_a if key in right_b]
    if not shared:
        raise ValueError(f"runs {a!r} and {b!r} share no question: were they evaluated on the same split?")
    pairs = [(right_a[key], right_b[key]) for key in shared]
    wins = sum(x and not y for x, y in pairs)
    losses = sum(y and not x for x, y in pairs)
    return Comparison(
        a=a,
        b=b,
        n=len(pairs),
        acc_a=sum(x for x, _ in pairs) / len(pairs),
        acc_b=sum(y for _, y in pairs) / len(pairs),
        wins=wins,
        losses=losses,
        both_right=sum(x and y for x, y in pairs),
        both_wrong=sum(not x and not y for x, y in pairs),
        p_value=mcnemar_exact(wins, losses),
    )


COMPARISON_HEADER = [
    "run", "against", "questions", "run acc (%)", "against acc (%)", "change (points)", "wins", "losses",
    "both right", "both wrong", "McNemar p",
]  # fmt: skip


def comparison_row(c: Comparison) -> list[str]:
    """A comparison as table cells: wins are questions the run got right and the other wrong."""
    return [
        c.a, c.b, str(c.n), f"{100 * c.acc_a:.1f}", f"{100 * c.acc_b:.1f}", f"{100 * c.change:+.1f}",
        str(c.wins), str(c.losses), str(c.both_right), str(c.both_wrong), f"{c.p_value:.2g}",
    ]  # fmt: skip
