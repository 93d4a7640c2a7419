#!/usr/bin/env bash
# The main job: `creditrisk demo` on synthetic data (made when data/raw/ is empty), built in the
# same release profile and target folder as the tests, so nothing compiles twice.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
cargo run --release -- demo "$@"
