"""A chat backend over the transformers generation core: messages with PIL images in, reply text out.

Evaluation works on messages, not token streams: each round re-renders the conversation with the chat
template (training's agent loop keeps the generated token ids instead; the rules are the same Episode).
"""

from __future__ import annotations

from pathlib import Path

from sparse_video_r1.evaluation.methods import ContextFull
from sparse_video_r1.generation.hf_generator import HFGenerator

VIDEO_INPUTS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")


def _video_kwargs(videos: list[dict]) -> dict:
    """The processor's arguments for video parts (frames already chosen and sized, and the rate they were
    taken at, which sets Qwen's temporal positions)."""
    if not videos:
        return {}
    from transformers.video_utils import VideoMetadata

    return {
        "videos": [part["video"] for part in videos],
        "video_metadata": [
            VideoMetadata(
                total_num_frames=len(p["video"]), fps=p["fps"], frames_indices=list(range(len(p["video"])))
            )
            for p in videos
        ],
        "do_sample_frames": False,
    }


class HFChat:
    def __init__(
        self,
        model_path: str | Path,
        *,
        device: str = "cpu",
        reply_tokens: int = 256,
        temperature: float = 0.0,
        max_context: int = 16384,
        seed: int = 0,
    ) -> None:
        self.generator = HFGenerator(model_path, device=device)
        self.reply_tokens = reply_tokens
        self.temperature = temperature
        self.max_context = max_context
        self.seed = seed

    def __call__(self, messages: list[dict]) -> str:
        parts = [part for m in messages if isinstance(m["content"], list) for part in m["content"]]
        images = [part["image"] for part in parts if part["type"] == "image"]
        videos = [part for part in parts if part["type"] == "video"]
        template = [
            {**m, "content": [p if p["type"] == "text" else {"type": p["type"]} for p in m["content"]]}
            if isinstance(m["content"], list)
            else m
            for m in messages
        ]
        processor = self.generator.processor
        text = processor.apply_chat_template(template, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=[text], images=images or None, return_tensors="pt", **_video_kwargs(videos))
        prompt_ids = inputs["input_ids"][0].tolist()
        video_inputs = {k: inputs[k] for k in VIDEO_INPUTS if k in inputs}
        room = self.max_context - len(prompt_ids)
        if room < 16:
            raise ContextFull(f"{len(prompt_ids)} prompt tokens leave no room within {self.max_context}")
        generation = self.generator.generate(
            prompt_ids,
            max_tokens=min(self.reply_tokens, room),
            images=images,
            video_inputs=video_inputs,
            temperature=self.temperature,
            seed=self.seed,
        )
        return self.generator.tokenizer.decode(generation.token_ids, skip_special_tokens=True)
