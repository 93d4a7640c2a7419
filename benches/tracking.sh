#!/usr/bin/env bash
# Seconds experiment tracking adds to `creditrisk train` at full scale, with the backends
# `tracking.uri` can name:
#   folder         an MLflow file store under $OUT/tracking/mlruns (absolute path; the default kind)
#   server         `mlflow server` on 127.0.0.1 (SQLite backend store, proxied artifacts, one
#                  worker), as MLflow starts it by default: with its job runner (huey consumers)
#   server-nojobs  the same with MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false (no job runner)
# A server is started here in its own session from the pinned venv of scripts/python-env.sh,
# left SETTLE seconds after /health answers, its idle CPU is measured over 5 s, and it is stopped
# with `kill -- -<pgid>` before the next backend (and when the script exits).
# `train` prints "tracking took X s": creating the run, logging params, lineage and metrics,
# uploading the bundle and the reports, registering the version and applying the promotion
# rule. It is part of train's wall time, which is also reported (from /usr/bin/time -v); the
# first run against a fresh server includes the server's first-request warm-up.
#
#   CREDITRISK__FEATURES__STORE_FILE=bench-data/feature_store/feature_store.parquet benches/tracking.sh
#
# Uses the splits of benches/train.sh ($OUT/processed) and runs split-data when they are missing.
# Optional: REPEAT (train runs per backend, default 2), BACKENDS (default "folder server
# server-nojobs"), SETTLE (default 15 s), PORT (default: a free port), OUT (default bench-data),
# CONFIG, CREDITRISK_BIN (default: the release binary, built first). Every store starts empty;
# everything goes under $OUT/tracking (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
: "${CREDITRISK__FEATURES__STORE_FILE:?set CREDITRISK__FEATURES__STORE_FILE to a full-scale feature store}"
export CREDITRISK__FEATURES__STORE_FILE
OUT="$(realpath -m "${OUT:-bench-data}")"
CONFIG="${CONFIG:-configs/baseline.yaml}"
REPEAT="${REPEAT:-2}"
BACKENDS="${BACKENDS:-folder server server-nojobs}"
SETTLE="${SETTLE:-15}"
WORK="$OUT/tracking"
export CREDITRISK__PATHS__PROCESSED_DIR="$OUT/processed"
export CREDITRISK__PATHS__REPORTS_DIR="$OUT/reports"
export CREDITRISK__PATHS__MODELS_DIR="$WORK/models"
export CREDITRISK__PATHS__CACHE_DIR="$WORK/cache"

[[ -n "${CREDITRISK_BIN:-}" ]] || cargo build --release --bin creditrisk
BIN="${CREDITRISK_BIN:-$CARGO_TARGET_DIR/release/creditrisk}"
mkdir -p "$WORK"
LOG="$(mktemp)"
SERVER_PGID=""
stop_server() {
  if [[ -n "$SERVER_PGID" ]]; then
    kill -- -"$SERVER_PGID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 -- -"$SERVER_PGID" 2>/dev/null || break
      sleep 0.2
    done
    kill -9 -- -"$SERVER_PGID" 2>/dev/null || true
    SERVER_PGID=""
  fi
}
trap 'stop_server; rm -f "$LOG"' EXIT

if [[ ! -f "$CREDITRISK__PATHS__PROCESSED_DIR/train.parquet" ]]; then
  "$BIN" --config "$CONFIG" split-data
fi

declare -a SUMMARY
# One `train` under /usr/bin/time -v with CREDITRISK__TRACKING__URI=$2; $3 is the run number.
train_once() {
  local label="$1" uri="$2"
  CREDITRISK__TRACKING__URI="$uri" /usr/bin/time -v "$BIN" --config "$CONFIG" train 2>"$LOG" \
    || { cat "$LOG" >&2; exit 1; }
  grep -E "features, |^bundle:|tracked run" "$LOG" >&2
  local wall rss_kb secs tracked bundle
  wall=$(grep "Elapsed (wall clock)" "$LOG" | awk '{print $NF}')
  rss_kb=$(grep "Maximum resident set size" "$LOG" | awk '{print $NF}')
  secs=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.2f", s }')
  tracked=$(grep -o "tracking took [0-9.]* s" "$LOG" | awk '{print $3}')
  bundle=$(awk '/^bundle:/ {print $2}' "$LOG")
  SUMMARY+=("$(printf '%-13s run %s  train wall %6s s  tracking %5s s  wall - tracking %6s s  peak RSS %4d MB  bundle %s' \
    "$label" "$3" "$secs" "$tracked" "$(awk -v w="$secs" -v t="$tracked" 'BEGIN { printf "%.2f", w - t }')" \
    $((rss_kb / 1024)) "$(du -sh "$bundle" | cut -f1)")")
}

# CPU the processes of session $1 use over 5 s, in % of one core.
session_cpu() {
  python3 - "$1" <<'EOF'
import os, sys, time
sid, hz = int(sys.argv[1]), os.sysconf("SC_CLK_TCK")
def ticks():
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[3]) == sid:
            total += int(fields[11]) + int(fields[12])
    return total
before = ticks()
time.sleep(5)
print(f"{100 * (ticks() - before) / hz / 5:.0f}")
EOF
}

# Start `mlflow server` (extra environment in "$@"), wait for /health, then SETTLE seconds.
start_server() {
  local srv="$1" port="$2"
  shift 2
  PYENV="$(scripts/python-env.sh | tail -1)"
  rm -rf "$srv"
  mkdir -p "$srv"
  # The shell that becomes the session leader writes its pid (= the process group id),
  # then turns into the server, so `kill -- -<pgid>` stops it and its workers.
  env MLFLOW_DISABLE_TELEMETRY=true "$@" setsid bash -c 'echo $$ >"$0/pgid"; exec "$@"' "$srv" \
    "$PYENV/bin/mlflow" server --host 127.0.0.1 --port "$port" --workers 1 \
    --backend-store-uri "sqlite:///$srv/mlflow.db" --artifacts-destination "$srv/artifacts" \
    >"$srv/server.log" 2>&1 &
  local start=$SECONDS
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do
    [[ -z "$SERVER_PGID" && -s "$srv/pgid" ]] && SERVER_PGID=$(cat "$srv/pgid")
    if ((SECONDS - start > 90)); then
      cat "$srv/server.log" >&2
      echo "mlflow server on port $port not healthy after 90 s" >&2
      exit 1
    fi
    sleep 0.5
  done
  SERVER_PGID=$(cat "$srv/pgid")
  echo "mlflow server healthy on port $port after $((SECONDS - start)) s (pgid $SERVER_PGID)" >&2
  sleep "$SETTLE"
  local idle
  idle=$(session_cpu "$SERVER_PGID")
  SUMMARY+=("$(printf '%-13s idle server: %s %% of one core (%s processes), %s s after /health' \
    "$(basename "$srv")" "$idle" "$(pgrep -c -s "$SERVER_PGID")" "$SETTLE")")
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for backend in $BACKENDS; do
  case "$backend" in
    folder)
      rm -rf "$WORK/mlruns"
      for i in $(seq "$REPEAT"); do train_once folder "$WORK/mlruns" "$i"; done
      ;;
    server | server-nojobs)
      port="${PORT:-$(free_port)}"
      extra=()
      [[ $backend == server-nojobs ]] && extra=(MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false)
      start_server "$WORK/$backend" "$port" "${extra[@]}"
      for i in $(seq "$REPEAT"); do train_once "$backend" "http://127.0.0.1:$port" "$i"; done
      stop_server
      echo "$backend artifacts: $(du -sh "$WORK/$backend/artifacts" | cut -f1)" >&2
      ;;
    *)
      echo "unknown backend $backend (folder | server | server-nojobs)" >&2
      exit 2
      ;;
  esac
done

echo
echo "store: $CREDITRISK__FEATURES__STORE_FILE"
for line in "${SUMMARY[@]}"; do echo "$line"; done
