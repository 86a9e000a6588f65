#!/usr/bin/env bash
# The scale run of issue 11 by hand: builds the release server, runs `benches/scale.rs` for N
# events (default 1,000,000) and tees its table into target/scale-<N>.txt (target/scale-gdelt-<N>.txt
# with --gdelt). Every other argument goes to the benchmark (see `--help` there), e.g.
#
#   scripts/scale.sh                 # 1M events
#   scripts/scale.sh 10000000        # 10M events: ~10 GB of disk for the log and raw sled
#   scripts/scale.sh 10000000 --gdelt
#
# The run's data dirs live under target/scale-work (a real disk: fsync on tmpfs costs nothing)
# and are deleted at the end unless --keep is given. It takes the machine for the whole run:
# every figure is a rate or a latency, so run it on an otherwise quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."

events="${1:-1000000}"
if [[ $# -gt 0 ]]; then shift; fi
if ! [[ "$events" =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/scale.sh [EVENTS] [benchmark arguments...]" >&2
    exit 2
fi
name="scale-$events"
for arg in "$@"; do
    if [[ "$arg" == "--gdelt" ]]; then name="scale-gdelt-$events"; fi
done
target="${CARGO_TARGET_DIR:-target}"

# The server measured is the release binary users run. `cargo bench` links its own copy to the
# same path (built with the dev-dependencies' features), so this one is kept aside first.
cargo build --release --bin eventlog
mkdir -p "$target/scale-work"
cp "$target/release/eventlog" "$target/scale-work/eventlog"
{
    echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo 'no git')"
    cargo bench --bench scale -- --events "$events" --work-dir "$target/scale-work" \
        --bin "$target/scale-work/eventlog" "$@"
} | tee "$target/$name.txt"
echo "table written to $target/$name.txt" >&2
