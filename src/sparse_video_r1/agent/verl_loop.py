"""The verl agent loop: runs one episode token-in/token-out through verl's generation server.

verl instantiates `FrameRequestAgentLoop` from `agent_loop.yaml` for every row whose `agent_name` is
`frame_request`. Each round it generates, lets the episode judge the reply, decodes the frames the next
user turn shows, and merges that turn with verl's continuous-token helpers (environment tokens get mask
0). A turn's frames join the trajectory's image list only once the turn is known to fit the response
budget; the episode ends, with reason "token budget", when the next turn would not.

A video that cannot be decoded does not crash the step: the episode ends with reason "video error: ...",
the prompt shows grey placeholder frames (every sample stays multimodal), and the single response token
is masked out of the loss. The reward scores it 0 and the record says why.

Rows carry in `extra_info`: `video` (path), `duration` (s), `question`, `options` (list), and optionally
`fps` and `index` (seeds the random first frames, so a GRPO group starts from the same frames).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from uuid import uuid4

from PIL import Image
from verl.experimental.agent_loop import AgentLoopBase, AgentLoopOutput
from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics

from sparse_video_r1.agent.episode import Episode, EpisodeConfig, FrameAt, Part, Question
from sparse_video_r1.video import Video, VideoError, open_video

logger = logging.getLogger(__name__)


class FrameRequestAgentLoop(AgentLoopBase):
    def __init__(self, *args: Any, episode: dict | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.episode_config = EpisodeConfig(**dict(episode or {}))
        self.response_length = self.rollout_config.response_length

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        info = kwargs["extra_info"]
        episode = Episode(
            Question(info["question"], tuple(info["options"])),
            float(info["duration"]),
            self.episode_config,
            fps=info.get("fps"),
            seed=int(info.get("index", 0)),
        )
        try:
            video = await asyncio.to_thread(open_video, info["video"])
            content, images = await self._render(episode.opening(), video)
        except VideoError as error:
            logger.warning("skipping the episode of row %s: %s", info.get("index"), error)
            return await self._skipped(episode, error)
        messages: list[dict] = [{"role": "user", "content": content}]
        token_ids = await self.ct_build_initial_tokens(messages, images=images)
        prompt_length = len(token_ids)
        mask: list[int] = []
        log_probs: list[float] = []
        request_id = uuid4().hex  # one id for every round: sticky routing and prefix caching

        while True:
            params = {**sampling_params, "max_tokens": self.response_length - len(mask)}
            output = await self.server_manager.generate(
                request_id=request_id, prompt_ids=token_ids, sampling_params=params, image_data=list(images)
            )
            merged, mask, log_probs = await self.ct_merge_assistant_token(
                token_ids, output.token_ids, mask, log_probs if output.log_probs else None, output.log_probs
            )
            token_ids, log_probs = merged.token_ids, log_probs or []
            reply = self.tokenizer.decode(output.token_ids, skip_special_tokens=True)
            messages.append({"role": "assistant", "content": reply})
            turn = episode.step(reply)
            if turn is None:
                break
            if len(mask) >= self.response_length:
                episode.stop("token budget")
                break
            try:
                content, new_images = await self._render(turn, video)
            except VideoError as error:
                logger.warning("ending the episode of row %s: %s", info.get("index"), error)
                episode.stop(f"video error: {error.cause}")
                break
            previous, messages = messages, [*messages, {"role": "user", "content": content}]
            merged, new_mask, new_log_probs = await self.ct_merge_context_msg(
                previous, messages, token_ids, mask, log_probs or None
            )
            if len(new_mask) >= self.response_length:  # the turn does not fit: neither it nor its frames
                messages = previous
                episode.stop("token budget")
                break
            token_ids, mask, log_probs = merged.token_ids, new_mask, new_log_probs or []
            images += new_images

        return self._output(episode, token_ids, prompt_length, mask, log_probs, images, len(messages))

    async def _skipped(self, episode: Episode, error: VideoError) -> AgentLoopOutput:
        episode.stop(f"video error: {error.cause}")
        content, images = await self._render(episode.opening(), None)
        token_ids = await self.ct_build_initial_tokens([{"role": "user", "content": content}], images=images)
        prompt_length = len(token_ids)
        token_ids = [*token_ids, self.tokenizer.convert_tokens_to_ids("<|im_end|>")]
        return self._output(episode, token_ids, prompt_length, [0], [0.0], images, 1)

    def _output(
        self, episode, token_ids, prompt_length, mask, log_probs, images, num_turns
    ) -> AgentLoopOutput:
        return AgentLoopOutput(
            prompt_ids=token_ids[:prompt_length],
            response_ids=token_ids[prompt_length:],
            response_mask=mask,
            response_logprobs=log_probs or None,
            multi_modal_data={"images": images},
            num_turns=num_turns,
            metrics=AgentLoopMetrics(),
            extra_fields={"episode": episode.record.as_dict()},
        )

    async def _render(self, parts: list[Part], video: Video | None) -> tuple[list[dict], list[Image.Image]]:
        """Chat content for a turn's parts and its images, in order; without a video, grey placeholders."""
        frames = [part for part in parts if isinstance(part, FrameAt)]
        images = await asyncio.to_thread(_frames, frames, video) if frames else []
        by_part = dict(zip(frames, images, strict=True))
        content = [
            {"type": "image", "image": by_part[part]}
            if isinstance(part, FrameAt)
            else {"type": "text", "text": part}
            for part in parts
        ]
        return content, images


def _frames(frames: list[FrameAt], video: Video | None) -> list[Image.Image]:
    """Decode the frames, one frame-service call per pixel budget (a zoom turn may mix budgets)."""
    if video is None:
        return [Image.new("RGB", (224, 224), (128, 128, 128)) for _ in frames]
    decoded: dict[FrameAt, Image.Image] = {}
    for low, high in {(f.min_pixels, f.max_pixels) for f in frames}:
        wanted = [f for f in frames if (f.min_pixels, f.max_pixels) == (low, high)]
        decoded.update(
            zip(
                wanted,
                video.frames_at([f.time for f in wanted], min_pixels=low, max_pixels=high),
                strict=True,
            )
        )
    return [decoded[f] for f in frames]
