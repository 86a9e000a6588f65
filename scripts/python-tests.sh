#!/usr/bin/env bash
# Runs the Python grpcio client tests (tests/python) against the real eventlog binary.
# Creates or reuses a virtualenv at target/python-venv and installs grpcio, grpcio-tools,
# grpcio-health-checking, grpcio-reflection and pytest into it from PyPI on first use.
# Installs the Node example's dependencies (scripts/node-deps.sh) when node is on the machine:
# tests/python/test_examples.py runs both example clients.
# Builds the binary unless EVENTLOG_BIN is set.
# Extra arguments are passed to pytest.
set -euo pipefail

# Resolve a relative EVENTLOG_BIN against the caller's directory before moving to the repo root.
if [ -n "${EVENTLOG_BIN:-}" ]; then
    case "$EVENTLOG_BIN" in
        /*) ;;
        *) EVENTLOG_BIN="$PWD/$EVENTLOG_BIN" ;;
    esac
fi
cd "$(dirname "$0")/.."

venv="target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
    echo "==> creating virtualenv $venv" >&2
    python3 -m venv "$venv"
fi
py="$venv/bin/python"

if ! "$py" -c 'import grpc, grpc_tools, grpc_health, grpc_reflection, pytest' >/dev/null 2>&1; then
    echo "==> installing grpcio, grpcio-tools, grpcio-health-checking, grpcio-reflection, pytest into $venv" >&2
    "$py" -m pip install --quiet --disable-pip-version-check --no-input \
        grpcio grpcio-tools grpcio-health-checking grpcio-reflection pytest </dev/null
fi

bash scripts/node-deps.sh

if [ -z "${EVENTLOG_BIN:-}" ]; then
    cargo build --quiet --bin eventlog
    EVENTLOG_BIN="${CARGO_TARGET_DIR:-target}/debug/eventlog"
    case "$EVENTLOG_BIN" in
        /*) ;;
        *) EVENTLOG_BIN="$PWD/$EVENTLOG_BIN" ;;
    esac
fi
if [ ! -x "$EVENTLOG_BIN" ]; then
    echo "error: EVENTLOG_BIN=$EVENTLOG_BIN is not an executable file" >&2
    exit 1
fi
export EVENTLOG_BIN

# No cache provider: keeps pytest from writing .pytest_cache into the repository.
exec "$py" -m pytest -q -p no:cacheprovider tests/python "$@" </dev/null
