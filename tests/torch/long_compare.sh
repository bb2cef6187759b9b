#!/usr/bin/env bash
# ganscope's training against its PyTorch twin over many steps, from the same initial
# variables: ganscope trains a run and exports it every EVERY steps; tests/torch/long_twin.py
# trains the twin from the variables `bench-train` wrote and writes its generator into the
# same model file; then `ganscope analyze ... quality` measures every file with the same
# classifier and the same samples (Fréchet distance, precision/recall, pixel diversity).
#   GANSCOPE=path/to/ganscope OUT=folder STEPS=1000 EVERY=250 SAMPLES=64 CLASSIFIER=file \
#     tests/torch/long_compare.sh [train options, e.g. --d-width 32]
# Without CLASSIFIER, a grey-MNIST classifier is trained into OUT first (1,000 steps).
# 32x32 MNIST, grey or with --colored (then pass the colored CLASSIFIER); both sides use THREADS=N CPU threads when set.
set -euo pipefail
cd "$(dirname "$0")/../.."
GANSCOPE=${GANSCOPE:-target/release/ganscope}
OUT=${OUT:-$(mktemp -d)}
STEPS=${STEPS:-1000}
EVERY=${EVERY:-250}
SAMPLES=${SAMPLES:-64}
threads=()
if [[ -n "${THREADS:-}" ]]; then
    export RAYON_NUM_THREADS=$THREADS
    threads=(--threads "$THREADS")
fi
mkdir -p "$OUT"
"$GANSCOPE" bench-train "$@" --timed 1 --out "$OUT/step" >/dev/null
run="$OUT/run"
t0=$SECONDS
for ((s = EVERY; s <= STEPS; s += EVERY)); do
    if [[ $s -eq $EVERY ]]; then
        "$GANSCOPE" train "$@" --steps "$s" --out "$run" --log-every 1000000 >/dev/null
    else
        "$GANSCOPE" train --resume --steps "$s" --out "$run" --log-every 1000000 >/dev/null
    fi
    "$GANSCOPE" export "$run" --out "$OUT/ganscope-$s.safetensors" >/dev/null
done
echo "ganscope: $STEPS steps in $((SECONDS - t0)) s (with exports)"
t0=$SECONDS
python3 tests/torch/long_twin.py "$OUT/step" --mnist data/mnist --steps "$STEPS" \
    --every "$EVERY" --template "$OUT/ganscope-$EVERY.safetensors" --out "$OUT" "${threads[@]}" >/dev/null
echo "PyTorch twin: $STEPS steps in $((SECONDS - t0)) s (with exports)"
CLASSIFIER=${CLASSIFIER:-$OUT/classifier.safetensors}
[[ -f "$CLASSIFIER" ]] || "$GANSCOPE" classifier --steps 1000 --out "$CLASSIFIER" >/dev/null
printf '%-8s %-9s %8s %9s %7s %10s %12s\n' step run FD precision recall "pixel std" "NN distance"
for ((s = EVERY; s <= STEPS; s += EVERY)); do
    for who in ganscope twin; do
        q="$OUT/quality-$who-$s"
        "$GANSCOPE" analyze "$OUT/$who-$s.safetensors" quality --samples "$SAMPLES" \
            --classifier "$CLASSIFIER" --out "$q" >/dev/null
        python3 - "$q/quality.json" "$s" "$who" <<'EOF'
import json, sys
q = json.load(open(sys.argv[1]))
g, r = q["diversity"]["generated"], q["diversity"]["real"]
print(f"{sys.argv[2]:<8} {sys.argv[3]:<9} {q['fd']:8.1f} {q['precision']:9.3f} {q['recall']:7.3f} "
      f"{g['pixel_std'] / r['pixel_std']:10.2f} {g['nearest'] / r['nearest']:12.2f}")
EOF
    done
done
echo "(pixel std and NN distance are the samples' over $SAMPLES real test digits'; results in $OUT)"
