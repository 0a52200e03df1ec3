"""What a batch of episodes did, as training metrics: plain arithmetic on the agent loop's episode records.

The reward's own numbers (score, response length) are logged by verl; these say how the policy behaves:
how often it answers correctly and in format, how many frames it looks at, how often it asks for more (or zooms),
how often its replies are invalid, whether it answered before or after the evidence was on screen (the
field's common failure under RL is an agent that stops looking), which episodes never ran (a broken video, or
an error), by row; and how many GRPO groups give no signal because every episode scored the same.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sparse_video_r1.agent.evidence import Spans, evidence_use

PREFIX = "episode/"


@dataclass(frozen=True)
class Failure:
    row: object  # the dataset row's index, as the record carries it
    reason: str


def episode_metrics(
    records: Sequence[dict], accuracies: Sequence[float], spans: Sequence[Spans | None] | None = None
) -> dict[str, float]:
    """Means over the episodes of a batch; `accuracies` are the reward's `acc` of each (1 or 0), `spans`
    each question's evidence spans (None or empty: none known)."""
    ran = [r for r in records if not _failed(r)]
    uses = [
        evidence_use(r.get("frames", []), s, answered=r.get("end") == "answer")
        for r, s in zip(records, spans or [None] * len(records), strict=True)
        if not _failed(r)
    ]
    requested = sum(use.requested for use in uses if use is not None)
    replies = sum(len(r.get("actions", [])) for r in ran)
    metrics = {
        "acc": _mean(accuracies),
        "format": _mean([r.get("end") == "answer" for r in records]),
        "frames": _mean([r.get("num_frames", len(r.get("frames", []))) for r in ran]),
        "rounds": _mean([r.get("rounds", 0) for r in ran]),
        "request_rate": _mean([any(a == "frames" for a in r.get("actions", [])) for r in ran]),
        "requests_per_episode": _mean([sum(a == "frames" for a in r.get("actions", [])) for r in ran]),
        "zoom_rate": _mean([bool(r.get("zooms")) for r in ran]),  # zoom mode; 0 for frame requests
        "zooms_per_episode": _mean([len(r.get("zooms", [])) for r in ran]),
        "invalid_rate": sum(r.get("invalid_actions", 0) for r in ran) / replies if replies else 0.0,
        "failed": float(len(records) - len(ran)),
        # Shares of the episodes, as the reward counts them: answered before any frame of the evidence was
        # on screen, or after one was (questions without spans count in neither).
        "before_evidence": _mean([use is not None and use.seen is False for use in uses]),
        "after_evidence": _mean([use is not None and use.seen is True for use in uses]),
        # Of the frames asked for (after the first turn), in episodes with spans: inside the evidence.
        "requested_in_evidence": sum(u.requested_inside for u in uses if u) / requested if requested else 0.0,
    }
    return {PREFIX + name: float(value) for name, value in metrics.items()}


def group_metrics(
    groups: Sequence[str], accuracies: Sequence[float], scores: Sequence[float]
) -> dict[str, float]:
    """Shares of GRPO groups (episodes of one prompt, `groups` their prompt ids) in which every episode was
    right, every one wrong, or every one scored the same: GRPO's advantage is zero in the last."""
    by_group: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for group, accuracy, score in zip(groups, accuracies, scores, strict=True):
        by_group[group].append((accuracy, score))
    members = list(by_group.values())
    metrics = {
        "groups_all_right": _mean([all(a == 1 for a, _ in m) for m in members]),
        "groups_all_wrong": _mean([all(a == 0 for a, _ in m) for m in members]),
        "groups_zero_advantage": _mean([max(s for _, s in m) - min(s for _, s in m) < 1e-9 for m in members]),
    }
    return {PREFIX + name: float(value) for name, value in metrics.items()}


def failures(records: Sequence[dict]) -> list[Failure]:
    """The episodes that never ran, with their rows: a video error or an exception inside the episode."""
    return [Failure(r.get("row"), r.get("end", "")) for r in records if _failed(r)]


def _failed(record: dict) -> bool:
    end = record.get("end") or ""
    return end.startswith(("video error", "error"))


def _mean(values: Sequence[float | bool]) -> float:
    return sum(values) / len(values) if values else 0.0
