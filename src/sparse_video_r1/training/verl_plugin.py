"""Imported by verl in every process of a training run (the launcher sets VERL_USE_EXTERNAL_MODULES):
registers our trainer with verl's trainer registry. On a machine without a GPU the CPU backend's own
plugin (`cpu_backend.plugin`) is imported too."""

from sparse_video_r1.training import trainer  # noqa: F401  (registers trainer.v1.trainer_mode=svr1)
