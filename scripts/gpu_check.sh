#!/bin/sh
# Prove the GPU path on a new node in about ten minutes, with no model hub: a reduced-size Qwen2.5-VL built
# offline, 2 GRPO steps of train.sh (vLLM's CUDA rollout, FSDP2, bf16, flash-attn when installed), a resume
# and a short `svr1 eval`, each stage printed as pass/fail with its time and peak GPU memory.
#
#   sh scripts/gpu_check.sh [--work-dir outputs/gpu-check]     # --dry-run: only what needs no GPU
set -eu
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
exec .venv/bin/python -m sparse_video_r1.training.gpu_check "$@"
