#!/usr/bin/env bash
# Installs the Node example's dependencies (examples/node/node_modules) with `npm ci`, from its
# committed package-lock.json, when they are missing or older than the lock file. A stamp in
# node_modules records the hash of the lock file the install was made from.
# Without node or npm on the machine it says so and does nothing (the Node example's test then
# skips). Reads no standard input; npm is given at most NODE_DEPS_TIMEOUT seconds (default 300).
set -euo pipefail
cd "$(dirname "$0")/../examples/node"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "==> node or npm not found: not installing the Node example's dependencies" >&2
    exit 0
fi

stamp="node_modules/.eventlog-lock-sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

echo "==> installing the Node example's dependencies (npm ci in examples/node)" >&2
timeout "${NODE_DEPS_TIMEOUT:-300}" npm ci --no-audit --no-fund --loglevel=error </dev/null >&2
echo "$want" >"$stamp"
