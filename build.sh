#!/usr/bin/env bash
# Builds the browser package: crates/web compiled to wasm32 (release) and bound with
# wasm-bindgen into www/pkg (then shrunk with wasm-opt when binaryen is installed).
#   ./build.sh          install what is missing (wasm32 target, wasm-bindgen-cli at exactly
#                       the Cargo.lock version), then build; prints the gzipped wasm size
#   ./build.sh serve    build if needed, then serve www/ on http://127.0.0.1:${PORT:-8080}
set -euo pipefail
cd "$(dirname "$0")"

WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)

install() {
    rustup target list --installed | grep -q wasm32-unknown-unknown ||
        rustup target add wasm32-unknown-unknown
    if ! wasm-bindgen --version 2>/dev/null | grep -q " $WB_VERSION\$"; then
        # not --locked: the CLI's own lock file names crates newer than some registries hold
        cargo install wasm-bindgen-cli --version "$WB_VERSION"
    fi
}

build() {
    cargo build --locked --release -p ganscope-web --target wasm32-unknown-unknown
    wasm-bindgen --target web --no-typescript --out-dir www/pkg \
        target/wasm32-unknown-unknown/release/ganscope_web.wasm
    if command -v wasm-opt >/dev/null; then
        wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
            www/pkg/ganscope_web_bg.wasm -o www/pkg/ganscope_web_bg.wasm
    fi
    local raw gz
    raw=$(stat -c %s www/pkg/ganscope_web_bg.wasm)
    gz=$(gzip -9 -c www/pkg/ganscope_web_bg.wasm | wc -c)
    echo "www/pkg/ganscope_web_bg.wasm: $raw bytes, $gz gzipped"
}

case "${1:-build}" in
    build)
        install
        build
        ;;
    serve)
        [[ -f www/pkg/ganscope_web.js ]] || { install; build; }
        echo "serving www/ on http://127.0.0.1:${PORT:-8080}/"
        exec python3 -m http.server --bind 127.0.0.1 --directory www "${PORT:-8080}"
        ;;
    *)
        echo "usage: ./build.sh [serve]" >&2
        exit 2
        ;;
esac
