"""verl's generation-server interface over the transformers core: an in-process LLM client for verl's
agent-loop worker in the agent-loop tests and the rollout benchmark (training itself runs verl's vLLM server).

`HFGenerationServer.generate(...)` has the signature of verl's `LLMServerClient.generate` and returns its
`TokenOutput`, so verl's agent-loop worker and our agent loop call it exactly as they call vLLM's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from verl.workers.rollout.replica import TokenOutput

from sparse_video_r1.generation.hf_generator import HFGenerator


class HFGenerationServer:
    def __init__(
        self,
        model_path: str | Path,
        *,
        prompt_length: int,
        response_length: int,
        max_model_len: int | None = None,
        device: str = "cpu",
    ) -> None:
        self.generator = HFGenerator(model_path, device=device)
        self.prompt_length = prompt_length
        self.response_length = response_length
        self.max_model_len = max_model_len or prompt_length + response_length
        self.global_steps = 0

    def _max_tokens(self, prompt_len: int, sampling_params: dict[str, Any]) -> int:
        """vLLM server's rule: an explicit limit, else what is left of the response budget; always >= 1."""
        room = self.max_model_len - prompt_len
        if room < 1:
            raise ValueError(f"a prompt of {prompt_len} tokens leaves no room within {self.max_model_len}")
        limit = sampling_params.get("max_tokens", sampling_params.get("max_new_tokens"))
        if limit is None:
            limit = min(self.response_length, self.prompt_length + self.response_length - prompt_len)
        return max(1, min(int(limit), room))

    async def generate(
        self,
        request_id: str,
        *,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        image_data: list[Any] | None = None,
        video_data: list[Any] | None = None,
        **kwargs: Any,
    ) -> TokenOutput:
        if video_data:
            raise NotImplementedError("this server takes frames as images, not videos")
        params = dict(sampling_params)
        generation = await asyncio.to_thread(
            self.generator.generate,
            list(prompt_ids),
            max_tokens=self._max_tokens(len(prompt_ids), params),
            images=image_data or (),
            temperature=float(params.get("temperature", 1.0)),
            top_p=float(params.get("top_p", 1.0)),
            top_k=int(params.get("top_k", -1)),
            repetition_penalty=float(params.get("repetition_penalty", 1.0)),
            seed=params.get("seed"),
        )
        return TokenOutput(
            token_ids=generation.token_ids,
            log_probs=generation.log_probs if params.get("logprobs") else None,
            stop_reason="completed",
            extra_fields={"global_steps": self.global_steps},
        )
