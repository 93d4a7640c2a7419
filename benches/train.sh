#!/usr/bin/env bash
# Full-scale split / train / evaluate benchmark on a feature store (e.g. 307,511 labelled
# applicants × ~150 features). Prints wall time and peak RSS of each stage, the test metrics and
# the Bayes AUC of the same test rows (from the synthetic truth file), i.e. how far the model is
# from the best achievable ranking. Outputs go to bench-data/ (git-ignored).
#
#   CREDITRISK__FEATURES__STORE_FILE=bench-data/feature_store/feature_store.parquet benches/train.sh
#
# Optional: TRUTH (default bench-data/synth_truth.parquet, where benches/synth.sh writes it),
# OUT (default bench-data), CONFIG, CREDITRISK_BIN (default: the release binary) and any
# CREDITRISK__SECTION__KEY override (e.g. CREDITRISK__MODEL__LEARNER=logistic). `train` records
# its run and registers a model version in the tracker: by default a folder store at $OUT/mlruns
# (absolute path, so the repo's mlruns/ is never touched); set
# CREDITRISK__TRACKING__URI=http://127.0.0.1:PORT for an `mlflow server` (benches/tracking.sh
# measures both).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
: "${CREDITRISK__FEATURES__STORE_FILE:?set CREDITRISK__FEATURES__STORE_FILE to a full-scale feature store}"
export CREDITRISK__FEATURES__STORE_FILE
TRUTH="${TRUTH:-bench-data/synth_truth.parquet}"
OUT="$(realpath -m "${OUT:-bench-data}")"
CONFIG="${CONFIG:-configs/baseline.yaml}"
# Keep the benchmark's splits, reports and models apart from the working ones.
export CREDITRISK__PATHS__PROCESSED_DIR="${CREDITRISK__PATHS__PROCESSED_DIR:-$OUT/processed}"
export CREDITRISK__PATHS__REPORTS_DIR="${CREDITRISK__PATHS__REPORTS_DIR:-$OUT/reports}"
export CREDITRISK__PATHS__MODELS_DIR="${CREDITRISK__PATHS__MODELS_DIR:-$OUT/models}"
# Registry downloads (server backend) and the tracking store stay under $OUT as well.
export CREDITRISK__PATHS__CACHE_DIR="${CREDITRISK__PATHS__CACHE_DIR:-$OUT/cache}"
export CREDITRISK__TRACKING__URI="${CREDITRISK__TRACKING__URI:-$OUT/mlruns}"

[[ -n "${CREDITRISK_BIN:-}" ]] || cargo build --release --bin creditrisk
[[ -n "${CREDITRISK_BENCH_BIN:-}" ]] || cargo build --release -p creditrisk-bench
BIN="${CREDITRISK_BIN:-$CARGO_TARGET_DIR/release/creditrisk}"
BENCH_BIN="${CREDITRISK_BENCH_BIN:-$CARGO_TARGET_DIR/release/creditrisk-bench}"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT

declare -a SUMMARY
stage() {
  local name="$1"
  shift
  /usr/bin/time -v "$BIN" --config "$CONFIG" "$@" 2>"$LOG" || { cat "$LOG" >&2; exit 1; }
  cat "$LOG" >&2
  local wall rss_kb secs
  wall=$(grep "Elapsed (wall clock)" "$LOG" | awk '{print $NF}')
  rss_kb=$(grep "Maximum resident set size" "$LOG" | awk '{print $NF}')
  # m:ss.cc or h:mm:ss → seconds
  secs=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
  SUMMARY+=("$(printf '%-22s wall %8s s   peak RSS %6d MB' "$name" "$secs" $((rss_kb / 1024)))")
  # train: the seconds spent talking to the tracker (included in its wall time).
  local tracked
  tracked=$(grep -o "tracking took [0-9.]* s" "$LOG" || true)
  if [[ -n "$tracked" ]]; then SUMMARY+=("$(printf '%-22s %s' "  tracking" "$tracked")"); fi
}

stage "split-data" split-data
stage "train" train
stage "evaluate --split test" evaluate --split test

METRICS="$CREDITRISK__PATHS__REPORTS_DIR/test_metrics.json"
metric() { grep -o "\"$1\": *[-0-9.eE]*" "$METRICS" | head -1 | awk -F: '{gsub(/ /, "", $2); print $2}'; }
AUC=$(metric roc_auc)

# Bayes AUC: the true synthetic PD ranked on the same test rows (the benchmark binary).
TEST_SPLIT="$CREDITRISK__PATHS__PROCESSED_DIR/test.parquet"
BAYES="n/a (no truth file at $TRUTH)"
if [[ -f "$TRUTH" ]]; then
  BAYES=$("$BENCH_BIN" bayes-auc --test "$TEST_SPLIT" --truth "$TRUTH" | tail -1)
fi

echo
echo "store: $CREDITRISK__FEATURES__STORE_FILE"
echo "tracking: $CREDITRISK__TRACKING__URI"
for line in "${SUMMARY[@]}"; do echo "$line"; done
echo "test roc_auc:   $AUC"
echo "test ece:       $(metric ece)"
echo "test brier:     $(metric brier) (base-rate Brier $(metric brier_base_rate))"
echo "Bayes AUC:      $BAYES"
if [[ "$BAYES" =~ ^[0-9.]+$ && -n "$AUC" ]]; then
  echo "AUC gap:        $(awk -v b="$BAYES" -v a="$AUC" 'BEGIN { printf "%.4f", b - a }')"
fi
