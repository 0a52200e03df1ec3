"""The reward of a multiple-choice video episode, in verl's custom reward contract.

    score = accuracy + format_weight * well_formed - frame_cost * frames_shown + grounding_weight * coverage

The final reply counts only when it was a valid answer, `<think>...</think><answer>X</answer>` with a
non-empty thinking and nothing after it. For our multi-round episodes the judge is the episode record that
the agent loop attaches (`extra_info["episode"]`): the loop parsed each reply from exactly the tokens that
reply generated, so the reward never has to find turn boundaries in decoded text, and a reply that fakes a
turn header or hides an answer in its thinking gets nothing the environment did not accept. Without a
record (single-turn data) the whole response is the one reply.

`step_scores` gives one score per assistant reply, for the decoupled per-step advantages (`step_grpo`,
reward/step_grpo.py). Every valid reply earns the format weight; on top, an answer earns its accuracy; a
zoom earns 1 when its span overlaps an evidence span, else the correctness of the answer that follows
(LOVE-R1); a frame request earns the share of its frames inside evidence spans (1 without spans), paid only
when the final answer is correct (peers found unconditional process rewards gamed). An invalid reply earns
0. So a correct answer at once and a zoom into the evidence score alike (1 + format) at their step.
"""

from __future__ import annotations

from sparse_video_r1.agent.evidence import evidence_use, inside, overlaps
from sparse_video_r1.agent.protocol import Answer, parse_reply


def final_answer(solution_str: str, episode: dict | None) -> str | None:
    """The letter the episode ended on with a valid answer, or None."""
    if episode:
        return episode.get("answer") if episode.get("end") == "answer" else None
    action = parse_reply(solution_str)
    return action.letter if isinstance(action, Answer) else None


def grounding_coverage(frames: list[dict], spans: list[list[float]]) -> float:
    """Share of the frames shown that fall inside a ground-truth evidence span (NExT-GQA, synthetic)."""
    if not len(frames) or not len(spans):
        return 0.0
    return sum(inside(f["time"], spans) for f in frames) / len(frames)


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
    answer = final_answer(solution_str, episode)
    well_formed = answer is not None
    correct = well_formed and answer == str(ground_truth).strip()
    frames = episode.get("frames", [])
    score = float(correct) + format_weight * well_formed - frame_cost * len(frames)
    spans = extra_info.get("spans")
    if grounding_weight and spans is not None and len(spans):  # a list, or an array from parquet
        score += grounding_weight * grounding_coverage(frames, spans)
    use = evidence_use(frames, spans, answered=well_formed)
    return {
        "score": score,
        "acc": float(correct),
        "format": float(well_formed),
        "frames": float(len(frames)),
        "rounds": float(episode.get("rounds", extra_info.get("num_turns", 0))),
        # Shares of all episodes (questions without spans count in neither): answered with no frame of the
        # evidence on screen yet, or after one was shown. An agent that stops looking shows in the first.
        "before_evidence": float(use is not None and use.seen is False),
        "after_evidence": float(use is not None and use.seen is True),
    }


def step_scores(episode: dict, ground_truth: str, spans=None, *, format_weight: float = 0.1) -> list[float]:
    """One score per assistant reply of an episode record, in order (see the module docstring)."""
    answer = final_answer("", episode)
    correct = float(answer is not None and answer == str(ground_truth).strip())
    spans = [] if spans is None else [tuple(span) for span in spans]
    zooms = {zoom["round"]: zoom for zoom in episode.get("zooms", [])}
    scores = []
    for round_, action in enumerate(episode.get("actions", []), start=1):
        if action == "answer":
            scores.append(format_weight + correct)
        elif action == "zoom":
            zoom = zooms[round_]
            found = any(overlaps((zoom["start"], zoom["end"]), span) for span in spans)
            scores.append(format_weight + (1.0 if found else correct))
        elif action == "frames":
            shown = [frame for frame in episode.get("frames", []) if frame["round"] == round_]
            scores.append(format_weight + correct * (grounding_coverage(shown, spans) if spans else 1.0))
        else:  # invalid, or a zoom LOVE-R1's evaluation stopped
            scores.append(0.0)
    return scores
