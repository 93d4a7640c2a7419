#!/usr/bin/env bash
# Full-scale synthetic data benchmark: Kaggle's 307,511 train (+48,744 test) applicants, ~58 M rows.
# Prints wall time, peak RSS, bytes and rows per file. Output goes to bench-data/ (git-ignored):
# the CSVs to $OUT (default bench-data/raw), the true PD per applicant to $TRUTH (default
# bench-data/synth_truth.parquet; benches/train.sh reads it from there for the Bayes AUC).
# CREDITRISK_BIN runs another binary as is (default: the release binary in $CARGO_TARGET_DIR,
# built first); CONFIG (default configs/baseline.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
ROWS="${ROWS:-307511}"
SEED="${SEED:-42}"
OUT="$(realpath -m "${OUT:-bench-data/raw}")"
CONFIG="${CONFIG:-configs/baseline.yaml}"
TRUTH="${TRUTH:-bench-data/synth_truth.parquet}"
# Keep the truth file with the benchmark data, not in the working data/ folder.
export CREDITRISK__PATHS__TRUTH_FILE="$(realpath -m "$TRUTH")"

[[ -n "${CREDITRISK_BIN:-}" ]] || cargo build --release --bin creditrisk
BIN="${CREDITRISK_BIN:-$CARGO_TARGET_DIR/release/creditrisk}"
mkdir -p "$OUT"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

/usr/bin/time -v "$BIN" --config "$CONFIG" synth --rows "$ROWS" --seed "$SEED" --out "$OUT" 2>"$LOG" || { cat "$LOG" >&2; exit 1; }
cat "$LOG" >&2

wall=$(grep "Elapsed (wall clock)" "$LOG" | awk '{print $NF}')
rss_kb=$(grep "Maximum resident set size" "$LOG" | awk '{print $NF}')
echo
echo "synth --rows $ROWS --seed $SEED"
echo "wall time: $wall"
echo "peak RSS:  $((rss_kb / 1024)) MB"
total=0
for f in "$OUT"/*.csv; do
  bytes=$(stat -c %s "$f")
  rows=$(($(wc -l < "$f") - 1))
  total=$((total + bytes))
  printf '%-28s %12d rows %14d bytes\n' "$(basename "$f")" "$rows" "$bytes"
done
echo "total CSV bytes: $total"
echo "truth: $CREDITRISK__PATHS__TRUTH_FILE"
