#!/usr/bin/env bash
# `creditrisk run` end to end at full synthetic scale: cold (nothing but the raw CSVs: the typed
# raw cache, store, splits, model, reports and tracker all removed first), then again with every
# stage skipped. Prints wall time and peak RSS of both, the test AUC and each stage's time (the
# closing table of `run`). Everything the run writes goes to $OUT (default bench-data/run,
# git-ignored); the raw CSVs are read from $RAW (default bench-data/raw, written by
# benches/synth.sh).
#
#   benches/synth.sh && benches/run.sh
#
# Optional: CONFIG (default configs/baseline.yaml), CREDITRISK_BIN (default: the release binary,
# built first) and any CREDITRISK__SECTION__KEY override.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
RAW="$(realpath -m "${RAW:-bench-data/raw}")"
OUT="$(realpath -m "${OUT:-bench-data/run}")"
CONFIG="${CONFIG:-configs/baseline.yaml}"
[[ -f "$RAW/application_train.csv" ]] || { echo "no raw CSVs in $RAW: run benches/synth.sh" >&2; exit 1; }

# Read the benchmark's raw files, write everything else under $OUT (never the working folders).
export CREDITRISK__PATHS__RAW_DIR="$RAW"
export CREDITRISK__PATHS__PROCESSED_DIR="$OUT/processed"
export CREDITRISK__FEATURES__STORE_FILE="$OUT/processed/feature_store.parquet"
export CREDITRISK__PATHS__REPORTS_DIR="$OUT/reports"
export CREDITRISK__PATHS__MODELS_DIR="$OUT/models"
export CREDITRISK__PATHS__CACHE_DIR="$OUT/cache"
export CREDITRISK__TRACKING__URI="$OUT/mlruns"
sources=""
for pair in application_train:application_train application_test:application_test bureau:bureau \
  bureau_balance:bureau_balance previous_application:previous_application \
  installments_payments:installments_payments credit_card_balance:credit_card_balance \
  pos_cash_balance:POS_CASH_balance; do
  sources+="{table: ${pair%%:*}, uri: '$RAW/${pair#*:}.csv'}, "
done
export CREDITRISK__INGESTION__SOURCES="[${sources%, }]"

[[ -n "${CREDITRISK_BIN:-}" ]] || cargo build --release --bin creditrisk
BIN="${CREDITRISK_BIN:-$CARGO_TARGET_DIR/release/creditrisk}"
LOG="$(mktemp)"
TABLE="$(mktemp)"
trap 'rm -f "$LOG" "$TABLE"' EXIT

declare -a SUMMARY
measure() {
  local name="$1"
  shift
  /usr/bin/time -v "$BIN" --config "$CONFIG" "$@" >"$TABLE" 2>"$LOG" || { cat "$LOG" "$TABLE" >&2; exit 1; }
  local wall rss_kb secs
  wall=$(grep "Elapsed (wall clock)" "$LOG" | awk '{print $NF}')
  rss_kb=$(grep "Maximum resident set size" "$LOG" | awk '{print $NF}')
  secs=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
  SUMMARY+=("$(printf '%-8s wall %8s s   peak RSS %6d MB' "$name" "$secs" $((rss_kb / 1024)))")
  echo "== $name: creditrisk $*"
  cat "$TABLE"
  echo
}

rm -rf "$OUT"
measure cold run
measure skipped run

metric() { grep -o "\"$1\": *[-0-9.eE]*" "$OUT/reports/test_metrics.json" | head -1 | awk -F: '{gsub(/ /, "", $2); print $2}'; }
echo "raw: $RAW ($(du -sh "$RAW" | cut -f1))"
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "test roc_auc: $(metric roc_auc)"
