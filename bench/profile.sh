#!/bin/sh
# Profile the extender (scenario 1), admission (scenario 3) and whole-plan
# (scenario 4) benchmarks under callgrind: instruction counts, which are
# repeatable on a noisy shared machine where timings are not. `make
# bench-profile` runs it; by hand: bench/profile.sh BUILD_DIR.
#
#   plan-jobs, plan-busy   bench-plan, only place_plan_all collected
#   filter, prioritize     bench-handlers, only the handler calls collected
#                          (5,000 nodes, 50,000 bound PEs, 100 calls each)
#   validate, mutate       bench-handlers, the review and its effects
#   nodelist               bench-handlers, filter with a NodeList of 1,000
#                          nodes (scenario 2), 20 calls
#   validate-tls,          streams-placer serve under callgrind while wrk
#   mutate-tls             drives the webhook over TLS (4 connections, 20 s):
#                          everything the server does per review (TLS, HTTP,
#                          JSON, store), threads included
#
# For each: instructions per call, the top functions by own cost and by
# inclusive cost, in $BENCH_WORK/profile-NAME.txt, and a summary on stdout.
# Environment: BENCH_WORK (default a new /tmp/sp-bench-prof.XXXXXX),
# BENCH_PROFILES (default: all of the above), BENCH_SEED.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bench="$top/bench"
build=$(cd "${1:-$top/build}" && pwd)
bin="$build/streams-placer"
work=${BENCH_WORK:-$(mktemp -d /tmp/sp-bench-prof.XXXXXX)}
PROFILES=${BENCH_PROFILES:-"plan-jobs plan-busy filter prioritize nodelist validate mutate validate-tls mutate-tls"}
SEED=${BENCH_SEED:-1}
fx="$top/../shared/fixtures"
mkdir -p "$work"

if ! command -v valgrind >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        echo "profile: needs valgrind and wrk (apt-get install valgrind wrk)" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends valgrind wrk >&2
fi

say() { printf '%s\n' "profile: $*" >&2; }
# cg NAME ARGS...: run ARGS under callgrind into $work/NAME.out
cg() {
    cgname=$1
    shift
    valgrind --tool=callgrind --callgrind-out-file="$work/$cgname.out" "$@"
}

# summarize NAME CALLS: instructions per call and the top functions.
summarize() {
    name=$1 calls=$2
    out="$work/$name.out"
    total=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
    {
        echo "== $name: $(echo "$total $calls" | awk '{ printf "%.2f M instructions per call (%d calls)", $1 / $2 / 1e6, $2 }')"
        echo "-- by own cost"
        callgrind_annotate --inclusive=no "$out" 2>/dev/null | sed -n '/^Ir /,$p' | sed -n '3,22p' |
            sed 's/ \[[^]]*\]$//' | cut -c1-150
        echo "-- inclusive"
        callgrind_annotate --inclusive=yes "$out" 2>/dev/null | sed -n '/^Ir /,$p' | sed -n '3,40p' |
            sed 's/ \[[^]]*\]$//' | grep -v 'libc-start\|below main\|ld-linux\|start_thread\|clone3' |
            cut -c1-150
        echo
    } >"$work/profile-$name.txt"
    cat "$work/profile-$name.txt"
}

data="$work/data1"
need_data() {
    [ -s "$data/pods.json" ] && return 0
    mkdir -p "$data"
    "$build/bench/sp-bench-gen" --seed "$SEED" --out-dir "$data" --nodes 5000 --pes 50000 \
        --other-per-node 2 >&2
}
policy="$work/policy.json"
echo '{"reservationTTLSeconds": 3600}' >"$policy"

handlers() {
    state="$work/state-$1"
    rm -rf "$state"
    mkdir -p "$state"
    shift
    "$@" --bench-dir "$bench" --state-dir "$state" >"$state.txt" 2>"$state.log"
}

for p in $PROFILES; do
    case $p in
    plan-jobs | plan-busy)
        mode=${p#plan-}
        say "$p: bench-plan --mode $mode (a few minutes)"
        cg "$p" --toggle-collect='timed_plan*' "$build/bench/bench-plan" --mode "$mode" \
            --runs 1 --seed "$SEED" >/dev/null 2>"$work/$p.log"
        summarize "$p" 1
        ;;
    filter | prioritize)
        need_data
        fn=$([ "$p" = filter ] && echo 'timed_filter*' || echo 'timed_prioritize*')
        say "$p: bench-handlers, 100 calls (a few minutes)"
        handlers "$p" cg "$p" --toggle-collect="$fn" "$build/bench/bench-handlers" \
            --policy "$policy" --nodes "$data/nodes.json" --hostpools "$data/hostpools.json" \
            --pods "$data/pods.json" --filters 100 \
            --prioritizes "$([ "$p" = filter ] && echo 0 || echo 100)"
        summarize "$p" 100
        ;;
    nodelist)
        d2="$work/data2"
        [ -s "$d2/pods.json" ] || { mkdir -p "$d2"; "$build/bench/sp-bench-gen" --seed "$SEED" \
            --out-dir "$d2" --nodes 1000 --pes 10000 --other-per-node 2 >&2; }
        say "$p: bench-handlers, 20 calls with a NodeList of 1,000 nodes"
        handlers "$p" cg "$p" --toggle-collect='timed_filter*' "$build/bench/bench-handlers" \
            --policy "$policy" --nodes "$d2/nodes.json" --hostpools "$d2/hostpools.json" \
            --pods "$d2/pods.json" --nodelist "$d2/nodes.json" --filters 20
        summarize "$p" 20
        ;;
    validate | mutate)
        say "$p: bench-handlers, 2,000 reviews"
        handlers "$p" cg "$p" --toggle-collect='timed_review*' "$build/bench/bench-handlers" \
            --nodes "$fx/cluster-nodes.json" --hostpools "$fx/cluster-hostpools.json" \
            --reviews 2000 --review-mode "$p" \
            --review-body "$fx/admission/$p-create-pod-job1-pe0.json"
        summarize "$p" 2000
        ;;
    validate-tls | mutate-tls)
        verb=${p%-tls}
        say "$p: serve under callgrind, wrk over TLS for 20 s"
        state="$work/state-$p"
        rm -rf "$state"
        mkdir -p "$state"
        timeout -s TERM 900 valgrind --tool=callgrind --callgrind-out-file="$work/$p.out" \
            --instr-atstart=no "$bin" serve --listen 127.0.0.1:0 --port-file "$state/port" \
            --state-dir "$state" --nodes "$fx/cluster-nodes.json" \
            --hostpools "$fx/cluster-hostpools.json" 2>"$state.log" &
        vpid=$!
        i=0
        while [ ! -s "$state/port" ]; do
            i=$((i + 1))
            if [ $i -ge 1200 ] || ! kill -0 $vpid 2>/dev/null; then
                say "serve did not start"
                exit 1
            fi
            sleep 0.1
        done
        real=$(pgrep -P $vpid | head -n 1)
        callgrind_control -i on "$real" >/dev/null
        BENCH_BODY="$fx/admission/$verb-create-pod-job1-pe0.json" \
            BENCH_PATH="/webhook/$verb?timeout=10s" \
            timeout 120 wrk -t1 -c4 -d20s -s "$bench/wrk/static.lua" \
            "https://127.0.0.1:$(cat "$state/port")" >"$state.wrk" 2>&1 || true
        calls=$(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' "$state.wrk")
        kill -TERM "$real" 2>/dev/null || true
        wait $vpid 2>/dev/null || true
        summarize "$p" "${calls:-1}"
        ;;
    *)
        say "unknown profile $p"
        exit 1
        ;;
    esac
done
say "callgrind files and summaries in $work (callgrind_annotate, kcachegrind)"
