"""What a batch of episodes did, as training metrics: plain arithmetic on the agent loop's episode records.

The reward's own numbers (score, response length) are logged by verl; these say how the policy behaves:
how often it answers correctly and in format, how many frames it looks at, how often it asks for more (or zooms),
how often its replies are invalid, and which episodes never ran (a broken video, or an error), by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PREFIX = "episode/"


@dataclass(frozen=True)
class Failure:
    row: object  # the dataset row's index, as the record carries it
    reason: str


def episode_metrics(records: Sequence[dict], accuracies: Sequence[float]) -> dict[str, float]:
    """Means over the episodes of a batch; `accuracies` are the reward's `acc` of each (1 or 0)."""
    ran = [r for r in records if not _failed(r)]
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
