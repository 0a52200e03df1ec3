"""An evaluation's settings (`svr1 eval`'s flags), and the episode rules they give the multi-round methods."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sparse_video_r1.agent.episode import EpisodeConfig

METHODS = ("uniform", "random", "whole_video", "video", "frames", "zoom")
EPISODE_METHODS = ("frames", "zoom")  # the multi-round methods: an episode of the mode of that name
# Names runs and users knew before, still taken: `--method agent` is the frame-request episode; a run folder
# pinned with `frames` / `max_new_tokens` resumes under `first_frames` / `reply_tokens`.
METHOD_ALIASES = {"agent": "frames"}
RENAMED_SETTINGS = {"frames": "first_frames", "max_new_tokens": "reply_tokens"}
BACKENDS = ("hf", "vllm", "openai")
VLLM_CONCURRENCY = 64  # conversations the vllm backend advances together unless told otherwise


@dataclass
class EvalConfig:
    data: str  # a prepared split: OUT/val.parquet from `svr1 prepare`
    method: str
    model: str
    out_dir: str
    backend: str = "hf"
    first_frames: int = 5  # the frames shown first: all of a one-turn method's, an episode's opening
    max_pixels: int = 128 * 28 * 28
    min_pixels: int = 16 * 28 * 28
    limit: int | None = None
    seed: int = 0
    temperature: float = 0.0
    reply_tokens: int = 256  # the most tokens a reply may have (training's svr1.reply_tokens)
    device: str = "cpu"
    concurrency: int | None = None  # vllm: conversations per batch (64); openai: requests in flight (1)
    tensor_parallel_size: int = 1  # vllm: GPUs one model is split over (e.g. 2 for 7B)
    base_url: str = "https://api.openai.com/v1"
    api_attempts: int = 5  # tries per request, the first included, with exponential backoff
    api_max_wait: float = 60.0  # seconds: the longest wait between tries; a longer Retry-After fails
    run: str = ""  # a name for reports (default: the out dir's name)
    episode: dict = field(default_factory=dict)  # EpisodeConfig overrides for the agent
    # The video method (Qwen's native video input), by default as the seed's "Full Video" baseline ran it
    # through qwen-vl-utils: 1 fps, at most 768 frames, 360 x 420 pixels a frame at most, 128 x 28 x 28 at least.
    video_fps: float = 1.0
    video_max_frames: int = 768
    video_max_pixels: int = 360 * 420
    video_min_pixels: int = 128 * 28 * 28
    shard: str = (
        ""  # "K/N": only questions K, K+N, K+2N, ... into OUT/shard-K-of-N/ (`svr1 merge OUT` joins them)
    )

    def __post_init__(self) -> None:
        self.method = METHOD_ALIASES.get(self.method, self.method)

    @property
    def task(self) -> str:
        return Path(self.data).parent.name or "task"

    @property
    def shard_of(self) -> tuple[int, int]:
        """(K, N) of the shard "K/N"; (0, 1) for a whole run."""
        if not self.shard:
            return 0, 1
        try:
            index, count = (int(part) for part in self.shard.split("/"))
        except ValueError:
            index, count = -1, 0
        if not 0 <= index < count:
            raise ValueError(f"shard {self.shard!r}: expected K/N with 0 <= K < N, like 0/4")
        return index, count

    @property
    def run_dir(self) -> Path:
        """Where this run writes: OUT, or OUT/shard-K-of-N/ for a shard."""
        index, count = self.shard_of
        return Path(self.out_dir) / f"shard-{index}-of-{count}" if self.shard else Path(self.out_dir)


def episode_config(config: EvalConfig) -> EpisodeConfig:
    """The episode rules of a multi-round method: its mode, the run's first frames and pixels, the overrides."""
    base = {
        "first_frames": config.first_frames,
        "max_pixels": config.max_pixels,
        "min_pixels": config.min_pixels,
    }
    return EpisodeConfig(**{**base, **config.episode, "mode": config.method})
