"""Token-in/token-out generation with transformers: the `hf` evaluation backend's core (tests use it too)."""

from sparse_video_r1.generation.hf_generator import Generation, HFGenerator

__all__ = ["Generation", "HFGenerator"]
