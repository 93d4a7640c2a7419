#!/usr/bin/env bash
# Full-scale `build-feature-store` three ways, each process under /usr/bin/time -v:
#   local    DataFusion in the one process (no Parquet cache: every run parses the CSVs)
#   cluster  the same SQL on a one-machine Ballista cluster started from the binary:
#            `creditrisk cluster scheduler` + 2 × `creditrisk cluster executor` (2 tasks each)
#   s3       the local engine reading the raw CSVs from moto's S3-compatible server on 127.0.0.1
#            (the pinned moto of scripts/python-env.sh; the objects are uploaded first)
# Prints wall time and peak RSS of every process, into $BENCH_OUT/summary.txt.
# Environment: BENCH_RAW_DIR (default bench-data/raw), BENCH_OUT (default bench-data/distributed),
# CREDITRISK_BIN (default: the release binary in $CARGO_TARGET_DIR, built first),
# STAGES (default "local cluster s3").
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
raw=$(realpath "${BENCH_RAW_DIR:-$root/bench-data/raw}")
out=$(realpath -m "${BENCH_OUT:-$root/bench-data/distributed}")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}
bin=${CREDITRISK_BIN:-$CARGO_TARGET_DIR/release/creditrisk}
stages=" ${STAGES:-local cluster s3} "

if [[ ! -f "$raw/application_train.csv" ]]; then
    echo "no raw data in $raw; run: creditrisk synth --rows 307511 --seed 42 --out bench-data/raw" >&2
    exit 2
fi
if [[ -z "${CREDITRISK_BIN:-}" ]]; then
    (cd "$root" && cargo build --release --quiet)
fi
mkdir -p "$out"
du -sh "$raw" | sed 's/^/raw data: /'
: >"$out/summary.txt"

export CREDITRISK__PATHS__RAW_DIR="$raw"
export CREDITRISK__PATHS__REPORTS_DIR="$out/reports"
export CREDITRISK__PATHS__CACHE_DIR="$out/cache"
export CREDITRISK__FEATURES__RAW_PARQUET_CACHE=false
config="$root/configs/baseline.yaml"

pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

# Wall seconds and peak RSS from a /usr/bin/time -v log.
report() {
    local name=$1 log=$2 wall rss
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$log")
    printf '%-22s wall %9s   peak RSS %6s MB\n' "$name" "$wall" "$rss" | tee -a "$out/summary.txt"
}

build() {
    local name=$1
    shift
    local log="$out/$name.time"
    if ! /usr/bin/time -v "$bin" --config "$config" build-feature-store \
        --output "$out/$name.parquet" "$@" >/dev/null 2>"$log"; then
        tail -20 "$log" >&2
        echo "$name: FAILED (see $log)" >&2
        return 1
    fi
    report "$name" "$log"
}

wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.2
    done
    echo "nothing listens on 127.0.0.1:$1" >&2
    return 1
}

if [[ $stages == *" local "* ]]; then
    build local --engine local
fi

if [[ $stages == *" cluster "* ]]; then
    port=50150
    /usr/bin/time -v -o "$out/scheduler.time" "$bin" cluster scheduler --bind "127.0.0.1:$port" \
        >"$out/scheduler.log" 2>&1 &
    pids+=($!)
    wait_port $port
    for i in 1 2; do
        mkdir -p "$out/executor$i"
        /usr/bin/time -v -o "$out/executor$i.time" "$bin" cluster executor \
            --bind "127.0.0.1:$((port + 10 * i))" --grpc-bind "127.0.0.1:$((port + 10 * i + 1))" \
            --scheduler "127.0.0.1:$port" \
            --work-dir "$out/executor$i" --concurrent-tasks 2 >"$out/executor$i.log" 2>&1 &
        pids+=($!)
        wait_port $((port + 10 * i))
    done
    sleep 2
    build cluster --engine "ballista://127.0.0.1:$port"
    # Stop the cluster (SIGTERM to the creditrisk processes under time) to read their peaks.
    for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
    report scheduler "$out/scheduler.time"
    report executor1 "$out/executor1.time"
    report executor2 "$out/executor2.time"
fi

if [[ $stages == *" s3 "* ]]; then
    pyenv=$("$root/scripts/python-env.sh" | tail -1)
    port=50190
    /usr/bin/time -v -o "$out/moto.time" "$pyenv/bin/moto_server" -H 127.0.0.1 -p $port \
        >"$out/moto.log" 2>&1 &
    pids+=($!)
    wait_port $port
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
    export AWS_EC2_METADATA_DISABLED=true
    start=$SECONDS
    "$pyenv/bin/python" - "http://127.0.0.1:$port" "$raw" <<'PY'
import os, sys, boto3
endpoint, folder = sys.argv[1:3]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
s3.create_bucket(Bucket="creditrisk")
for name in sorted(os.listdir(folder)):
    s3.upload_file(os.path.join(folder, name), "creditrisk", "raw/" + name)
PY
    echo "upload to moto: $((SECONDS - start)) s" | tee -a "$out/summary.txt"
    CREDITRISK__PATHS__RAW_DIR=s3://creditrisk/raw \
        CREDITRISK__PATHS__ENDPOINT="http://127.0.0.1:$port" build s3 --engine local
    for pid in "${pids[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; done
    wait "${pids[@]}" 2>/dev/null || true
    pids=()
    report moto_server "$out/moto.time"
fi
