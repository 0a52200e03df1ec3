"""`svr1 prepare nextqa | nextgqa | synthetic | videomme | lvbench | mlvu | longvideobench | mvbench`: a raw
download (or nothing) in, verl's parquet files out."""

from __future__ import annotations

import time
from pathlib import Path

from sparse_video_r1.data import longvideobench, lvbench, mlvu, mvbench, videomme
from sparse_video_r1.data.manifest import Manifest
from sparse_video_r1.data.nextqa import nextgqa_splits, nextqa_splits
from sparse_video_r1.data.splits import DatasetError, Question, summary_table, write_splits
from sparse_video_r1.data.synthetic import make_synthetic


def _write(
    splits: dict[str, list[Question]],
    out_dir: Path,
    data_source: str,
    samples: dict,
    seed: int,
    began: float,
    odd_options: bool = False,
) -> int:
    manifest = Manifest(out_dir / "manifest.csv")
    known = len(manifest.entries)
    reports = write_splits(
        splits, out_dir, data_source=data_source, samples=samples, seed=seed, manifest=manifest,
        odd_options=odd_options,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    rows = sum(len(questions) for questions in splits.values())
    print(summary_table(reports, out_dir))
    for split, report in reports.items():
        if report.rows == 0 and report.skipped:
            reason, times = report.reasons.most_common(1)[0]
            raise DatasetError(
                f"{out_dir / (split + '.parquet')} has no rows: all {report.skipped} questions were skipped, "
                f"most often ({times}) because: {reason}; see {out_dir / 'skipped.csv'}"
            )
    print(
        f"{rows} questions read, {len(manifest.entries)} videos in the manifest ({known} known before), "
        f"{elapsed:.1f} s ({rows / max(elapsed, 1e-9):.0f} questions/s)"
    )
    return 0


# benchmark -> its reader: SPLIT (the split it writes) and read(raw_dir) -> (questions, what was read)
BENCHMARKS = {
    "videomme": videomme,
    "lvbench": lvbench,
    "mlvu": mlvu,
    "longvideobench": longvideobench,
    "mvbench": mvbench,
}


def prepare_nextqa(
    raw_dir: str,
    out_dir: str,
    train_samples: int | None,
    val_samples: int | None,
    seed: int,
    test_samples: int | None = None,
) -> int:
    began = time.perf_counter()
    splits = nextqa_splits(Path(raw_dir))
    samples = {"train": train_samples, "val": val_samples, "test": test_samples}
    return _write(splits, Path(out_dir), "nextqa", samples, seed, began)


def prepare_nextgqa(raw_dir: str, gqa_dir: str, out_dir: str, val_samples: int | None, seed: int) -> int:
    began = time.perf_counter()
    splits = nextgqa_splits(Path(raw_dir), Path(gqa_dir))
    return _write(splits, Path(out_dir), "nextgqa", {"val": val_samples}, seed, began)


def prepare_benchmark(name: str, raw_dir: str, out_dir: str, samples: int | None, seed: int) -> int:
    """One of BENCHMARKS from its official release, as OUT/<its split>.parquet."""
    began = time.perf_counter()
    reader = BENCHMARKS[name]
    questions, what = reader.read(Path(raw_dir))
    print(what)
    # Questions with empty or repeated options are kept: the benchmarks' scorers count them.
    splits, out = {reader.SPLIT: questions}, Path(out_dir)
    return _write(splits, out, name, {reader.SPLIT: samples}, seed, began, odd_options=True)


def prepare_synthetic(out_dir: str, videos: int, seed: int, shuffle_options: bool = False) -> int:
    began = time.perf_counter()
    splits = make_synthetic(Path(out_dir), videos, seed, shuffle_options=shuffle_options)
    print(f"made {videos} videos in {time.perf_counter() - began:.1f} s")
    return _write(splits, Path(out_dir), "synthetic", {}, seed, began)
