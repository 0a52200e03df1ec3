"""`svr1 demo`: the whole story on the embedded default, on a CPU: data, SFT, GRPO, evaluation, report.

1. the synthetic benchmark and the tiny offline Qwen2.5-VL
2. SFT trajectories played by a mix of players (`svr1 sft-data --policies`), then SFT with verl's trainer (`sh sft.sh`)
3. GRPO from the SFT checkpoint with verl's trainer (`sh train.sh`), then verl's model merger
4. evaluations on held-out questions: uniform-5 and random-5 (the trained weights, one turn), the agent
   after SFT and after SFT+GRPO, and the trained agent with requests disabled (5 uniform frames, 1 round)
5. the report: table, accuracy against frames, training curves, trajectory pictures

The default is quick: every stage runs, too briefly to learn. `--learn` trains long enough to learn (see
the README for its figures). Each stage's result is kept in OUT/<stage>-<hash of its settings>/ and
reused by a later run with the same settings, never with others. Worker logs go to each stage's log
file; the console shows the stages and progress bars.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[2]
CPU_PIXELS = {"max_pixels": 12544, "min_pixels": 3136}  # the CPU variant's budget: 16 visual tokens a frame


@dataclass(frozen=True)
class DemoSettings:
    """Every knob of a demo run; `svr1 demo --set KNOB=VALUE` changes one (its stages, and those after, run
    again in folders of their own)."""

    videos: int  # synthetic videos; a quarter of them are held out for evaluation
    looks: int  # short first turns per row in the SFT data (svr1 sft-data --looks)
    one_round: float  # share of one-round episodes in the SFT data
    policies: tuple[tuple[str, float], ...]  # who plays the SFT search episodes, by weight (--policies)
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
# frames (its accuracy well below what it sees), while its samples at temperature 1 scan often enough for
# GRPO to find that looking pays (where the oracle alone left RL nothing to learn).
PLAYERS = (("impatient", 0.8), ("oracle", 0.1), ("overscan", 0.1))
QUICK = DemoSettings(
    videos=12, looks=2, one_round=0.2, policies=PLAYERS, sft_steps=120, sft_lr=2e-3, grpo_steps=2,
    grpo_lr=1e-4, grpo_prompts=2, grpo_group=4, frame_cost=0.005, temperature=1.0, loss_agg_mode="token-mean",
    norm_adv_by_std=True, kl_coef=0.0, test_freq=0, questions=9,
)  # fmt: skip
LEARN = replace(
    QUICK, videos=200, looks=6, sft_steps=600, grpo_steps=30, grpo_prompts=8, grpo_group=8, test_freq=5,
    questions=150,
)  # fmt: skip


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
GPU_NODE = (
    "[demo] this node has a GPU, and the demo trains the tiny model on CPU (DEVICE=cpu), which the launchers "
    "refuse where a GPU is visible: run `sh scripts/gpu_check.sh` (the same stages, GPU-sized, ~10 minutes), "
    "then the GPU quick start in the README"
)


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:10]


class Stage:
    """A stage's folder, named by its settings; `done` once it has finished with exactly those."""

    def __init__(self, out: Path, name: str, *settings: object) -> None:
        self.settings = settings
        self.dir = out / f"{name}-{_key(*settings)}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.log = self.dir / f"{name}.log"

    @property
    def done(self) -> bool:
        return (self.dir / "done.json").is_file()

    def finish(self) -> None:
        (self.dir / "done.json").write_text(json.dumps(self.settings, default=str, indent=2) + "\n")


def _say(text: str) -> None:
    print(f"\n[demo] {text}", flush=True)


def _run_logged(command: list[str], log: Path, env: dict, steps: int, what: str) -> None:
    """A launcher's output into its log file, with a progress bar of the training steps it logs."""
    bar = tqdm(total=steps, desc=what, unit="step")
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=handle, stderr=subprocess.STDOUT)
        done = threading.Event()

        def follow() -> None:
            seen = 0
            while not done.wait(2.0):
                found = re.findall(r"step:(\d+) - ", log.read_text(errors="replace"))
                latest = max(map(int, found), default=0)
                bar.update(max(0, min(steps, latest) - seen))
                seen = max(seen, min(steps, latest))

        threading.Thread(target=follow, daemon=True).start()
        code = process.wait()
        done.set()
    bar.close()
    if code != 0:
        raise SystemExit(f"[demo] {what} failed (exit {code}); see {log}")


def _data(out: Path, settings: DemoSettings) -> tuple[Path, Path]:
    from sparse_video_r1.data.prepare import prepare_synthetic
    from sparse_video_r1.tiny_model import TinyModelSpec, build_tiny_model

    stage = Stage(out, "data", settings.videos, settings.seed)
    data, model = stage.dir / "synthetic", stage.dir / "tiny-model"
    if not stage.done:
        with _into(stage.log):
            prepare_synthetic(str(data), videos=settings.videos, seed=settings.seed)
            build_tiny_model(model, TinyModelSpec(seed=settings.seed))
        stage.finish()
    return data, model


def _sft(out: Path, settings: DemoSettings, data: Path, model: Path) -> Path:
    from sparse_video_r1.agent.episode import EpisodeConfig
    from sparse_video_r1.training.sft_data import Mix, write_sft_data

    mix = Mix(
        one_round=settings.one_round, looks=settings.looks, seed=settings.seed, policies=settings.policies
    )
    stage = Stage(out, "sft", str(data), EPISODE, ZOOM, asdict(mix), settings.sft_steps, settings.sft_lr)
    checkpoints = stage.dir / "checkpoints"
    if not stage.done:
        with _into(stage.log):  # every row in both modes: one model, both protocols
            write_sft_data(data, stage.dir / "frames", EpisodeConfig(**EPISODE), mix=mix)
            write_sft_data(data, stage.dir / "zoom", EpisodeConfig(**EPISODE, **ZOOM), mix=mix)
            _merge(stage.dir / "trajectories", stage.dir / "frames", stage.dir / "zoom")
        env = {**os.environ, "MODEL": str(model), "DATA_DIR": str(stage.dir / "trajectories"),
               "STEPS": str(settings.sft_steps), "LR": str(settings.sft_lr), "DEVICE": "cpu",
               "LOG_DIR": str(stage.dir / "logs")}  # fmt: skip
        command = [
            "sh",
            "sft.sh",
            f"trainer.default_local_dir={checkpoints}",
            f"trainer.seed={settings.seed}",
        ]
        _run_logged(command, stage.log, env, settings.sft_steps, "SFT (verl's SFT trainer)")
        stage.finish()
    from sparse_video_r1.training.sft_launch import latest_hf_checkpoint

    model = stage.dir / "sft-model"  # the run's Hugging Face weights, under a name the report can show
    if not model.exists():
        model.symlink_to(latest_hf_checkpoint(checkpoints).relative_to(stage.dir))
    return model


def _merge(into: Path, *parts: Path) -> None:
    """One SFT data folder from several, split by split (rows shuffled together by the SFT trainer)."""
    import pandas as pd

    into.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val"):
        tables = [pd.read_parquet(part / f"{split}.parquet") for part in parts]
        pd.concat(tables, ignore_index=True).to_parquet(into / f"{split}.parquet")


def _grpo(out: Path, settings: DemoSettings, data: Path, sft_model: Path) -> tuple[Path, Path]:
    """GRPO from the SFT checkpoint, with a greedy evaluation of the held-out questions every `test_freq`
    steps (and before the first), which the report draws beside the training reward."""
    from sparse_video_r1.training.export import export_checkpoint, latest_actor

    knobs = [
        getattr(settings, knob.name) for knob in fields(DemoSettings) if knob.name.startswith(GRPO_KNOBS)
    ]
    stage = Stage(out, "grpo", str(sft_model), knobs, EPISODE, settings.seed)
    checkpoints, trained = stage.dir / "checkpoints", stage.dir / "trained-model"
    if not stage.done:
        env = {**os.environ, "MODEL": str(sft_model), "DATA_DIR": str(data), "DEVICE": "cpu",
               "STEPS": str(settings.grpo_steps), "LOG_DIR": str(stage.dir / "logs")}  # fmt: skip
        overrides = [
            f"trainer.default_local_dir={checkpoints}",
            f"data.train_batch_size={settings.grpo_prompts}",
            f"actor_rollout_ref.rollout.n={settings.grpo_group}",
            f"actor_rollout_ref.rollout.temperature={settings.temperature}",
            f"actor_rollout_ref.actor.ppo_mini_batch_size={settings.grpo_prompts}",
            f"actor_rollout_ref.actor.optim.lr={settings.grpo_lr}",
            f"actor_rollout_ref.actor.loss_agg_mode={settings.loss_agg_mode}",
            f"algorithm.norm_adv_by_std_in_grpo={settings.norm_adv_by_std}",
            f"reward.custom_reward_function.reward_kwargs.frame_cost={settings.frame_cost}",
            f"svr1.episode.wording={EPISODE['wording']}",
            f"data.seed={settings.seed}",
            f"trainer.save_freq={settings.grpo_steps}",  # one checkpoint, at the end
            f"trainer.test_freq={settings.test_freq or -1}",
            f"trainer.val_before_train={settings.test_freq > 0}",
            f"data.val_max_samples={settings.questions}",
        ]
        if settings.kl_coef:
            overrides += [
                "actor_rollout_ref.actor.use_kl_loss=true",
                f"actor_rollout_ref.actor.kl_loss_coef={settings.kl_coef}",
            ]
        _run_logged(
            ["sh", "train.sh", *overrides], stage.log, env, settings.grpo_steps, "GRPO (verl's trainer)"
        )
        with _into(stage.log, "a"):
            export_checkpoint(latest_actor(checkpoints), trained)
        stage.finish()
    return trained, checkpoints / "tensorboard"


GRPO_KNOBS = (
    "grpo_",
    "frame_cost",
    "temperature",
    "loss_agg_mode",
    "norm_adv_by_std",
    "kl_coef",
    "test_freq",
)
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


def _evaluate(settings: DemoSettings, data: Path, models: dict[str, Path]) -> list[Path]:
    """The evaluations on vLLM (its CPU build here), one engine per model shared by its runs: baselines, the
    frame-request agent and zoom mode on the same questions. A run's folder sits beside its model's stage,
    so a model evaluated before is not evaluated again."""
    from sparse_video_r1.agent.episode import EpisodeConfig
    from sparse_video_r1.evaluation.run import EvalConfig, evaluate
    from sparse_video_r1.evaluation.vllm_chat import VLLMChat

    images = max(EpisodeConfig(**EPISODE).most_images, EpisodeConfig(**EPISODE, **ZOOM).most_images)
    directories = {}
    for model in ("trained", "sft"):
        engine = None
        for name, method, _, episode in (run for run in RUNS if run[2] == model):
            directory = directories[name] = models[model].parent / "runs" / name
            if (directory / "results.json").is_file() and _answered(directory) >= settings.questions:
                continue
            if engine is None:
                engine = VLLMChat(models[model], reply_tokens=REPLY_TOKENS, max_images=images, **CPU_PIXELS)
            config = EvalConfig(
                data=str(data / "val.parquet"), method=method, model=str(models[model]), out_dir=str(directory),
                backend="vllm", limit=settings.questions, reply_tokens=REPLY_TOKENS, seed=settings.seed,
                run=name, episode={"wording": EPISODE["wording"], **episode}, **CPU_PIXELS,
            )  # fmt: skip
            evaluate(config, chat=engine)
        if engine is not None:
            engine.close()
    return [directories[name] for name, *_ in RUNS]


def _answered(directory: Path) -> int:
    return json.loads((directory / "results.json").read_text())["results"]["samples"]


@contextlib.contextmanager
def _into(log: Path, mode: str = "w"):
    """stdout and stderr of in-process work (its tables and progress bars) into a stage's log."""
    with log.open(mode) as handle, contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
        yield


def run_demo(
    out_dir: str | Path,
    learn: bool = False,
    seed: int = 0,
    questions: int | None = None,
    knobs: list[str] = (),
) -> int:
    import torch
    from transformers.utils import logging as transformers_logging

    from sparse_video_r1.evaluation.report import make_report

    if torch.cuda.is_available():
        raise SystemExit(GPU_NODE)
    transformers_logging.disable_progress_bar()  # its "Loading weights" bars, once per evaluation
    settings = with_knobs(replace(LEARN if learn else QUICK, seed=seed), list(knobs))
    if questions:
        settings = replace(settings, questions=questions)
    began = time.perf_counter()
    out = Path(out_dir).resolve()
    kind = "learning run" if learn else "quick run (every stage, too short to learn; --learn trains)"
    _say(f"1/5 the synthetic benchmark ({settings.videos} videos) and the tiny model; a {kind}, seed {seed}")
    data, model = _data(out, settings)
    _say(
        f"2/5 SFT: trajectories of {_players(settings)}, then {settings.sft_steps} steps of verl's SFT trainer"
    )
    sft_model = _sft(out, settings, data, model)
    _say(f"3/5 GRPO from the SFT checkpoint: {settings.grpo_steps} steps of verl's trainer")
    trained, curves = _grpo(out, settings, data, sft_model)
    _say(f"4/5 evaluations on {settings.questions} held-out questions")
    runs = _evaluate(settings, data, {"sft": sft_model, "trained": trained})
    _say("5/5 the report")
    report = out / "report"
    sft_curves = sft_model.parent / "checkpoints" / "tensorboard"
    written = make_report(
        runs, report, samples_to_draw=2, training={"sft": sft_curves, "grpo": curves}, pairs=PAIRS
    )
    _say(f"done in {time.perf_counter() - began:.0f} s")
    for name in ("table.md", "results.json", "accuracy_vs_frames.png", "report.html"):
        print(f"  {report / name}")
    pictures = [key for key in written if key.startswith("trajectories/")]
    print(f"  {len(pictures)} trajectory pictures in {report / 'trajectories'}")
    return 0


def _players(settings: DemoSettings) -> str:
    total = sum(weight for _, weight in settings.policies)
    return ", ".join(f"{name} {weight / total:.0%}" for name, weight in settings.policies)
