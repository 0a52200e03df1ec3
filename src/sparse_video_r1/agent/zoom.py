"""Zoom mode (LOVE-R1) as episode rules: a dense low-resolution overview of the whole video, then up to
`max_zooms` zooms, each a clip of up to `zoom_frames` frames of the interval the model names, at a high pixel
budget. Every frame has its time written on it and beside it in the text; clips come after the overview,
which stays in the context.

A zoom is invalid (LOVE-R1's training rules) when it lasts under 1 s or over min(duration / 2, 60 s), reaches
outside the video, or overlaps an earlier zoom with IoU > 0.7. With `zoom_inference="love_r1"` (LOVE-R1's
evaluation code) a zoom is instead padded by 5 s on each side, widened to at least min(30 s, duration / 8)
(unless `zoom_widen` is off: LongVideoBench) and kept inside the video, and shows 2 frames a second of it
(at most `zoom_frames`); a zoom that then lasts under 3 s or overlaps an earlier zoom with IoU > 0.3, or a
reply that is neither a zoom nor an answer, ends the zooming, and the next reply is the last: it must
answer, with the whole video shown as a clip when no zoom was kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from sparse_video_r1.agent.episode import Episode, Part
from sparse_video_r1.agent.protocol import Invalid, Zoom
from sparse_video_r1.video.timestamps import clip_timestamps, overview_timestamps

SHORTEST_ZOOM, LONGEST_ZOOM, MAX_IOU = 1.0, 60.0, 0.7  # training rules
PAD, WIDEST, STOP_SPAN, STOP_IOU = 5.0, 30.0, 3.0, 0.3  # LOVE-R1's evaluation
STOPPED = "zoom stopped"  # the action recorded when LOVE-R1's evaluation ends the zooming


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Intersection over union of two intervals in seconds."""
    overlap = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return overlap / union if union > 0 else 0.0


def longest_zoom(duration: float) -> float:
    return min(duration / 2, LONGEST_ZOOM)


def love_r1_span(start: float, end: float, duration: float, widen: bool = True) -> tuple[float, float]:
    """LOVE-R1's evaluation-time zoom: padded by 5 s, at least min(30 s, duration / 8) long (`widen`), in the
    video."""
    start, end = start - PAD, end + PAD
    shortest = min(WIDEST, duration / 8)
    if widen and end - start < shortest:
        middle = (start + end) / 2
        start, end = middle - shortest / 2, middle + shortest / 2
    start, end = max(0.0, start), min(duration, end)
    return round(start, 3), round(end, 3)


class ZoomEpisode(Episode):
    """`opening()` shows the overview; each `step(reply)` answers, or zooms and shows the clip."""

    ACTIONS = ("answer", "zoom")

    @property
    def stopped(self) -> bool:
        """LOVE-R1's evaluation ended the zooming (a repeat, a span too short, a reply that was neither)."""
        return any(action.startswith(STOPPED) for action in self.record.actions)

    @property
    def rounds_left(self) -> int:
        """Once LOVE-R1's evaluation stops the zooming, one reply is left: the forced answer."""
        left = super().rounds_left
        if self.config.zoom_inference != "love_r1" or not self.stopped:
            return left
        stopped_at = next(i for i, a in enumerate(self.record.actions, 1) if a.startswith(STOPPED))
        return min(left, stopped_at + 1 - self.record.rounds)

    def step(self, reply: str) -> list[Part] | None:
        """As every episode; under LOVE-R1's evaluation a reply that is neither a zoom nor an answer ends the
        zooming instead of costing a round, as its loop breaks to the forced answer."""
        turn = super().step(reply)
        last = self.record.actions[-1] if self.record.actions else ""
        if turn is None or self.config.zoom_inference != "love_r1" or not last.startswith("invalid"):
            return turn
        self.record.actions[-1] = f"{STOPPED}: {last.removeprefix('invalid: ')}"
        return self._final_turn()

    @property
    def can_zoom(self) -> bool:
        """Whether any zoom is possible in this video: one of at least 1 s and at most half the video under
        the training rules (a video of 2 s at least), one LOVE-R1's evaluation keeps (3 s at least)."""
        if self.config.zoom_inference == "love_r1":
            return self.duration >= STOP_SPAN
        return longest_zoom(self.duration) >= SHORTEST_ZOOM

    @property
    def zooms_left(self) -> int:
        if self.stopped or not self.can_zoom:
            return 0
        return self.config.max_zooms - len(self.record.zooms)

    def opening(self, times: Sequence[float] | None = None) -> list[Part]:
        """The question, the overview frames (`times`, or min(overview_fps x duration, overview_frames)
        spread over the video), the budget and the format."""
        config = self.config
        if times is None:
            times = overview_timestamps(self.duration, config.overview_fps, config.overview_frames)
        times = self._new_frames(times)
        self._mark_unshown()
        parts: list[Part] = [self.words.overview(self.question.render(), self.duration, len(times))]
        parts += self._show(times, round_=0, max_pixels=config.overview_pixels, drawn=True)
        parts.append("\n" + self._instructions())
        return parts

    def _act(self, zoom: Zoom) -> list[Part] | Invalid:
        config = self.config
        if self.rounds_left <= 0:
            return Invalid("this was the last round, so it had to answer")
        if self.stopped:
            return Invalid("zooming has stopped, so answer")
        if not self.can_zoom:
            return Invalid(f"the video ({self.duration:.1f} s) is too short to zoom into, so answer")
        if self.zooms_left <= 0:
            return Invalid(f"no zooms are left (at most {config.max_zooms}), so answer")
        start, end = zoom.start, zoom.end
        earlier = [(z["start"], z["end"]) for z in self.record.zooms]
        if config.zoom_inference == "love_r1":
            if start >= self.duration:
                return Invalid(
                    f"the zoom {_span(start, end)} starts after the video ends ({self.duration:.1f} s)"
                )
            start, end = love_r1_span(start, end, self.duration, config.zoom_widen)
            overlap = max((iou((start, end), span) for span in earlier), default=0.0)
            if end - start < STOP_SPAN or overlap > STOP_IOU:
                why = (
                    f"overlaps an earlier zoom (IoU {overlap:.2f})" if overlap > STOP_IOU else "is too short"
                )
                self.record.actions.append(f"{STOPPED}: {_span(start, end)} {why}")
                return self._final_turn()
        else:
            reason = self._check_zoom(start, end, earlier)
            if reason:
                return Invalid(reason)
        self.record.actions.append("zoom")
        parts = self._clip(start, end)
        parts.append("\n" + self._instructions())
        return parts

    def _clip(self, start: float, end: float) -> list[Part]:
        """A zoom's clip: `zoom_frames` frames over [start, end] (LOVE-R1's evaluation: 2 a second, at most
        that), one per video frame at most, at the high pixel budget, recorded as a zoom of this round."""
        config = self.config
        count = config.zoom_frames
        if config.zoom_inference == "love_r1":
            count = max(1, min(int(2 * (end - start)), config.zoom_frames))
        cells: dict[int, float] = {}  # one time per frame of the video
        for time in clip_timestamps(start, end, count):
            cells.setdefault(self.grid.frame_at(time), time)
        self.record.zooms.append({"start": start, "end": end, "round": self.record.rounds})
        parts: list[Part] = [self.words.zoomed(start, end, len(cells))]
        return parts + self._show(list(cells.values()), self.record.rounds, config.zoom_pixels, drawn=True)

    def _final_turn(self) -> list[Part]:
        """The turn after LOVE-R1's evaluation stopped the zooming: the forced answer, over the whole video as
        a clip when no zoom was kept (its fallback)."""
        parts = [] if self.record.zooms else self._clip(0.0, self.duration)
        return [*parts, "\n" + self._instructions()]

    def _check_zoom(self, start: float, end: float, earlier: list[tuple[float, float]]) -> str | None:
        if start < 0 or end > self.duration + 1e-6:
            return f"the zoom {_span(start, end)} reaches outside the video (0 to {self.duration:.1f} s)"
        if end - start < SHORTEST_ZOOM:
            return f"the zoom {_span(start, end)} lasts under {SHORTEST_ZOOM:g} s"
        longest = longest_zoom(self.duration)
        if end - start > longest + 1e-6:
            return f"the zoom {_span(start, end)} lasts over {longest:g} s, the longest allowed"
        for span in earlier:
            if iou((start, end), span) > MAX_IOU:
                return f"the zoom {_span(start, end)} repeats the zoom {_span(*span)} (IoU over {MAX_IOU:g})"
        return None

    def prompt_text(self) -> str:
        return f"{self.words.prompt_text(self.question.render(), self.duration)}\n{self._instructions()}"

    def _instructions(self) -> str:
        letters, rounds_left = self.question.letters, self.rounds_left
        if rounds_left <= 1:
            return self.words.last_reply(letters)
        if self.zooms_left <= 0:
            return self.words.no_zooms_left(letters, rounds_left)
        longest = longest_zoom(self.duration)
        return self.words.choose_zoom(letters, self.duration, longest, rounds_left, self.zooms_left)


def _span(start: float, end: float) -> str:
    return f"{start:g}-{end:g} s"
