#!/usr/bin/env bash
# Runs every check ganscope's CI runs: formatting, lints, the whole test suite (the GPU tests
# on the default wgpu adapter: lavapipe where there is no GPU), and the wasm32 build of the
# GPU crate. `./test.sh --install` first installs what that needs (Debian packages, wasm target).
set -euo pipefail
cd "$(dirname "$0")"
if [[ "${1:-}" == "--install" ]]; then
    SUDO=$(command -v sudo || true)
    if ! ldconfig -p | grep -q libvulkan.so.1 || ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
    fi
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
    rustup target add wasm32-unknown-unknown >/dev/null
fi
# wgpu's Vulkan loader warns without a runtime dir; any private folder will do
if [[ -z "${XDG_RUNTIME_DIR:-}" ]]; then
    export XDG_RUNTIME_DIR="${TMPDIR:-/tmp}/ganscope-xdg-$UID"
    mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
cargo build --locked -p ganscope-gpu --target wasm32-unknown-unknown
