"""The page layout of the trajectory pictures: blocks of text, frame grids, rules and a timeline, stacked
top to bottom on a page exactly as tall as they are."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import Image

# Every block knows its height in inches, so the figure is made exactly as tall as its content and each
# line of text is placed on its own (matplotlib cannot wrap text to a width or measure it beforehand).

WIDTH, MARGIN, DPI = 10.0, 0.3, 120
TEXT_WIDTH = WIDTH - 2 * MARGIN


class Text:
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


class Frames:
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


class Timeline:
    """The video as a bar: a tick for each overview frame, a coloured span for each zoom."""

    height = 0.75
    COLOURS = ("tab:orange", "tab:purple", "tab:green", "tab:red")

    def __init__(self, duration: float, overview: list[float], zooms: list[dict]) -> None:
        self.duration, self.overview, self.zooms = duration, overview, zooms

    def draw(self, figure, top: float) -> None:
        page = figure.get_figheight()
        axes = figure.add_axes((MARGIN / WIDTH, 1 - (top + 0.45) / page, TEXT_WIDTH / WIDTH, 0.3 / page))
        axes.set_xlim(0, self.duration)
        axes.set_ylim(0, 1)
        axes.vlines(self.overview, 0.1, 0.4, color="gray", linewidth=0.5)
        for k, zoom in enumerate(self.zooms):
            colour = self.COLOURS[k % len(self.COLOURS)]
            axes.axvspan(zoom["start"], zoom["end"], 0.5, 1.0, color=colour, alpha=0.7)
            middle = (zoom["start"] + zoom["end"]) / 2
            axes.text(middle, 0.75, f"zoom {k + 1}", ha="center", va="center", fontsize=7, color="white")
        axes.set_yticks([])
        axes.tick_params(labelsize=7)
        axes.set_xlabel("seconds: overview frames (ticks) and zooms (spans)", fontsize=7, labelpad=1)


class Rule:
    """A thin line between sections."""

    height = 0.22

    def draw(self, figure, top: float) -> None:
        from matplotlib.lines import Line2D

        y = 1 - (top + 0.1) / figure.get_figheight()
        figure.add_artist(
            Line2D([MARGIN / WIDTH, 1 - MARGIN / WIDTH], [y, y], color="lightgray", linewidth=0.8)
        )


Block = Text | Frames | Rule | Timeline


def save_page(blocks: list[Block], path: Path) -> None:
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
