#!/usr/bin/env bash
# Full-scale benchmark of `creditrisk build-feature-store` (every raw column checked).
#
# Needs full-scale raw data first:
#   creditrisk synth --rows 307511 --seed 42 --out bench-data/raw
# Runs, each under /usr/bin/time -v:
#   floor  parse every typed CSV once and nothing else (the lower bound for a cold build)
#   cold   build without the Parquet cache (parse CSVs, contracts, SQL, write the store)
#   fill   build with an empty cache (cold + writing the typed Parquet copies)
#   warm   build with a filled cache (the usual rebuild)
# Targets: <= 8 s and <= 2 GB RSS (Python original: 27.6 s / 6.4 GB).
# Environment: BENCH_RAW_DIR (default bench-data/raw), BENCH_OUT (default bench-data/feature_store),
# CREDITRISK_BIN (default: release binary in $CARGO_TARGET_DIR, built first; a given binary is
# run as is), CONFIG (default configs/baseline.yaml), STAGES (default "floor cold fill warm";
# e.g. STAGES=warm re-measures the warm build alone on a filled cache).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
raw=$(realpath "${BENCH_RAW_DIR:-$root/bench-data/raw}")
out=$(realpath -m "${BENCH_OUT:-$root/bench-data/feature_store}")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}
bin=${CREDITRISK_BIN:-$CARGO_TARGET_DIR/release/creditrisk}
config=$(realpath "${CONFIG:-$root/configs/baseline.yaml}")

if [[ ! -f "$raw/application_train.csv" ]]; then
    echo "no raw data in $raw; run: creditrisk synth --rows 307511 --seed 42 --out bench-data/raw" >&2
    exit 2
fi
if [[ -z "${CREDITRISK_BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet)
fi
mkdir -p "$out"
du -sh "$raw" | sed 's/^/raw data: /'

export CREDITRISK__PATHS__RAW_DIR="$raw"
export CREDITRISK__PATHS__REPORTS_DIR="$out/reports"
export CREDITRISK__PATHS__CACHE_DIR="$out/cache"
export CREDITRISK__FEATURES__STORE_FILE="$out/feature_store.parquet"
stages=" ${STAGES:-floor cold fill warm} "

# Run "$@" under /usr/bin/time -v; print wall seconds and peak RSS.
measure() {
    local name=$1
    shift
    local log="$out/$name.stderr"
    if ! /usr/bin/time -v "$@" >/dev/null 2>"$log"; then
        cat "$log" >&2
        echo "$name: FAILED (see $log)" >&2
        return 1
    fi
    # The stage's own summary (per-table timings), then time's figures.
    sed -n '/^feature store:/,/store query/p; /^parse /p' "$log"
    local wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$log")
    printf '%-6s wall %8s   peak RSS %6s MB\n' "$name" "$wall" "$rss" | tee -a "$out/summary.txt"
}

: > "$out/summary.txt"
# Floor: parse every typed CSV once and nothing else (hidden flag of the binary).
if [[ $stages == *" floor "* ]]; then
    measure floor "$bin" --config "$config" build-feature-store --parse-only
fi
if [[ $stages == *" cold "* ]]; then
    CREDITRISK__FEATURES__RAW_PARQUET_CACHE=false \
        measure cold "$bin" --config "$config" build-feature-store
fi
if [[ $stages == *" fill "* ]]; then
    rm -rf "$out/cache"
    CREDITRISK__FEATURES__RAW_PARQUET_CACHE=true \
        measure fill "$bin" --config "$config" build-feature-store
fi
if [[ $stages == *" warm "* ]]; then
    CREDITRISK__FEATURES__RAW_PARQUET_CACHE=true \
        measure warm "$bin" --config "$config" build-feature-store
fi
echo "summary: $out/summary.txt"
