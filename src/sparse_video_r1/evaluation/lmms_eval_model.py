"""`lmms-eval --model svr1`: our multi-round episodes answer lmms-eval's multiple-choice video tasks.

    lmms-eval --model svr1 --tasks videomme \
        --model_args pretrained=CHECKPOINT,mode=zoom,backend=vllm,max_zooms=2

lmms-eval finds the model through the entry point `lmms_eval.models` (pyproject.toml): `manifest`.
Each request becomes a `methods.Sample`: the video from the task's `doc_to_visual`, the question and options
split from the task's prompt (data/options.py: the text before the options, without the task's own
instructions such as "Respond with only the letter", which would contradict the episode's reply format).
All requests run through `backends.answer_samples` together, as `svr1 eval` runs them (vllm advances them in
batches), and each gets back only its answer letter, or "" when the episode gave none. The episode has its
own reply cap and rounds, so the task's `max_new_tokens` and `until` are not used.

model_args: pretrained, mode (frames | zoom), backend (vllm | hf), any `svr1 eval` setting (first_frames,
reply_tokens, concurrency, seed, temperature, tensor_parallel_size, ...), any EpisodeConfig field
(max_rounds, zoom_frames, ...), and records_path: a file for our full episode records (jsonl).
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from lmms_eval.api.model import lmms
from loguru import logger
from tqdm import tqdm

from sparse_video_r1.agent.episode import EpisodeConfig, Question
from sparse_video_r1.data.options import split_options, strip_instructions
from sparse_video_r1.evaluation.backends import answer_samples, make_chat
from sparse_video_r1.evaluation.config import EPISODE_METHODS, RENAMED_SETTINGS, EvalConfig
from sparse_video_r1.evaluation.methods import Sample, sample_seed

_NOT_SETTINGS = {"data", "method", "model", "out_dir", "episode", "limit", "run", "shard"}


def manifest():
    """The entry point's payload. A function, so that lmms-eval's model registry, which loads the entry points
    as it is first imported, is imported only when it asks: importing this module first does not cycle."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return ModelManifest(model_id="svr1", simple_class_path=f"{__name__}.SparseVideoR1")


def eval_config(pretrained: str, mode: str, backend: str, **options) -> EvalConfig:
    """The `svr1 eval` settings of a model_args string: its settings, the rest as episode overrides."""
    if mode not in EPISODE_METHODS:
        raise ValueError(f"svr1: mode={mode!r}; choose one of {', '.join(EPISODE_METHODS)}")
    if backend not in ("vllm", "hf"):
        raise ValueError(f"svr1: backend={backend!r}; choose vllm or hf")
    options = {RENAMED_SETTINGS.get(key, key): value for key, value in options.items()}  # older names too
    settings = {f.name for f in fields(EvalConfig)} - _NOT_SETTINGS
    rules = {f.name for f in fields(EpisodeConfig)} - {"mode"}
    unknown = sorted(set(options) - settings - rules)
    if unknown:
        raise ValueError(f"svr1: unknown model_args {unknown}; see `svr1 eval --help` for the settings")
    return EvalConfig(
        data="",
        method=mode,
        model=str(pretrained),
        out_dir="",
        backend=backend,
        **{k: v for k, v in options.items() if k in settings},
        episode={k: v for k, v in options.items() if k not in settings},
    )


class SparseVideoR1(lmms):
    """A simple lmms-eval model: (context, gen_kwargs, doc_to_visual, doc_id, task, split) in, a letter out."""

    is_simple = True

    def __init__(
        self,
        pretrained: str,
        mode: str = "frames",
        backend: str = "vllm",
        device: str | None = None,
        batch_size: int | str = 1,  # lmms-eval's; the vllm backend batches `concurrency` episodes
        max_batch_size: int | None = None,
        records_path: str = "",
        **options,
    ) -> None:
        super().__init__()
        if device is None:
            import torch

            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.config = eval_config(pretrained, mode, backend, device=device, **options)
        self.records_path = Path(records_path) if records_path else None
        if self.records_path:
            self.records_path.parent.mkdir(parents=True, exist_ok=True)
            self.records_path.write_text("")
        self.chat = make_chat(self.config)

    def _sample(self, request) -> Sample | None:
        context, _gen_kwargs, doc_to_visual, doc_id, task, split = request.args
        try:
            text, options = split_options(context)
        except ValueError as error:
            logger.warning(f"svr1: {task} doc {doc_id}: no options in its prompt ({error}); answering ''")
            return None
        video = doc_to_visual(self.task_dict[task][split][doc_id])[0]
        return Sample(
            doc_id=str(doc_id),
            question=Question(strip_instructions(text), options),
            target="",  # unknown here: lmms-eval's process_results scores the letter
            type=task,
            video=str(video),
            seed=sample_seed(self.config.seed, int(doc_id)),  # as `svr1 eval` seeds the row doc_id
        )

    def generate_until(self, requests) -> list[str]:
        answers = [""] * len(requests)
        todo = [(i, sample) for i, r in enumerate(requests) if (sample := self._sample(r)) is not None]
        bar = tqdm(total=len(requests), disable=self.rank != 0, desc="svr1 episodes")
        bar.update(len(requests) - len(todo))
        records = answer_samples(self.config, [sample for _, sample in todo], self.chat)
        for (i, _), record in zip(todo, records, strict=True):
            answers[i] = record.parsed or ""
            if record.failure:
                logger.warning(f"svr1: {record.type} doc {record.doc_id}: {record.failure}; answering ''")
            if self.records_path:
                with self.records_path.open("a", encoding="utf-8") as out:
                    out.write(record.to_json() + "\n")
            bar.update(1)
        bar.close()
        return answers

    def loglikelihood(self, requests):
        raise NotImplementedError(
            "svr1 answers multiple-choice video tasks by generation (generate_until); "
            "it has no log-likelihoods for loglikelihood tasks"
        )

    def generate_until_multi_round(self, requests):
        raise NotImplementedError(
            "svr1 runs its own multi-round episodes; lmms-eval's multi-round tasks are not supported"
        )
