#!/usr/bin/env bash
# A three-node eventlog cluster on this machine, for trying cluster mode: three nats-server
# processes as one JetStream cluster (the stream R3) and three eventlog nodes, all on loopback.
# Prints every address, then waits; Ctrl-C (or SIGTERM) stops everything it started.
#
#   bash scripts/cluster-demo.sh            # data under a new temporary directory
#   DEMO_DIR=./demo bash scripts/cluster-demo.sh   # or here, kept across runs
#
# Ports: NATS clients 14222-14224, NATS routes 16222-16224, eventlog gRPC 15051-15053, HTTP
# console 18081-18083 (set DEMO_PORT_OFFSET to shift them all). nats-server is the pinned one
# from scripts/nats-deps.sh; eventlog is target/release/eventlog, built if missing
# (EVENTLOG_BIN to use another). The NATS servers run with sync_interval: always, as
# docs/nats/eventlog-nats.conf recommends.
set -euo pipefail
cd "$(dirname "$0")/.."

offset="${DEMO_PORT_OFFSET:-0}"
dir="${DEMO_DIR:-$(mktemp -d -t eventlog-cluster-demo.XXXXXX)}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

nats_server="$(bash scripts/nats-deps.sh)"
eventlog="${EVENTLOG_BIN:-target/release/eventlog}"
if [ ! -x "$eventlog" ]; then
    echo "==> building $eventlog" >&2
    cargo build --release --quiet --bin eventlog
fi

pids=()
stop() {
    trap - INT TERM EXIT
    echo "==> stopping" >&2
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait || true
}
trap stop INT TERM EXIT

urls=()
for i in 1 2 3; do
    urls+=("nats://127.0.0.1:$((14221 + i + offset))")
done
nats_urls="$(IFS=,; echo "${urls[*]}")"

for i in 1 2 3; do
    routes=""
    for j in 1 2 3; do
        [ "$i" = "$j" ] || routes="$routes
        nats-route://127.0.0.1:$((16221 + j + offset))"
    done
    cat >"$dir/n$i.conf" <<CONF
server_name: n$i
listen: 127.0.0.1:$((14221 + i + offset))
max_payload: 8MB
jetstream {
    store_dir: "$dir/n$i"
    sync_interval: always
}
cluster {
    name: eventlog-demo
    listen: 127.0.0.1:$((16221 + i + offset))
    routes: [$routes
    ]
}
CONF
    "$nats_server" -c "$dir/n$i.conf" >"$dir/n$i.log" 2>&1 &
    pids+=("$!")
done
# The nodes refuse to start without NATS: wait until every server takes connections.
for i in 1 2 3; do
    port=$((14221 + i + offset))
    for attempt in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        if [ "$attempt" = 100 ]; then
            echo "nats-server n$i did not start; its log ($dir/n$i.log) says:" >&2
            tail -5 "$dir/n$i.log" >&2
            exit 1
        fi
        sleep 0.1
    done
done
for i in 1 2 3; do
    "$eventlog" serve --data-dir "$dir/node$i" --node-name "node$i" --nats-url "$nats_urls" \
        --listen "127.0.0.1:$((15050 + i + offset))" \
        --http-listen "127.0.0.1:$((18080 + i + offset))" >"$dir/node$i.out" 2>"$dir/node$i.log" &
    pids+=("$!")
done

for i in 1 2 3; do
    for _ in $(seq 1 300); do
        grep -q "listening on" "$dir/node$i.out" 2>/dev/null && break
        if ! kill -0 "${pids[$((i + 2))]}" 2>/dev/null; then
            echo "node$i did not start; its log ($dir/node$i.log) says:" >&2
            tail -5 "$dir/node$i.log" >&2
            exit 1
        fi
        sleep 0.1
    done
done

echo "NATS (JetStream, R3):  $nats_urls"
for i in 1 2 3; do
    echo "node$i: gRPC http://127.0.0.1:$((15050 + i + offset))  console http://127.0.0.1:$((18080 + i + offset))/"
done
echo "data and logs: $dir"
echo "try: $eventlog import --format ndjson --addr http://127.0.0.1:$((15051 + offset)) examples/seed/moscow-tehran-proxies.ndjson"
echo "     $eventlog info --addr http://127.0.0.1:$((15053 + offset))"
echo "Ctrl-C stops the cluster."
wait
