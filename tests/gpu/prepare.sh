#!/usr/bin/env bash
# Prepares, on this machine (no GPU), what tests/gpu/device-check.sh needs on the lent one:
#   gpu-carry/ganscope.xz   the `ganscope` binary built with `--features cuda` (candle's CUDA
#                           kernels for sm_90: H100 and H200), stripped and xz-compressed
#   .gl/*.deb               the Vulkan and EGL loaders (the device README's list), for wgpu
# Both are ignored by git and named in the run's `carry`. The CUDA build uses
# ../shared/cuda/setup-cuda-build.sh (NVIDIA's CUDA 13 wheels and a stub libcuda) and its own
# target folder, target-cuda/ (about 20 minutes cold on 2 cores, then incremental).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck disable=SC1091
source ../shared/cuda/setup-cuda-build.sh
cargo build --locked --release --features cuda -p ganscope-cli --target-dir target-cuda
mkdir -p gpu-carry
strip -o gpu-carry/ganscope target-cuda/release/ganscope
xz -9 -T2 -f gpu-carry/ganscope
if [[ ! -d .gl ]] || ! ls .gl/libvulkan1_*.deb > /dev/null 2>&1; then
    mkdir -p .gl /tmp/amd64/partial
    o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
    apt-get "${o[@]}" update -qq
    (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
du -sh gpu-carry .gl
echo "tracked files: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes (the carry limit is 64 MiB in all)"
