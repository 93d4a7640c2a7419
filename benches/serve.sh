#!/usr/bin/env bash
# HTTP load benchmark of `creditrisk serve` on loopback with a real load generator (oha; installed
# with cargo into ~/.cache/creditrisk/tools when missing). The request: one raw application from
# application_test.csv (an applicant the feature store holds, so its history comes from the
# store), scored with reason codes, audit log on (fsync'd). The load generator and the server
# share the machine's cores. Two runs, each bounded in requests and time:
#   1. throughput: N requests (default 100,000) at 8 connections, as fast as they are answered;
#   2. latency: R requests (default 30,000) at a fixed 1,000 req/s (8 connections), p50/p99.
#
#   CREDITRISK__FEATURES__STORE_FILE=bench-data/feature_store/feature_store.parquet \
#   MODEL=bench-data/models/creditrisk-pd/$(cat bench-data/models/creditrisk-pd/latest) \
#   benches/serve.sh
#
# Optional: CONFIG, CREDITRISK_BIN (default: the release binary), N, R, PORT (default 18080),
# RAW (default bench-data/raw, for application_test.csv). Outputs: bench-data/serve/.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/creditrisk/target}"
: "${CREDITRISK__FEATURES__STORE_FILE:?set CREDITRISK__FEATURES__STORE_FILE to a full-scale feature store}"
: "${MODEL:?set MODEL to a bundle folder or a models:/ reference}"
export CREDITRISK__FEATURES__STORE_FILE
CONFIG="${CONFIG:-configs/baseline.yaml}"
N="${N:-100000}"
R="${R:-30000}"
PORT="${PORT:-18080}"
RAW="${RAW:-bench-data/raw}"
OUT="$(realpath -m bench-data/serve)"
mkdir -p "$OUT"
# The store's lineage (feature SQL check) sits next to the store in the benchmark layout.
export CREDITRISK__PATHS__REPORTS_DIR="${CREDITRISK__PATHS__REPORTS_DIR:-$(dirname "$CREDITRISK__FEATURES__STORE_FILE")/reports}"
export CREDITRISK__SERVING__AUDIT_LOG="$OUT/decisions.jsonl"
export CREDITRISK__SERVING__AUTH_TOKEN="bench-token"
rm -f "$CREDITRISK__SERVING__AUDIT_LOG"

OHA="$(command -v oha || true)"
if [[ -z "$OHA" ]]; then
  OHA="$HOME/.cache/creditrisk/tools/bin/oha"
  [[ -x "$OHA" ]] || cargo install oha --version 1.16.0 --locked --root "$HOME/.cache/creditrisk/tools"
fi
[[ -n "${CREDITRISK_BIN:-}" ]] || cargo build --release --bin creditrisk
BIN="${CREDITRISK_BIN:-$CARGO_TARGET_DIR/release/creditrisk}"

# One application_test row as a JSON record (numbers as numbers, empty cells left out).
BODY="$OUT/request.json"
python3 - "$RAW/application_test.csv" > "$BODY" <<'EOF'
import csv, json, sys
with open(sys.argv[1], newline="") as f:
    row = next(csv.DictReader(f))
def typed(v):
    for t in (int, float):
        try:
            return t(v)
        except ValueError:
            pass
    return v
print(json.dumps({"records": [{k: typed(v) for k, v in row.items() if v != ""}]}))
EOF

LOG="$OUT/serve.log"
"$BIN" --config "$CONFIG" serve --model "$MODEL" --bind "127.0.0.1:$PORT" 2>"$LOG" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q '"serving"' "$LOG" && break
  kill -0 $SERVER 2>/dev/null || { cat "$LOG" >&2; exit 1; }
  sleep 0.1
done
URL="http://127.0.0.1:$PORT/predict"
curl -sf -H "Authorization: Bearer bench-token" -H 'content-type: application/json' \
  --data @"$BODY" "$URL" > "$OUT/answer.json" || { cat "$LOG" >&2; exit 1; }

load() {
  timeout 300 "$OHA" --no-tui --output-format json -m POST -H "Authorization: Bearer bench-token" \
    -T application/json -D "$BODY" "$@" "$URL"
}
load -n "$N" -c 8 > "$OUT/throughput.json"
load -n "$R" -c 8 -q 1000 > "$OUT/latency.json"
kill -TERM $SERVER
wait $SERVER || true

python3 - "$OUT" "$N" "$R" <<'EOF'
import json, sys
out, n, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def report(name):
    d = json.load(open(f"{out}/{name}.json"))
    s, p = d["summary"], d["latencyPercentiles"]
    codes = d.get("statusCodeDistribution", {})
    return s, p, codes
s, p, codes = report("throughput")
print(f"throughput at 8 connections: {s['requestsPerSec']:.0f} req/s "
      f"(p50 {p['p50'] * 1e3:.2f} ms, p99 {p['p99'] * 1e3:.2f} ms; statuses {codes})")
s, p, codes = report("latency")
print(f"at a fixed 1,000 req/s: p50 {p['p50'] * 1e3:.2f} ms, p99 {p['p99'] * 1e3:.2f} ms, "
      f"p99.9 {p['p99.9'] * 1e3:.2f} ms ({s['requestsPerSec']:.0f} req/s; statuses {codes})")
lines = sum(1 for _ in open(f"{out}/decisions.jsonl"))
print(f"audit lines: {lines} (requests sent: {n + r + 1})")
EOF
