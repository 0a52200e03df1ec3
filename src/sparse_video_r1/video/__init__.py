"""The frame service: exact frames at any time from any video, for the agent, the baselines and the tools.

video = open_video("clip.mp4")
images = video.frames_at([1.5, 20.0], max_pixels=256 * 28 * 28)
first = video.frames_at(uniform_timestamps(video.duration, 5))
"""

from sparse_video_r1.video.images import draw_timestamp, resize_to_budget
from sparse_video_r1.video.reader import Frames, Video, VideoError, VideoInfo, open_video
from sparse_video_r1.video.timestamps import (
    FrameGrid,
    TimestampError,
    check_timestamps,
    clip_timestamps,
    first_to_last_timestamps,
    overview_timestamps,
    random_timestamps,
    uniform_timestamps,
)

__all__ = [
    "FrameGrid",
    "Frames",
    "TimestampError",
    "Video",
    "VideoError",
    "VideoInfo",
    "check_timestamps",
    "clip_timestamps",
    "draw_timestamp",
    "first_to_last_timestamps",
    "open_video",
    "overview_timestamps",
    "random_timestamps",
    "resize_to_budget",
    "uniform_timestamps",
]
