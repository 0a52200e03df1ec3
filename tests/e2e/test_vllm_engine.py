"""vLLM's own engine on this machine (vLLM's CPU build): the tiny model writes text under it, and the `vllm`
evaluation backend advances many episodes per batched call while writing what the `hf` backend writes."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
from PIL import Image

from sparse_video_r1.evaluation.records import read_samples
from sparse_video_r1.evaluation.run import EvalConfig, evaluate

PIXELS = {"max_pixels": 12544, "min_pixels": 3136}  # 16 visual tokens per frame
NEW_TOKENS = 16


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    from sparse_video_r1.evaluation.vllm_chat import VLLMChat

    chat = VLLMChat(tiny_model_dir, reply_tokens=NEW_TOKENS, max_images=25, max_videos=1, **PIXELS)
    yield chat
    chat.close()


@pytest.fixture(scope="module")
def val(tmp_path_factory) -> Path:
    from sparse_video_r1.data.prepare import prepare_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    prepare_synthetic(str(out), videos=8, seed=2)
    return out / "val.parquet"  # two videos, six questions


def _chats() -> list[list[dict]]:
    colours = ["red", "green", "blue", "white"]
    frames = [Image.new("RGB", (112, 112), colour) for colour in colours]
    questions = [
        "What colour is the square?",
        "How many dogs appear? A. one B. two",
        "Think, then answer.",
        "Hi",
    ]
    return [
        [{"role": "user", "content": [*({"type": "image", "image": f} for f in frames[: k + 1]),
                                      {"type": "text", "text": q}]}]
        for k, q in enumerate(questions)
    ]  # fmt: skip


def test_the_tiny_model_writes_text_under_vllm_and_transformers_alike(engine, tiny_model_dir):
    from vllm import SamplingParams

    from sparse_video_r1.evaluation.hf_chat import HFChat
    from sparse_video_r1.evaluation.vllm_chat import to_vllm_messages

    tokenizer = engine.llm.get_tokenizer()
    greedy = SamplingParams(max_tokens=NEW_TOKENS, temperature=0)
    outputs = engine.llm.chat([to_vllm_messages(c) for c in _chats()], greedy, use_tqdm=False)
    for output in outputs:
        ids = list(output.outputs[0].token_ids)
        # vLLM's detokenizer drops nothing: its text is the tokens' text (no lone byte held back).
        assert output.outputs[0].text and output.outputs[0].text == tokenizer.decode(
            ids, skip_special_tokens=True
        )
    hf = HFChat(tiny_model_dir, reply_tokens=NEW_TOKENS)
    assert all(hf(chat) for chat in _chats())


def test_a_sampled_reply_to_a_prompt_prefilled_over_several_steps_runs_on_vllms_cpu_build(engine):
    """A seeded request whose prefill is split over steps killed vLLM's CPU engine (it rewinds the request's
    generator, which a CPU generator cannot): `svr1 eval --temperature 1 --backend vllm` died on the
    episodes' first batch. sampling() leaves requests unseeded there; the engine's seed holds."""
    from vllm.platforms import current_platform

    from sparse_video_r1.evaluation.vllm_chat import sampling, to_vllm_messages

    params = sampling(engine.llm.get_tokenizer(), NEW_TOKENS, 1.0, seed=3, on_cpu=current_platform.is_cpu())
    # A prompt longer than a step's token budget is prefilled over several steps, and vLLM rewinds the
    # generator of a request whose prefill is split.
    long = [
        {"role": "user", "content": [{"type": "text", "text": "red green blue " * 2000 + "Which colour?"}]}
    ]
    prompts = [to_vllm_messages(long), *(to_vllm_messages(c) for c in _chats())]
    replies = [o.outputs[0].text for o in engine.llm.chat(prompts, params, use_tqdm=False)]
    assert all(replies)


class Spy:
    """The engine, with the size of every batch it was given."""

    def __init__(self, engine) -> None:
        self.engine, self.sizes = engine, []

    def batch(self, conversations):
        self.sizes.append(len(conversations))
        return self.engine.batch(conversations)


def _config(val: Path, out: Path, model: Path, backend: str, **options) -> EvalConfig:
    return EvalConfig(data=str(val), method="agent", model=str(model), out_dir=str(out), backend=backend,
                      reply_tokens=NEW_TOKENS, episode={"wording": "brief"}, **PIXELS, **options)  # fmt: skip


def test_the_vllm_backend_batches_episodes_and_writes_what_the_hf_backend_writes(
    engine, val, tiny_model_dir, tmp_path
):
    spy = Spy(engine)
    batched = evaluate(_config(val, tmp_path / "vllm", tiny_model_dir, "vllm", concurrency=4), chat=spy)
    assert max(spy.sizes) == 4 and len(spy.sizes) < sum(spy.sizes)  # several episodes per call
    one = evaluate(_config(val, tmp_path / "hf", tiny_model_dir, "hf"))
    records = {
        name: read_samples(tmp_path / name / f"samples_{val.parent.name}.jsonl") for name in ("vllm", "hf")
    }
    assert [r.doc_id for r in records["vllm"]] == [r.doc_id for r in records["hf"]]  # the samples' order
    assert len(records["vllm"]) == 6 and all(r.failure is None and r.resps for r in records["vllm"])
    assert all(asdict(a).keys() == asdict(b).keys() for a, b in zip(*records.values(), strict=True))
    assert batched["results"].keys() == one["results"].keys()
    pinned = {k: v for k, v in batched["config"].items() if k not in ("backend", "concurrency", "out_dir")}
    assert pinned == {
        k: v for k, v in one["config"].items() if k not in ("backend", "concurrency", "out_dir")
    }


def test_a_resumed_vllm_run_keeps_what_it_wrote_and_finishes_the_rest(engine, val, tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    evaluate(_config(val, out, tiny_model_dir, "vllm", limit=3), chat=engine)
    samples = out / f"samples_{val.parent.name}.jsonl"
    first = samples.read_text()
    results = evaluate(_config(val, out, tiny_model_dir, "vllm"), chat=engine)
    assert samples.read_text().startswith(first) and results["results"]["samples"] == 6
    assert len({r.doc_id for r in read_samples(samples)}) == 6
    assert json.loads((out / "run.json").read_text())["backend"] == "vllm"


def test_the_video_method_feeds_vllm_and_transformers_the_same_video(engine, val, tiny_model_dir, tmp_path):
    """Qwen's native video input: the same frames, the same number of video tokens (two frames to a token,
    the grid from the frames' size) under vLLM and transformers, and the same records."""

    video_pixels = {"video_max_pixels": PIXELS["max_pixels"], "video_min_pixels": PIXELS["min_pixels"]}
    runs = {}
    for backend in ("vllm", "hf"):
        config = EvalConfig(data=str(val), method="video", model=str(tiny_model_dir), out_dir=str(tmp_path / backend),
                            backend=backend, reply_tokens=NEW_TOKENS, limit=2, **video_pixels)  # fmt: skip
        runs[backend] = evaluate(config, chat=engine if backend == "vllm" else None)
    records = {b: read_samples(tmp_path / b / f"samples_{val.parent.name}.jsonl") for b in runs}
    for a, b in zip(records["vllm"], records["hf"], strict=True):
        assert (a.frames, a.visual_tokens, a.resps) == (b.frames, b.visual_tokens, b.resps)
        assert (
            len(a.frames) == 10 and a.visual_tokens == 5 * 12
        )  # 10 s at 1 fps: 5 frame pairs of 4 x 3 tokens
    assert runs["vllm"]["config"]["video_fps"] == 1.0 and runs["vllm"]["config"]["video_max_pixels"] == 12544


def test_vllm_gives_a_video_the_temporal_positions_of_its_frame_rate(engine, tiny_model_dir):
    """Qwen places a video's frames in time by the rate they were taken at (second_per_grid_ts). vLLM must get
    the rate we give (it drops metadata passed beside the frames, and the processor then assumes 24 fps): its
    log-probs for a video prompt match transformers' at the true rate, and transformers' at 24 fps differ."""
    from vllm import SamplingParams

    from sparse_video_r1.evaluation.hf_chat import HFChat

    frames = [Image.new("RGB", (112, 112), colour) for colour in ("red", "green", "blue", "white")]
    question = {"type": "text", "text": "What colour comes last?"}
    messages = [{"role": "user", "content": [{"type": "video", "video": frames, "fps": 2.0}, question]}]
    (output,) = engine.llm.generate(
        [engine._video_prompt(messages)],
        SamplingParams(max_tokens=1, temperature=0, logprobs=0),
        use_tqdm=False,
    )
    token = output.outputs[0].token_ids[0]
    vllm_log_prob = output.outputs[0].logprobs[0][token].logprob

    generator = HFChat(tiny_model_dir).generator
    text = generator.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, question]}],
        add_generation_prompt=True,
        tokenize=False,
    )
    hf = {}
    for fps in (2.0, 24.0):
        inputs = generator.processor(text=[text], return_tensors="pt", **_video_kwargs(messages, fps))
        assert list(output.prompt_token_ids) == inputs["input_ids"][0].tolist()  # 2 x 16 video tokens
        videos = {k: inputs[k] for k in ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts")}
        generation = generator.generate(inputs["input_ids"][0].tolist(), max_tokens=1, video_inputs=videos,
                                        temperature=0)  # fmt: skip
        assert generation.token_ids == [token]
        hf[fps] = generation.log_probs[0]
    assert abs(vllm_log_prob - hf[2.0]) < 1e-4 < abs(hf[24.0] - hf[2.0])


def _video_kwargs(messages, fps):
    from sparse_video_r1.evaluation.hf_chat import _video_kwargs as kwargs

    return kwargs([{**p, "fps": fps} for m in messages for p in m["content"] if p["type"] == "video"])
