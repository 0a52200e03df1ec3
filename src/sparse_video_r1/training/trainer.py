"""Our verl trainer: verl's synchronous PPO trainer plus what our episodes did, in the step's metrics.

verl logs the reward and the response length of each step; it does not log what the reward function
returns beside the score, nor episodes that never ran. This subclass adds `episode/*` metrics (accuracy,
format rate, frames, rounds, request and invalid-action rates, answers before and after the evidence was on
screen, failed episodes, GRPO groups without signal) from the records our agent loop attaches, and names
every failed episode's row in the log. It is registered with verl's own
trainer registry as `trainer.v1.trainer_mode=svr1` (see `verl_plugin.py`).

With `algorithm.adv_estimator=step_grpo` (registered here through verl's `register_adv_est`), each
episode's reward is given per assistant step: before verl computes advantages, this trainer puts each
step's score (reward/video_qa.py `step_scores`) on that step's last token of `rm_scores`, verl calls the
estimator (reward/step_grpo.py), and the per-episode totals are put back for the step's metrics. verl's own
GRPO path would only see the total, and a registered estimator gets no episode records.

With `svr1.sync_probe_file` set, after every weight sync it asks each rollout replica for its log-probs of
one fixed token sequence and appends them to that JSONL file: with the step's checkpoint, a check that the
rollout really holds the actor's new weights (tests/e2e/test_learning.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import ray
import torch
import transfer_queue as tq
from tensordict import TensorDict
from verl.trainer.ppo import core_algos
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from sparse_video_r1.reward.step_grpo import place_step_scores, response_steps, step_grpo_advantages
from sparse_video_r1.reward.video_qa import step_scores
from sparse_video_r1.training.episode_metrics import episode_metrics, failures, group_metrics

logger = logging.getLogger(__name__)
TRAINER_MODE = "svr1"
# The fixed sequence the rollout scores after each sync: a whole exchange in the protocol.
SYNC_PROBE = (
    "<|im_start|>user\nWhat colour is the background? Options: A. red B. green<|im_end|>\n"
    "<|im_start|>assistant\n<think>It is green in every frame shown.</think><answer>B</answer><|im_end|>"
)


STEP_GRPO = "step_grpo"


@core_algos.register_adv_est(STEP_GRPO)
def step_grpo(token_level_rewards, response_mask, index=None, config=None, **_):
    norm = config.get("norm_adv_by_std_in_grpo", True) if config is not None else True
    return step_grpo_advantages(token_level_rewards, response_mask, index, norm_adv_by_std=norm)


@register_trainer(TRAINER_MODE)
class EpisodeTrainer(PPOTrainerSync):
    def _compute_advantage(self, batch, metrics):
        if self.config.algorithm.adv_estimator != STEP_GRPO:
            return super()._compute_advantage(batch, metrics)
        fields = ["rm_scores", "response_mask", "extra_fields", "reward_model", "extra_info"]
        data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=fields)
        reward_kwargs = self.config.reward.custom_reward_function.get("reward_kwargs") or {}
        format_weight = float(reward_kwargs.get("format_weight", 0.1))
        padding = [bool(tag.get("is_padding")) for tag in batch.tags]
        per_step, every_score, mismatched = [], [], 0
        for mask, extra, reward_model, info, pad in zip(
            data["response_mask"].unbind(),
            data.pop("extra_fields").tolist(),
            data.pop("reward_model").tolist(),
            data.pop("extra_info").tolist(),
            padding,
            strict=True,
        ):
            episode = (extra or {}).get("episode") or {}
            truth, spans = (reward_model or {}).get("ground_truth"), (info or {}).get("spans")
            scores = step_scores(episode, truth, spans, format_weight=format_weight)
            per_step.append(place_step_scores(mask, scores).to(data["rm_scores"].dtype))
            if not pad:
                every_score += scores
                mismatched += len(response_steps(mask)) != len(scores)
        metrics["episode/step_score"] = sum(every_score) / len(every_score) if every_score else 0.0
        metrics["episode/step_mismatch"] = float(mismatched)  # replies vs runs of generated tokens: 0
        if mismatched:
            logger.warning("%d episodes have a reply count unlike their response mask's steps", mismatched)
        self._put(batch, torch.nested.as_nested_tensor(per_step, layout=torch.jagged))
        try:
            return super()._compute_advantage(batch, metrics)
        finally:
            self._put(batch, data["rm_scores"])  # the totals, for the step's metrics

    @staticmethod
    def _put(batch, rm_scores) -> None:
        fields = TensorDict({"rm_scores": rm_scores}, batch_size=len(batch))
        tq.kv_batch_put(keys=batch.keys, partition_id=batch.partition_id, fields=fields)

    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        keys = [key for key, tag in zip(batch.keys, batch.tags, strict=True) if not tag.get("is_padding")]
        if not keys:
            return
        fields = ["extra_fields", "extra_info", "uid", "rm_scores"]
        data = tq.kv_batch_get(keys=keys, partition_id=batch.partition_id, select_fields=fields)
        extra = [field if isinstance(field, dict) else {} for field in data.pop("extra_fields").tolist()]
        records = [field.get("episode") or {} for field in extra]
        accuracies = [float((field.get("reward_extra_info") or {}).get("acc", 0.0)) for field in extra]
        spans = [(info or {}).get("spans") for info in data.pop("extra_info").tolist()]
        metrics.update(episode_metrics(records, accuracies, spans))
        scores = [float(row.sum()) for row in data["rm_scores"].unbind()]
        metrics.update(group_metrics([str(uid) for uid in data.pop("uid").tolist()], accuracies, scores))
        for failure in failures(records):
            logger.warning(
                "step %s: the episode of row %s did not run: %s", global_steps, failure.row, failure.reason
            )

    def on_step_end(self):
        super().on_step_end()  # the actor's new weights go to the rollout replicas
        probe_file = self.config.svr1.get("sync_probe_file")
        if probe_file:
            self._record_sync_probe(Path(probe_file))

    def _record_sync_probe(self, path: Path) -> None:
        prompt_ids = self.tokenizer.encode(SYNC_PROBE)
        params = {"max_tokens": 1, "temperature": 1.0, "prompt_logprobs": 0}
        outputs = ray.get([
            replica.server_handle.generate.remote(
                prompt_ids=prompt_ids, sampling_params=dict(params), request_id=f"sync-probe-{self.global_steps}"
            )
            for replica in self.llm_server_manager.get_replicas()
        ])  # fmt: skip
        with path.open("a") as file:
            for rank, output in enumerate(outputs):
                # verl pads one 0.0 for the last prompt token, which nothing follows.
                log_probs = [row[0] for row in output.extra_fields["prompt_logprobs"][:-1]]
                record = {
                    "step": self.global_steps,
                    "replica": rank,
                    "token_ids": prompt_ids,
                    "log_probs": log_probs,
                }
                file.write(json.dumps(record) + "\n")
