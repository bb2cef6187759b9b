#!/usr/bin/env bash
# Runs every check ganscope's CI runs: formatting, lints, and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
