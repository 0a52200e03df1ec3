"""What the benchmark readers share: a release file's records with their place in it, typed fields, answers
as letters or as option text, and the `Question` each record becomes.

A record knows where it came from, so every error names the file and the line (JSON Lines), the entry
(a JSON list, counted from 0) or the row (parquet), and the field:

    /data/lvbench/video_info.meta.jsonl, line 7: field 'qa' must be a list, not str

Errors are for structure (a file that is not JSON, a missing column, a field of the wrong type: the file is
not the release it claims to be). A problem with one record's content (an answer that is none of its
candidates, a question without options) is a `Skip`: that record becomes a line of skipped.csv with the
reason, and the rest of the release is read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sparse_video_r1.agent.protocol import OPTION_LETTERS
from sparse_video_r1.data.nextqa import read_text
from sparse_video_r1.data.options import strip_letter
from sparse_video_r1.data.splits import DatasetError, Question

_KINDS = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "an object"}


class Skip(Exception):
    """A problem with one record's content: the record is listed in skipped.csv with this reason."""


@dataclass(frozen=True)
class Entry:
    """One record of a release file, and where it sits: "line 7" and "file.jsonl:7", or "entry #7" and
    "file.json:#7"."""

    record: dict
    file: Path
    place: str
    source: str

    def error(self, message: str) -> DatasetError:
        return DatasetError(f"{self.file}, {self.place}: {message}")

    def get(self, name: str, kind: type | tuple[type, ...], default=None):
        """The field, checked to be of `kind` (a float may be written as an integer; strings are stripped);
        missing is an error unless a default is given."""
        value = self.record.get(name)
        if value is None:
            if default is not None:
                return default
            raise self.error(f"field {name!r} is missing")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            wanted = " or ".join(_KINDS[k] for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise self.error(f"field {name!r} must be {wanted}, not {type(value).__name__}")
        return value.strip() if isinstance(value, str) else value

    def strings(self, name: str) -> tuple[str, ...]:
        """A field that is a list of strings, each stripped."""
        values = self.get(name, list)
        if not all(isinstance(value, str) for value in values):
            raise self.error(f"field {name!r} must be a list of strings, not {values!r}")
        return tuple(value.strip() for value in values)

    def nested(self, name: str, index: int, record: dict) -> Entry:
        """A record inside this one (LVBench's questions inside a video's line)."""
        return Entry(record, self.file, f"{self.place}, {name}[{index}]", f"{self.source} {name}[{index}]")


def read_jsonl(path: Path) -> list[Entry]:
    """The objects of a JSON Lines file, one a line (blank lines skipped)."""
    entries = []
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            raise DatasetError(f"{path}, line {number}: not JSON ({error})") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{path}, line {number}: expected an object, not {type(record).__name__}")
        entries.append(Entry(record, path, f"line {number}", f"{path.name}:{number}"))
    return entries


def read_json_list(path: Path) -> list[Entry]:
    """The objects of a file holding one JSON list."""
    try:
        records = json.loads(read_text(path))
    except ValueError as error:
        raise DatasetError(f"{path}: not JSON ({error})") from None
    if not isinstance(records, list):
        raise DatasetError(f"{path}: expected a JSON list of questions, not {type(records).__name__}")
    entries = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise DatasetError(f"{path}, entry #{index}: expected an object, not {type(record).__name__}")
        entries.append(Entry(record, path, f"entry #{index}", f"{path.name}:#{index}"))
    return entries


def read_parquet_rows(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[Entry]:
    """The rows of a parquet file as records of `columns` (and of the `optional` ones it has); a missing
    column is an error naming it."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for a file that is not parquet
        raise DatasetError(f"{path}: not a readable parquet file ({error})") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        found = ", ".join(table.column_names)
        raise DatasetError(f"{path}: missing columns {', '.join(missing)} (found: {found})")
    kept = [*columns, *(c for c in optional if c in table.column_names)]
    return [
        Entry(record, path, f"row #{index}", f"{path.name}:#{index}")
        for index, record in enumerate(table.select(kept).to_pylist())
    ]


def unlettered(options: tuple[str, ...]) -> tuple[str, ...]:
    """Options without their "A. " (or "(A) ", ...) prefixes."""
    return tuple(strip_letter(option, chr(ord("A") + i)) for i, option in enumerate(options))


def letter_index(answer: str, options: tuple[str, ...]) -> int:
    """The index of an answer given as a letter ("B", "(B)" or "B."); a Skip when it names no option."""
    letter = answer.strip().strip("().").strip()
    if len(letter) != 1 or not "A" <= letter < chr(ord("A") + len(options)):
        raise Skip(f"answer {answer!r} is not a letter A-{chr(ord('A') + max(len(options), 1) - 1)}")
    return ord(letter) - ord("A")


def text_index(answer: str, options: tuple[str, ...], last: bool = False) -> int:
    """The index of an answer given as the text of one of the options (the first that matches, or the
    `last`, as the benchmark's own scorer picks among repeated candidates); a Skip when none does."""
    matches = [i for i, option in enumerate(options) if option == answer]
    if not matches:
        raise Skip(f"answer {answer!r} is none of the candidates {list(options)}")
    return matches[-1] if last else matches[0]


def candidate_fields(entry: Entry, last: bool = False) -> dict:
    """The Question fields of a record naming its video file, question, candidates and the right candidate's
    text (MLVU, MVBench): video_id, text, options, answer (see text_index for `last`)."""
    options = entry.strings("candidates")
    return {
        "video_id": entry.get("video", str),
        "text": entry.get("question", str),
        "options": options,
        "answer": text_index(entry.get("answer", str), options, last),
    }


def first_existing(candidates: list[Path]) -> Path:
    """The first candidate file that exists (a release that names or places its videos in more than one
    way), else the first, which skipped.csv then reports as missing."""
    return next((path for path in candidates if path.is_file()), candidates[0])


def question(entry: Entry, *, options: tuple[str, ...], skip: str = "", **fields) -> Question:
    """The Question of a record; more options than the reply protocol's letters is a skip, not an error."""
    if len(options) > len(OPTION_LETTERS):
        skip = f"{len(options)} options; the reply protocol names at most {len(OPTION_LETTERS)} (A-E)"
    return Question(options=options, source=entry.source, skip=skip, **fields)


def skipped(entry: Entry, reason: Skip, *, video_id: str, qid: str, video: Path | None) -> Question:
    """The stand-in of a record whose content cannot become a question: listed in skipped.csv, never a row."""
    return Question(video_id, qid, "", (), 0, "", video, entry.source, skip=str(reason))
