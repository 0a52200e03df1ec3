"""Pictures of episodes: the question, each round's frames with their times and the model's own words (its
thinking, its request or answer, and why a reply was invalid), then the final answer against the target.

    draw_trajectory(run_name, record, directory) -> the PNG written
    choose_samples(samples, count)               -> the episodes worth a picture

Frames are decoded again from the record's video at the recorded times; a video that cannot give them is
drawn as grey placeholders, with the reason.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw

from sparse_video_r1.agent.protocol import OPTION_LETTERS
from sparse_video_r1.evaluation.records import SampleRecord
from sparse_video_r1.video import TimestampError, VideoError, draw_timestamp, open_video

FRAME_PIXELS = 160 * 120  # per frame in the pictures
MAX_FRAMES_PER_ROUND = 16  # a whole-video baseline's 64 first frames are thinned to this many, evenly
MAX_REPLY_LINES = 14
NONE = "-"


def choose_samples(samples: list[SampleRecord], count: int) -> list[SampleRecord]:
    """The episodes worth a picture: several rounds first, then correct ones, then longer ones, then by
    doc_id (so the choice is the same every time); failed samples last."""
    return sorted(
        samples, key=lambda r: (r.failure is not None, r.rounds < 2, not r.correct, -r.rounds, r.doc_id)
    )[:count]


def frames_by_round(record: SampleRecord) -> list[list[dict]]:
    """The frames new before each reply: list r holds those shown before resps[r].

    A frame's "round" is the number of replies given when it was requested (episode.py): 0 for the
    opening frames, k for those asked for by reply k-1. A last list past the replies holds frames that
    were requested but answered by no reply (the episode stopped on its token budget).
    """
    count = max([len(record.resps), *(frame["round"] + 1 for frame in record.frames)])
    rounds: list[list[dict]] = [[] for _ in range(count)]
    for frame in record.frames:
        rounds[frame["round"]].append(frame)
    return rounds


def _thin(frames: list[dict]) -> list[dict]:
    if len(frames) <= MAX_FRAMES_PER_ROUND:
        return frames
    step = (len(frames) - 1) / (MAX_FRAMES_PER_ROUND - 1)
    return [frames[round(k * step)] for k in range(MAX_FRAMES_PER_ROUND)]


def _decode(video: str, times: list[float]) -> tuple[list[Image.Image], str | None]:
    """The frames with their times drawn in, or grey placeholders and why when the video cannot give them."""
    if not times:
        return [], None
    try:
        return open_video(video).frames_at(times, max_pixels=FRAME_PIXELS, timestamps=True), None
    except (VideoError, TimestampError) as error:
        return [_placeholder(t) for t in times], str(error)


def _placeholder(seconds: float) -> Image.Image:
    image = Image.new("RGB", (168, 112), (150, 150, 150))
    ImageDraw.Draw(image).text((84, 62), "no frame", fill=(235, 235, 235), anchor="mm")
    return draw_timestamp(image, seconds)


def draw_trajectory(run_name: str, record: SampleRecord, directory: Path) -> Path:
    """The episode as a figure: question and options, each round's new frames and reply, the outcome."""
    rounds = [_thin(frames) for frames in frames_by_round(record)]
    images, problem = _decode(record.video, [frame["time"] for frames in rounds for frame in frames])
    columns = min(8, max([5, *map(len, rounds)]))  # the same frame size in every round of a picture
    blocks = _header_blocks(run_name, record, problem)
    for r, frames in enumerate(rounds):
        shown, images = images[: len(frames)], images[len(frames) :]
        blocks += _round_blocks(record, r, frames, shown, columns)
    blocks += _outcome_blocks(record)
    path = directory / f"{safe_name(run_name)}_{safe_name(record.doc_id)}.png"
    _save_page(blocks, path)
    return path


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "_"


def _header_blocks(run_name: str, record: SampleRecord, problem: str | None) -> list[_Block]:
    blocks: list[_Block] = [
        _Text(f"{run_name}  ·  {record.doc_id}  ·  {record.type}", 10, color="dimgray"),
        _Text(record.question, 13, weight="bold", gap=0.04),
    ]
    for letter, option in zip(OPTION_LETTERS, record.options, strict=False):
        mark, colour, weight = "", "black", "normal"
        if letter == record.target:
            mark, colour, weight = "   ✓ target", "darkgreen", "bold"
        if letter == record.parsed and letter != record.target:
            mark, colour = "   ✗ model's answer", "firebrick"
        blocks.append(_Text(f"{letter}. {option}{mark}", 11, color=colour, weight=weight))
    if problem:
        blocks.append(_Text(f"Frames unavailable, grey placeholders drawn: {problem}", 10, color="firebrick"))
    return blocks


def _round_blocks(
    record: SampleRecord, r: int, frames: list[dict], images: list[Image.Image], columns: int
) -> list[_Block]:
    new = sum(frame["round"] == r for frame in record.frames)
    if new == 0:
        what = "no new frames"
    else:
        what = f"the first {plural(new, 'frame')}" if r == 0 else f"{plural(new, 'frame')} it asked for"
        what += f" ({len(images)} shown)" if len(images) < new else ""
    blocks: list[_Block] = [_Rule(), _Text(f"Round {r + 1}  ·  {what}", 11, weight="bold", color="navy")]
    if images:
        blocks.append(_Frames(images, [frame["time"] for frame in frames], columns))
    if r < len(record.resps):
        blocks.append(_Text(record.resps[r], 9, mono=True, max_lines=MAX_REPLY_LINES))
        if r < len(record.actions):
            action = record.actions[r]
            colour = "firebrick" if action.startswith("invalid") else "dimgray"
            blocks.append(_Text(f"→ {_verdict(action)}", 9, color=colour, weight="bold"))
    else:
        blocks.append(_Text(f"(no reply: the episode ended, {record.end or 'reason unknown'})", 9, mono=True))
    return blocks


def _verdict(action: str) -> str:
    """What the environment made of a reply, in words."""
    if action == "frames":
        return "a request for frames"
    if action == "answer":
        return "an answer"
    return action  # "invalid: <why>"


def _outcome_blocks(record: SampleRecord) -> list[_Block]:
    if record.failure is not None:
        verdict, colour = f"Failed: {record.failure}", "firebrick"
    elif record.parsed is None:
        verdict, colour = f"No answer parsed  ·  target {record.target}", "firebrick"
    elif record.correct:
        verdict, colour = f"Answer {record.parsed}  ·  target {record.target}  ·  correct", "darkgreen"
    else:
        verdict, colour = f"Answer {record.parsed}  ·  target {record.target}  ·  wrong", "firebrick"
    details = f"{plural(len(record.frames), 'frame')} in {plural(record.rounds, 'round')}"
    details += f"  ·  ended: {record.end or NONE}"
    return [_Rule(), _Text(verdict, 13, weight="bold", color=colour), _Text(details, 10, color="dimgray")]


# --- page layout for the trajectory pictures --------------------------------------------------------------
# Every block knows its height in inches, so the figure is made exactly as tall as its content and each
# line of text is placed on its own (matplotlib cannot wrap text to a width or measure it beforehand).

WIDTH, MARGIN, DPI = 10.0, 0.3, 120
TEXT_WIDTH = WIDTH - 2 * MARGIN


class _Text:
    def __init__(
        self,
        text: str,
        size: float,
        *,
        color: str = "black",
        weight: str = "normal",
        mono: bool = False,
        max_lines: int | None = None,
        gap: float = 0.0,
    ) -> None:
        # DejaVu Sans Mono glyphs are 0.6 em wide; proportional text is narrower on average, bold about as wide.
        per_line = int(TEXT_WIDTH * 72 / (size * (0.61 if mono else 0.6)))
        lines = [
            piece
            for paragraph in text.strip().splitlines()
            for piece in textwrap.wrap(paragraph, per_line) or [""]
        ]
        if max_lines is not None and len(lines) > max_lines:
            lines = [*lines[: max_lines - 1], f"[… {len(lines) - max_lines + 1} more lines]"]
        self.lines, self.size, self.gap = lines or [""], size, gap
        self.style = {"color": color, "weight": weight, "family": "monospace" if mono else "sans-serif"}

    @property
    def height(self) -> float:
        return len(self.lines) * self.size * 1.45 / 72 + self.gap

    def draw(self, figure, top: float) -> None:
        for k, line in enumerate(self.lines):
            y = top + (k + 0.1) * self.size * 1.45 / 72
            figure.text(
                MARGIN / WIDTH,
                1 - y / figure.get_figheight(),
                line,
                va="top",
                fontsize=self.size,
                parse_math=False,
                **self.style,
            )


class _Frames:
    """A round's frames in a grid, `columns` to a row, each at the same size with its time below."""

    GAP, CAPTION = 0.06, 0.2

    def __init__(self, images: list[Image.Image], times: list[float], columns: int) -> None:
        self.images, self.times, self.columns = images, times, columns

    def _cell(self) -> tuple[float, float]:
        width = TEXT_WIDTH / self.columns - self.GAP
        first = self.images[0]
        return width, width * first.height / first.width

    @property
    def height(self) -> float:
        rows = -(-len(self.images) // self.columns)
        return rows * (self._cell()[1] + self.CAPTION) + self.GAP

    def draw(self, figure, top: float) -> None:
        width, height = self._cell()
        page = figure.get_figheight()
        for k, (image, time) in enumerate(zip(self.images, self.times, strict=True)):
            row, column = divmod(k, self.columns)
            left = MARGIN + column * (width + self.GAP)
            bottom = page - (top + self.GAP + row * (height + self.CAPTION) + height)
            axes = figure.add_axes((left / WIDTH, bottom / page, width / WIDTH, height / page))
            axes.imshow(image, aspect="auto")
            axes.set_axis_off()
            x, y = (left + width / 2) / WIDTH, (bottom - 0.03) / page
            figure.text(x, y, f"{round(time, 2):g} s", ha="center", va="top", fontsize=8, color="dimgray")


class _Rule:
    """A thin line between sections."""

    height = 0.22

    def draw(self, figure, top: float) -> None:
        from matplotlib.lines import Line2D

        y = 1 - (top + 0.1) / figure.get_figheight()
        figure.add_artist(
            Line2D([MARGIN / WIDTH, 1 - MARGIN / WIDTH], [y, y], color="lightgray", linewidth=0.8)
        )


_Block = _Text | _Frames | _Rule


def _save_page(blocks: list[_Block], path: Path) -> None:
    """The blocks stacked top to bottom on a white page exactly as tall as they are."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, 2 * MARGIN + sum(block.height for block in blocks)), facecolor="white")
    FigureCanvasAgg(figure)
    top = MARGIN
    for block in blocks:
        block.draw(figure, top)
        top += block.height
    figure.savefig(path, dpi=DPI)
