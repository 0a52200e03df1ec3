"""The agent's modes, one seam: which episode rules a run (`svr1.episode.mode`) or a row (its `mode`) plays
by. The verl agent loop, the evaluator and the SFT data all start their episodes here."""

from __future__ import annotations

from dataclasses import replace

from sparse_video_r1.agent.episode import Episode, EpisodeConfig, Question
from sparse_video_r1.agent.frame_requests import FrameRequestEpisode
from sparse_video_r1.agent.zoom import ZoomEpisode
from sparse_video_r1.video.timestamps import FrameGrid

MODES: dict[str, type[Episode]] = {"frames": FrameRequestEpisode, "zoom": ZoomEpisode}


def make_episode(
    question: Question, grid: FrameGrid, config: EpisodeConfig, *, seed: int = 0, mode: str | None = None
) -> Episode:
    """The episode of the run's mode, or of `mode` where a row names its own."""
    if mode and mode != config.mode:
        config = replace(config, mode=mode)  # validates the name
    return MODES[config.mode](question, grid, config, seed=seed)
