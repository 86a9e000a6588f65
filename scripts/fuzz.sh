#!/usr/bin/env bash
# Builds the fuzz targets of fuzz/ and runs each for a while.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 20, CI's budget; a long run passes e.g. 600); every target of
# fuzz/Cargo.toml unless some are named. Needs the nightly toolchain (libFuzzer's
# instrumentation); installs cargo-fuzz, pinned, into .tools/ on first use.
#
# Each target starts from its checked-in seeds (fuzz/corpus/TARGET, never written to) and from
# what earlier runs on this machine found (fuzz/target/corpus/TARGET, where new inputs go). A
# crash stops the script with libFuzzer's report; the input is in fuzz/artifacts/TARGET/, and
# `cargo +nightly fuzz run TARGET fuzz/artifacts/TARGET/crash-...` replays it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]" >&2
    exit 2
fi

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "scripts/fuzz.sh needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 1
fi

CARGO_FUZZ_VERSION=0.13.1
tools="$PWD/.tools"
export PATH="$tools/bin:$PATH"
if [ "$(cargo-fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "==> installing cargo-fuzz $CARGO_FUZZ_VERSION into .tools/"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$tools"
fi

# Without AddressSanitizer: the code under test is safe Rust, where it finds next to nothing,
# and it would cost build time and executions.
flags=(--sanitizer none)

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "==> building fuzz targets"
cargo +nightly fuzz build "${flags[@]}"

for target in "${targets[@]}"; do
    echo "==> fuzzing $target for ${seconds}s"
    mkdir -p "fuzz/target/corpus/$target"
    # -print_final_stats: executions and coverage at the end, for the record of a long run.
    cargo +nightly fuzz run "${flags[@]}" "$target" \
        "fuzz/target/corpus/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 </dev/null
done
echo "==> every fuzz target ran ${seconds}s without a crash: ${targets[*]}"
