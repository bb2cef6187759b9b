#!/usr/bin/env bash
# ganscope's training step against its PyTorch twin on one device, for BENCHMARKS.md:
# the standard GAN and RPGANs of the same dcgan backbone (colored MNIST, batch 64, hinge,
# one D step per G step), each written out by `ganscope bench-train`, replayed and compared
# by tests/torch/train_twin.py, then timed by both.
#   DEVICE=cpu|cuda GANSCOPE=path/to/ganscope OUT=folder tests/torch/compare.sh [blocks ...]
# Defaults: DEVICE=cpu, GANSCOPE=target/release/ganscope, OUT=a temporary folder, blocks
# 1 (standard GAN), 8, 16 and 40. THREADS=N sets both sides' CPU threads; D_WIDTH=w the
# discriminator's first width (default 16: widths 16-32-64; the training default is 32).
set -euo pipefail
cd "$(dirname "$0")/../.."
DEVICE=${DEVICE:-cpu}
GANSCOPE=${GANSCOPE:-target/release/ganscope}
OUT=${OUT:-$(mktemp -d)}
TIMED=${TIMED:-10}
blocks=("$@")
[[ ${#blocks[@]} -gt 0 ]] || blocks=(1 8 16 40)
threads=()
if [[ -n "${THREADS:-}" ]]; then
    export RAYON_NUM_THREADS=$THREADS
    threads=(--threads "$THREADS")
fi
for m in "${blocks[@]}"; do
    dir="$OUT/blocks$m"
    rpgan=()
    [[ $m -gt 1 ]] && rpgan=(--rpgan --blocks "$m")
    echo "== dcgan 32x32, colored MNIST, batch 64, ${m} block(s) per bucket, $DEVICE"
    # D widths 16-32-64 unless D_WIDTH says otherwise, as BENCHMARKS.md's first numbers were
    # measured; the standard GAN's discriminator is the default BatchNorm one since 2026-12-04
    "$GANSCOPE" bench-train --colored --limit 4096 --batch 64 --d-width "${D_WIDTH:-16}" "${rpgan[@]}" \
        --device "$DEVICE" --timed "$TIMED" --out "$dir"
    python3 tests/torch/train_twin.py "$dir" --device "$DEVICE" --timed "$TIMED" "${threads[@]}"
done
