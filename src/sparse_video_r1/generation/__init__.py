"""Token-in/token-out generation with transformers: the CPU rollout backend and evaluator core."""

from sparse_video_r1.generation.hf_generator import Generation, HFGenerator

__all__ = ["Generation", "HFGenerator"]
