"""The reward of a multiple-choice video episode, in verl's custom reward contract.

    score = correct + format_weight * well_formed - frame_cost * frames_shown + grounding_weight * coverage

An answer counts only when the final reply is well formed: `<think>...</think><answer>X</answer>` and
nothing else. Several answers, an empty or multi-letter answer, or an answer hidden inside the thinking
never count. The episode record that our agent loop attaches must agree with the text, so a reply that
fakes a turn header cannot smuggle in an answer the environment never accepted.
"""

from __future__ import annotations

from sparse_video_r1.agent.protocol import Answer, parse_reply

# verl decodes the response with special tokens skipped, so each injected turn shows as its role line.
ASSISTANT_HEADER = "\nassistant\n"


def last_reply(decoded_response: str) -> str:
    """The last assistant reply of a decoded multi-turn response (environment turns included)."""
    return decoded_response.rsplit(ASSISTANT_HEADER, 1)[-1]


def grounding_coverage(frames: list[dict], spans: list[list[float]]) -> float:
    """Share of the frames shown that fall inside a ground-truth evidence span (NExT-GQA)."""
    if not len(frames) or not len(spans):
        return 0.0
    inside = sum(any(start <= f["time"] <= end for start, end in spans) for f in frames)
    return inside / len(frames)


def compute_score(
    data_source: str,
    solution_str: str,
    ground_truth: str,
    extra_info: dict | None = None,
    *,
    format_weight: float = 0.1,
    frame_cost: float = 0.0,
    grounding_weight: float = 0.0,
    **_: object,
) -> dict:
    extra_info = extra_info or {}
    episode = extra_info.get("episode") or {}
    action = parse_reply(last_reply(solution_str))
    well_formed = isinstance(action, Answer)
    if well_formed and episode:
        well_formed = episode.get("end") == "answer" and episode.get("answer") == action.letter
    correct = well_formed and action.letter == str(ground_truth).strip()
    frames = episode.get("frames", [])
    score = float(correct) + format_weight * well_formed - frame_cost * len(frames)
    spans = extra_info.get("spans")
    if grounding_weight and spans is not None and len(spans):  # a list, or an array from parquet
        score += grounding_weight * grounding_coverage(frames, spans)
    return {
        "score": score,
        "acc": float(correct),
        "format": float(well_formed),
        "frames": float(len(frames)),
        "rounds": float(episode.get("rounds", extra_info.get("num_turns", 0))),
    }
