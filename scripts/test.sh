#!/usr/bin/env bash
# Runs every test (unit + the one integration binary) in the release profile, so dependencies
# compile once for both `cargo run --release` and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# A target folder outside the clone lets a fresh clone (CI) reuse an earlier build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
# Headless Chromium renders the model card in a test; install it once (Debian package).
scripts/chromium.sh
cargo test --release --workspace "$@"
