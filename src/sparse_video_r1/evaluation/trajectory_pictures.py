"""Pictures of episodes: the question, each round's frames with their times and the model's own words (its
thinking, its request or answer, and why a reply was invalid), then the final answer against the target.
A zoom episode also gets a timeline of the video with its overview frames and each zoom's span, and its
rounds are the overview strip and the zoom clips.

    draw_trajectory(run_name, record, directory) -> the PNG written
    choose_samples(samples, count)               -> the episodes worth a picture

Frames are decoded again from the record's video at the recorded times; a video that cannot give them is
drawn as grey placeholders, with the reason.
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image, ImageDraw

from sparse_video_r1.agent.protocol import OPTION_LETTERS
from sparse_video_r1.evaluation.page import Block, Frames, Rule, Text, Timeline, save_page
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
    if _zooming(record):
        blocks.append(
            Timeline(_duration(record), [f["time"] for f in record.frames if f["round"] == 0], record.zooms)
        )
    for r, frames in enumerate(rounds):
        shown, images = images[: len(frames)], images[len(frames) :]
        blocks += _round_blocks(record, r, frames, shown, columns)
    blocks += _outcome_blocks(record)
    path = directory / f"{safe_name(run_name)}_{safe_name(record.doc_id)}.png"
    save_page(blocks, path)
    return path


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def safe_name(name: str) -> str:
    return re.sub(r"[^\w.-]+", "-", name).strip("-") or "_"


def _header_blocks(run_name: str, record: SampleRecord, problem: str | None) -> list[Block]:
    blocks: list[Block] = [
        Text(f"{run_name}  ·  {record.doc_id}  ·  {record.type}", 10, color="dimgray"),
        Text(record.question, 13, weight="bold", gap=0.04),
    ]
    for letter, option in zip(OPTION_LETTERS, record.options, strict=False):
        mark, colour, weight = "", "black", "normal"
        if letter == record.target:
            mark, colour, weight = "   ✓ target", "darkgreen", "bold"
        if letter == record.parsed and letter != record.target:
            mark, colour = "   ✗ model's answer", "firebrick"
        blocks.append(Text(f"{letter}. {option}{mark}", 11, color=colour, weight=weight))
    if problem:
        blocks.append(Text(f"Frames unavailable, grey placeholders drawn: {problem}", 10, color="firebrick"))
    return blocks


def _zooming(record: SampleRecord) -> bool:
    return bool(record.zooms) or any(action.startswith("zoom") for action in record.actions)


def _duration(record: SampleRecord) -> float:
    try:
        return open_video(record.video).duration
    except VideoError:
        return max([1.0, *(f["time"] for f in record.frames), *(z["end"] for z in record.zooms)])


def _round_blocks(
    record: SampleRecord, r: int, frames: list[dict], images: list[Image.Image], columns: int
) -> list[Block]:
    new = sum(frame["round"] == r for frame in record.frames)
    zoom = next((z for z in record.zooms if z["round"] == r), None)
    if new == 0:
        what = "no new frames"
    elif _zooming(record):
        what = f"the overview: {plural(new, 'frame')}" if r == 0 else f"{plural(new, 'frame')} it zoomed into"
        what += f" at {zoom['start']:g}-{zoom['end']:g} s" if zoom else ""
    else:
        what = f"the first {plural(new, 'frame')}" if r == 0 else f"{plural(new, 'frame')} it asked for"
    if new:
        what += f" ({len(images)} shown)" if len(images) < new else ""
    blocks: list[Block] = [Rule(), Text(f"Round {r + 1}  ·  {what}", 11, weight="bold", color="navy")]
    if images:
        blocks.append(Frames(images, [frame["time"] for frame in frames], columns))
    if r < len(record.resps):
        blocks.append(Text(record.resps[r], 9, mono=True, max_lines=MAX_REPLY_LINES))
        if r < len(record.actions):
            action = record.actions[r]
            colour = "firebrick" if action.startswith("invalid") else "dimgray"
            blocks.append(Text(f"→ {_verdict(action)}", 9, color=colour, weight="bold"))
    else:
        blocks.append(Text(f"(no reply: the episode ended, {record.end or 'reason unknown'})", 9, mono=True))
    return blocks


def _verdict(action: str) -> str:
    """What the environment made of a reply, in words."""
    if action == "frames":
        return "a request for frames"
    if action == "answer":
        return "an answer"
    if action == "zoom":
        return "a zoom"
    return action  # "invalid: <why>", "zoom stopped: <why>"


def _outcome_blocks(record: SampleRecord) -> list[Block]:
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
    return [Rule(), Text(verdict, 13, weight="bold", color=colour), Text(details, 10, color="dimgray")]
