"""The demo's knobs: the CPU-sized episode, the SFT mix, GRPO's settings, and the evaluations it runs."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

CPU_PIXELS = {"max_pixels": 12544, "min_pixels": 3136}  # the CPU variant's budget: 16 visual tokens a frame
EPISODE = {"wording": "brief", **CPU_PIXELS}
# Zoom mode on CPU (the CPU variant's): a 16-frame overview at 4 tokens a frame, zooms of 4 frames at 16.
ZOOM = {
    "mode": "zoom",
    "overview_frames": 16,
    "overview_pixels": 3136,
    "zoom_frames": 4,
    "zoom_pixels": 12544,
}
REPLY_TOKENS = 64


@dataclass(frozen=True)
class DemoSettings:
    """Every knob of a demo run; `svr1 demo --set KNOB=VALUE` changes one (its stages, and those after, run
    again in folders of their own)."""

    videos: int  # synthetic videos; a quarter of them are held out for evaluation
    looks: int  # short first turns per row in the SFT data (svr1 sft-data --looks)
    one_round: float  # share of one-round episodes in the SFT data
    policies: tuple[tuple[str, float], ...]  # who plays the SFT search episodes and looks, by weight
    sft_steps: int
    sft_lr: float
    grpo_steps: int
    grpo_lr: float
    grpo_prompts: int  # prompts per GRPO step
    grpo_group: int  # rollouts per prompt
    frame_cost: float  # reward per frame shown (negative)
    temperature: float  # the rollouts' sampling temperature
    loss_agg_mode: str  # verl's actor.loss_agg_mode
    norm_adv_by_std: bool  # verl's algorithm.norm_adv_by_std_in_grpo
    kl_coef: float  # KL loss to the SFT model (low_var_kl); 0: none, and no reference model
    test_freq: int  # GRPO steps between greedy evaluations on the held-out questions (0: none)
    questions: int  # held-out questions per evaluation
    seed: int = 0


# The SFT players: mostly the impatient one, so that the SFT model, answering greedily, guesses on the first
# frames (its accuracy well below what it sees), while its samples scan often enough for GRPO to find that
# looking pays (where the oracle alone left RL nothing to learn). The rollouts sample at temperature 0.7: at 1.0
# the tiny model's long multi-turn rollouts degrade (garbled thinking, the environment's text copied), so the
# episodes that looked scored below those that guessed and GRPO learnt to stop looking (docs/results.md).
PLAYERS = (("impatient", 0.8), ("oracle", 0.1), ("overscan", 0.1))
QUICK = DemoSettings(
    videos=12, looks=2, one_round=0.2, policies=PLAYERS, sft_steps=120, sft_lr=2e-3, grpo_steps=2,
    grpo_lr=1e-4, grpo_prompts=2, grpo_group=4, frame_cost=0.005, temperature=0.7, loss_agg_mode="token-mean",
    norm_adv_by_std=True, kl_coef=0.0, test_freq=0, questions=9,
)  # fmt: skip
LEARN = replace(
    QUICK, videos=200, looks=6, sft_steps=600, grpo_steps=30, grpo_prompts=8, grpo_group=8, test_freq=5,
    questions=150,
)  # fmt: skip
# The knobs the GRPO stage's folder is named by (with the SFT model's path).
GRPO_KNOBS = (
    "grpo_",
    "frame_cost",
    "temperature",
    "loss_agg_mode",
    "norm_adv_by_std",
    "kl_coef",
    "test_freq",
)


def with_knobs(settings: DemoSettings, assignments: list[str]) -> DemoSettings:
    """`settings` with "knob=value" assignments, each value read as its knob's type."""
    from sparse_video_r1.training.sft_data import parse_policies

    kinds = {knob.name: knob.type for knob in fields(DemoSettings)}
    changes = {}
    for assignment in assignments:
        knob, _, text = assignment.partition("=")
        if knob not in kinds or not text:
            raise ValueError(f"{assignment!r}: expected KNOB=VALUE with KNOB one of {', '.join(kinds)}")
        kind = kinds[knob]
        if knob == "policies":
            changes[knob] = parse_policies(text)
        elif kind == "bool":
            if text.lower() not in ("true", "false"):
                raise ValueError(f"{assignment!r}: {knob} is true or false")
            changes[knob] = text.lower() == "true"
        else:
            changes[knob] = {"int": int, "float": float, "str": str}[kind](text)
    return replace(settings, **changes)


def players(settings: DemoSettings) -> str:
    """The SFT mix in words: "impatient 80%, oracle 10%, overscan 10%"."""
    total = sum(weight for _, weight in settings.policies)
    return ", ".join(f"{name} {weight / total:.0%}" for name, weight in settings.policies)


# The evaluations, in table order: (run, method, model, episode knobs). uniform-5, random-5 and agent-1-round
# use the trained weights, so those rows differ from agent-sft+grpo only in the frames seen.
RUNS = [
    ("uniform-5", "uniform", "trained", {}),
    ("random-5", "random", "trained", {}),
    ("agent-1-round", "frames", "trained", {"max_rounds": 1}),
    ("agent-sft", "frames", "sft", {}),
    ("agent-sft+grpo", "frames", "trained", {}),
    ("zoom-sft", "zoom", "sft", ZOOM),
    ("zoom-sft+grpo", "zoom", "trained", ZOOM),
]
PAIRS = [  # the report's paired comparisons: what GRPO added, and what asking for frames adds
    ("agent-sft+grpo", "agent-sft"),
    ("agent-sft+grpo", "uniform-5"),
    ("agent-sft+grpo", "agent-1-round"),
    ("zoom-sft+grpo", "zoom-sft"),
]
