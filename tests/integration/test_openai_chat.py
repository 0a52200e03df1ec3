"""OpenAIChat against a real local chat-completions server (tests/chat_server.py): images, retries, failures."""

from __future__ import annotations

import email.utils
import itertools
import socket
import time

import pytest
from PIL import Image

from chat_server import ChatServer
from sparse_video_r1.evaluation.openai_chat import ChatFailure, OpenAIChat


def client(server: ChatServer, **options) -> OpenAIChat:
    options = {"attempts": 5, "backoff": 0.01, "timeout": 10, "reply_tokens": 8, **options}
    return OpenAIChat(server.base_url, "tiny", **options)


def ask(text: str = "Which option, A or B?") -> list[dict]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def model_server(tiny_model_dir):
    with ChatServer(tiny_model_dir) as server:
        yield server


@pytest.fixture
def scripted():
    with ChatServer(script=["<answer>A</answer>"] * 3) as server:
        yield server


def test_images_reach_the_tiny_model_and_its_reply_comes_back(model_server):
    sizes = [(64, 48), (120, 90), (56, 56)]
    colours = ["red", "green", "blue"]
    frames = [Image.new("RGB", size, colour) for size, colour in zip(sizes, colours, strict=True)]
    rgba = Image.new("RGBA", (80, 60), (255, 0, 0, 128))  # JPEG has no alpha: sent as RGB
    messages = [
        {"role": "system", "content": "You answer questions about videos."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Frames at 0.0s, 1.0s, 2.0s:"},
                *({"type": "image", "image": frame} for frame in frames),
                {"type": "text", "text": "What colour appears first?"},
            ],
        },
        {"role": "assistant", "content": "<think>need more</think><frames>3.0</frames>"},
        {"role": "user", "content": [{"type": "image", "image": rgba}, {"type": "text", "text": "3.0s"}]},
    ]
    start = len(model_server.requests)
    with client(model_server) as chat:
        reply = chat(messages)
    assert isinstance(reply, str) and reply
    [request] = model_server.requests[start:]
    assert (request.messages, request.images, request.status) == (4, 4, 200)
    assert request.image_sizes == [*sizes, (80, 60)]
    assert request.max_tokens == 8 and request.body["temperature"] == 0.0
    assert "seed" not in request.body


def test_the_tiny_model_is_deterministic_and_honours_the_reply_cap(model_server):
    with client(model_server, reply_tokens=3, seed=7) as chat:
        first, second = chat(ask()), chat(ask())
    assert first == second
    assert [r.max_tokens for r in model_server.requests[-2:]] == [3, 3]
    assert model_server.requests[-1].body["seed"] == 7


def test_server_errors_are_retried_until_the_reply(scripted):
    scripted.fail_next(2, status=500)
    with client(scripted) as chat:
        assert chat(ask()) == "<answer>A</answer>"
    assert [r.status for r in scripted.requests] == [500, 500, 200]


def test_retry_after_of_a_429_is_honoured(scripted):
    scripted.fail_next(1, status=429, retry_after=0.3)
    with client(scripted, backoff=0.001) as chat:
        assert chat(ask()) == "<answer>A</answer>"
    first, second = scripted.requests
    assert (first.status, second.status) == (429, 200)
    assert second.time - first.time >= 0.3


@pytest.mark.parametrize("header", ["inf", "1e12", "Fri, 01 Jan 2099 00:00:00 GMT", "61"])
def test_a_retry_after_beyond_the_cap_is_a_failure_not_a_sleep(scripted, header):
    scripted.fail_next(1, status=503, retry_after=header)
    began = time.monotonic()
    with client(scripted, backoff=0.001) as chat, pytest.raises(ChatFailure, match="more than the 60 s"):
        chat(ask())
    assert time.monotonic() - began < 5 and len(scripted.requests) == 1


def test_an_http_date_retry_after_is_honoured_within_the_cap(scripted):
    soon = email.utils.formatdate(time.time() + 1.5, usegmt=True)  # whole seconds: waits 0.5-1.5 s
    scripted.fail_next(1, status=429, retry_after=soon)
    with client(scripted, backoff=0.001, max_wait=3) as chat:
        assert chat(ask()) == "<answer>A</answer>"
    first, second = scripted.requests
    assert 0.4 <= second.time - first.time < 3


def test_the_cap_is_configurable_and_unreadable_headers_fall_back_to_backoff(scripted):
    scripted.fail_next(1, status=429, retry_after="2")
    with client(scripted, backoff=0.001, max_wait=1) as chat, pytest.raises(ChatFailure, match="1 s allowed"):
        chat(ask())
    scripted.fail_next(2, status=429, retry_after="soon-ish")
    with client(scripted, backoff=0.001) as chat:
        assert chat(ask()) == "<answer>A</answer>"


def test_backoff_grows_exponentially(scripted):
    scripted.fail_next(3, status=503)
    with client(scripted, backoff=0.05) as chat:
        chat(ask())
    times = [r.time for r in scripted.requests]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert [r.status for r in scripted.requests] == [503, 503, 503, 200]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2


def test_a_client_error_is_not_retried(scripted):
    scripted.fail_next(1, status=400)
    with client(scripted) as chat, pytest.raises(ChatFailure, match="HTTP 400") as failure:
        chat(ask())
    assert "not retried" in failure.value.reason
    assert len(scripted.requests) == 1


def test_persistent_failure_names_status_and_attempts(scripted):
    scripted.fail_next(10, status=502)
    with (
        client(scripted, attempts=4) as chat,
        pytest.raises(ChatFailure, match="after 4 attempts") as failure,
    ):
        chat(ask())
    assert "HTTP 502" in str(failure.value)
    assert len(scripted.requests) == 4


def test_a_timeout_is_retried():
    # The stalled request keeps the first scripted reply, but its client has gone by the time it answers.
    with ChatServer(script=["too late", "on time"]) as server:
        server.hang_next(1, seconds=1.5)
        with client(server, timeout=0.3) as chat:
            assert chat(ask()) == "on time"
        assert len(server.requests) == 2


def test_timeouts_every_time_fail_with_the_error_and_count(scripted):
    scripted.hang_next(2, seconds=1.0)
    with client(scripted, timeout=0.2, attempts=2) as chat, pytest.raises(ChatFailure) as failure:
        chat(ask())
    assert "ReadTimeout" in str(failure.value) and "after 2 attempts" in str(failure.value)


def test_connection_refused_is_retried_then_fails():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chat = OpenAIChat(f"http://127.0.0.1:{port}/v1", "tiny", attempts=3, backoff=0.01)
    started = time.monotonic()
    with chat, pytest.raises(ChatFailure, match=r"after 3 attempts; last: ConnectError"):
        chat(ask())
    assert time.monotonic() - started < 5


def test_an_empty_reply_is_a_failure_not_an_answer():
    with ChatServer(script=[""]) as server, client(server) as chat, pytest.raises(ChatFailure, match="empty"):
        chat(ask())


def test_api_key_from_argument_or_environment(scripted, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    with client(scripted, api_key="sk-test") as chat:
        chat(ask())
    with client(scripted) as chat:
        chat(ask())
    monkeypatch.delenv("OPENAI_API_KEY")
    with client(scripted) as chat:
        chat(ask())
    assert [r.authorization for r in scripted.requests] == ["Bearer sk-test", "Bearer from-env", None]
