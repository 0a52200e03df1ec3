"""Where the evidence is, and whether an episode looked at it: one rule for training, evaluation and SFT.

A question's evidence spans are intervals in seconds, [start, end): the synthetic set's 0.6 s flashes,
NExT-GQA's grounding spans. A frame shown at time t is inside the evidence when some span holds t. Plain
arithmetic on an episode record's frames ({"time": s, "round": r}, round 0 being the first turn), so the
reward worker, the trainer's metrics and the evaluation records judge alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Spans = Sequence[Sequence[float]]


def inside(time: float, spans: Spans) -> bool:
    """Whether `time` lies in an evidence span [start, end) (a span of no length holds its one instant)."""
    return any(start <= time < end or time == start for start, end in spans)


def overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two intervals in seconds share some time (touching ends do not)."""
    return a[0] < b[1] and b[0] < a[1]


@dataclass(frozen=True)
class EvidenceUse:
    """How an answered episode used the evidence: `seen` when a frame inside a span was on screen before
    it answered (None: it never answered); `requested` frames it asked for after the first turn, of which
    `requested_inside` lay inside a span."""

    seen: bool | None
    requested: int
    requested_inside: int

    @property
    def label(self) -> str:
        """ "after evidence", "before evidence" or "" (no answer): for records and tables."""
        if self.seen is None:
            return ""
        return "after evidence" if self.seen else "before evidence"


def evidence_use(frames: Sequence[dict], spans: Spans, answered: bool) -> EvidenceUse | None:
    """The episode's use of the evidence, or None for a question without spans."""
    if spans is None or not len(spans):
        return None
    requested = [f for f in frames if f.get("round", 0) > 0]
    seen = any(inside(f["time"], spans) for f in frames) if answered else None
    return EvidenceUse(seen, len(requested), sum(inside(f["time"], spans) for f in requested))
