#!/usr/bin/env bash
# The console's page-load benchmark: serves DATA_DIR (a log made by the query bench, e.g.
# `EVENTLOG_BENCH_DIR=/tmp/logs cargo bench --bench query` leaves /tmp/logs/1000000) with the
# release binary, and loads the console for ACTOR (default actor-0001, the busiest of that
# generator) ROUNDS times (default 10) in Debian's headless Chromium, printing the time to DOM
# ready and to the view drawn. Needs target/python-venv (scripts/python-tests.sh makes it) and
# Chromium (scripts/browser-deps.sh). By hand, not in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir="${1:?usage: scripts/console-bench.sh DATA_DIR [ACTOR] [ROUNDS]}"
actor="${2:-actor-0001}"
rounds="${3:-10}"
bash scripts/browser-deps.sh
cargo build --release --quiet --bin eventlog
binary="${CARGO_TARGET_DIR:-target}/release/eventlog"
out="$(mktemp)"
"$binary" serve --data-dir "$data_dir" --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
    --min-free-disk-mb 0 >"$out" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 300); do
    grep -q "^eventlog console on " "$out" && break
    sleep 0.1
done
url="$(sed -n 's/^eventlog console on //p' "$out")"
[ -n "$url" ] || { echo "the server did not start" >&2; exit 1; }
target/python-venv/bin/python scripts/console_bench.py "${url%/}/" "$actor" "$rounds"
