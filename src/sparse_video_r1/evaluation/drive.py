"""How conversations (methods.py) meet a backend: one at a time, N in flight, or batched per round.

- `one_by_one`: each conversation runs to its end before the next starts (the `hf` backend).
- `in_flight`: up to N conversations at once on threads, each waiting on its own request (`openai
  --concurrency N`; the requests are what runs in parallel, on the server).
- `in_batches`: up to N live conversations; each round every one waiting for a reply goes to the backend
  in one batch, and finished conversations make room for new ones at once (the `vllm` backend).

Whatever the order conversations finish in, records come out in the order of the samples, each as soon
as every earlier one is out, so a run's files are the same for every backend and a resume is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Protocol

from sparse_video_r1.evaluation.methods import ContextFull, Conversation
from sparse_video_r1.evaluation.records import SampleRecord

# Starts a sample's conversation (it may open and decode its video).
Start = Callable[[], Conversation]
# A conversation's failure (a broken video, an API that gave up) as its sample's failed record; None to raise.
Fail = Callable[[Exception], SampleRecord | None]
Job = tuple[Start, Fail]


class Chat(Protocol):
    def __call__(self, messages: list[dict]) -> str: ...


class BatchChat(Protocol):
    def batch(self, conversations: list[list[dict]]) -> list[str | ContextFull]: ...


def converse(job: Job, chat: Chat) -> SampleRecord:
    """One conversation to its end, one reply at a time."""
    start, fail = job
    try:
        conversation = start()
        messages = next(conversation)
        while True:
            try:
                reply = chat(messages)
            except ContextFull as full:
                messages = conversation.throw(full)
            else:
                messages = conversation.send(reply)
    except StopIteration as finished:
        return finished.value
    except Exception as error:
        if (record := fail(error)) is None:
            raise
        return record


def one_by_one(jobs: Iterable[Job], chat: Chat) -> Iterator[SampleRecord]:
    for job in jobs:
        yield converse(job, chat)


def in_flight(jobs: Iterable[Job], chat: Chat, concurrency: int) -> Iterator[SampleRecord]:
    """Up to `concurrency` conversations at once; records in the samples' order."""
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="conversation") as pool:
        yield from pool.map(lambda job: converse(job, chat), jobs)


@dataclass
class _Running:
    fail: Fail
    conversation: Conversation | None = None
    messages: list[dict] = field(default_factory=list)  # what it waits for a reply to


def in_batches(jobs: Iterable[Job], chat: BatchChat, live: int) -> Iterator[SampleRecord]:
    """Up to `live` conversations advanced together, one batched call per round; records in order."""
    pending = enumerate(jobs)
    running: dict[int, _Running] = {}  # by sample index
    done: dict[int, SampleRecord] = {}
    next_out = 0

    def advance(index: int, step: Callable[[_Running], list[dict]]) -> None:
        """Run a conversation up to its next request for a reply, or to its record."""
        run = running[index]
        try:
            run.messages = step(run)
            return
        except StopIteration as finished:
            done[index] = finished.value
        except Exception as error:
            if (record := run.fail(error)) is None:
                raise
            done[index] = record
        del running[index]

    def begin(start: Start) -> Callable[[_Running], list[dict]]:
        def step(run: _Running) -> list[dict]:
            run.conversation = start()
            return next(run.conversation)

        return step

    while True:
        room = live - len(running)
        joined = 0
        for index, (start, fail) in islice(pending, room):
            running[index] = _Running(fail)
            advance(index, begin(start))
            joined += 1
        while next_out in done:
            yield done.pop(next_out)
            next_out += 1
        if not running:
            if joined < room:  # nothing left to start
                return
            continue
        indices = list(running)
        replies = chat.batch([running[i].messages for i in indices])
        for index, reply in zip(indices, replies, strict=True):
            if isinstance(reply, ContextFull):
                advance(index, lambda run, full=reply: run.conversation.throw(full))
            else:
                advance(index, lambda run, text=reply: run.conversation.send(text))
