#!/usr/bin/env bash
# Runs the Python grpcio client tests (tests/python) against the real eventlog binary.
# Creates or reuses a virtualenv at target/python-venv and installs into it from PyPI the pinned
# versions of tests/python/requirements.txt (grpcio, grpcio-tools, grpcio-status,
# grpcio-health-checking, grpcio-reflection, pytest).
# Installs the Node example's dependencies (scripts/node-deps.sh) when node is on the machine:
# tests/python/test_examples.py runs both example clients. Installs Debian's Chromium and
# ChromeDriver (scripts/browser-deps.sh) for tests/python/test_console.py, where it can.
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

# The pinned versions of tests/python/requirements.txt; installed again whenever that file
# changes (a stamp in the virtualenv remembers which contents were installed).
requirements="tests/python/requirements.txt"
stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "==> installing the pinned Python test dependencies ($requirements) into $venv" >&2
    "$py" -m pip install --quiet --disable-pip-version-check --no-input \
        -r "$requirements" </dev/null
    echo "$wanted" > "$stamp"
fi

bash scripts/node-deps.sh
# Debian's Chromium and ChromeDriver, for the console's browser test (test_console.py).
bash scripts/browser-deps.sh

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
