"""A manifest of a dataset's videos: duration, fps, frames, size, and ok or why not, probed once.

Each video is opened (header only) and its first and last frames decoded, which catches missing, empty,
corrupt and cut files. Results are kept in a CSV keyed by path, size and modification time, so a second
run probes only what changed, and verl's decode-every-video prompt filter can stay off.
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from tqdm import tqdm

from sparse_video_r1.video import VideoError
from sparse_video_r1.video.tools import probe


@dataclass(frozen=True)
class VideoEntry:
    path: str
    ok: bool
    reason: str  # why not ok; empty when ok
    duration: float = 0.0
    fps: float = 0.0
    num_frames: int = 0
    width: int = 0
    height: int = 0
    size: int = -1  # bytes, -1 when missing
    mtime_ns: int = -1

    @classmethod
    def from_csv(cls, record: dict[str, str]) -> VideoEntry:
        types = {f.name: f.type for f in fields(cls)}
        casts = {"bool": lambda v: v == "True", "float": float, "int": int, "str": str}
        return cls(**{k: casts[types[k]](v) for k, v in record.items() if k in types})


def _stat(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return -1, -1
    return stat.st_size, stat.st_mtime_ns


def _probe(path: Path) -> VideoEntry:
    size, mtime = _stat(path)
    try:
        info = probe(path)
    except VideoError as error:
        return VideoEntry(str(path), False, error.cause, size=size, mtime_ns=mtime)
    return VideoEntry(
        str(path), True, "", info.duration, info.fps, info.num_frames, info.width, info.height, size, mtime
    )


class Manifest:
    """Probe results for video paths, loaded from and saved to a CSV file."""

    def __init__(self, csv_path: str | Path) -> None:
        self.csv_path = Path(csv_path)
        self.entries: dict[str, VideoEntry] = {}
        if self.csv_path.exists():
            with self.csv_path.open(newline="", encoding="utf-8") as handle:
                for record in csv.DictReader(handle):
                    entry = VideoEntry.from_csv(record)
                    self.entries[entry.path] = entry

    def probe_all(self, paths: list[Path], workers: int = 4, desc: str = "probing videos") -> int:
        """Probe every path not already known unchanged; returns how many were probed."""
        stale = sorted({p for p in paths if self._stale(p)})
        if stale:
            with ThreadPoolExecutor(workers) as pool:
                for entry in tqdm(pool.map(_probe, stale), total=len(stale), desc=desc, unit="video"):
                    self.entries[entry.path] = entry
            self.save()
        return len(stale)

    def __getitem__(self, path: Path) -> VideoEntry:
        return self.entries[str(path)]

    def _stale(self, path: Path) -> bool:
        entry = self.entries.get(str(path))
        return entry is None or (entry.size, entry.mtime_ns) != _stat(path)

    def save(self) -> None:
        self.csv_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.csv_path.with_suffix(".partial")
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, [f.name for f in fields(VideoEntry)])
            writer.writeheader()
            writer.writerows(asdict(entry) for entry in sorted(self.entries.values(), key=lambda e: e.path))
        os.replace(partial, self.csv_path)
