"""The report as one self-contained HTML page: the runs' table, the paired comparisons, the accuracy plot,
training curves and trajectory pictures, every picture embedded."""

from __future__ import annotations

import base64
import html
from pathlib import Path

from sparse_video_r1.evaluation.records import SampleRecord
from sparse_video_r1.evaluation.trajectory_pictures import plural

Table = tuple[list[str], list[list[str]], int]  # header, rows, and how many leading columns are text

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1250px;
       padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.8em; border-bottom: 1px solid #ddd; } h3 { color: #335; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; } th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #e3e3e3; }
figure { margin: 1.2em 0; } figcaption { color: #555; font-size: 0.9em; margin-top: 0.3em; }
"""


def to_html(
    runs: Table,
    comparisons: Table | None,
    plot: Path,
    pictures: list[tuple[str, SampleRecord, Path]],
    curves: list[tuple[str, Path]] = (),
) -> str:
    """The page; `pictures` are (run name, record, picture) in run order, `curves` (training run, picture)."""
    parts = [
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n<title>Sparse-Video-R1 report</title>",
        f"<style>{CSS}</style>\n</head>\n<body>\n<h1>Sparse-Video-R1 evaluation report</h1>",
        "<h2>Runs</h2>",
        _html_table(*runs),
    ]
    if comparisons:
        parts += [
            "<h2>Paired comparisons (same questions, McNemar's exact test)</h2>",
            _html_table(*comparisons),
        ]
    parts += [
        "<h2>Accuracy against frames used</h2>",
        _figure(plot, "Accuracy against the mean number of frames used per question", ""),
    ]
    if curves:
        parts.append("<h2>Training</h2>")
        parts += [_figure(path, f"Training curves of {name}", html.escape(name)) for name, path in curves]
    parts.append("<h2>Trajectories</h2>")
    if not pictures:
        parts.append("<p>No samples to draw.</p>")
    current = None
    for name, record, path in pictures:
        if name != current:
            current = name
            parts.append(f"<h3>{html.escape(name)}</h3>")
        outcome = (
            f"answer {record.parsed or 'none'}, target {record.target}, {plural(record.rounds, 'round')}"
        )
        caption = (
            f"<b>{html.escape(record.doc_id)}</b>: {html.escape(record.question)} ({html.escape(outcome)})"
        )
        parts.append(_figure(path, record.question, caption))
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def _html_table(header: list[str], rows: list[list[str]], text_columns: int) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(_cell(text, column >= text_columns) for column, text in enumerate(row)) + "</tr>\n"
        for row in rows
    )
    return f"<table>\n<tr>{head}</tr>\n{body}</table>"


def _cell(text: str, number: bool) -> str:
    kind = " class='num'" if number else ""
    return f"<td{kind}>{html.escape(text)}</td>"


def _figure(path: Path, alt: str, caption_html: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = f"<figcaption>{caption_html}</figcaption>" if caption_html else ""
    return f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'>{caption}</figure>"
