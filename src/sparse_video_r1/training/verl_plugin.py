"""Imported by verl in every process of a training run (the launchers set VERL_USE_EXTERNAL_MODULES):
registers our trainer with verl's trainer registry, repairs the position ids of equal-length batches (verl
#7899), and freezes the vision tower when the run asks for it (SVR1_FREEZE_VISION=1). On a machine without a
GPU the CPU backend's own plugin is imported first."""

from sparse_video_r1 import verl_internals
from sparse_video_r1.training import trainer  # noqa: F401  (registers trainer.v1.trainer_mode=svr1)

verl_internals.repair_equal_length_position_ids()
verl_internals.freeze_vision_tower_when_asked()
