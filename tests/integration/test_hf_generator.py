"""The transformers generator keeps every tensor it makes on the model's device (a GPU here needs no GPU to
check): a tensor made on the CPU and mixed with CUDA logits broke `svr1 eval --device cuda` and gpu_check."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch.overrides import TorchFunctionMode

from sparse_video_r1.generation import hf_generator
from sparse_video_r1.generation.hf_generator import HFGenerator

FACTORIES = {torch.tensor, torch.as_tensor, torch.zeros, torch.ones, torch.full, torch.empty, torch.arange}


class TensorsMadeHere(TorchFunctionMode):
    """Records each tensor factory call made by the generator's own code (not transformers') that names no
    device: such a tensor lands on the CPU whatever device the model is on."""

    def __init__(self) -> None:
        super().__init__()
        self.deviceless: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in FACTORIES and "device" not in kwargs:
            caller = inspect.stack()[1]
            if caller.filename == hf_generator.__file__:
                self.deviceless.append(
                    f"{func.__name__} at line {caller.lineno}: {caller.code_context[0].strip()}"
                )
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def generator(tiny_model_dir):
    return HFGenerator(tiny_model_dir)


def test_every_tensor_the_generator_makes_names_the_models_device(generator):
    prompt = generator.tokenizer.encode("<|im_start|>user\nWhat colour?<|im_end|>\n<|im_start|>assistant\n")
    with TensorsMadeHere() as made:
        generated = generator.generate(prompt, max_tokens=4, temperature=1.0, seed=0)
        greedy = generator.generate(prompt, max_tokens=4, temperature=0)
        scored = generator.score(prompt, generated.token_ids)
    assert made.deviceless == []
    assert len(generated.log_probs) == len(generated.token_ids) > 0 and len(greedy.token_ids) > 0
    assert scored == pytest.approx(generated.log_probs, abs=1e-4)
