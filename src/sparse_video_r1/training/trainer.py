"""Our verl trainer: verl's synchronous PPO trainer plus what our episodes did, in the step's metrics.

verl logs the reward and the response length of each step; it does not log what the reward function
returns beside the score, nor episodes that never ran. This subclass adds `episode/*` metrics (accuracy,
format rate, frames, rounds, request and invalid-action rates, failed episodes) from the records our
agent loop attaches, and names every failed episode's row in the log. It is registered with verl's own
trainer registry as `trainer.v1.trainer_mode=svr1` (see `verl_plugin.py`).
"""

from __future__ import annotations

import logging

import transfer_queue as tq
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from sparse_video_r1.training.episode_metrics import episode_metrics, failures

logger = logging.getLogger(__name__)
TRAINER_MODE = "svr1"


@register_trainer(TRAINER_MODE)
class EpisodeTrainer(PPOTrainerSync):
    def _compute_metrics(self, batch, metrics, timing_raw, global_steps, epoch):
        super()._compute_metrics(batch, metrics, timing_raw, global_steps, epoch)
        keys = [key for key, tag in zip(batch.keys, batch.tags, strict=True) if not tag.get("is_padding")]
        if not keys:
            return
        data = tq.kv_batch_get(keys=keys, partition_id=batch.partition_id, select_fields=["extra_fields"])
        extra = [field if isinstance(field, dict) else {} for field in data.pop("extra_fields").tolist()]
        records = [field.get("episode") or {} for field in extra]
        accuracies = [float((field.get("reward_extra_info") or {}).get("acc", 0.0)) for field in extra]
        metrics.update(episode_metrics(records, accuracies))
        for failure in failures(records):
            logger.warning(
                "step %s: the episode of row %s did not run: %s", global_steps, failure.row, failure.reason
            )
