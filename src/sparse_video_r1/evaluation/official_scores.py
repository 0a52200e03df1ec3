"""Each benchmark's own headline numbers, next to the plain accuracy every run reports.

| benchmark | official aggregation |
| --- | --- |
| videomme | accuracy per duration bucket (short, medium, long) and overall |
| mlvu | M-Avg: the mean of the multiple-choice task types' accuracies (over the `tasks` present: 7) |
| longvideobench | accuracy per duration group (15, 60, 600, 3600 s) and overall |
| mvbench | accuracy per task and their mean (over the `tasks` present: 20 when every video is there) |
| lvbench | overall, and per question type (a question of several types counts in each) |
| nextqa, nextgqa | accuracy per group: causal (C), temporal (T), descriptive (D) |

Every question counts: a failed sample (a video that did not decode, an API that gave up) is wrong, as
lmms-eval counts it, so a run whose long videos failed cannot score as if they were not asked (`failures`
says how many); an unparsed answer is wrong, never guessed. Accuracies are fractions in [0, 1] with their
sample counts.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace

from sparse_video_r1.evaluation.records import NEXTQA_GROUPS, SampleRecord

LVBENCH_TYPE_SEPARATOR = "; "  # how data/lvbench.py joins a question's types


def _accuracy(records: list[SampleRecord]) -> dict:
    return {"acc": sum(r.correct for r in records) / len(records) if records else 0.0, "n": len(records)}


def _by(records: Iterable[SampleRecord], keys: Callable[[SampleRecord], Iterable[str]]) -> dict[str, dict]:
    groups: dict[str, list[SampleRecord]] = defaultdict(list)
    for record in records:
        for key in keys(record):
            groups[key].append(record)
    return {key: _accuracy(members) for key, members in sorted(groups.items(), key=lambda kv: _order(kv[0]))}


def _order(key: str) -> tuple:
    """Numbers in numeric order (LongVideoBench's 15 < 60 < 600), the duration words in theirs, then text."""
    words = {"short": 0, "medium": 1, "long": 2}
    if key.isdigit():
        return (0, int(key), "")
    return (1, words.get(key, len(words)), key)


def _mean_of(groups: dict[str, dict]) -> float:
    return sum(g["acc"] for g in groups.values()) / len(groups) if groups else 0.0


def _videomme(records: list[SampleRecord]) -> dict:
    return {"overall": _accuracy(records), "by_duration": _by(records, lambda r: [r.duration_group])}


def _mlvu(records: list[SampleRecord]) -> dict:
    tasks = _by(records, lambda r: [r.type])
    return {"M-Avg": _mean_of(tasks), "tasks": len(tasks), "by_task": tasks}


def _longvideobench(records: list[SampleRecord]) -> dict:
    return {"overall": _accuracy(records), "by_duration_group": _by(records, lambda r: [r.duration_group])}


def _mvbench(records: list[SampleRecord]) -> dict:
    tasks = _by(records, lambda r: [r.type])
    return {"average": _mean_of(tasks), "tasks": len(tasks), "by_task": tasks}


def _lvbench(records: list[SampleRecord]) -> dict:
    types = _by(records, lambda r: [t for t in r.type.split(LVBENCH_TYPE_SEPARATOR) if t])
    return {"overall": _accuracy(records), "by_question_type": types}


def _nextqa(records: list[SampleRecord]) -> dict:
    groups = _by(records, lambda r: [NEXTQA_GROUPS[r.type]] if r.type in NEXTQA_GROUPS else [])
    return {"overall": _accuracy(records), "by_group": groups}


AGGREGATIONS: dict[str, Callable[[list[SampleRecord]], dict]] = {
    "videomme": _videomme,
    "mlvu": _mlvu,
    "longvideobench": _longvideobench,
    "mvbench": _mvbench,
    "lvbench": _lvbench,
    "nextqa": _nextqa,
    "nextgqa": _nextqa,
}


def official_scores(benchmark: str, records: list[SampleRecord]) -> dict:
    """The benchmark's official aggregation of every record, failures counted wrong; {} for a benchmark
    without one."""
    aggregate = AGGREGATIONS.get(benchmark)
    if not aggregate:
        return {}
    answered = [replace(r, correct=False) if r.failure is not None else r for r in records]
    return {**aggregate(answered), "failures": sum(r.failure is not None for r in records)}
