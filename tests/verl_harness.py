"""verl's own rollout-side parts, in process on CPU: a composed trainer config, its AgentLoopWorker with our
generation server as its LLM client, and its RewardLoopWorker behind the handle the worker expects."""

from __future__ import annotations

import asyncio
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from hydra import compose, initialize_config_module
from verl.protocol import DataProto
from verl.workers.rollout.replica import TokenOutput

AGENT_LOOP_YAML = str(files("sparse_video_r1.agent") / "agent_loop.yaml")


def compose_config(model_dir: Path, *overrides: str, prompt_length=2048, response_length=1024):
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        return compose(
            config_name="ppo_trainer",
            overrides=[
                f"actor_rollout_ref.model.path={model_dir}",
                "actor_rollout_ref.rollout.name=vllm",  # the GPU backend's name; nothing of vLLM starts here
                f"actor_rollout_ref.rollout.prompt_length={prompt_length}",
                f"actor_rollout_ref.rollout.response_length={response_length}",
                f"actor_rollout_ref.rollout.agent.agent_loop_config_path={AGENT_LOOP_YAML}",
                "actor_rollout_ref.rollout.calculate_log_probs=true",
                "reward.custom_reward_function.path=pkg://sparse_video_r1.reward",
                "reward.custom_reward_function.name=compute_score",
                *overrides,
            ],
        )


class LocalActorHandle:
    """`handle.method.remote(...)` awaited in process: Ray's call transport, with the real worker behind it."""

    def __init__(self, worker: Any) -> None:
        self._worker = worker

    def __getattr__(self, name: str):
        method = getattr(self._worker, name)
        return type("RemoteMethod", (), {"remote": staticmethod(method)})


def make_batch(rows: list[dict], repeat: int = 1) -> DataProto:
    """A batch as verl's dataset and trainer hand it to the agent-loop worker (`repeat` = GRPO group size)."""
    rows = [row for row in rows for _ in range(repeat)]

    def column(key):
        values = np.empty(len(rows), dtype=object)
        values[:] = [row[key] for row in rows]
        return values

    return DataProto.from_dict(
        non_tensors={
            key: column(key)
            for key in ("raw_prompt", "extra_info", "agent_name", "index", "data_source", "reward_model")
        }
    )


def row(video: Path, duration: float, answer: str = "B", index: int = 0, fps: float = 30.0) -> dict:
    question, options = "What does the square do?", ["turns red", "moves left", "grows", "vanishes", "spins"]
    return {
        "raw_prompt": [{"role": "user", "content": question}],
        "extra_info": {
            "video": str(video),
            "duration": duration,
            "fps": fps,
            "question": question,
            "options": options,
            "index": index,
        },
        "agent_name": "svr1_episode",
        "index": index,
        "data_source": "synthetic",
        "reward_model": {"ground_truth": answer},
    }


class ScriptedServer:
    """Replies chosen by the caller, scored by the real model: verl's generate() contract, token for token.

    `replies` is one script that every rollout follows round by round, or a dict of scripts, one per
    rollout in the order the rollouts first call. Every round is recorded in `rounds[request_id]` as
    (prompt ids, images, reply ids).
    """

    def __init__(self, generator, replies: list[str] | dict[int, list[str]]) -> None:
        self.generator = generator
        self.replies = replies
        self.rounds: dict[str, list[tuple[list[int], list, list[int]]]] = {}

    @property
    def calls(self) -> list[tuple[str, int]]:
        """(request id, images sent) of every call, rollout by rollout."""
        return [(rid, len(images)) for rid, rounds in self.rounds.items() for _, images, _ in rounds]

    async def generate(
        self, request_id, *, prompt_ids, sampling_params, image_data=None, video_data=None, **_
    ):
        tokenizer = self.generator.tokenizer
        rounds = self.rounds.setdefault(request_id, [])
        script = (
            self.replies
            if isinstance(self.replies, list)
            else self.replies[list(self.rounds).index(request_id)]
        )
        ids = [*tokenizer.encode(script[len(rounds)]), tokenizer.convert_tokens_to_ids("<|im_end|>")]
        ids = ids[: sampling_params["max_tokens"]]
        images = list(image_data or [])
        rounds.append((list(prompt_ids), images, ids))
        log_probs = await asyncio.to_thread(
            self.generator.score, prompt_ids, ids, images=images, temperature=sampling_params["temperature"]
        )
        return TokenOutput(token_ids=ids, log_probs=log_probs, stop_reason="completed")
