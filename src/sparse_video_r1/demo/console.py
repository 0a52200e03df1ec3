"""What the demo's console shows: the stages, and a progress bar per stage that says what it waits for.

Everything else (verl's workers, Ray, vLLM's engine, torchrun, transformers) writes into the stage's log
file: a launcher's output is piped there, and in-process work runs inside `quiet`, which points this
process's stdout and stderr file descriptors at the log, so the processes it starts (vLLM's engine core
and its workers) write there too. A stage that fails prints its log's last lines and its path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[3]
TAIL = 20  # log lines a failure prints


class Stage:
    """A stage's folder, named by its settings; `done` once it has finished with exactly those."""

    def __init__(self, out: Path, name: str, *settings: object) -> None:
        self.settings = settings
        key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:10]
        self.dir = out / f"{name}-{key}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / f"{name}.log"

    @property
    def done(self) -> bool:
        return (self.dir / "done.json").is_file()

    def finish(self) -> None:
        (self.dir / "done.json").write_text(json.dumps(self.settings, default=str, indent=2) + "\n")


def say(text: str) -> None:
    print(f"\n[demo] {text}", flush=True)


def failed(what: str, log: Path) -> SystemExit:
    """The error a failed stage ends the demo with: its log's last lines, then where the rest is."""
    lines = log.read_text(errors="replace").splitlines()[-TAIL:] if log.is_file() else []
    tail = "".join(f"  | {line}\n" for line in lines)
    return SystemExit(f"[demo] {what} failed; the last lines of its log:\n{tail}[demo] the whole log: {log}")


@contextlib.contextmanager
def quiet(log: Path, what: str) -> Iterator[TextIO]:
    """In-process work whose output (and that of the processes it starts) goes into `log`, appended; yields
    the console, for progress bars."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(saved[1]), "w")
    try:
        with log.open("a") as handle:
            os.dup2(handle.fileno(), 1)
            os.dup2(handle.fileno(), 2)
            try:
                yield console
            except Exception:
                import traceback

                traceback.print_exc()
                raise
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    except Exception:
        raise failed(what, log) from None
    finally:
        console.close()
        for fd in saved:
            os.close(fd)


@contextlib.contextmanager
def watching(bar: tqdm, progress: Callable[[], tuple[int, str]], every: float = 2.0) -> Iterator[None]:
    """Move `bar` to `progress()`'s count, with its words as the bar's postfix, every `every` seconds."""
    stop = threading.Event()

    def follow() -> None:
        while not stop.wait(every):
            count, words = progress()
            bar.update(max(0, min(count, bar.total) - bar.n))
            bar.set_postfix_str(words, refresh=True)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        count, _ = progress()
        bar.update(max(0, min(count, bar.total) - bar.n))
        bar.set_postfix_str("", refresh=True)


# What a launcher's log says it is doing, in the order it gets there: the last phase found is the current.
SFT_PHASES = [
    (r"\[sft\] device", "checking the data and the model"),
    (r"torch\.distributed\.run", "starting torchrun and verl's SFT trainer"),
    (r"step:\d+ - ", "training"),
]
GRPO_PHASES = [
    (r"\[train\] device", "checking the run"),
    (r"main_ppo", "starting Ray"),
    (r"Started a local Ray instance", "starting verl's workers (the FSDP actor)"),
    (r"vLLMHttpServer", "starting the vLLM rollout server"),
    (r"ready to fit", "rollouts of the first step"),
    (r"Initial validation metrics", "rollouts of the first step"),
    (r"step:\d+ - ", "training"),
]


def log_progress(log: Path, phases: Sequence[tuple[str, str]]) -> Callable[[], tuple[int, str]]:
    """The latest training step a launcher's log shows, and its phase."""

    def progress() -> tuple[int, str]:
        text = log.read_text(errors="replace") if log.is_file() else ""
        step = max(map(int, re.findall(r"step:(\d+) - ", text)), default=0)
        phase = next((words for pattern, words in reversed(phases) if re.search(pattern, text)), "starting")
        return step, phase

    return progress


def run_logged(
    command: list[str], log: Path, env: dict, steps: int, what: str, phases: Sequence[tuple[str, str]]
) -> None:
    """A launcher's output into its log file, with a progress bar of the training steps it logs."""
    bar = tqdm(total=steps, desc=what, unit="step")
    with log.open("w") as handle, watching(bar, log_progress(log, phases)):
        code = subprocess.call(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
    bar.close()
    if code != 0:
        raise failed(f"{what} (exit {code})", log)
