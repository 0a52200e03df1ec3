"""What an evaluation run writes, in lmms-eval's shape: one JSON line per sample, then a results summary.

RUN_DIR/samples_<task>.jsonl   one SampleRecord per line, appended as each sample finishes (resumable)
RUN_DIR/results.json           accuracy overall, per question type and per NExT-QA group, unparsed and
                               failed counts, frames, rounds, visual tokens, how the evidence was used
                               (questions with spans), wall time, and the run's full config (model,
                               frames, pixels, decoding, prompts)
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sparse_video_r1.agent.evidence import evidence_use

# NExT-QA's official groups; temporal-previous (TP) folds into temporal (T) as its scorer does.
NEXTQA_GROUPS = {"CW": "C", "CH": "C", "TN": "T", "TC": "T", "TP": "T", "DC": "D", "DL": "D", "DO": "D"}


@dataclass
class SampleRecord:
    doc_id: str  # "<video_id>_<qid>", NExT-QA's key
    target: str  # the correct option letter
    resps: list[str]  # every model reply, in order
    filtered_resps: list[str]  # [the parsed letter], or [] when the final reply holds none
    parsed: str | None
    correct: bool
    type: str
    question: str
    options: list[str]
    video: str
    frames: list[dict] = field(default_factory=list)  # {"time": s, "round": r} for every frame shown
    rounds: int = 0
    end: str = ""  # "answer", "round limit", "token budget", "unparsed", or why it failed
    actions: list[str] = field(
        default_factory=list
    )  # what each reply did: "frames", "zoom", "answer", "invalid: why"
    zooms: list[dict] = field(default_factory=list)  # zoom method: {"start": s, "end": s, "round": r}
    failure: str | None = None  # an API or video failure: recorded, never scored as an answer
    visual_tokens: int = 0
    metrics: dict = field(default_factory=dict)  # {"acc": 0 or 1}; empty for failures
    duration_group: str = ""  # the benchmark's duration bucket (Video-MME, LongVideoBench), for its scores
    spans: list[list[float]] = field(
        default_factory=list
    )  # the question's evidence spans [start, end), if known
    evidence: str = (
        ""  # with spans: "after evidence" / "before evidence" (answered with none of it on screen)
    )

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)


def read_samples(path: Path) -> list[SampleRecord]:
    """Every complete record of a samples file (a line cut short by a crash is ignored: it is redone)."""
    if not path.exists():
        return []
    return read_samples_text(path.read_text(encoding="utf-8"))


def read_samples_text(text: str) -> list[SampleRecord]:
    records = []
    for line in text.splitlines():
        try:
            records.append(SampleRecord(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return records


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _accuracy(records: list[SampleRecord]) -> dict:
    right, n = sum(r.correct for r in records), len(records)
    return {"acc": right / n if n else 0.0, "n": n, "acc_ci95": wilson_interval(right, n)}


def wilson_interval(right: int, n: int, z: float = 1.96) -> list[float]:
    """The 95% Wilson score interval of an accuracy: sound at 0% and 100% and for the few hundred questions
    a run has, where the normal approximation is not."""
    if n == 0:
        return [0.0, 1.0]
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _evidence(records: list[SampleRecord]) -> dict:
    """With evidence spans: the share of questions answered before any evidence was on screen, the accuracy
    of those answered after it (what the model makes of the evidence once it sees it), and the share of
    frames asked for (after the first turn) that lay inside it. Empty without spans."""
    uses = [
        (r, use)
        for r in records
        if (use := evidence_use(r.frames, r.spans, answered=r.parsed is not None)) is not None
    ]
    if not uses:
        return {}
    after = [r for r, use in uses if use.seen]
    requested = sum(use.requested for _, use in uses)
    return {
        "before_evidence": sum(use.seen is False for _, use in uses) / len(records),
        "acc_after_evidence": _accuracy(after)["acc"] if after else None,
        "requested_in_evidence": sum(use.requested_inside for _, use in uses) / requested
        if requested
        else None,
    }


def summarize(records: list[SampleRecord]) -> dict:
    """Accuracy and costs over the scored samples; failures are counted apart, unparsed count as wrong."""
    scored = [r for r in records if r.failure is None]
    by_type, by_group = defaultdict(list), defaultdict(list)
    for r in scored:
        by_type[r.type].append(r)
        if r.type in NEXTQA_GROUPS:
            by_group[NEXTQA_GROUPS[r.type]].append(r)
    return {
        **_accuracy(scored),
        "acc_all": sum(r.correct for r in records) / len(records) if records else 0.0,  # failures as wrong
        "samples": len(records),
        "failures": len(records) - len(scored),
        "unparsed": sum(r.parsed is None for r in scored),
        "mean_frames": _mean([len(r.frames) for r in scored]),
        "mean_rounds": _mean([r.rounds for r in scored]),
        "mean_visual_tokens": _mean([r.visual_tokens for r in scored]),
        **_evidence(scored),
        "by_type": {t: _accuracy(rs) for t, rs in sorted(by_type.items())},
        "by_group": {g: _accuracy(rs) for g, rs in sorted(by_group.items())},
    }
