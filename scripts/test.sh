#!/usr/bin/env bash
# Runs every test (each crate's unit tests + the one integration binary) in the release profile, so dependencies
# compile once for both `cargo run --release` and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# A target folder outside the clone lets a fresh clone (CI) reuse an earlier build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
# Debian packages some tests drive (Chromium, strace); installed once when missing.
scripts/debian-packages.sh
cargo test --release --workspace "$@"
