"""The three ways conversations meet a backend give the same records, in the samples' order, whatever
order the conversations finish in; failures and full contexts reach the right conversation."""

from __future__ import annotations

import threading
import time

import pytest

from sparse_video_r1.evaluation import drive
from sparse_video_r1.evaluation.methods import ContextFull
from sparse_video_r1.evaluation.records import SampleRecord


class Broken(Exception):
    pass


def _record(doc_id: str, replies: list[str], end: str) -> SampleRecord:
    return SampleRecord(
        doc_id=doc_id, target="A", resps=replies, filtered_resps=[], parsed=None, correct=False, type="t",
        question="q", options=["a", "b"], video="v.mp4", frames=[], rounds=len(replies), end=end,
        visual_tokens=0, actions=[], metrics={},
    )  # fmt: skip


def _conversation(doc_id: str, rounds: int, fail_at: int | None = None):
    """Asks `rounds` times; each message names the conversation and its round."""
    replies = []
    for round_ in range(rounds):
        if round_ == fail_at:
            raise Broken(doc_id)
        try:
            replies.append((yield [{"role": "user", "content": f"{doc_id}:{round_}"}]))
        except ContextFull:
            return _record(doc_id, replies, "token budget")
    return _record(doc_id, replies, "answer")


def _jobs(specs):
    def fail(doc_id):
        return lambda error: _record(doc_id, [], f"failed: {error}") if isinstance(error, Broken) else None

    return [(lambda d=d, r=r, f=f: _conversation(d, r, f), fail(d)) for d, r, f in specs]


def _reply(messages: list[dict]) -> str:
    content = messages[-1]["content"]
    if content.endswith(":2") and content.startswith("full"):
        raise ContextFull("no room")
    return f"re {content}"


class Batches:
    def __init__(self) -> None:
        self.sizes: list[int] = []

    def batch(self, conversations):
        self.sizes.append(len(conversations))
        replies = []
        for messages in conversations:
            try:
                replies.append(_reply(messages))
            except ContextFull as full:
                replies.append(full)
        return replies


SPECS = [("a", 3, None), ("b", 1, None), ("bad", 2, 1), ("full", 4, None), ("c", 2, None), ("d", 5, None)]
EXPECTED = [
    ("a", ["re a:0", "re a:1", "re a:2"], "answer"),
    ("b", ["re b:0"], "answer"),
    ("bad", [], "failed: bad"),
    ("full", ["re full:0", "re full:1"], "token budget"),
    ("c", ["re c:0", "re c:1"], "answer"),
    ("d", ["re d:0", "re d:1", "re d:2", "re d:3", "re d:4"], "answer"),
]


def _seen(records):
    return [(r.doc_id, r.resps, r.end) for r in records]


def test_one_by_one_runs_each_conversation_to_its_end():
    assert _seen(drive.one_by_one(_jobs(SPECS), _reply)) == EXPECTED


@pytest.mark.parametrize("live", [1, 2, 3, 64])
def test_batches_advance_live_conversations_together_and_refill_as_they_end(live):
    chat = Batches()
    assert _seen(drive.in_batches(_jobs(SPECS), chat, live)) == EXPECTED
    assert max(chat.sizes) == min(live, len(SPECS))
    assert sum(chat.sizes) == 3 + 1 + 1 + 3 + 2 + 5  # every reply asked for once ("full"'s third: refused)
    if live >= len(SPECS):
        assert chat.sizes == [6, 4, 3, 1, 1]  # all at once, fewer as they end; the longest sets the rounds


def test_records_come_out_in_order_while_later_conversations_finish_first():
    order = []

    def slow_first(messages):
        content = messages[-1]["content"]
        if content.startswith("a:"):
            time.sleep(0.2)  # "a" is still talking while the others end
        order.append(content)
        return _reply(messages)

    records = list(drive.in_flight(_jobs(SPECS), slow_first, concurrency=4))
    assert _seen(records) == EXPECTED
    assert order.index("a:2") > order.index("b:0")  # the later samples did finish first


def test_in_flight_keeps_at_most_the_concurrency_in_flight():
    active, peak, lock = [0], [0], threading.Lock()

    def counting(messages):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1
        return _reply(messages)

    jobs = _jobs([(f"s{i}", 2, None) for i in range(12)])
    assert len(list(drive.in_flight(jobs, counting, concurrency=3))) == 12
    assert peak[0] == 3


def test_an_unexpected_error_is_raised_not_recorded():
    def broken(messages):
        raise RuntimeError("the engine died")

    with pytest.raises(RuntimeError, match="engine died"):
        list(drive.one_by_one(_jobs(SPECS), broken))
    with pytest.raises(RuntimeError, match="engine died"):
        list(drive.in_batches(_jobs(SPECS), type("B", (), {"batch": lambda self, c: broken(c)})(), 4))
