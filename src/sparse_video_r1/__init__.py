"""Sparse-Video-R1: teach a video-language model to ask only for the frames it needs (a verl extension)."""

__version__ = "0.1.0"
