#!/bin/sh
# Build streams-placer out of tree: scripts/build.sh [BUILD_DIR] [configure args...]
# Installs missing Debian build dependencies first (as root). The build
# directory defaults to ./build; a different one may carry other flags (the
# sanitizer build in .ci/run uses ./build-asan).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-"$top/build"}
[ $# -gt 0 ] && shift

sh "$top/scripts/install-deps.sh"
if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
    (cd "$top" && autoreconf -fi)
fi
mkdir -p "$build"
cd "$build"
if [ ! -f Makefile ]; then
    "$top/configure" -q "$@"
fi
make -j"$(nproc)"
