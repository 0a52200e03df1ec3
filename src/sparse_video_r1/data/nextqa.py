"""NExT-QA (multiple choice) and NExT-GQA (the same questions with evidence spans) as verl training files.

The official NExT-QA download, unpacked:

    RAW/nextqa/{train,val,test}.csv      video,frame_count,width,height,question,answer,qid,type,a0..a4
    RAW/map_vid_vidorID.json              {"2909445186": "0101/2909445186", ...}  (or RAW/nextqa/)
    RAW/NExTVideo/0101/2909445186.mp4

NExT-GQA (GQA_DIR) has {val,test}.csv with `video_id` and the answer as option text,
gsub_{val,test}.json with {video_id: {"duration": s, "location": {qid: [[start, end], ...]}}}, and its
own map_vid_vidorID.json. Each row's question is that row's question; answers become letters A-E.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

from sparse_video_r1.data.splits import DatasetError, Question

OPTION_COLUMNS = ("a0", "a1", "a2", "a3", "a4")
NEXTQA_COLUMNS = ("video", "question", "answer", "qid", "type", *OPTION_COLUMNS)
NEXTGQA_COLUMNS = ("video_id", "question", "answer", "qid", "type", *OPTION_COLUMNS)
SPLITS = ("train", "val", "test")


def find_video_map(*folders: Path) -> Path:
    tried = [folder / "map_vid_vidorID.json" for folder in folders]
    for path in tried:
        if path.is_file():
            return path
    raise DatasetError("map_vid_vidorID.json not found; looked in " + ", ".join(str(p) for p in tried))


def video_locator(map_file: Path, video_root: Path) -> Callable[[str], Path | None]:
    """Video id -> NExTVideo/<dir>/<id>.mp4 through the dataset's map (None for an id it does not know)."""
    try:
        mapping = json.loads(map_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DatasetError(f"{map_file}: not a readable JSON object ({error})") from None
    return lambda video_id: video_root / f"{mapping[video_id]}.mp4" if video_id in mapping else None


def read_questions(
    csv_path: Path,
    locate: Callable[[str], Path | None],
    *,
    video_column: str = "video",
    answer_is_text: bool = False,
    spans: dict[tuple[str, str], tuple[tuple[float, float], ...]] | None = None,
) -> list[Question]:
    """The questions of one NExT-QA-format CSV; a wrong column or a malformed line is a DatasetError."""
    required = NEXTGQA_COLUMNS if video_column == "video_id" else NEXTQA_COLUMNS
    with io.StringIO(read_text(csv_path), newline="") as handle:
        reader = csv.DictReader(handle, restkey="__extra__")
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(
                f"{csv_path}: missing columns {', '.join(missing)} (found: {', '.join(reader.fieldnames or [])})"
            )
        questions = []
        for record in reader:
            where = f"{csv_path}, line {reader.line_num}"
            if "__extra__" in record or any(record[c] is None for c in required):
                raise DatasetError(f"{where}: expected {len(reader.fieldnames)} fields")
            options = tuple(record[c].strip() for c in OPTION_COLUMNS)
            answer = _answer_index(record["answer"].strip(), options, answer_is_text, where)
            video_id, qid = record[video_column].strip(), record["qid"].strip()
            questions.append(
                Question(
                    video_id=video_id,
                    qid=qid,
                    text=record["question"].strip(),
                    options=options,
                    answer=answer,
                    type=record["type"].strip(),
                    video=locate(video_id),
                    source=f"{csv_path.name}:{reader.line_num}",
                    spans=(spans or {}).get((video_id, qid), ()),
                )
            )
    return questions


def read_text(path: Path) -> str:
    """A UTF-8 text file (with or without a byte-order mark); any other encoding is a DatasetError that names
    the line of the first byte that is not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise DatasetError(
            f"{path}, line {line}: byte 0x{data[error.start]:02x} is not UTF-8; save the file as UTF-8"
        ) from None


def _answer_index(answer: str, options: tuple[str, ...], answer_is_text: bool, where: str) -> int:
    if answer_is_text:
        if answer not in options:
            raise DatasetError(f"{where}: answer {answer!r} is none of the options {list(options)}")
        return options.index(answer)
    if answer not in {"0", "1", "2", "3", "4"}:
        raise DatasetError(f"{where}: answer {answer!r} is not an option index 0-4")
    return int(answer)


def nextqa_splits(raw_dir: Path) -> dict[str, list[Question]]:
    """Every split whose CSV is in RAW/nextqa/ (train, val, test: any one of them will do)."""
    csvs = {split: raw_dir / "nextqa" / f"{split}.csv" for split in SPLITS}
    if not any(path.is_file() for path in csvs.values()):
        raise DatasetError("no NExT-QA CSVs: expected " + ", ".join(str(p) for p in csvs.values()))
    locate = video_locator(find_video_map(raw_dir, raw_dir / "nextqa"), raw_dir / "NExTVideo")
    return {split: read_questions(path, locate) for split, path in csvs.items() if path.is_file()}


def read_spans(path: Path) -> dict[tuple[str, str], tuple[tuple[float, float], ...]]:
    """(video id, qid) -> evidence intervals, from a NExT-GQA gsub_<split>.json."""
    try:
        videos = json.loads(path.read_text(encoding="utf-8"))
        return {
            (video_id, str(qid)): tuple((float(s), float(e)) for s, e in intervals)
            for video_id, info in videos.items()
            for qid, intervals in info["location"].items()
        }
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DatasetError(f"{path}: not a NExT-GQA span file ({type(error).__name__}: {error})") from None


def nextgqa_splits(raw_dir: Path, gqa_dir: Path) -> dict[str, list[Question]]:
    """NExT-GQA's val and test questions with their spans; videos from the NExT-QA download."""
    locate = video_locator(find_video_map(gqa_dir, raw_dir, raw_dir / "nextqa"), raw_dir / "NExTVideo")
    splits = {}
    for split in ("val", "test"):
        csv_path, span_path = gqa_dir / f"{split}.csv", gqa_dir / f"gsub_{split}.json"
        if csv_path.is_file():
            if not span_path.is_file():
                raise DatasetError(f"{csv_path} has no span file beside it: expected {span_path}")
            splits[split] = read_questions(
                csv_path, locate, video_column="video_id", answer_is_text=True, spans=read_spans(span_path)
            )
    if not splits:
        raise DatasetError(f"no NExT-GQA CSVs: expected {gqa_dir / 'val.csv'} or {gqa_dir / 'test.csv'}")
    return splits
