"""How many tokens an episode can take at most, from its knobs: the training config's prompt and response
lengths and the evaluator's context must hold them. Plain arithmetic at 28 x 28 pixels a visual token."""

from __future__ import annotations

from dataclasses import dataclass

from sparse_video_r1.agent.episode import EpisodeConfig

FRAME_LABEL_TOKENS = 10  # "Frame at 12.5 s: " plus the vision start/end tokens; a launcher counts the real
# label of its data's longest video with the model's tokenizer (Qwen's splits digits: ~15 for 1234.56 s)
TURN_TEXT_TOKENS = 120  # the environment's words around a turn's frames
TEMPLATE_TOKENS = 40  # system turn and chat-template markup
CHARS_PER_TOKEN = 3  # conservative for English with a byte-level BPE


@dataclass(frozen=True)
class TokenBudget:
    prompt: int  # worst case: the first turn with its frames
    response: int  # worst case: every round used, every turn full of frames

    @classmethod
    def of(
        cls,
        episode: EpisodeConfig,
        reply_tokens: int,
        prompt_chars: int,
        label_tokens: int = FRAME_LABEL_TOKENS,
    ) -> TokenBudget:
        def tokens(frames: int, pixels: int) -> int:
            return frames * (pixels // (28 * 28) + label_tokens)

        if episode.mode == "zoom":
            first = tokens(episode.overview_frames, episode.overview_pixels)
            later = tokens(episode.max_zooms * episode.zoom_frames, episode.zoom_pixels)
        else:
            shown = min(episode.first_frames, episode.max_frames)
            first = tokens(shown, episode.max_pixels)
            asked = episode.frames_per_request * (episode.max_rounds - 1)
            later = tokens(min(asked, episode.max_frames - shown), episode.max_pixels)
        turns = episode.max_rounds - 1
        return cls(
            prompt=TEMPLATE_TOKENS + prompt_chars // CHARS_PER_TOKEN + first,
            response=episode.max_rounds * reply_tokens + turns * TURN_TEXT_TOKENS + later,
        )

    @property
    def total(self) -> int:
        return self.prompt + self.response
