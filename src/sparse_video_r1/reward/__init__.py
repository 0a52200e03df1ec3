"""Rule-based rewards; point verl at `reward.custom_reward_function.path=pkg://sparse_video_r1.reward`."""

from sparse_video_r1.reward.video_qa import compute_score

__all__ = ["compute_score"]
