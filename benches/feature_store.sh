#!/usr/bin/env bash
# Full-scale benchmark of `creditrisk build-feature-store` (every raw column checked).
#
# Needs full-scale raw data first:
#   creditrisk synth --rows 307511 --seed 42 --out bench-data/raw
# Runs, each under /usr/bin/time -v:
#   floor  parse every typed CSV once and nothing else (the lower bound for a cold build)
#   cold   build without the Parquet cache (parse CSVs, contracts, SQL, write the store)
#   fill   build with an empty cache (cold + writing the typed Parquet copies of
#          features.cache_fill_share of the CSV bytes), then `fill2`, the next build of the same
#          extract (reads those copies, writes the others; contract reports reused, as a rebuild)
#   warm   build with a filled cache (the usual rebuild)
#   same   determinism: warm builds at 1, 2 and 8 DataFusion partitions and a cold one at 8 must
#          write a store byte-identical to the one before (fails otherwise); not timed
# Targets (issue 12): cold <= 10 s, warm <= 5 s, peak RSS <= 1.5 GB, fill <= 1.2 x cold
# (Python original: 27.6 s / 6.4 GB).
# Environment: BENCH_RAW_DIR (default bench-data/raw), BENCH_OUT (default bench-data/feature_store),
# CREDITRISK_BIN (default: release binary in $CARGO_TARGET_DIR, built first; a given binary is
# run as is), CONFIG (default configs/baseline.yaml), STAGES (default "floor cold fill warm same";
# e.g. STAGES=warm re-measures the warm build alone on a filled cache).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
raw=$(realpath "${BENCH_RAW_DIR:-$root/bench-data/raw}")
out=$(realpath -m "${BENCH_OUT:-$root/bench-data/feature_store}")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}
bin=${CREDITRISK_BIN:-$CARGO_TARGET_DIR/release/creditrisk}
bench=${CREDITRISK_BENCH_BIN:-$CARGO_TARGET_DIR/release/creditrisk-bench}
config=$(realpath "${CONFIG:-$root/configs/baseline.yaml}")

if [[ ! -f "$raw/application_train.csv" ]]; then
    echo "no raw data in $raw; run: creditrisk synth --rows 307511 --seed 42 --out bench-data/raw" >&2
    exit 2
fi
if [[ -z "${CREDITRISK_BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet)
fi
if [[ -z "${CREDITRISK_BENCH_BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet -p creditrisk-bench)
fi
mkdir -p "$out"
du -sh "$raw" | sed 's/^/raw data: /'

export CREDITRISK__PATHS__RAW_DIR="$raw"
export CREDITRISK__PATHS__REPORTS_DIR="$out/reports"
export CREDITRISK__PATHS__CACHE_DIR="$out/cache"
export CREDITRISK__FEATURES__STORE_FILE="$out/feature_store.parquet"
stages=" ${STAGES:-floor cold fill warm same} "

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
# Floor: parse every typed CSV once and nothing else (the benchmark binary).
if [[ $stages == *" floor "* ]]; then
    measure floor "$bench" parse-floor "$raw"
fi
# Cold and fill re-check every contract, as for a new extract (a report remembered from an
# earlier run of the same binary over the same files would otherwise be reused).
if [[ $stages == *" cold "* ]]; then
    CREDITRISK__FEATURES__RAW_PARQUET_CACHE=false CREDITRISK__FEATURES__REUSE_CONTRACT_REPORTS=false \
        measure cold "$bin" --config "$config" build-feature-store
fi
if [[ $stages == *" fill "* ]]; then
    rm -rf "$out/cache"
    CREDITRISK__FEATURES__RAW_PARQUET_CACHE=true CREDITRISK__FEATURES__REUSE_CONTRACT_REPORTS=false \
        measure fill "$bin" --config "$config" build-feature-store
    CREDITRISK__FEATURES__RAW_PARQUET_CACHE=true \
        measure fill2 "$bin" --config "$config" build-feature-store
fi
if [[ $stages == *" warm "* ]]; then
    CREDITRISK__FEATURES__RAW_PARQUET_CACHE=true \
        measure warm "$bin" --config "$config" build-feature-store
fi
if [[ $stages == *" same "* ]]; then
    store="$out/feature_store.parquet"
    reference=$(md5sum < "$store")
    # The cold run at 8 partitions re-checks its contracts (its feature SQL then runs beside them).
    for run in "true 1" "true 2" "true 8" "false 8"; do
        read -r cache partitions <<<"$run"
        CREDITRISK__FEATURES__RAW_PARQUET_CACHE=$cache CREDITRISK__FEATURES__REUSE_CONTRACT_REPORTS=$cache \
            DATAFUSION_EXECUTION_TARGET_PARTITIONS=$partitions \
            "$bin" --config "$config" build-feature-store >/dev/null 2>"$out/same.stderr"
        if [[ $(md5sum < "$store") != "$reference" ]]; then
            echo "same: store differs (cache $cache, $partitions partitions)" | tee -a "$out/summary.txt" >&2
            exit 1
        fi
    done
    echo "same: one store hash at 1, 2 and 8 partitions, cold and warm" | tee -a "$out/summary.txt"
fi
echo "summary: $out/summary.txt"
