"""`svr1 eval`: one method, one model, one prepared split; resumable, in lmms-eval's file shape.

Backends: `hf` (transformers, one conversation at a time), `vllm` (vLLM's offline engine, up to
`concurrency` conversations advanced together, one batch per round) and `openai` (any chat-completions
server, `concurrency` requests in flight). Each finished sample is appended to `samples_<task>.jsonl` in
the samples' order and flushed to disk at once, so a run killed midway loses nothing: rerunning the same command skips the samples already there and writes the same
files as an uninterrupted run. `results.json` is rewritten at the end with the scores and the pinned
config (model, backend, frames, pixels, decoding, prompt), so numbers can be reproduced.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path

from tqdm import tqdm

from sparse_video_r1.agent.episode import Question
from sparse_video_r1.agent.protocol import OPTION_LETTERS
from sparse_video_r1.evaluation import methods
from sparse_video_r1.evaluation.backends import answer_samples
from sparse_video_r1.evaluation.config import (
    BACKENDS,
    EPISODE_METHODS,
    METHOD_ALIASES,
    METHODS,
    RENAMED_SETTINGS,
    EvalConfig,
    episode_config,
)
from sparse_video_r1.evaluation.official_scores import official_scores
from sparse_video_r1.evaluation.records import read_samples, read_samples_text, summarize

__all__ = ["EvalConfig", "evaluate", "load_samples"]


def load_samples(data: str, seed: int, limit: int | None) -> list[methods.Sample]:
    import pandas as pd

    table = pd.read_parquet(data)
    samples = []
    for i, row in enumerate(table.to_dict("records")):
        info = row["extra_info"]
        samples.append(
            methods.Sample(
                doc_id=f"{info['video_id']}_{info['qid']}",
                question=Question(info["question"], tuple(info["options"])),
                target=row["reward_model"]["ground_truth"],
                type=info["type"],
                video=info["video"],
                seed=methods.sample_seed(seed, i),
                duration_group=info.get("duration_group", ""),
                spans=tuple((float(start), float(end)) for start, end in _spans(info)),
                duration=info.get("duration"),
                mode=info.get("mode"),
            )
        )
    return samples[:limit] if limit else samples


def _spans(info: dict) -> list:
    spans = info.get("spans")  # a list, or an array of arrays from parquet; absent in most benchmarks
    return [] if spans is None else list(spans)


def evaluate(config: EvalConfig, chat=None) -> dict:
    """Run (or resume) the evaluation; `chat`, an already built backend of `config.backend`, lets several
    runs share one engine (a benchmark, a test)."""
    if config.method not in METHODS:
        raise ValueError(f"unknown method {config.method!r}; choose one of {', '.join(METHODS)}")
    if config.backend not in BACKENDS:
        raise ValueError(f"unknown backend {config.backend!r}; choose one of {', '.join(BACKENDS)}")
    for low, high in (
        (config.min_pixels, config.max_pixels),
        (config.video_min_pixels, config.video_max_pixels),
    ):
        if low > high:
            raise ValueError(f"a pixel range from {low} to {high}: the minimum must not exceed the maximum")
    if config.method == "video" and config.backend == "openai":
        raise ValueError(
            "the video method feeds the model's native video input, which a chat-completions API does not "
            "take as frames; use --backend vllm or hf, or --method whole_video (the frames as images)"
        )
    config = replace(config, data=os.path.abspath(config.data), model=_absolute_model(config.model))
    out = config.run_dir
    out.mkdir(parents=True, exist_ok=True)
    samples_path = out / f"samples_{config.task}.jsonl"
    claim(out, config)
    index, count = config.shard_of
    samples = load_samples(config.data, config.seed, config.limit)[index::count]
    _repair_last_line(samples_path)
    done = {
        record.doc_id for record in read_samples(samples_path) if record.failure is None
    }  # failures retry
    todo = [s for s in samples if s.doc_id not in done]
    began = time.perf_counter()
    if config.backend == "hf" and (config.concurrency or 1) > 1:
        raise ValueError("the hf backend answers one question at a time; use --backend vllm to batch")
    if todo:
        records = answer_samples(config, todo, chat)
        with samples_path.open("a", encoding="utf-8") as handle:
            for record in tqdm(
                records,
                desc=f"{config.method} on {config.task}",
                unit="question",
                initial=len(done),
                total=len(samples),
            ):
                handle.write(record.to_json() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
    wanted = {s.doc_id for s in samples}
    latest = {
        r.doc_id: r for r in read_samples(samples_path) if r.doc_id in wanted
    }  # a retry replaces its failure
    wall_time = _previous_wall_time(out) + time.perf_counter() - began
    return write_results(config, out, list(latest.values()), wall_time)


def write_results(config: EvalConfig, out: Path, records: list, wall_time_s: float, **extra) -> dict:
    """OUT/results.json: the scores (and the benchmark's official ones), wall time and pinned config."""
    benchmark = _benchmark(config.data)
    results = {
        "task": config.task,
        "benchmark": benchmark,
        "run": config.run or Path(config.out_dir).name,
        "method": config.method,
        "model": config.model,
        "backend": config.backend,
        "first_frames": config.first_frames,
        "results": {**summarize(records), "official": official_scores(benchmark, records)},
        "wall_time_s": round(wall_time_s, 2),
        **extra,
        "date": datetime.now().isoformat(timespec="seconds"),
        "config": {
            **asdict(config),
            "episode": asdict(episode_config(config)) if config.method in EPISODE_METHODS else {},
            "letters": OPTION_LETTERS,
            "answer_prompt": methods.ANSWER_DIRECTLY
            if config.method not in EPISODE_METHODS
            else "the episode's instructions",
        },
    }
    write_atomically(out / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return results


def _benchmark(data: str) -> str:
    """The prepared split's data source: the benchmark whose official scores apply (nextqa, videomme, ...)."""
    import pyarrow.parquet as pq

    sources = pq.read_table(data, columns=["data_source"]).column("data_source").unique().to_pylist()
    return sources[0] if len(sources) == 1 else "mixed"


# What a run folder's answers depend on: a rerun into the same folder must not change any of it.
PINNED = (
    "data",
    "method",
    "model",
    "backend",
    "first_frames",
    "max_pixels",
    "min_pixels",
    "seed",
    "temperature",
    "reply_tokens",
    "episode",
    "video_fps",
    "video_max_frames",
    "video_max_pixels",
    "video_min_pixels",
    "shard",
)


def claim(out: Path, config: EvalConfig) -> None:
    """Record the run's settings in RUN_DIR/run.json, or refuse to resume a run made with other ones."""
    path = out / "run.json"
    settings = {key: getattr(config, key) for key in PINNED}
    if config.shard:  # a shard's questions depend on the run's --limit too (a whole run may extend its limit)
        settings["limit"] = config.limit
    if path.exists():
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(before, dict):
                raise ValueError(f"it holds a {type(before).__name__}, not the settings")
        except ValueError as error:
            raise ValueError(
                f"{path} is not a readable run settings file ({error}); delete it to start this run "
                "afresh, or use another --out-dir"
            ) from None
        before = {RENAMED_SETTINGS.get(key, key): value for key, value in before.items()}  # older names
        before["method"] = METHOD_ALIASES.get(before.get("method"), before.get("method"))
        defaults = asdict(EvalConfig(data="", method="", model="", out_dir=""))  # a knob newer than the run
        changed = {
            k: (before.get(k, defaults[k]), v) for k, v in settings.items() if before.get(k, defaults[k]) != v
        }
        if changed:
            what = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in changed.items())
            raise ValueError(f"{out} holds a run made with other settings ({what}); use another --out-dir")
        return
    write_atomically(path, json.dumps(settings, indent=2) + "\n")


def write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def _absolute_model(model: str) -> str:
    """A local checkpoint by its absolute path (the same run however it was named); a hub or API name as is."""
    return os.path.abspath(model) if Path(model).exists() else model


def _repair_last_line(path: Path) -> None:
    """A run killed mid-write leaves a last line without its newline. A complete record gets its newline
    (it is done); a cut one is removed, so its sample is redone."""
    data = path.read_bytes() if path.exists() else b""
    if not data or data.endswith(b"\n"):
        return
    keep = data.rfind(b"\n") + 1  # 0 when the cut line is the only one
    complete = bool(read_samples_text(data[keep:].decode("utf-8", errors="replace")))
    with path.open("r+b") as handle:
        if complete:
            handle.seek(len(data))
            handle.write(b"\n")
        else:
            handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())


def _previous_wall_time(out: Path) -> float:
    """The wall time an earlier part of this run already spent, from its results.json (0 if unreadable)."""
    try:
        return float(json.loads((out / "results.json").read_text())["wall_time_s"])
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return 0.0
