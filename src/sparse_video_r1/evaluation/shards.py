"""One evaluation split over many GPUs or nodes, then merged into the files one run would have written.

    svr1 eval ... --out-dir runs/videomme --shard 0/4    # on each of 4 GPUs or nodes, K = 0..3
    svr1 merge runs/videomme                            # once all four are done

Shard K answers questions K, K+N, K+2N, ... of the run (after `--limit`) into OUT/shard-K-of-N/, a run
folder of its own (resumable like any run). Each question keeps its seed from its place in the whole run,
so its answer does not depend on the shard it ran in. The merge checks that every shard was made with
the same settings and that every question was answered, then writes OUT/samples_<task>.jsonl in the
questions' order, OUT/run.json and OUT/results.json: the files of an unsharded run (its wall time is the
slowest shard's, and the shards' own times are listed).
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from pathlib import Path

from sparse_video_r1.evaluation.config import EvalConfig
from sparse_video_r1.evaluation.records import read_samples
from sparse_video_r1.evaluation.run import claim, load_samples, write_atomically, write_results

SHARD_FOLDER = re.compile(r"shard-(\d+)-of-(\d+)")


def merge_shards(out_dir: str | Path) -> dict:
    """Merge OUT/shard-K-of-N/ into OUT's files; a ValueError says which shard is missing or unfinished."""
    out = Path(out_dir)
    folders = {int(m[1]): (int(m[2]), p) for p in out.iterdir() if (m := SHARD_FOLDER.fullmatch(p.name))}
    if not folders:
        raise ValueError(f"{out} holds no shard-K-of-N folders: run `svr1 eval ... --shard K/N` first")
    counts = {count for count, _ in folders.values()}
    if len(counts) != 1:
        raise ValueError(f"{out} mixes shards of different runs (of {sorted(counts)}); keep one")
    count = counts.pop()
    missing = sorted(set(range(count)) - set(folders))
    if missing:
        raise ValueError(f"{out}: shards {', '.join(f'{k}/{count}' for k in missing)} are missing")
    config = _merged_config(out, [folders[k][1] for k in range(count)])
    samples = load_samples(config.data, config.seed, config.limit)
    records = {}
    for index in range(count):
        folder = folders[index][1]
        answered = {r.doc_id: r for r in read_samples(folder / f"samples_{config.task}.jsonl")}
        wanted = [s.doc_id for s in samples[index::count]]
        unfinished = [doc_id for doc_id in wanted if doc_id not in answered]
        if unfinished:
            raise ValueError(
                f"{folder} has {len(wanted) - len(unfinished)} of its {len(wanted)} questions: rerun its "
                f"command (with --shard {index}/{count}) to finish it"
            )
        records.update({doc_id: answered[doc_id] for doc_id in wanted})
    ordered = [records[s.doc_id] for s in samples]
    claim(out, config)
    samples_path = out / f"samples_{config.task}.jsonl"
    write_atomically(samples_path, "".join(record.to_json() + "\n" for record in ordered))
    times = [_wall_time(folders[k][1]) for k in range(count)]
    return write_results(config, out, ordered, max(times), shards={"count": count, "wall_time_s": times})


def _merged_config(out: Path, folders: list[Path]) -> EvalConfig:
    """The whole run's settings, after checking that every shard was made with the same ones."""
    settings = [_read(folder / "run.json") for folder in folders]
    first = {k: v for k, v in settings[0].items() if k != "shard"}
    for folder, other in zip(folders[1:], settings[1:], strict=True):
        changed = sorted(
            k for k in first.keys() | other.keys() if k != "shard" and first.get(k) != other.get(k)
        )
        if changed:
            raise ValueError(
                f"{folder} was made with other settings than {folders[0]} ({', '.join(changed)})"
            )
    pinned = _read(folders[0] / "results.json")["config"]
    known = {f.name for f in fields(EvalConfig)}
    return EvalConfig(
        **{**{k: v for k, v in pinned.items() if k in known}, **first, "out_dir": str(out), "shard": ""}
    )


def _wall_time(folder: Path) -> float:
    return float(_read(folder / "results.json")["wall_time_s"])


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(
            f"{path} is missing or unreadable ({error}): has that shard run to its end?"
        ) from None
