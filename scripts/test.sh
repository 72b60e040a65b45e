#!/bin/sh
# Build streams-placer and run its whole test suite (make check). Installs
# what the build and the tests need first. Extra arguments go to configure.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${SP_BUILD_DIR:-"$top/build"}

sh "$top/scripts/build.sh" "$build" "$@"
cd "$build"
if ! make -j"$(nproc)" check; then
    for log in $(find . -name '*.log' ! -name config.log ! -name test-suite.log); do
        if grep -q '^:test-result: FAIL\|^:test-result: ERROR' "${log%.log}.trs" 2>/dev/null; then
            echo "=== $log"
            tail -n 60 "$log"
        fi
    done
    exit 1
fi
