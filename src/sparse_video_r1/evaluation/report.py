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

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sparse_video_r1.evaluation.paired import COMPARISON_HEADER, Comparison, compare, comparison_row
from sparse_video_r1.evaluation.records import SampleRecord, read_samples
from sparse_video_r1.evaluation.report_html import to_html
from sparse_video_r1.evaluation.training_curves import plot_progress, plot_training
from sparse_video_r1.evaluation.trajectory_pictures import choose_samples, draw_trajectory, safe_name

GROUPS = ("C", "T", "D")  # NExT-QA's causal, temporal and descriptive groups
NONE = "-"  # a table cell without a value
MAX_TYPE_COLUMNS = 6
TEXT_COLUMNS = 4  # run, method, model, backend; the table's other columns are numbers
METHOD_STYLE = {  # colour and marker in the plot
    "uniform": ("tab:blue", "o"),
    "random": ("tab:orange", "s"),
    "whole_video": ("tab:green", "^"),
    "frames": ("tab:red", "*"),
    "agent": ("tab:red", "*"),  # the frame-request episode's name in runs made before the rename
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
    pairs: Sequence[tuple[str, str]] = (),
) -> dict[str, Path]:
    """Write the report on `run_dirs` (and the curves of the `training` runs' TensorBoard folders) into
    `out_dir`; the paths written, keyed by their path within it. `pairs` names runs (a, b) to compare
    question by question (paired.py): a table after the runs' table, and in results.json.

    Directories without a readable results.json are skipped with a warning; none usable is a ValueError.
    """
    runs = load_runs(run_dirs)
    comparisons = [_compare(runs, a, b) for a, b in pairs]
    out_dir = Path(out_dir)
    (out_dir / "trajectories").mkdir(parents=True, exist_ok=True)
    table, plot, page = out_dir / "table.md", out_dir / "accuracy_vs_frames.png", out_dir / "report.html"
    summary = out_dir / "results.json"
    header, rows = table_rows(runs)
    markdown = to_markdown(header, rows)
    if comparisons:
        paired = [comparison_row(c) for c in comparisons]
        markdown += "\n" + to_markdown(COMPARISON_HEADER, paired, text_columns=2)
    print(markdown, end="")
    table.write_text(markdown, encoding="utf-8")
    results = {"runs": [dict(zip(header, row, strict=True)) for row in rows]}
    summary.write_text(json.dumps({**results, "comparisons": [c.as_dict() for c in comparisons]}, indent=2))
    plot_accuracy(runs, plot)
    curves = [(name, out_dir / f"training_{safe_name(name)}.png") for name in (training or {})]
    curves = [
        (name, path)
        for name, path in curves
        if plot_training(Path(training[name]), path, f"Training: {name}")
    ]
    progress = [(name, out_dir / f"heldout_{safe_name(name)}.png") for name in (training or {})]
    curves += [
        (f"{name}: held-out accuracy against training reward", path)
        for name, path in progress
        if plot_progress(Path(training[name]), path, f"{name}: greedy held-out accuracy during training")
    ]
    pictures = [
        (run.name, record, draw_trajectory(run.name, record, out_dir / "trajectories"))
        for run in runs
        for record in choose_samples(run.samples, samples_to_draw)
    ]
    paired_table = (COMPARISON_HEADER, [comparison_row(c) for c in comparisons], 2) if comparisons else None
    page.write_text(
        to_html((header, rows, TEXT_COLUMNS), paired_table, plot, pictures, curves), encoding="utf-8"
    )
    written = [table, summary, plot, *(path for _, path in curves), *(path for _, _, path in pictures), page]
    return {path.relative_to(out_dir).as_posix(): path for path in written}


def _compare(runs: list[Run], a: str, b: str) -> Comparison:
    """Runs a and b (by their names in the report) question by question; failed questions count in neither."""
    by_name = {run.name: run for run in runs}
    missing = [name for name in (a, b) if name not in by_name]
    if missing:
        raise ValueError(f"no run named {', '.join(missing)} to compare; the runs are {', '.join(by_name)}")

    def answers(run: Run) -> list[tuple[str, bool]]:
        return [(record.doc_id, record.correct) for record in run.samples if record.failure is None]

    return compare(a, answers(by_name[a]), b, answers(by_name[b]))


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
    header = ["run", "method", "model", "backend", "first frames", "mean frames", "mean rounds"]
    header += ["acc (%)", "95% CI"] + [f"{h} (%)" for h in headlines]
    header += [f"{c} (%)" for c in columns]
    evidence = [key for key in EVIDENCE if any(run.scores.get(key) is not None for run in runs)]
    header += [f"{EVIDENCE[key]} (%)" for key in evidence] + [
        "unparsed",
        "failures",
        "samples",
        "wall time (s)",
    ]
    return header, [_row(run, groups(run), columns, headlines, evidence) for run in runs]


EVIDENCE = {  # how the runs used the evidence, on splits with spans (records.py `_evidence`)
    "before_evidence": "answered before evidence",
    "acc_after_evidence": "acc after evidence",
    "requested_in_evidence": "requested in evidence",
}


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


def _row(run: Run, groups: dict, columns: list[str], headlines: list[str], evidence: list[str]) -> list[str]:
    info, scores = run.info, run.scores
    interval = scores.get("acc_ci95")
    model = info.get("model")
    return [
        run.name,
        str(info.get("method", NONE)),
        Path(str(model).rstrip("/")).name if model else NONE,
        str(info.get("backend", NONE)),
        _number(info.get("first_frames", info.get("frames")), "{}"),  # "frames" in older runs
        _number(scores.get("mean_frames"), "{:.1f}"),
        _number(scores.get("mean_rounds"), "{:.2f}"),
        _percent(scores.get("acc")),
        f"{_percent(interval[0])} to {_percent(interval[1])}" if interval else NONE,
        *(_percent(_official(run).get(h)) for h in headlines),
        *(_percent(groups.get(c, {}).get("acc")) for c in columns),
        *(_percent(scores.get(key)) for key in evidence),
        _number(scores.get("unparsed"), "{}"),
        _number(scores.get("failures"), "{}"),
        _number(scores.get("samples"), "{}"),
        _number(info.get("wall_time_s"), "{:.1f}"),
    ]


def _number(value: float | None, form: str) -> str:
    return NONE if value is None else form.format(value)


def _percent(fraction: float | None) -> str:
    return NONE if fraction is None else f"{100 * fraction:.1f}"


def to_markdown(header: list[str], rows: list[list[str]], text_columns: int = TEXT_COLUMNS) -> str:
    """The first `text_columns` left-aligned, the numbers after them right-aligned."""
    rule = ["---" if column < text_columns else "---:" for column in range(len(header))]
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
