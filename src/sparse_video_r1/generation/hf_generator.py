"""Token-in/token-out generation with a transformers Qwen2.5-VL: the core of the `hf` evaluation backend
(checkpoints vLLM cannot load) and of the tests' in-process LLM client.

Prompts arrive as verl sends them to vLLM: token ids with every image's `<|image_pad|>` run already
expanded, plus the cumulative list of images. Sampling follows vLLM's conventions (`temperature` 0 is
greedy, `top_k` -1 is off) and never samples a vision placeholder, as verl's vLLM server bans them.
Log-probs are those of the sampled tokens under log_softmax(logits / temperature) over the whole
vocabulary: what verl's actor computes for the same tokens.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image


@dataclass(frozen=True)
class Generation:
    token_ids: list[int]
    log_probs: list[float]


class HFGenerator:
    """One transformers model on one device; generations run one at a time (thread-safe)."""

    def __init__(
        self, model_path: str | Path, *, device: str = "cpu", dtype: torch.dtype = torch.float32
    ) -> None:
        from transformers import AutoModelForImageTextToText, AutoProcessor
        from verl.workers.rollout.utils import get_vision_placeholder_token_ids

        self.processor = AutoProcessor.from_pretrained(model_path)
        self.tokenizer = self.processor.tokenizer
        self.model = AutoModelForImageTextToText.from_pretrained(model_path, dtype=dtype).to(device).eval()
        self.device = torch.device(device)
        self.banned_token_ids = get_vision_placeholder_token_ids(self.processor)
        self.image_token_id = self.processor.image_token_id
        self.video_token_id = self.processor.video_token_id
        self.stop_token_ids = self._stop_token_ids()
        self._lock = threading.Lock()

    def _stop_token_ids(self) -> list[int]:
        eos = self.model.generation_config.eos_token_id
        eos = [eos] if isinstance(eos, int) else list(eos or [])
        return sorted({*eos, self.tokenizer.convert_tokens_to_ids("<|im_end|>")})

    def image_inputs(
        self, images: Sequence[Image.Image], prompt_ids: Sequence[int]
    ) -> dict[str, torch.Tensor]:
        """Pixel values and grids for `images`, checked against the placeholder runs in `prompt_ids`."""
        placeholders = sum(1 for token in prompt_ids if token == self.image_token_id)
        if not images:
            if placeholders:
                raise ValueError(f"the prompt holds {placeholders} image tokens but no image was given")
            return {}
        inputs = self.processor.image_processor(images=list(images), return_tensors="pt")
        merge = self.processor.image_processor.merge_size
        expected = int(inputs["image_grid_thw"].prod(dim=1).sum()) // merge**2
        if expected != placeholders:
            raise ValueError(
                f"the prompt holds {placeholders} image tokens but its {len(images)} images need {expected}: "
                "were the images appended in the order of their turns?"
            )
        return {"pixel_values": inputs["pixel_values"], "image_grid_thw": inputs["image_grid_thw"]}

    @torch.no_grad()
    def generate(
        self,
        prompt_ids: Sequence[int],
        *,
        max_tokens: int,
        images: Sequence[Image.Image] = (),
        video_inputs: dict[str, torch.Tensor] | None = None,  # the processor's video tensors
        temperature: float = 1.0,
        top_p: float = 1.0,
        top_k: int = -1,
        repetition_penalty: float = 1.0,
        seed: int | None = None,
    ) -> Generation:
        input_ids = torch.tensor([list(prompt_ids)], device=self.device)
        vision = {
            k: v.to(self.device)
            for k, v in {**self.image_inputs(images, prompt_ids), **(video_inputs or {})}.items()
        }
        greedy = temperature <= 0
        options: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "do_sample": not greedy,
            "suppress_tokens": self.banned_token_ids,
            "eos_token_id": self.stop_token_ids,
            "pad_token_id": self.tokenizer.pad_token_id,
            "repetition_penalty": repetition_penalty,
            "output_logits": True,
            "return_dict_in_generate": True,
        }
        if not greedy:
            options.update(temperature=temperature, top_p=top_p, top_k=top_k if top_k > 0 else 0)
        with self._lock:
            if seed is not None:
                torch.manual_seed(seed)
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                mm_token_type_ids=(input_ids == self.image_token_id).long()
                + 2 * (input_ids == self.video_token_id),
                **vision,
                **options,
            )
        new = out.sequences[0, input_ids.shape[1] :].tolist()
        # generate() pads finished sequences; a single sequence stops right at its stop token.
        logits = torch.stack(out.logits[: len(new)], dim=1)[0].float()
        scale = 1.0 if greedy else temperature
        chosen = torch.tensor(new, device=logits.device).unsqueeze(
            1
        )  # on the model's device, as every tensor here
        log_probs = torch.log_softmax(logits / scale, dim=-1).gather(1, chosen).squeeze(1)
        return Generation(new, log_probs.tolist())

    @torch.no_grad()
    def score(
        self,
        prompt_ids: Sequence[int],
        continuation_ids: Sequence[int],
        *,
        images: Sequence[Image.Image] = (),
        temperature: float = 1.0,
    ) -> list[float]:
        """Log-probs of `continuation_ids` after the prompt, in one forward pass (teacher forcing)."""
        ids = torch.tensor([[*prompt_ids, *continuation_ids]], device=self.device)
        vision = {k: v.to(self.device) for k, v in self.image_inputs(images, ids[0].tolist()).items()}
        with self._lock:
            logits = self.model(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                mm_token_type_ids=(ids == self.image_token_id).long(),
                **vision,
            ).logits[0, len(prompt_ids) - 1 : -1]
        scale = temperature if temperature > 0 else 1.0
        targets = torch.tensor(list(continuation_ids), device=self.device).unsqueeze(1)
        return torch.log_softmax(logits.float() / scale, dim=-1).gather(1, targets).squeeze(1).tolist()

    def load_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Take new weights (a trainer's weight sync), matched by parameter name."""
        with self._lock:
            _, unexpected = self.model.load_state_dict(state_dict, strict=False)
        if unexpected:
            raise KeyError(f"weights for unknown parameters: {unexpected[:5]}")
