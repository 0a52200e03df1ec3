"""How samples become records: the configured backend (hf, vllm, openai), sized for the method, driving
each sample's conversation (evaluation/methods.py) one by one, in flight or in batches (evaluation/drive.py).

`answer_samples` is the one entry point: `svr1 eval` writes what it yields, and the lmms-eval plugin
answers lmms-eval's requests with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from sparse_video_r1.agent.budget import TokenBudget
from sparse_video_r1.evaluation import drive, methods
from sparse_video_r1.evaluation.config import EPISODE_METHODS, VLLM_CONCURRENCY, EvalConfig, episode_config
from sparse_video_r1.evaluation.records import SampleRecord
from sparse_video_r1.video import VideoError, open_video


def make_chat(config: EvalConfig):
    """The configured backend: a chat (messages in, reply out); the vllm one also answers batches."""
    if config.backend == "hf":
        from sparse_video_r1.evaluation.hf_chat import HFChat

        return HFChat(
            config.model,
            device=config.device,
            reply_tokens=config.reply_tokens,
            temperature=config.temperature,
            seed=config.seed,
            max_context=_max_context(config),
        )
    if config.backend == "vllm":
        from sparse_video_r1.evaluation.vllm_chat import VLLMChat

        low, high = _pixel_range(config)
        return VLLMChat(
            config.model,
            reply_tokens=config.reply_tokens,
            temperature=config.temperature,
            seed=config.seed,
            max_images=_max_images(config),
            max_videos=int(config.method == "video"),
            min_pixels=low,
            max_pixels=high,
            max_context=_max_context(config),
            tensor_parallel_size=config.tensor_parallel_size,
        )
    from sparse_video_r1.evaluation.openai_chat import OpenAIChat

    return OpenAIChat(
        config.base_url,
        config.model,
        reply_tokens=config.reply_tokens,
        temperature=config.temperature,
        seed=config.seed,
        attempts=config.api_attempts,
        max_wait=config.api_max_wait,
    )


def video_setting(config: EvalConfig) -> methods.VideoSetting:
    return methods.VideoSetting(
        config.video_fps, config.video_max_frames, config.video_max_pixels, config.video_min_pixels
    )


def _failures(backend: str) -> tuple[type[Exception], ...]:
    """The errors after which a backend gave up on a sample: recorded as that sample's failure."""
    if backend == "openai":
        from sparse_video_r1.evaluation.openai_chat import ChatFailure

        return (ChatFailure,)  # an API reports a conversation too long as an error: a failure
    return ()


CONTEXT = 16384  # tokens: the single-turn baselines' and the frame-request agent's defaults fit well within


def _max_context(config: EvalConfig) -> int:
    """The model context an evaluation needs: an episode's worst case (a zoom episode's overview and clips
    can take ~45k tokens), never less than CONTEXT."""
    if config.method == "video":
        setting = video_setting(config)
        pairs = (setting.max_frames + 1) // 2  # two frames to a visual token
        return max(CONTEXT, pairs * setting.max_pixels // (28 * 28) + 2048)
    if config.method not in EPISODE_METHODS:
        return CONTEXT
    return max(CONTEXT, TokenBudget.of(episode_config(config), config.reply_tokens, prompt_chars=2000).total)


def _pixel_range(config: EvalConfig) -> tuple[int, int]:
    if config.method in EPISODE_METHODS:
        return episode_config(config).pixel_range
    if config.method == "video":
        return config.video_min_pixels, config.video_max_pixels
    return config.min_pixels, config.max_pixels


def _max_images(config: EvalConfig) -> int:
    if config.method in EPISODE_METHODS:
        return episode_config(config).most_images
    if config.method == "video":
        return 0
    return (
        methods.FramesSetting().whole_video_max_frames
        if config.method == "whole_video"
        else config.first_frames
    )


def _job(config: EvalConfig, sample: methods.Sample, failures: tuple) -> drive.Job:
    """How to start the sample's conversation, and what its failures become."""

    def start() -> methods.Conversation:
        video = open_video(sample.video)
        if config.method in EPISODE_METHODS:
            return methods.agent(sample, video, episode_config(config))
        if config.method == "video":
            return methods.native_video(sample, video, video_setting(config))
        setting = methods.FramesSetting(
            count=config.first_frames, max_pixels=config.max_pixels, min_pixels=config.min_pixels
        )
        return methods.single_turn(config.method, sample, video, setting)

    def fail(error: Exception) -> SampleRecord | None:
        if isinstance(error, VideoError):
            return methods.failed(sample, f"video error: {error.cause}")
        if isinstance(error, methods.ContextFull):  # a single-turn prompt longer than the model's context
            return methods.failed(sample, f"context full: {error}")
        if isinstance(error, failures):
            return methods.failed(sample, f"api failure: {error}")
        return None

    return start, fail


def answer_samples(config: EvalConfig, todo: Iterable[methods.Sample], chat=None) -> Iterator[SampleRecord]:
    """The todo samples' records, in their order, from the configured backend."""
    chat = chat or make_chat(config)
    jobs = (_job(config, sample, _failures(config.backend)) for sample in todo)
    if config.backend == "vllm":
        return drive.in_batches(jobs, chat, config.concurrency or VLLM_CONCURRENCY)
    if config.backend == "openai" and (config.concurrency or 1) > 1:
        return drive.in_flight(jobs, chat, config.concurrency)
    return drive.one_by_one(jobs, chat)
