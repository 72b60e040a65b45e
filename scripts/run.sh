#!/bin/sh
# The quick start: build streams-placer, start the server standalone (its
# embedded default: built-in policy, local store, self-signed certificate),
# drive the bundled example cluster and jobs through it as Kubernetes would
# (admission, then filter, prioritize and bind), print where every PE went
# and why any did not, then keep serving until interrupted (Ctrl-C).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${SP_BUILD_DIR:-"$top/build"}
state="$build/demo-state"
ex="$top/examples"

sh "$top/scripts/build.sh" "$build" >/dev/null
rm -rf "$state"
mkdir -p "$state"
"$build/streams-placer" serve --listen 127.0.0.1:0 --port-file "$state/port" \
    --state-dir "$state" --nodes "$ex/nodes.json" --pods "$ex/pods.json" \
    --policy "$ex/policy.json" 2>"$state/server.log" &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null' INT TERM EXIT

i=0
while [ ! -s "$state/port" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ] || ! kill -0 $server 2>/dev/null; then
        echo "run.sh: the server did not start:" >&2
        cat "$state/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
url="https://127.0.0.1:$(cat "$state/port")"
echo "streams-placer serving on $url (log: $state/server.log)"
echo
python3 "$top/scripts/demo.py" --url "$url" --ca "$state/ca.crt" --examples "$ex"
echo
echo "Still serving on $url: try curl --cacert $state/ca.crt $url/metrics"
echo "Press Ctrl-C to stop."
wait $server
