#!/usr/bin/env bash
# Crash safety at scale, by hand (not in CI): ROUNDS (default 100) rounds of kill -9 under 8
# concurrent writers against the release binary, then every acknowledged batch checked against
# the log, and every query and the relation graph against a model computed from the log.
# Prints acknowledged, lost, duplicated and half-batch counts. CI runs the same test with 3.
#
#   scripts/crash.sh          # 100 rounds, about 2 minutes after the release build
#   scripts/crash.sh 500
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-100}"
if ! [[ "$rounds" =~ ^[0-9]+$ ]]; then
    echo "usage: scripts/crash.sh [ROUNDS]" >&2
    exit 2
fi
EVENTLOG_CRASH_ROUNDS="$rounds" cargo test --release --test it \
    durability::kill_9_loses_no_acknowledged_entry -- --nocapture 2>&1 | grep -E "crash rounds|test result|panicked|acknowledged batches"
