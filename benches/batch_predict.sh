#!/usr/bin/env bash
# batch-predict benchmark: rows/s and peak RSS scoring the full synthetic application_test.csv
# (48,744 raw applications, history from the feature store, reason codes) and a 10× larger file
# (the same rows ten times), each with /usr/bin/time -v. Streaming means the 10× run's peak RSS
# stays close to the 1× run's.
#
#   CREDITRISK__FEATURES__STORE_FILE=bench-data/feature_store/feature_store.parquet \
#   MODEL=bench-data/models/creditrisk-pd/$(cat bench-data/models/creditrisk-pd/latest) \
#   benches/batch_predict.sh
#
# Optional: CONFIG, CREDITRISK_BIN (default: the release binary), RAW (default bench-data/raw).
# Outputs: bench-data/batch_predict/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
: "${CREDITRISK__FEATURES__STORE_FILE:?set CREDITRISK__FEATURES__STORE_FILE to a full-scale feature store}"
: "${MODEL:?set MODEL to a bundle folder or a models:/ reference}"
export CREDITRISK__FEATURES__STORE_FILE
# The store's lineage (feature SQL check) sits next to the store in the benchmark layout.
export CREDITRISK__PATHS__REPORTS_DIR="${CREDITRISK__PATHS__REPORTS_DIR:-$(dirname "$CREDITRISK__FEATURES__STORE_FILE")/reports}"
CONFIG="${CONFIG:-configs/baseline.yaml}"
RAW="${RAW:-bench-data/raw}"
OUT="$(realpath -m bench-data/batch_predict)"
mkdir -p "$OUT"
[[ -n "${CREDITRISK_BIN:-}" ]] || cargo build --release --bin creditrisk
BIN="${CREDITRISK_BIN:-$CARGO_TARGET_DIR/release/creditrisk}"

ONE="$RAW/application_test.csv"
TEN="$OUT/application_test_x10.csv"
if [[ ! -f "$TEN" || "$TEN" -ot "$ONE" ]]; then
  { head -1 "$ONE"; for _ in $(seq 10); do tail -n +2 "$ONE"; done; } > "$TEN.tmp"
  mv "$TEN.tmp" "$TEN"
fi

run() {
  local name="$1" input="$2" log="$OUT/$1.stderr"
  /usr/bin/time -v "$BIN" --config "$CONFIG" batch-predict --model "$MODEL" \
    --input "$input" --output "$OUT/$name.parquet" 2>"$log" >"$OUT/$name.stdout" \
    || { cat "$log" >&2; exit 1; }
  local rows wall secs rss
  rows=$(($(wc -l < "$input") - 1))
  wall=$(grep "Elapsed (wall clock)" "$log" | awk '{print $NF}')
  secs=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
  rss=$(($(grep "Maximum resident set size" "$log" | awk '{print $NF}') / 1024))
  printf '%-4s %8d rows  wall %7s s  %8.0f rows/s  peak RSS %5d MB\n' \
    "$name" "$rows" "$secs" "$(awk -v r="$rows" -v s="$secs" 'BEGIN { print r / s }')" "$rss"
  echo "$rss" > "$OUT/$name.rss"
}
run 1x "$ONE"
run 10x "$TEN"
awk -v a="$(cat "$OUT/1x.rss")" -v b="$(cat "$OUT/10x.rss")" \
  'BEGIN { printf "10x peak RSS vs 1x: %+.1f %%\n", (b / a - 1) * 100 }'
