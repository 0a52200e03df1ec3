"""The verl agent loop: runs one episode token-in/token-out through verl's generation server.

verl instantiates `EpisodeAgentLoop` from `agent_loop.yaml` for every row whose `agent_name` is
`svr1_episode` (or `frame_request`, the name rows prepared before carry), and runs either mode through the
episode runner every caller shares (agent/runner.py). Each round it generates, hands the reply to the
runner (which judges it and renders the next user turn), and merges that turn with verl's continuous-token
helpers (environment tokens get mask 0). A turn's frames join the trajectory's image list only once the
turn is known to fit the response budget; the episode ends, with reason "token budget", when the next
turn would not.

A video that cannot be decoded, or a row whose metadata does not fit its file (a duration that is not a
number, or longer than the file), does not crash the step: the episode ends with reason
"video error: ...", the prompt shows the question and a grey placeholder frame (every sample stays
multimodal), and the single response token is masked out of the loss. The reward scores it 0 and the
record says why. Any other error inside an episode gets the same stand-in with reason "error: ...",
where verl would drop the whole group unseen; the trainer counts both (`episode/failed`).

Rows carry in `extra_info`: `video` (path), `duration` (s), `question`, `options` (list), and optionally
`index` (seeds the random first frames, so a GRPO group starts from the same frames) and `mode` ("frames"
or "zoom": the row's own, else the run's `svr1.episode.mode`). The frame grid is the runner's rule: the
row's duration on the file's frames.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

from PIL import Image
from verl.experimental.agent_loop import AgentLoopBase, AgentLoopOutput
from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics

from sparse_video_r1.agent.episode import EpisodeConfig, EpisodeRecord, FrameAt, Question
from sparse_video_r1.agent.runner import EpisodeRunner, render
from sparse_video_r1.video import VideoError, open_video

logger = logging.getLogger(__name__)


@dataclass
class _Trajectory:
    """The token stream of one episode as it grows, with what verl's output needs alongside."""

    token_ids: list[int]
    prompt_length: int
    images: list[Image.Image]
    messages: list[dict]
    mask: list[int] = field(default_factory=list)  # 1 for generated tokens, 0 for the environment's
    log_probs: list[float] = field(default_factory=list)
    versions: dict[str, int | None] = field(default_factory=dict)

    def output(self, record: EpisodeRecord, info: dict) -> AgentLoopOutput:
        return AgentLoopOutput(
            prompt_ids=self.token_ids[: self.prompt_length],
            response_ids=self.token_ids[self.prompt_length :],
            response_mask=self.mask,
            response_logprobs=self.log_probs or None,
            multi_modal_data={"images": self.images},
            num_turns=len(self.messages),
            metrics=AgentLoopMetrics(),
            extra_fields={"episode": {**record.as_dict(), "row": info.get("index")}, **self.versions},
        )


class EpisodeAgentLoop(AgentLoopBase):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        ours = self.config.get("svr1") or {}  # the run's config: `svr1.episode`, `svr1.reply_tokens`
        self.episode_config = EpisodeConfig(**dict(ours.get("episode") or {}))
        self.response_length = self.rollout_config.response_length
        # One reply's cap, as evaluation caps it.
        self.reply_tokens = ours.get("reply_tokens") or self.response_length

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        info = kwargs["extra_info"]
        request_id = uuid4().hex  # one id for every round: sticky routing and prefix caching
        try:
            return await self._episode(info, sampling_params, request_id)
        except Exception as error:  # verl would drop the whole group unseen: count and report it instead
            logger.exception("the episode of row %s failed", info.get("index"))
            end = f"error: {type(error).__name__}: {error}"
            return await self._stand_in(info, end, sampling_params, request_id)

    async def _episode(self, info: dict, sampling_params: dict[str, Any], request_id: str) -> AgentLoopOutput:
        question = Question(info["question"], tuple(info["options"]))
        try:
            video = await asyncio.to_thread(open_video, info["video"])
            runner = EpisodeRunner.start(
                question, video, self.episode_config, duration=info["duration"],
                seed=int(info.get("index", 0)), mode=info.get("mode"),
            )  # fmt: skip
            turn = await asyncio.to_thread(runner.opening)
        except (VideoError, ValueError) as error:  # a broken file or stale metadata: this row only
            reason = error.cause if isinstance(error, VideoError) else str(error)
            logger.warning("skipping the episode of row %s: %s", info.get("index"), reason)
            return await self._stand_in(info, f"video error: {reason}", sampling_params, request_id)
        trajectory = await self._start(turn.content, turn.images)

        while True:
            room = self.response_length - len(trajectory.mask)
            params = {**sampling_params, "max_tokens": min(self.reply_tokens, room)}
            output = await self._generate(request_id, trajectory, params)
            merged, trajectory.mask, log_probs = await self.ct_merge_assistant_token(
                trajectory.token_ids,
                output.token_ids,
                trajectory.mask,
                trajectory.log_probs if output.log_probs else None,
                output.log_probs,
            )
            trajectory.token_ids, trajectory.log_probs = merged.token_ids, log_probs or []
            reply = self.tokenizer.decode(output.token_ids, skip_special_tokens=True)
            trajectory.messages.append({"role": "assistant", "content": reply})
            try:
                turn = await asyncio.to_thread(runner.step, reply)
            except (VideoError, ValueError) as error:
                reason = error.cause if isinstance(error, VideoError) else str(error)
                logger.warning("ending the episode of row %s: %s", info.get("index"), reason)
                runner.episode.stop(f"video error: {reason}")
                break
            if turn is None:
                break
            if len(trajectory.mask) >= self.response_length:
                runner.does_not_fit()
                break
            messages = [*trajectory.messages, {"role": "user", "content": turn.content}]
            merged, mask, log_probs = await self.ct_merge_context_msg(
                trajectory.messages,
                messages,
                trajectory.token_ids,
                trajectory.mask,
                trajectory.log_probs or None,
            )
            if len(mask) >= self.response_length:  # the turn does not fit: neither it nor its frames
                runner.does_not_fit()
                break
            trajectory.token_ids, trajectory.mask, trajectory.log_probs = (
                merged.token_ids,
                mask,
                log_probs or [],
            )
            trajectory.messages = messages
            trajectory.images += turn.images

        return trajectory.output(runner.record, info)

    async def _start(self, content: list[dict], images: list[Image.Image]) -> _Trajectory:
        messages = [{"role": "user", "content": content}]
        token_ids = await self.ct_build_initial_tokens(messages, images=images)
        return _Trajectory(
            token_ids=token_ids, prompt_length=len(token_ids), images=images, messages=messages
        )

    async def _generate(self, request_id: str, trajectory: _Trajectory, params: dict[str, Any]):
        output = await self.server_manager.generate(
            request_id=request_id,
            prompt_ids=trajectory.token_ids,
            sampling_params=params,
            image_data=list(trajectory.images),
        )
        # The versions of the weights that generated this trajectory: verl's trainer logs their staleness.
        trajectory.versions.setdefault("min_global_steps", output.extra_fields.get("min_global_steps"))
        trajectory.versions["max_global_steps"] = output.extra_fields.get("max_global_steps")
        return output

    async def _stand_in(
        self, info: dict, end: str, sampling_params: dict[str, Any], request_id: str
    ) -> AgentLoopOutput:
        """A masked-out stand-in for an episode that could not run (a broken video, stale metadata, an
        error): the question and one grey frame (every sample stays multimodal), one generated token (so
        the trainer still learns which weights it ran under), nothing to learn from. Its record says why;
        the reward scores it 0 and the trainer counts it (`episode/failed`)."""
        placeholder = FrameAt(0.0, self.episode_config.max_pixels, self.episode_config.min_pixels)
        turn = render([f"{info.get('question', '')}\n", placeholder], None)
        trajectory = await self._start(turn.content, turn.images)
        output = await self._generate(request_id, trajectory, {**sampling_params, "max_tokens": 1})
        trajectory.token_ids += output.token_ids
        trajectory.mask = [0] * len(output.token_ids)
        trajectory.log_probs = [0.0] * len(output.token_ids)
        return trajectory.output(EpisodeRecord(end=end), info)
