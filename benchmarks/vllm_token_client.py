"""verl's token-in/token-out `generate()` contract over vLLM's AsyncLLM in this process, for the rollout
benchmark: what verl's vLLM server does with an agent loop's request, without Ray and HTTP around it.

Prompt ids arrive with every image's `<|image_pad|>` run expanded (as verl's agent loop builds them); verl
collapses each run to one token before handing the prompt to vLLM, which expands it again from the image,
and so does this client (verl's own helper). As verl's server does, it never samples a vision placeholder.
Log-probs are the sampled tokens'.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from verl.workers.rollout.replica import TokenOutput
from verl.workers.rollout.utils import get_vision_placeholder_token_ids, qwen2_5_vl_dedup_image_tokens


class VLLMTokenClient:
    def __init__(self, model_dir: Path, *, max_model_len: int, response_length: int, max_images: int = 16):
        from transformers import AutoProcessor
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        self.processor = AutoProcessor.from_pretrained(model_dir)
        self.banned = {token: -100.0 for token in get_vision_placeholder_token_ids(self.processor)}
        self.response_length = response_length
        self.max_model_len = max_model_len
        self.engine = AsyncLLM.from_engine_args(
            AsyncEngineArgs(
                model=str(model_dir),
                dtype="float32",
                enforce_eager=True,
                max_model_len=max_model_len,
                limit_mm_per_prompt={"image": max_images, "video": 0},
                kv_cache_memory_bytes=1 << 30,
            )
        )
        self._ids = itertools.count()

    async def generate(
        self, request_id: str, *, prompt_ids: list[int], sampling_params: dict[str, Any], image_data=None, **_
    ) -> TokenOutput:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        room = self.max_model_len - len(prompt_ids)
        params = SamplingParams(
            max_tokens=max(1, min(sampling_params.get("max_tokens", self.response_length), room)),
            temperature=float(sampling_params.get("temperature", 1.0)),
            top_p=float(sampling_params.get("top_p", 1.0)),
            top_k=int(sampling_params.get("top_k", -1)),
            logprobs=0,
            logit_bias=self.banned,
        )
        prompt = TokensPrompt(
            prompt_token_ids=qwen2_5_vl_dedup_image_tokens(list(prompt_ids), self.processor),
            multi_modal_data={"image": list(image_data)} if image_data else {},
        )
        async for result in self.engine.generate(prompt, params, f"{request_id}-{next(self._ids)}"):
            output = result.outputs[0]  # the last result holds the whole reply
        log_probs = [
            step[token].logprob for step, token in zip(output.logprobs, output.token_ids, strict=True)
        ]
        return TokenOutput(token_ids=list(output.token_ids), log_probs=log_probs, stop_reason="completed")

    def close(self) -> None:
        self.engine.shutdown()
