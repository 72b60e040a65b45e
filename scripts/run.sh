#!/bin/sh
# The quick start: build streams-placer and show it doing its job on the
# bundled example cluster (examples/): plan every pending PE of the example
# jobs and explain the one that cannot be placed.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${SP_BUILD_DIR:-"$top/build"}

sh "$top/scripts/build.sh" "$build" >/dev/null
ex="$top/examples"
echo "\$ streams-placer plan --nodes examples/nodes.json --pods examples/pods.json \\"
echo "      --hostpools examples/hostpools.json --policy examples/policy.json"
status=0
"$build/streams-placer" plan --nodes "$ex/nodes.json" --pods "$ex/pods.json" \
    --hostpools "$ex/hostpools.json" --policy "$ex/policy.json" || status=$?
# 2 means "some PEs cannot be placed": the example has one on purpose.
[ "$status" -eq 0 ] || [ "$status" -eq 2 ]
