"""Decoupled per-step GRPO advantages (LOVE-R1's decoupled RL, on one trajectory per episode).

A step is one assistant reply: a run of response tokens with mask 1 (the environment's turns between them
have mask 0). Each step's reward sits on its last token (`place_step_scores`). The advantage of step k of an
episode is its reward normalised across the GRPO group's episodes that have a step k, and it is applied to
that step's tokens only; environment tokens get none. A step that only one episode of its group reached has
no baseline and gets 0.

Why steps inside one trajectory rather than one training sample per step (LOVE-R1's decoupled contexts,
which verl 0.9.1's v1 agent loop also accepts): every step of an episode shares its prefix (LOVE-R1's
overview is ~25k tokens as images), so one sample per step would run that prefix through the actor once per step; and one
trajectory per episode keeps verl's reward manager, metrics and rollout log-probs as they are for both
modes. The cost: a step's advantage is computed in its full context, which is exactly the context the
policy acted in.
"""

from __future__ import annotations

from collections import defaultdict

import torch


def response_steps(mask: torch.Tensor) -> list[tuple[int, int]]:
    """The [start, end) token ranges of the runs of 1s in one response mask: the assistant's replies."""
    steps, start = [], None
    for position, value in enumerate(mask.tolist()):
        if value and start is None:
            start = position
        elif not value and start is not None:
            steps.append((start, position))
            start = None
    if start is not None:
        steps.append((start, len(mask)))
    return steps


def place_step_scores(mask: torch.Tensor, scores: list[float]) -> torch.Tensor:
    """Token-level rewards for one response: each step's score on its last token. Every reply is one run of
    generated tokens, so the counts agree; should they not (a mask changed after the rollout), the steps
    without a score get 0 and extra scores are dropped, and the trainer counts it (`episode/step_mismatch`)."""
    rewards = torch.zeros(mask.shape, dtype=torch.float32)
    for (_, end), score in zip(response_steps(mask), scores, strict=False):
        rewards[end - 1] = score
    return rewards


def step_grpo_advantages(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index,
    epsilon: float = 1e-6,
    norm_adv_by_std: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns), both (batch, response length): step k's normalised reward on its tokens."""
    steps = [response_steps(row) for row in response_mask]
    rewards = [
        [float(token_level_rewards[b, start:end].sum()) for start, end in row] for b, row in enumerate(steps)
    ]
    groups: dict[tuple, list[float]] = defaultdict(list)
    for b, row in enumerate(rewards):
        for k, reward in enumerate(row):
            groups[(index[b], k)].append(reward)
    advantages = torch.zeros_like(token_level_rewards, dtype=torch.float32)
    for b, row in enumerate(steps):
        for k, (start, end) in enumerate(row):
            group = torch.tensor(groups[(index[b], k)])
            if len(group) < 2:
                continue
            advantage = rewards[b][k] - float(group.mean())
            if norm_adv_by_std:
                advantage /= float(group.std()) + epsilon
            advantages[b, start:end] = advantage  # a step's tokens only: the environment's stay 0
    return advantages, advantages
