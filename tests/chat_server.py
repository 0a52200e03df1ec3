"""A real local chat-completions server for tests: the OpenAI protocol over HTTP on 127.0.0.1.

It answers POST /v1/chat/completions with the tiny Qwen2.5-VL (the images of `image_url` data URIs are
decoded and given to the model), or with the replies of a `script` in order. It can be told to fail
(`fail_next`) or to stall (`hang_next`), and it logs every well-formed chat request it receives (`requests`).

    with ChatServer(tiny_model_dir) as server:          # or ChatServer(script=["<answer>A</answer>"])
        server.fail_next(2, status=500)
        reply = OpenAIChat(server.base_url, "tiny")(messages)
        assert len(server.requests) == 3
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from PIL import Image


@dataclass
class ChatRequest:
    """What one request carried, and how the server answered it."""

    time: float  # time.monotonic() on arrival
    messages: int
    images: int
    image_sizes: list[tuple[int, int]]
    max_tokens: int | None
    authorization: str | None
    body: dict[str, Any]
    status: int = 0  # the status code the server sent (0 until it answered)


@dataclass
class _Fault:
    status: int | None = None  # fail with this status...
    retry_after: float | str | None = None  # a number of seconds, or the header's text as sent
    hang: float = 0.0  # ...or stall this many seconds before answering normally


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def decode_data_uri(url: str) -> Image.Image:
    if not url.startswith("data:image/") or ";base64," not in url:
        raise ValueError(f"only base64 image data URIs are served here, not {url[:40]!r}")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    image.load()
    return image


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> _Reply:
    return _Reply(
        status, {"error": {"message": message, "type": "test_server", "code": status}}, headers or {}
    )


class ChatServer:
    """A chat-completions server on a free port of 127.0.0.1, in a background thread; a context manager."""

    def __init__(self, model_dir: str | Path | None = None, *, script: list[str] | None = None) -> None:
        if (model_dir is None) == (script is None):
            raise ValueError("give either a model directory or a script of replies")
        self.script = deque(script or [])
        self.requests: list[ChatRequest] = []
        self._faults: deque[_Fault] = deque()
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()
        self._stopping = threading.Event()
        self.processor = self.model = None
        if model_dir is not None:
            from transformers import AutoModelForImageTextToText, AutoProcessor

            self.processor = AutoProcessor.from_pretrained(model_dir)
            self.model = AutoModelForImageTextToText.from_pretrained(model_dir).eval()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def fail_next(self, n: int, status: int = 500, retry_after: float | str | None = None) -> None:
        """The next `n` requests get `status` (with a Retry-After header when `retry_after` is given)."""
        with self._lock:
            self._faults.extend(_Fault(status=status, retry_after=retry_after) for _ in range(n))

    def hang_next(self, n: int, seconds: float) -> None:
        """The next `n` requests wait `seconds` before their answer (to make clients time out)."""
        with self._lock:
            self._faults.extend(_Fault(hang=seconds) for _ in range(n))

    def start(self) -> ChatServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # ends any hang at once
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=10)
        self._httpd.server_close()

    def __enter__(self) -> ChatServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- serving --------------------------------------------------------------------------------------

    def _answer(self, path: str, raw: bytes, authorization: str | None) -> tuple[_Reply, ChatRequest | None]:
        if path.rstrip("/") != "/v1/chat/completions":
            return _error(404, f"no route {path}"), None
        try:
            body = json.loads(raw)
            messages = body["messages"]
            images = [
                decode_data_uri(part["image_url"]["url"])
                for message in messages
                if not isinstance(message["content"], str)
                for part in message["content"]
                if part["type"] == "image_url"
            ]
        except (ValueError, KeyError, TypeError) as error:
            return _error(400, f"bad request: {error!r}"), None
        request = ChatRequest(
            time=time.monotonic(),
            messages=len(messages),
            images=len(images),
            image_sizes=[image.size for image in images],
            max_tokens=body.get("max_tokens"),
            authorization=authorization,
            body=body,
        )
        with self._lock:
            self.requests.append(request)
            fault = self._faults.popleft() if self._faults else _Fault()
            # Scripted replies go in order of arrival (a stalled request keeps the one it arrived for).
            scripted = (
                self.script.popleft() if self.model is None and fault.status is None and self.script else None
            )
        if fault.status is not None:
            after = fault.retry_after
            headers = (
                {} if after is None else {"Retry-After": after if isinstance(after, str) else f"{after:g}"}
            )
            return _error(fault.status, f"told to fail with {fault.status}", headers), request
        if fault.hang and self._stopping.wait(fault.hang):
            return _error(503, "server stopping"), request
        if self.model is None:
            if scripted is None:
                return _error(400, "the script of replies is exhausted"), request
            text, finish = scripted, "stop"
        else:
            text, finish = self._generate(messages, images, body.get("max_tokens") or 16)
        completion = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "tiny"),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            ],
        }
        return _Reply(200, completion), request

    def _generate(self, messages: list[dict], images: list[Image.Image], max_tokens: int) -> tuple[str, str]:
        """The tiny model's greedy reply to the chat, and its finish reason."""
        chat = [
            {
                "role": message["role"],
                "content": message["content"]
                if isinstance(message["content"], str)
                else [
                    {"type": "image"}
                    if part["type"] == "image_url"
                    else {"type": "text", "text": part["text"]}
                    for part in message["content"]
                ],
            }
            for message in messages
        ]
        text = self.processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        inputs = self.processor(
            text=[text], images=[img.convert("RGB") for img in images] or None, return_tensors="pt"
        )
        with self._model_lock:
            output = self.model.generate(**inputs, max_new_tokens=max_tokens, do_sample=False)
        new = output[0, inputs["input_ids"].shape[1] :]
        reply = self.processor.decode(new, skip_special_tokens=True)
        return reply, "length" if len(new) >= max_tokens else "stop"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply, request = server._answer(self.path, raw, self.headers.get("Authorization"))
                if request is not None:
                    request.status = reply.status
                data = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout): nobody to answer
                    pass

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        return Handler
