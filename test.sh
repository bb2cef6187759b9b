#!/usr/bin/env bash
# Runs every check ganscope's CI runs: formatting, lints, the whole test suite (the GPU tests
# on the default wgpu adapter: lavapipe where there is no GPU), the wasm package and the forward
# in headless Chromium. `./test.sh --install` first installs what that needs (Debian's
# mesa-vulkan-drivers and chromium, playwright-core from npm; build.sh adds the wasm tools).
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == "--install" ]]; then
    SUDO=$(command -v sudo || true)
    if ! ldconfig -p | grep -q libvulkan.so.1 || ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
    fi
    if ! command -v chromium >/dev/null; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
    fi
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
    (cd tests/browser && npm ci --no-audit --no-fund)
fi
# wgpu's Vulkan loader warns without a runtime dir; any private folder will do
if [[ -z "${XDG_RUNTIME_DIR:-}" ]]; then
    export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/ganscope-xdg-$UID"
    mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
# the wasm package (installs the wasm32 target and wasm-bindgen-cli when missing), then in
# headless Chromium: the forward (WebGPU against wgpu, candle in wasm against candle) and the
# lab page end to end on WebGPU (SwiftShader) and on the CPU fallback, then its faults and a
# long session of edits; sharing from the page; keyboard, phone and axe-core; and a site
# `ganscope site` writes, served by Python's static server
./build.sh
node tests/browser/gpu-forward.mjs
node tests/browser/lab.mjs
node tests/browser/share.mjs
node tests/browser/access.mjs
node tests/browser/site.mjs
node tests/browser/faults.mjs
