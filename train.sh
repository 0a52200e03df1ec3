#!/bin/sh
# Sparse-Video-R1 training: `sh train.sh [hydra overrides...]`, e.g. `sh train.sh trainer.total_epochs=3`.
#
# GPUs visible: the seed paper's setting (Qwen2.5-VL-3B, GRPO, vLLM) on data/nextqa (or DATA_DIR; DATA_DIR=synthetic
# for the embedded benchmark). No GPU: the tiny offline model on the synthetic benchmark through the CPU backend,
# two steps, to see the whole loop work. DRY_RUN=1 runs every check and verl's validate_config, prints a verdict
# per check and the composed config, and writes nothing (its log goes to a temporary folder).
set -eu

MODEL=${MODEL:-}                        # checkpoint path or hub name (default: Qwen2.5-VL-3B; tiny model on CPU)
DATA_DIR=${DATA_DIR:-}                  # train.parquet + val.parquet (default: data/nextqa; "synthetic": the embedded set)
N_GPUS=${N_GPUS:-}                      # GPUs per node (default: 4, the config's)
EXPERIMENT=${EXPERIMENT:-}              # trainer.experiment_name
FRAMES_PER_REQUEST=${FRAMES_PER_REQUEST:-${FRAMES_PER_ROUND:-}}  # frames one request may ask for (default: 5;
                                        # FRAMES_PER_ROUND, its older name, still works)
ROUNDS=${ROUNDS:-}                      # assistant turns per episode (default: 5)
STEPS=${STEPS:-}                        # trainer.total_training_steps (default: 15 epochs; 2 steps on CPU)
VARIANT=${VARIANT:-}                    # qwen7b | debug_1gpu | ppo | love_r1 (zoom mode, LOVE-R1's setting)
DEVICE=${DEVICE:-auto}                  # auto | gpu | cpu
DRY_RUN=${DRY_RUN:-0}
LOG_DIR=${LOG_DIR:-}                    # default: logs/, or a temporary folder for a dry run
FREEZE_VISION=${FREEZE_VISION:-0}       # 1: the vision tower's weights do not train
WANDB=${WANDB:-0}                       # 1: also log to Weights & Biases

# Paths the caller gave relative to where they stand; then work from the repository.
for name in MODEL DATA_DIR LOG_DIR; do
    eval "value=\${$name}"
    case "$value" in "" | /* | synthetic) ;; *) { [ -e "$value" ] || [ "$name" = LOG_DIR ]; } && eval "$name=\$PWD/\$value" ;; esac
done
if [ -z "$LOG_DIR" ]; then
    if [ "$DRY_RUN" = 1 ]; then LOG_DIR=$(mktemp -d); else LOG_DIR=logs; fi
fi
cd "$(dirname "$0")"

[ -x .venv/bin/python ] || bash scripts/setup.sh
mkdir -p "$LOG_DIR"
log="$LOG_DIR/train_$(date +%Y%m%d_%H%M%S).log"
status="$LOG_DIR/.train_status.$$"

[ "$WANDB" = 1 ] && set -- "trainer.logger=[console,tensorboard,wandb]" "$@"  # the user's own overrides win
flags=""
[ "$DRY_RUN" = 1 ] && flags="--dry-run"
[ "$FREEZE_VISION" = 1 ] && flags="$flags --freeze-vision"

{
    code=0
    .venv/bin/python -m sparse_video_r1.training.launch $flags --device "$DEVICE" \
        --model "$MODEL" --data-dir "$DATA_DIR" --gpus "$N_GPUS" --experiment "$EXPERIMENT" \
        --frames-per-request "$FRAMES_PER_REQUEST" --rounds "$ROUNDS" --steps "$STEPS" --variant "$VARIANT" \
        "$@" || code=$?
    echo "$code" >"$status"
} 2>&1 | tee "$log"
code=$(cat "$status")
rm -f "$status"
echo "[train] log: $log (exit $code)"
exit "$code"
