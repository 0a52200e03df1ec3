"""Evaluation: baselines and the multi-round agent on a prepared split, lmms-eval-style files, reports."""
