"""`svr1 eval --backend openai --concurrency N` against a real `vllm serve` of the tiny model on 127.0.0.1:
several episodes' requests in flight, every answer back, written in the samples' order."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sparse_video_r1.evaluation.records import read_samples
from sparse_video_r1.evaluation.run import EvalConfig, evaluate, load_samples

PIXELS = {"max_pixels": 12544, "min_pixels": 3136}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    """`vllm serve` as a user starts it on a machine without a GPU; its base URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("vllm-serve") / "serve.log"
    command = [
        str(Path(sys.executable).parent / "vllm"), "serve", str(tiny_model_dir), "--host", "127.0.0.1",
        "--port", str(port), "--dtype", "float32", "--max-model-len", "4096", "--enforce-eager",
        "--limit-mm-per-prompt", json.dumps({"image": 25, "video": 0}),
        "--mm-processor-kwargs", json.dumps(PIXELS), "--kv-cache-memory-bytes", str(1 << 30),
    ]  # fmt: skip
    with log.open("w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert process.poll() is None, f"vllm serve exited:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"vllm serve did not come up:\n{log.read_text()[-3000:]}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=60)


@pytest.fixture(scope="module")
def val(tmp_path_factory) -> Path:
    from sparse_video_r1.data.prepare import prepare_synthetic

    out = tmp_path_factory.mktemp("synthetic")
    prepare_synthetic(str(out), videos=8, seed=2)
    return out / "val.parquet"  # two videos, six questions


@pytest.mark.parametrize("concurrency", [1, 4])
def test_agent_episodes_against_vllm_serve_come_back_complete_and_in_order(
    server, val, tiny_model_dir, tmp_path, concurrency
):
    config = EvalConfig(
        data=str(val), method="agent", model=str(tiny_model_dir), out_dir=str(tmp_path), backend="openai",
        base_url=server, concurrency=concurrency, reply_tokens=16, episode={"wording": "brief"}, **PIXELS,
    )  # fmt: skip
    results = evaluate(config)
    records = read_samples(tmp_path / f"samples_{val.parent.name}.jsonl")
    assert [r.doc_id for r in records] == [s.doc_id for s in load_samples(str(val), 0, None)]
    assert all(r.failure is None and r.resps and all(r.resps) for r in records)
    assert results["results"]["failures"] == 0 and results["config"]["concurrency"] == concurrency
