"""Compare evaluation runs side by side: a table, accuracy against frames used, and pictures of episodes.

    make_report([RUN_DIR, ...], OUT, training={name: TENSORBOARD_DIR}) writes
    OUT/table.md                         one row per run (also printed)
    OUT/accuracy_vs_frames.png           accuracy against the mean frames used per question, one point per run
    OUT/training_<name>.png              a training run's curves (reward, accuracy, frames, request rate, ...)
    OUT/trajectories/<run>_<doc_id>.png  a few episodes per run: the question, each round's frames and reply,
                                         the final answer against the target
    OUT/report.html                      all of the above in one self-contained page

A run directory is what `evaluation.run` writes (see records.py): `results.json` and one `samples_*.jsonl`.
"""

from __future__ import annotations

import base64
import html
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sparse_video_r1.evaluation.records import SampleRecord, read_samples
from sparse_video_r1.evaluation.training_curves import plot_training
from sparse_video_r1.evaluation.trajectory_pictures import choose_samples, draw_trajectory, plural, safe_name

GROUPS = ("C", "T", "D")  # NExT-QA's causal, temporal and descriptive groups
NONE = "-"  # a table cell without a value
MAX_TYPE_COLUMNS = 6
TEXT_COLUMNS = 4  # run, method, model, backend; the table's other columns are numbers
METHOD_STYLE = {  # colour and marker in the plot
    "uniform": ("tab:blue", "o"),
    "random": ("tab:orange", "s"),
    "whole_video": ("tab:green", "^"),
    "agent": ("tab:red", "*"),
    "zoom": ("tab:purple", "P"),
}


@dataclass
class Run:
    name: str  # unique among the runs compared
    directory: Path
    info: dict  # results.json as written
    samples: list[SampleRecord]

    @property
    def scores(self) -> dict:
        return self.info["results"]


def make_report(
    run_dirs: Sequence[Path],
    out_dir: Path,
    samples_to_draw: int = 3,
    training: dict[str, Path] | None = None,
) -> dict[str, Path]:
    """Write the report on `run_dirs` (and the curves of the `training` runs' TensorBoard folders) into
    `out_dir`; the paths written, keyed by their path within it.

    Directories without a readable results.json are skipped with a warning; none usable is a ValueError.
    """
    runs = load_runs(run_dirs)
    out_dir = Path(out_dir)
    (out_dir / "trajectories").mkdir(parents=True, exist_ok=True)
    table, plot, page = out_dir / "table.md", out_dir / "accuracy_vs_frames.png", out_dir / "report.html"
    header, rows = table_rows(runs)
    markdown = to_markdown(header, rows)
    print(markdown, end="")
    table.write_text(markdown, encoding="utf-8")
    plot_accuracy(runs, plot)
    curves = [(name, out_dir / f"training_{safe_name(name)}.png") for name in (training or {})]
    curves = [
        (name, path)
        for name, path in curves
        if plot_training(Path(training[name]), path, f"Training: {name}")
    ]
    pictures = [
        (run, record, draw_trajectory(run.name, record, out_dir / "trajectories"))
        for run in runs
        for record in choose_samples(run.samples, samples_to_draw)
    ]
    page.write_text(to_html(header, rows, plot, pictures, curves), encoding="utf-8")
    written = [table, plot, *(path for _, path in curves), *(path for _, _, path in pictures), page]
    return {path.relative_to(out_dir).as_posix(): path for path in written}


# --- runs -------------------------------------------------------------------------------------------------


def load_runs(run_dirs: Sequence[Path]) -> list[Run]:
    runs: list[Run] = []
    for directory in map(Path, run_dirs):
        info = _read_results(directory)
        if info is None:
            continue
        name = _unique(str(info.get("run") or directory.name), {run.name for run in runs})
        runs.append(Run(name, directory, info, _read_run_samples(directory)))
    if not runs:
        listed = ", ".join(str(d) for d in run_dirs) or "(no directories given)"
        raise ValueError(f"no usable run to report on: none of {listed} holds a readable results.json")
    return runs


def _read_results(directory: Path) -> dict | None:
    path = directory / "results.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        warnings.warn(f"skipping {directory}: it has no results.json (unfinished run?)", stacklevel=4)
        return None
    except (OSError, ValueError) as error:
        warnings.warn(f"skipping {directory}: cannot read {path.name} ({error})", stacklevel=4)
        return None
    if not isinstance(info, dict) or not isinstance(info.get("results"), dict):
        warnings.warn(f"skipping {directory}: its results.json holds no 'results' scores", stacklevel=4)
        return None
    return info


def _read_run_samples(directory: Path) -> list[SampleRecord]:
    files = sorted(directory.glob("samples_*.jsonl"))
    if len(files) != 1:
        warnings.warn(
            f"{directory}: expected one samples_*.jsonl, found {len(files)}; no trajectories drawn",
            stacklevel=4,
        )
        return []
    return read_samples(files[0])


def _unique(name: str, taken: set[str]) -> str:
    """Two runs given the same name still get their own table row label, plot label and picture files."""
    candidate, k = name, 1
    while candidate in taken:
        k += 1
        candidate = f"{name}-{k}"
    return candidate


# --- table ------------------------------------------------------------------------------------------------


def table_rows(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """The comparison table as text cells. Group columns: NExT-QA's C/T/D when any run has them, else the
    benchmark's official groups (Video-MME's durations, ...) when every run has the same few, else the
    question types when there are few; and the benchmark's headline (MLVU's M-Avg, ...) when it has one."""
    groups, columns = _group_columns(runs)
    headlines = sorted({key for run in runs for key in _official(run) if key in HEADLINES})
    header = ["run", "method", "model", "backend", "frames", "mean frames", "mean rounds"]
    header += ["acc (%)", "95% CI"] + [f"{h} (%)" for h in headlines]
    header += [f"{c} (%)" for c in columns] + ["unparsed", "failures", "samples", "wall time (s)"]
    return header, [_row(run, groups(run), columns, headlines) for run in runs]


HEADLINES = ("M-Avg", "average")  # MLVU's mean over task types, MVBench's over tasks


def _official(run: Run) -> dict:
    return run.scores.get("official") or {}


def _group_columns(runs: list[Run]):
    """(a run's groups, the columns to show): see table_rows."""
    nextqa = [g for g in GROUPS if any(g in run.scores.get("by_group", {}) for run in runs)]
    if nextqa:
        return (lambda run: run.scores.get("by_group", {})), nextqa

    def official(run: Run) -> dict:
        return next((v for k, v in sorted(_official(run).items()) if k.startswith("by_")), {})

    keys = {tuple(official(run)) for run in runs}
    if len(keys) == 1 and 0 < len(shared := keys.pop()) <= MAX_TYPE_COLUMNS:
        return official, list(shared)
    types = sorted({t for run in runs for t in run.scores.get("by_type", {})})
    return (lambda run: run.scores.get("by_type", {})), types if len(types) <= MAX_TYPE_COLUMNS else []


def _row(run: Run, groups: dict, columns: list[str], headlines: list[str]) -> list[str]:
    info, scores = run.info, run.scores
    interval = scores.get("acc_ci95")
    model = info.get("model")
    return [
        run.name,
        str(info.get("method", NONE)),
        Path(str(model).rstrip("/")).name if model else NONE,
        str(info.get("backend", NONE)),
        _number(info.get("frames"), "{}"),
        _number(scores.get("mean_frames"), "{:.1f}"),
        _number(scores.get("mean_rounds"), "{:.2f}"),
        _percent(scores.get("acc")),
        f"{_percent(interval[0])} to {_percent(interval[1])}" if interval else NONE,
        *(_percent(_official(run).get(h)) for h in headlines),
        *(_percent(groups.get(c, {}).get("acc")) for c in columns),
        _number(scores.get("unparsed"), "{}"),
        _number(scores.get("failures"), "{}"),
        _number(scores.get("samples"), "{}"),
        _number(info.get("wall_time_s"), "{:.1f}"),
    ]


def _number(value: float | None, form: str) -> str:
    return NONE if value is None else form.format(value)


def _percent(fraction: float | None) -> str:
    return NONE if fraction is None else f"{100 * fraction:.1f}"


def to_markdown(header: list[str], rows: list[list[str]]) -> str:
    """Text columns left-aligned, the numbers (from `frames` on) right-aligned."""
    rule = ["---" if column < TEXT_COLUMNS else "---:" for column in range(len(header))]
    cells = [[cell.replace("|", "\\|") for cell in line] for line in [header, *rows]]
    lines = [cells[0], rule, *cells[1:]]
    return "".join("| " + " | ".join(line) + " |\n" for line in lines)


# --- accuracy against frames ------------------------------------------------------------------------------


def plot_accuracy(runs: list[Run], path: Path) -> None:
    """One labelled point per run, coloured by method; a method's runs are joined in order of frames."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4.6), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    placed: dict[tuple[float, float], int] = {}  # labels of runs at the same point stack upwards
    for method in dict.fromkeys(str(run.info.get("method", "?")) for run in runs):
        members = sorted(
            (run for run in runs if str(run.info.get("method", "?")) == method),
            key=lambda run: run.scores.get("mean_frames", 0.0),
        )
        xs = [run.scores.get("mean_frames", 0.0) for run in members]
        ys = [100 * run.scores.get("acc", 0.0) for run in members]
        colour, marker = METHOD_STYLE.get(method, ("tab:gray", "D"))
        axes.plot(xs, ys, color=colour, marker=marker, markersize=9, linewidth=1.2, alpha=0.9, label=method)
        for run, x, y in zip(members, xs, ys, strict=True):
            stacked = placed.get((round(x, 2), round(y, 1)), 0)
            placed[(round(x, 2), round(y, 1))] = stacked + 1
            axes.annotate(
                run.name,
                (x, y),
                xytext=(7, 5 + 11 * stacked),
                textcoords="offset points",
                fontsize=8,
                parse_math=False,
            )
    axes.margins(x=0.2)
    axes.set_xlim(left=0)
    axes.set_ylim(-2, 102)  # accuracy is a percentage: keep the whole scale, however close the runs are
    axes.set_xlabel("Frames used per question (mean)")
    axes.set_ylabel("Accuracy (%)")
    axes.set_title("Accuracy against frames used")
    axes.grid(alpha=0.3)
    axes.legend(title="method", fontsize=8, title_fontsize=8, loc="best")
    figure.savefig(path, dpi=150)


# --- html -------------------------------------------------------------------------------------------------

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
    header: list[str],
    rows: list[list[str]],
    plot: Path,
    pictures: list[tuple[Run, SampleRecord, Path]],
    curves: list[tuple[str, Path]] = (),
) -> str:
    parts = [
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n<title>Sparse-Video-R1 report</title>",
        f"<style>{CSS}</style>\n</head>\n<body>\n<h1>Sparse-Video-R1 evaluation report</h1>",
        "<h2>Runs</h2>",
        _html_table(header, rows),
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
    for run, record, path in pictures:
        if run.name != current:
            current = run.name
            parts.append(f"<h3>{html.escape(run.name)}</h3>")
        outcome = (
            f"answer {record.parsed or 'none'}, target {record.target}, {plural(record.rounds, 'round')}"
        )
        caption = (
            f"<b>{html.escape(record.doc_id)}</b>: {html.escape(record.question)} ({html.escape(outcome)})"
        )
        parts.append(_figure(path, record.question, caption))
    parts.append("</body>\n</html>\n")
    return "\n".join(parts)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(map(_cell, range(len(row)), row)) + "</tr>\n" for row in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}</table>"


def _cell(column: int, text: str) -> str:
    kind = "" if column < TEXT_COLUMNS else " class='num'"
    return f"<td{kind}>{html.escape(text)}</td>"


def _figure(path: Path, alt: str, caption_html: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    caption = f"<figcaption>{caption_html}</figcaption>" if caption_html else ""
    return f"<figure><img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'>{caption}</figure>"
