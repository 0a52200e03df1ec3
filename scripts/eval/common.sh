# Shared by the launchers in this folder (sourced, not run): defaults any variable can override, then one
# `svr1 eval`. Each launcher sets RUN and METHOD (and BACKEND for an API model) before sourcing this.
# Paths the caller gave relative to where they stand; then work from the repository.
for name in MODEL DATA OUT; do
    eval "value=\${$name:-}"
    case "$value" in "" | /*) ;; *) { [ -e "$value" ] || [ "$name" = OUT ]; } && eval "$name=\$PWD/\$value" ;; esac
done
cd "$(dirname "$0")/../.."
MODEL=${MODEL:-Qwen/Qwen2.5-VL-3B-Instruct}
DATA=${DATA:-data/nextqa/val.parquet}   # `svr1 prepare nextqa --samples 1000`: the seed's 1,000 questions
FRAMES=${FRAMES:-5}
BACKEND=${BACKEND:-vllm}   # vLLM batches the questions; hf for a checkpoint vLLM cannot load
BASE_URL=${BASE_URL:-https://api.openai.com/v1}
DEVICE=${DEVICE:-$(.venv/bin/python -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')}
OUT=${OUT:-runs/$RUN}
exec .venv/bin/svr1 eval --data "$DATA" --method "$METHOD" --model "$MODEL" --first-frames "$FRAMES" \
    --backend "$BACKEND" --base-url "$BASE_URL" --device "$DEVICE" --out-dir "$OUT" --run "$RUN" ${LIMIT:+--limit "$LIMIT"} "$@"
