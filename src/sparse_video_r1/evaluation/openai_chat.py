"""A chat client for any OpenAI-compatible chat-completions server (GPT-4o, `vllm serve`, ...).

Evaluation holds chats in our internal form (text and PIL image parts); this client turns images into
base64 JPEG `image_url` parts, posts the chat and returns the reply text. A reply we could not get is a
`ChatFailure`, never an empty answer: the evaluator records it as a failure and does not score it.

It speaks HTTP with httpx rather than through the `openai` package, because the retries have to follow our
rules, which `openai`'s built-in retries cannot be configured to do: it also retries 408 and 409, its
backoff starts at a fixed 0.5 s (tests need ~10 ms), and it does not tell how many attempts it made.
Here: connection errors, timeouts, 429 and 5xx are retried with exponential backoff (`backoff`,
2 x `backoff`, 4 x `backoff`, ...), or after the server's Retry-After when it sends one (seconds or an
HTTP date); other 4xx fail at once. No wait is longer than `max_wait` seconds: a server that asks for more
(or for forever) gets a recorded failure rather than a run that sleeps. `attempts` counts every try, the
first included.
"""

from __future__ import annotations

import base64
import io
import math
import os
import time
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from PIL import Image


class ChatFailure(RuntimeError):
    """No usable reply: what failed (status code or error) and after how many attempts."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def image_data_uri(image: Image.Image, quality: int = 90) -> str:
    """`image` as a `data:image/jpeg;base64,...` URI (JPEG has no alpha or palette: converted to RGB)."""
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=quality)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def to_openai_messages(messages: list[dict]) -> list[dict]:
    """Our messages (text and PIL image parts) in the chat-completions form (text and image_url parts)."""
    converted = []
    for message in messages:
        content = message["content"]
        if not isinstance(content, str):
            parts = []
            for part in content:
                if part["type"] == "text":
                    parts.append({"type": "text", "text": part["text"]})
                elif part["type"] == "image":
                    parts.append({"type": "image_url", "image_url": {"url": image_data_uri(part["image"])}})
                else:
                    raise ValueError(f"unsupported content part type: {part['type']!r}")
            content = parts
        converted.append({"role": message["role"], "content": content})
    return converted


def _retry_after(response: httpx.Response) -> float | None:
    """The server's Retry-After in seconds (a number, possibly inf, or an HTTP date), or None when absent
    or unreadable."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return None
    return None if math.isnan(seconds) else max(0.0, seconds)


class OpenAIChat:
    """`chat(messages) -> reply text`, against `{base_url}/chat/completions` (base_url like `.../v1`)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        reply_tokens: int = 512,
        temperature: float = 0.0,
        timeout: float = 120,
        attempts: int = 5,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        seed: int | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.reply_tokens = reply_tokens
        self.temperature = temperature
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_wait = max_wait
        self.seed = seed
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(headers=headers, timeout=timeout)

    def __call__(self, messages: list[dict]) -> str:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": to_openai_messages(messages),
            "max_tokens": self.reply_tokens,
            "temperature": self.temperature,
        }
        if self.seed is not None:
            payload["seed"] = self.seed
        response = self._post(payload)
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as error:
            raise ChatFailure(f"malformed response from {self.url}: {error!r}") from error
        if not isinstance(content, str) or not content:
            raise ChatFailure(f"empty reply from {self.url} (content={content!r})")
        return content

    def _post(self, payload: dict[str, Any]) -> httpx.Response:
        """POST with retries; the 2xx response, or ChatFailure."""
        for attempt in range(1, self.attempts + 1):
            delay = self.backoff * 2 ** (attempt - 1)
            try:
                response = self._client.post(self.url, json=payload)
            except httpx.TransportError as error:  # connection errors and timeouts
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.is_success:
                    return response
                failure = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code != 429 and response.status_code < 500:
                    raise ChatFailure(f"{self.url} answered {failure} (not retried; attempt {attempt})")
                retry_after = _retry_after(response)
                if retry_after is not None:
                    if retry_after > self.max_wait and attempt < self.attempts:
                        raise ChatFailure(
                            f"{self.url} answered {failure} and asked to wait {retry_after:g} s, more than "
                            f"the {self.max_wait:g} s allowed (--api-max-wait); attempt {attempt}"
                        )
                    delay = retry_after
            if attempt < self.attempts:
                time.sleep(min(delay, self.max_wait))
        plural = "s" if self.attempts > 1 else ""
        raise ChatFailure(f"{self.url} failed after {self.attempts} attempt{plural}; last: {failure}")

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAIChat:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
