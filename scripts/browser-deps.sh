#!/usr/bin/env bash
# Installs Debian's Chromium and ChromeDriver (/usr/bin/chromium, /usr/bin/chromedriver) for the
# console's browser tests (tests/python/test_console.py), pinned to the version they were last
# run with. Debian's security archive keeps only the newest build of a package: when the pinned
# one is gone, this says so and installs the one Debian offers. Nothing is downloaded at test
# time, and no browser is fetched from anywhere but Debian.
# Without root or apt-get it installs nothing, and the browser tests skip, saying why.
set -euo pipefail

version="148.0.7778.167-1~deb12u1"

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "==> not installing Chromium (needs root and apt-get): the browser tests will be skipped" >&2
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
install() {
    apt-get install -y -q --no-install-recommends "$@" </dev/null >/dev/null
}
echo "==> installing Debian's chromium and chromium-driver $version" >&2
if ! install "chromium=$version" "chromium-driver=$version"; then
    apt-get update -q </dev/null >/dev/null || true
    if ! install "chromium=$version" "chromium-driver=$version"; then
        echo "==> warning: Debian no longer offers chromium $version; installing its current one" >&2
        install chromium chromium-driver || {
            echo "==> could not install Chromium: the browser tests will be skipped" >&2
            exit 0
        }
    fi
fi
/usr/bin/chromium --version >&2
