#!/bin/sh
# Sparse-Video-R1 SFT cold start: `sh sft.sh [hydra overrides...]`, e.g. `DATA_DIR=data/sft sh sft.sh optim.lr=2e-5`.
#
# verl's own SFT trainer on the trajectories of `svr1 sft-data` (every assistant turn trained, the environment's
# turns masked). GPUs visible: Qwen2.5-VL-3B, lr 1e-5, 2 epochs, on every visible GPU. No GPU: the tiny offline
# model, fp32. It ends by naming the Hugging Face checkpoint that `MODEL=... sh train.sh` starts RL from.
# DRY_RUN=1 checks the run and prints the composed config, writing nothing.
set -eu

MODEL=${MODEL:-}                  # checkpoint path or hub name (default: Qwen2.5-VL-3B; the tiny model on CPU)
DATA_DIR=${DATA_DIR:-data/sft}    # train.parquet (+ val.parquet) from `svr1 sft-data`
N_GPUS=${N_GPUS:-}                # GPUs (default: all visible)
EXPERIMENT=${EXPERIMENT:-}        # trainer.experiment_name
STEPS=${STEPS:-}                  # trainer.total_training_steps (default: the epochs')
EPOCHS=${EPOCHS:-}                # trainer.total_epochs (default: 2)
LR=${LR:-}                        # optim.lr (default: 1e-5; CPU: 2e-3)
FREEZE_VISION=${FREEZE_VISION:-0} # 1: the vision tower's weights do not train
DEVICE=${DEVICE:-auto}            # auto | gpu | cpu
DRY_RUN=${DRY_RUN:-0}
LOG_DIR=${LOG_DIR:-}              # default: logs/, or a temporary folder for a dry run

for name in MODEL DATA_DIR LOG_DIR; do
    eval "value=\${$name}"
    case "$value" in "" | /*) ;; *) { [ -e "$value" ] || [ "$name" = LOG_DIR ]; } && eval "$name=\$PWD/\$value" ;; esac
done
if [ -z "$LOG_DIR" ]; then
    if [ "$DRY_RUN" = 1 ]; then LOG_DIR=$(mktemp -d); else LOG_DIR=logs; fi
fi
cd "$(dirname "$0")"

[ -x .venv/bin/python ] || bash scripts/setup.sh
mkdir -p "$LOG_DIR"
log="$LOG_DIR/sft_$(date +%Y%m%d_%H%M%S).log"
status="$LOG_DIR/.sft_status.$$"
flags=""
[ "$DRY_RUN" = 1 ] && flags="--dry-run"
[ "$FREEZE_VISION" = 1 ] && flags="$flags --freeze-vision"

{
    code=0
    .venv/bin/python -m sparse_video_r1.training.sft_launch $flags --device "$DEVICE" --model "$MODEL" \
        --data-dir "$DATA_DIR" --gpus "$N_GPUS" --experiment "$EXPERIMENT" --steps "$STEPS" --epochs "$EPOCHS" \
        --lr "$LR" "$@" || code=$?
    echo "$code" >"$status"
} 2>&1 | tee "$log"
code=$(cat "$status")
rm -f "$status"
echo "[sft] log: $log (exit $code)"
exit "$code"
