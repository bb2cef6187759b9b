#!/usr/bin/env bash
# The GPU check of issue 19, in one `run` on the lent machine (one NVIDIA GPU, no Rust, no
# network), from the repository root; its sections' limits add up to under 8 minutes (465 s)
# and it writes at most 8 files into $OUT:
#   device.txt     nvidia-smi, the binary and its CUDA libraries, PyTorch (the Vulkan adapter
#                  wgpu picks is named in forward.txt)
#   train.txt      CUDA training steps, ganscope vs PyTorch (tests/torch/compare.sh): the
#                  standard GAN and RPGANs of 16 and 40 blocks per bucket at batch 64, ms per
#                  step, the ratio and the phases
#   util.csv       GPU utilisation and memory every 100 ms during train.txt
#   same-step.txt  one small RPGAN training step on CUDA against the same step on the CPU
#   forward.txt    the forward on candle (CPU) and on the WGSL kernels (wgpu on the GPU), then
#                  PyTorch eager on the same file, at batches 1, 64, 256 and 4096
#   analyses.txt   the bundled RPGAN's path grid and influence maps on wgpu, timed
#   summary.txt    what each section did, its exit status and time
# Sections run one after another under their own time limits; a failing one is recorded
# and the next one still runs.
#
# Prepare here first (tests/gpu/prepare.sh: the CUDA build, stripped and xz-compressed into
# gpu-carry/, and the Vulkan loader packages into .gl/), then:
#   run(command="tests/gpu/device-check.sh", carry=["gpu-carry", ".gl"], timeout_s=560)
# Dry run on this machine's CPU (lavapipe for wgpu; needs torch and numpy):
#   DEVICE=cpu GANSCOPE=target/release/ganscope OUT=/tmp/dc BLOCKS="1" TIMED=2 \
#     BATCHES="1 64" PAIRS=2 tests/gpu/device-check.sh       (about 2 minutes)
set -uo pipefail
cd "$(dirname "$0")/../.."
DEVICE=${DEVICE:-cuda}
OUT=${OUT:?set OUT to the folder for the results}
BLOCKS=${BLOCKS:-1 16 40}
TIMED=${TIMED:-20}
BATCHES=${BATCHES:-1 64 256 4096}
PAIRS=${PAIRS:-64}
WORK=$(mktemp -d)
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: > "$summary"

# one section: NAME LIMIT_S COMMAND... (output to the command's own redirections)
section() {
    local name=$1 limit=$2 t0=$SECONDS rc
    shift 2
    timeout "$limit" "$@"
    rc=$?
    echo "$name: exit $rc in $((SECONDS - t0)) s (limit $limit s)" >> "$summary"
}

# --- set-up: the carried binary and loaders, the CUDA libraries of PyTorch's wheels
if [[ -d .gl ]]; then
    for f in .gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
fi
if [[ -f gpu-carry/ganscope.xz ]]; then
    xz -dc gpu-carry/ganscope.xz > "$WORK/ganscope" && chmod +x "$WORK/ganscope"
    GANSCOPE=${GANSCOPE:-$WORK/ganscope}
fi
GANSCOPE=${GANSCOPE:-target/release/ganscope}
export GANSCOPE
if [[ $DEVICE == cuda ]]; then
    cu=$(python3 -c 'import nvidia, os; print(os.path.join(nvidia.__path__[0], "cu13", "lib"))' 2>/dev/null)
    [[ -n $cu ]] && export LD_LIBRARY_PATH="$cu:${LD_LIBRARY_PATH:-}"
fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[[ -f $icd ]] && export VK_DRIVER_FILES=$icd
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$WORK/xdg}
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
{
    date -u
    nvidia-smi 2>&1 || echo "(no nvidia-smi)"
    echo "ganscope: $("$GANSCOPE" --version 2>&1)"
    python3 -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, torch.cuda.is_available())' 2>&1
    ldd "$GANSCOPE" 2>&1 | grep -E "cuda|cublas|curand|not found" || true
} > "$OUT/device.txt" 2>&1
echo "setup: DEVICE=$DEVICE GANSCOPE=$GANSCOPE BLOCKS=$BLOCKS TIMED=$TIMED BATCHES=$BATCHES PAIRS=$PAIRS" >> "$summary"

# --- 1. CUDA training against PyTorch, with the GPU's utilisation alongside
util=""
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -lms 100 > "$OUT/util.csv" 2>&1 &
    util=$!
fi
# shellcheck disable=SC2086  # BLOCKS is a list
section train 210 env DEVICE="$DEVICE" TIMED="$TIMED" OUT="$WORK/train" \
    tests/torch/compare.sh $BLOCKS > "$OUT/train.txt" 2>&1
[[ -n $util ]] && kill "$util"

# --- 1b. the same small step on CUDA and on the CPU
same() {
    local dev
    for dev in cpu "$DEVICE"; do
        "$GANSCOPE" bench-train --colored --limit 256 --batch 16 --width 8 --d-width 8 --rpgan \
            --blocks 4 --device "$dev" --timed 1 --out "$WORK/same-$dev" || return
    done
    python3 tests/gpu/same_step.py "$WORK/same-cpu" "$WORK/same-$DEVICE"
}
section same-step 45 bash -c "$(declare -f same); DEVICE=$DEVICE GANSCOPE=$GANSCOPE WORK=$WORK same" \
    > "$OUT/same-step.txt" 2>&1

# --- 2. the forward: candle and the WGSL kernels (ganscope bench), then PyTorch eager
GAN=www/models/gan-colored-mnist.safetensors
section forward-ganscope 90 "$GANSCOPE" bench "$GAN" --batches "${BATCHES// /,}" --min-time 1 \
    > "$OUT/forward.txt" 2>&1
# shellcheck disable=SC2086
section forward-pytorch 60 python3 tests/torch/forward_twin.py "$GAN" --device "$DEVICE" \
    --batches $BATCHES --min-time 1 >> "$OUT/forward.txt" 2>&1

# --- 3. the bundled RPGAN's path grid and influence maps on wgpu
RPGAN=www/models/rpgan-colored-mnist.safetensors
analyses() {
    local what t0
    for what in paths influence; do
        t0=$(date +%s%N)
        "$GANSCOPE" analyze "$RPGAN" "$what" --backend gpu --pairs "$PAIRS" --out "$WORK/analyses" || return
        echo "$what on wgpu: $((($(date +%s%N) - t0) / 1000000)) ms (the whole command, device creation included)"
    done
}
section analyses 60 bash -c "$(declare -f analyses); GANSCOPE=$GANSCOPE RPGAN=$RPGAN WORK=$WORK PAIRS=$PAIRS analyses" \
    > "$OUT/analyses.txt" 2>&1

# --- 4. the page's WebGPU path in Node (the npm package `webgpu`): not in this script; the
# machine has no network to install it and no Node of its own is promised.
echo "webgpu-in-node: not attempted (needs node and the npm package carried)" >> "$summary"
rm -rf "$WORK"
cat "$summary"
