#!/usr/bin/env bash
# Build the native kernels with AddressSanitizer into a temporary folder and fuzz them
# for a bounded time: bash fuzz/asan.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
CFLAGS="-fsanitize=address -fno-omit-frame-pointer -O1 -g" LDFLAGS="-fsanitize=address" \
    python setup.py -q build_ext --build-lib "$work/lib" --build-temp "$work/tmp" >/dev/null
LD_PRELOAD="$(gcc -print-file-name=libasan.so)" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1" \
    python fuzz/fuzz_native.py --seconds "$seconds" --lib "$work/lib"
