"""Rollout turns on the real verl path: where a turn's time goes, episodes per second, the frame step against
the original Sparse-Video-R1, and what reusing the KV cache across rounds would save.

    .venv/bin/python benchmarks/rollout.py [--episodes 8] [--repeats 5] [--cache-dir ~/.cache/sparse-video-r1/bench-rollout]

Everything runs in process on CPU: verl's own AgentLoopWorker runs our EpisodeAgentLoop with an LLM
client serving the tiny random Qwen2.5-VL and verl's reward worker behind it, with the config composed as
the tests compose it (tests/verl_harness.py). The client is the tests' transformers one (tests/
hf_token_server.py), and for table 2 also vLLM's engine behind verl's generate() contract
(vllm_token_client.py): the engine training runs, here on vLLM's CPU build. The tiny model and a NExT-QA-like video
(40 s, 640x360, 30 fps H.264, keyframe every 250 frames, B-frames) are made once in --cache-dir. Timings
are medians over --repeats. torch runs on --threads threads (default 1): on a small shared machine two
intra-op threads competing with another process for the cores make the timings swing by 10x.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker

from sparse_video_r1.agent import episode as episode_module
from sparse_video_r1.agent import runner
from sparse_video_r1.agent.episode import EpisodeConfig
from sparse_video_r1.agent.verl_loop import EpisodeAgentLoop
from sparse_video_r1.generation.hf_generator import HFGenerator
from sparse_video_r1.tiny_model import build_tiny_model
from sparse_video_r1.video import open_video, uniform_timestamps
from sparse_video_r1.video.cache import decoder_cache, frame_cache
from sparse_video_r1.video.images import resize_to_budget
from sparse_video_r1.video.writer import write_video

# verl's trainer config composed as the tests compose it, and the tests' batch helpers.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from vllm_token_client import VLLMTokenClient

from hf_token_server import HFGenerationServer
from verl_harness import LocalActorHandle, ScriptedServer, compose_config, make_batch, row

DURATION, FPS, WIDTH, HEIGHT = 40, 30, 640, 360
K = 5  # frames per turn
PROMPT_LENGTH, RESPONSE_LENGTH = 2048, 2048  # two turns of five 640x360 frames need ~1300 response tokens
SCRIPT = (  # every turn decodes five new frames, merges a turn with images and runs the processor
    "<think>I need the start.</think><frames>2, 6, 10, 14, 18</frames>",
    "<think>And the end.</think><frames>22, 26, 30, 34, 38</frames>",
    "<think>The square moves left.</think><answer>B</answer>",
)


# --- the model and the video, made once ---------------------------------------------------------------


def prepare(cache_dir: Path) -> tuple[Path, Path]:
    model_dir, video = cache_dir / "tiny-model", cache_dir / "nextqa_like_40s.mp4"
    if not (model_dir / "config.json").exists():
        print(f"making {model_dir} (once)", flush=True)
        build_tiny_model(model_dir)
    if not video.exists():
        print(f"making {video} (once)", flush=True)
        partial = video.with_suffix(".partial.mp4")
        write_video(partial, _moving_frames(DURATION * FPS), FPS, gop=250, b_frames=2, crf=23)
        partial.rename(video)
    return model_dir, video


def _moving_frames(count: int):
    """A blocky random texture panning 2 px a frame with a red square crossing it: motion for the encoder."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (HEIGHT // 8, WIDTH // 4, 3), np.uint8).repeat(8, 0).repeat(8, 1)
    for i in range(count):
        shift = 2 * i % WIDTH
        frame = texture[:, shift : shift + WIDTH].copy()
        x = WIDTH - 80 - i * (WIDTH - 80) // count
        frame[140:220, x : x + 80] = (220, 30, 30)
        yield frame


# --- spies: delegating wrappers that add up wall time by name -----------------------------------------


class Spies:
    """Delegating wrappers that add each call's wall time to a total by name (seconds)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()

    def sync(self, name: str, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return timed

    def coro(self, name: str, fn):
        @functools.wraps(fn)
        async def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - start

        return timed

    def in_flight(self, name: str, fn):
        """For calls that overlap (vLLM serves many at once): the wall time during which at least one runs."""
        running, since = 0, 0.0

        @functools.wraps(fn)
        async def timed(*args, **kwargs):
            nonlocal running, since
            if running == 0:
                since = time.perf_counter()
            running += 1
            try:
                return await fn(*args, **kwargs)
            finally:
                running -= 1
                if running == 0:
                    self.seconds[name] += time.perf_counter() - since

        return timed

    def install_on_loop(self) -> None:
        """Frame decoding, token merges with the processor, and reply parsing, wherever the loop calls them."""
        runner.decode_frames = self.sync("frames", runner.decode_frames)
        episode_module.parse_reply = self.sync("parse", episode_module.parse_reply)
        for method, name in (
            ("ct_build_initial_tokens", "opening"),
            ("ct_merge_context_msg", "turn merge"),
            ("ct_merge_assistant_token", "reply merge"),
        ):
            setattr(EpisodeAgentLoop, method, self.coro(name, getattr(EpisodeAgentLoop, method)))

    def install_on_worker(self, worker: AgentLoopWorker) -> None:
        """Its LLM client's generate, and verl's per-episode and per-batch postprocessing (with the reward)."""
        worker.llm_client.generate = self.coro("generation", worker.llm_client.generate)
        worker._agent_loop_postprocess = self.coro("postprocess", worker._agent_loop_postprocess)
        worker._postprocess = self.sync("postprocess", worker._postprocess)


def make_worker(config, client) -> AgentLoopWorker:
    """verl's agent-loop worker with `client` as its LLM server and verl's reward worker, in process."""
    worker = AgentLoopWorker(config, llm_client=client)
    worker.reward_loop_worker_handles = [LocalActorHandle(RewardLoopWorker(config))]
    return worker


# --- 1. per-turn cost of everything but generation ----------------------------------------------------

PARTS = (
    ("frames", "frame decoding (`decode_frames` -> `Video.frames_at`)"),
    ("opening", "opening tokens + processor (`ct_build_initial_tokens`)"),
    ("turn merge", "turn merge + processor (`ct_merge_context_msg`)"),
    ("reply merge", "reply merge (`ct_merge_assistant_token`)"),
    ("parse", "reply parsing (`parse_reply`)"),
    ("postprocess", "verl postprocess + reward (once an episode)"),
)


async def turn_costs(worker: AgentLoopWorker, batch, spies: Spies, repeats: int) -> dict[str, dict]:
    """Per-turn ms of each part, median over `repeats` scripted episodes, for a cold and a warm rollout.

    Cold is the first rollout on the video in the process (caches cleared: open + decode); warm is another
    rollout of the same GRPO group asking for the same frames (all in the frame cache).
    """
    samples: dict[str, dict[str, list[float]]] = {"cold": defaultdict(list), "warm": defaultdict(list)}
    for _ in range(repeats):
        for kind in ("cold", "warm"):
            if kind == "cold":
                frame_cache.clear()
                decoder_cache.clear()
            spies.seconds.clear()
            start = time.perf_counter()
            out = await worker.generate_sequences(batch)
            total = time.perf_counter() - start
            record = out.non_tensor_batch["episode"][0]
            assert (record["end"], record["rounds"]) == ("answer", len(SCRIPT)), record
            per_turn = {name: 1000 * s / record["rounds"] for name, s in spies.seconds.items()}
            per_turn["total"] = 1000 * total / record["rounds"]
            per_turn["else"] = per_turn["total"] - per_turn["generation"]
            per_turn["rest"] = per_turn["else"] - sum(per_turn.get(name, 0.0) for name, _ in PARTS)
            for name, ms in per_turn.items():
                samples[kind][name].append(ms)
    return {
        kind: {name: statistics.median(v) for name, v in parts.items()} for kind, parts in samples.items()
    }


def print_turn_costs(costs: dict[str, dict], repeats: int) -> None:
    cold, warm = costs["cold"], costs["warm"]
    print(
        f"\n**1. Per turn, everything but generation** (verl AgentLoopWorker.generate_sequences, one scripted "
        f"episode of {len(SCRIPT)} rounds with {K} new frames a turn; generation = the tiny model scoring the "
        f"scripted reply in one forward pass; median ms per turn over {repeats} episodes)\n"
    )
    print("| per turn | cold: first rollout on the video | warm: another rollout of the group |")
    print("| --- | --- | --- |")

    def line(label: str, name: str, share: bool = False) -> None:
        cells = [f"{c[name]:.1f}" + (f" ({c[name] / c['total']:.0%})" if share else "") for c in (cold, warm)]
        print(f"| {label} | {cells[0]} | {cells[1]} |")

    line("whole turn", "total")
    line("generation", "generation", share=True)
    line("**everything else**", "else", share=True)
    for name, label in PARTS:
        line(f"- {label}", name, share=True)
    line("- the rest (reply decode, episode rules, asyncio, threads)", "rest", share=True)


# --- 2. episodes per second with real sampling ----------------------------------------------------------


async def sampled_throughput(worker: AgentLoopWorker, batch, spies: Spies, repeats: int) -> dict:
    """Batch wall time, turns, and the share of it the (serialised) generator spent sampling, medians."""
    samples, ends = defaultdict(list), Counter()
    for _ in range(repeats):
        spies.seconds.clear()
        start = time.perf_counter()
        out = await worker.generate_sequences(batch)
        wall = time.perf_counter() - start
        records = out.non_tensor_batch["episode"]
        samples["wall"].append(wall)
        samples["turns"].append(sum(record["rounds"] for record in records))
        samples["busy"].append(spies.seconds["sampling"] / wall)
        ends.update(record["end"] for record in records)
    return {"episodes": len(batch), "ends": ends} | {
        name: statistics.median(v) for name, v in samples.items()
    }


def print_throughput(results: dict[str, dict], rows: int, group: int, repeats: int) -> None:
    print(
        f"\n**2. Sampled episodes through verl's worker** ({rows} rows x group of {group} on the 40 s video, "
        f"sampling at temperature 1 from the random tiny model, whose replies are invalid, so episodes run to "
        f"the round limit or the token budget; generation = share of the wall time with a generation under way "
        f"(transformers runs one at a time, vLLM batches them), the rest is spent outside generation; median "
        f"over {repeats} batches)\n"
    )
    print(
        "| engine | episodes | turns | wall s | episodes/s | turns/s | generation | outside generation "
        "| how episodes ended (all batches) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for engine, result in results.items():
        episodes, turns, wall = result["episodes"], result["turns"], result["wall"]
        ends = ", ".join(f"{end}: {n}" for end, n in result["ends"].most_common())
        print(
            f"| {engine} | {episodes} | {turns:.0f} | {wall:.1f} | {episodes / wall:.2f} | {turns / wall:.2f} "
            f"| {result['busy']:.0%} | {1 - result['busy']:.0%} | {ends} |"
        )


# --- 3. the environment step: the original Sparse-Video-R1 vs ours ------------------------------------


def original_step(path: Path, times: list[float], min_pixels: int, max_pixels: int) -> list[Image.Image]:
    """The original Sparse-Video-R1's frame access: a capture per turn, a seek per frame, no cache."""
    import cv2

    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    images = []
    for t in times:
        capture.set(cv2.CAP_PROP_POS_FRAMES, int(t * fps))
        ok, frame = capture.read()
        if not ok:
            raise RuntimeError(f"OpenCV could not read {path} at {t} s")
        image = Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
        images.append(resize_to_budget(image, min_pixels, max_pixels))
    capture.release()
    return images


def our_step(path: Path, times: list[float], min_pixels: int, max_pixels: int) -> list[Image.Image]:
    return open_video(path).frames_at(times, min_pixels=min_pixels, max_pixels=max_pixels)


def group_requests(group: int, turns: int, seed: int) -> list[list[list[float]]]:
    """Per turn, per rollout, K times: every rollout opens on the same uniform frames, then asks for its own."""
    rng = np.random.default_rng(seed)
    opening = [uniform_timestamps(DURATION, K)] * group
    follow_ups = [
        [sorted(rng.uniform(0, DURATION, K).round(1).tolist()) for _ in range(group)]
        for _ in range(turns - 1)
    ]
    return [opening, *follow_ups]


def frame_step_costs(path: Path, group: int, turns: int, repeats: int) -> dict[str, dict[str, float]]:
    """Median ms per turn (opening turns, follow-up turns, all) of each method over `repeats` groups."""
    config = EpisodeConfig()
    samples: dict[str, dict[str, list[float]]] = {"original": defaultdict(list), "ours": defaultdict(list)}
    for repeat in range(repeats):
        requests = group_requests(group, turns, seed=repeat)
        for name, step in (("original", original_step), ("ours", our_step)):
            frame_cache.clear()  # the group is the first to look at this video in the process
            decoder_cache.clear()
            seconds = []
            for turn in requests:  # rollouts of a group run their turns side by side
                for times in turn:
                    start = time.perf_counter()
                    step(path, times, config.min_pixels, config.max_pixels)
                    seconds.append(time.perf_counter() - start)
            opening, follow_ups = seconds[:group], seconds[group:]
            for label, part in (("opening", opening), ("follow-up", follow_ups), ("all", seconds)):
                samples[name][label].append(1000 * sum(part) / len(part))
    return {
        name: {label: statistics.median(v) for label, v in parts.items()} for name, parts in samples.items()
    }


def print_frame_steps(costs: dict, group: int, turns: int, repeats: int) -> None:
    print(
        f"\n**3. Environment step, K={K} frames a turn** (decode + PIL + resize to 128 visual tokens, for a GRPO "
        f"group of {group} rollouts x {turns} turns on the 40 s 640x360 video, first group on the video; "
        f"mean ms per turn, median over {repeats} groups; ratio = original / ours)\n"
    )
    print(
        "| turns | original: cv2 capture per turn, seek per frame | ours: open_video().frames_at() | ratio |"
    )
    print("| --- | --- | --- | --- |")
    labels = {
        "opening": "opening (same frames in every rollout)",
        "follow-up": "follow-up (each rollout's own frames)",
        "all": "all turns",
    }
    for key, label in labels.items():
        theirs, ours = costs["original"][key], costs["ours"][key]
        print(f"| {label} | {theirs:.1f} | {ours:.1f} | {theirs / ours:.1f}x |")


# --- 4. what KV reuse across rounds would save ----------------------------------------------------------


def _vision(generator: HFGenerator, images: list[Image.Image]) -> dict[str, torch.Tensor]:
    if not images:
        return {}
    inputs = generator.processor.image_processor(images=images, return_tensors="pt")
    return {"pixel_values": inputs["pixel_values"], "image_grid_thw": inputs["image_grid_thw"]}


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@torch.no_grad()
def prefill_costs(
    generator: HFGenerator, prompt: list[int], images: list[Image.Image], reused: int, reused_images: int
) -> tuple[float, float]:
    """Seconds of the round's prefill (image preprocessing, vision encoder, forward over the prompt) from
    scratch, and with the KV of the first `reused` tokens (holding `reused_images` images) already cached.
    The cached path is checked to give the same next-token logits."""
    model, ids = generator.model, torch.tensor([prompt])
    types = (ids == generator.image_token_id).long()

    start = time.perf_counter()
    full = model(input_ids=ids, mm_token_type_ids=types, **_vision(generator, images)).logits[0, -1]
    scratch = time.perf_counter() - start
    if not reused:
        return scratch, scratch

    grids = _vision(generator, images)["image_grid_thw"]
    positions, _ = model.model.get_rope_index(ids, mm_token_type_ids=types, image_grid_thw=grids)
    cache = model(
        input_ids=ids[:, :reused],
        mm_token_type_ids=types[:, :reused],
        position_ids=positions[:, :, :reused],
        use_cache=True,
        **_vision(generator, images[:reused_images]),
    ).past_key_values
    start = time.perf_counter()
    cached = model(
        input_ids=ids[:, reused:],
        mm_token_type_ids=types[:, reused:],
        position_ids=positions[:, :, reused:],
        past_key_values=cache,
        use_cache=True,
        **_vision(generator, images[reused_images:]),
    ).logits[0, -1]
    with_cache = time.perf_counter() - start
    assert torch.allclose(full, cached, atol=1e-3), "the cached prefill does not reproduce the full one"
    return scratch, with_cache


def kv_reuse(generator: HFGenerator, rounds: list, reply_tokens: int, repeats: int) -> list[dict]:
    """Per round: how much of generating a typical reply is prefill the previous round already did."""
    results = []
    for k, (prompt, images, _) in enumerate(rounds):
        reused, reused_images = 0, 0
        if k:
            previous_prompt, previous_images, previous_reply = rounds[k - 1]
            reused = _common_prefix(previous_prompt + previous_reply, prompt)
            reused_images = len(previous_images)
        timings = defaultdict(list)
        for repeat in range(repeats):
            start = time.perf_counter()
            out = generator.generate(prompt, images=images, max_tokens=reply_tokens, seed=repeat)
            timings["generation"].append(time.perf_counter() - start)
            timings["tokens"].append(len(out.token_ids))
            scratch, with_cache = prefill_costs(generator, prompt, images, reused, reused_images)
            timings["scratch"].append(scratch)
            timings["cached"].append(with_cache)
        medians = {name: statistics.median(v) for name, v in timings.items()}
        results.append({"round": k + 1, "prompt": len(prompt), "reused": reused, **medians})
    return results


def print_kv_reuse(results: list[dict], reply_tokens: int, repeats: int) -> None:
    print(
        f"\n**4. KV reuse across rounds** (the tiny model on CPU, HFGenerator.generate of up to {reply_tokens} "
        f"tokens at temperature 1 on each round's prompt of the scripted episode; saved = prefill from scratch "
        f"- prefill of only the new turn on the previous round's cached KV; median ms over {repeats})\n"
    )
    print(
        "| round | prompt tokens | already processed | generation ms (tokens) | prefill from scratch ms "
        "| prefill of the new turn ms | saved share of generation |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        saved = (r["scratch"] - r["cached"]) / r["generation"]
        print(
            f"| {r['round']} | {r['prompt']} | {r['reused']} ({r['reused'] / r['prompt']:.0%}) "
            f"| {1000 * r['generation']:.0f} ({r['tokens']:.0f}) | {1000 * r['scratch']:.1f} "
            f"| {1000 * r['cached']:.1f} | {saved:.0%} |"
        )


# --- main -------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=8, help="sampled episodes a batch (table 2)")
    parser.add_argument("--group", type=int, default=2, help="GRPO group size of the sampled batch (table 2)")
    parser.add_argument("--batches", type=int, default=2, help="sampled batches (table 2)")
    parser.add_argument("--frame-group", type=int, default=8, help="rollouts of the GRPO group (table 3)")
    parser.add_argument("--reply-tokens", type=int, default=128, help="a typical reply's length (table 4)")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of tables 1, 3 and 4")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path.home() / ".cache/sparse-video-r1/bench-rollout"
    )
    args = parser.parse_args()
    began = time.perf_counter()
    torch.set_num_threads(args.threads)
    model_dir, video = prepare(args.cache_dir)
    config = compose_config(model_dir, prompt_length=PROMPT_LENGTH, response_length=RESPONSE_LENGTH)
    server = HFGenerationServer(model_dir, prompt_length=PROMPT_LENGTH, response_length=RESPONSE_LENGTH)
    generator = server.generator
    spies = Spies()
    spies.install_on_loop()
    generator.model.generate = spies.sync("sampling", generator.model.generate)
    rows, group = max(1, args.episodes // args.group), args.group

    async def rollouts():
        scripted = ScriptedServer(generator, list(SCRIPT))
        worker = make_worker(config, scripted)
        spies.install_on_worker(worker)
        one = make_batch([row(video, DURATION)])
        await worker.generate_sequences(one)  # warm-up (first calls); its rounds feed table 4
        costs = await turn_costs(worker, one, spies, args.repeats)
        batch = make_batch([row(video, DURATION, index=i) for i in range(rows)], repeat=group)
        throughput = {
            "transformers": await sampled_throughput(make_worker(config, server), batch, spies, args.batches)
        }
        engine = VLLMTokenClient(model_dir, max_model_len=PROMPT_LENGTH + RESPONSE_LENGTH,
                                 response_length=RESPONSE_LENGTH)  # fmt: skip
        try:
            engine.generate = spies.in_flight("sampling", engine.generate)
            worker = make_worker(config, engine)
            await worker.generate_sequences(batch)  # warm-up: vLLM's first requests
            throughput["vLLM (CPU build)"] = await sampled_throughput(worker, batch, spies, args.batches)
        finally:
            engine.close()
        return costs, throughput, next(iter(scripted.rounds.values()))

    costs, throughput, rounds = asyncio.run(rollouts())
    print_turn_costs(costs, args.repeats)
    print_throughput(throughput, rows, group, args.batches)
    turns = len(SCRIPT)
    steps = frame_step_costs(video, args.frame_group, turns, args.repeats)
    print_frame_steps(steps, args.frame_group, turns, args.repeats)
    print_kv_reuse(
        kv_reuse(generator, rounds, args.reply_tokens, args.repeats), args.reply_tokens, args.repeats
    )
    print(f"\nwhole run: {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
