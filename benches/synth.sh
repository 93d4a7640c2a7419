#!/usr/bin/env bash
# Full-scale synthetic data benchmark: Kaggle's 307,511 train (+48,744 test) applicants, ~58 M rows.
# Prints wall time, peak RSS, bytes and rows per file. Output goes to bench-data/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
ROWS="${ROWS:-307511}"
SEED="${SEED:-42}"
OUT="${OUT:-bench-data/raw}"

cargo build --release --bin creditrisk
BIN="$CARGO_TARGET_DIR/release/creditrisk"
mkdir -p "$OUT"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

/usr/bin/time -v "$BIN" synth --rows "$ROWS" --seed "$SEED" --out "$OUT" 2>"$LOG" || { cat "$LOG" >&2; exit 1; }
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
