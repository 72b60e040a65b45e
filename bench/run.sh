#!/bin/sh
# Run every benchmark of DESIGN section 7 and print one table: scenario, size,
# throughput, p50, p99, peak RSS, each contract figure beside its target with
# PASS or FAIL. `make bench` runs it; by hand: bench/run.sh BUILD_DIR.
#
#   1  filter + prioritize, NodeNames mode, 5,000 nodes, 50,000 bound PEs
#   2  filter with a full NodeList of 1,000 nodes (nodeCacheCapable false)
#   3  admission validate and mutate of a typical PE pod, and nginx serving a
#      static answer of the same size, driven the same way, in the same run
#   4  whole-job plan of 10,000 PEs over 5,000 nodes (in-process)
#   5  resident memory with 5,000 nodes and 100,000 pods, and load time
#
# Environment (defaults in brackets):
#   BENCH_SCENARIOS  which to run ["1 2 3 4 5"]
#   BENCH_DURATION   seconds per wrk run [10]
#   BENCH_RUNS       wrk runs per figure, the median is reported [3]
#   BENCH_PLAN_RUNS  runs of each plan benchmark [5]
#   BENCH_ADM_THREADS, BENCH_ADM_CONNS  wrk threads and connections of
#                    scenario 3, the same for nginx [2, 16]
#   BENCH_WORK       working directory (kept) [a new /tmp/sp-bench.XXXXXX]
#   BENCH_SEED       generator seed [1]
# Needs wrk, nginx (nginx-light), curl, python3; installs the missing ones
# from Debian when run as root. Every server it starts is bounded in time and
# stopped by its process id. Exit status 0 when every benchmark ran (whatever
# the verdicts), 1 when one could not run.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bench="$top/bench"
build=$(cd "${1:-$top/build}" && pwd)
bin="$build/streams-placer"
SCENARIOS=${BENCH_SCENARIOS:-"1 2 3 4 5"}
DURATION=${BENCH_DURATION:-10}
RUNS=${BENCH_RUNS:-3}
PLAN_RUNS=${BENCH_PLAN_RUNS:-5}
ADM_THREADS=${BENCH_ADM_THREADS:-2}
ADM_CONNS=${BENCH_ADM_CONNS:-16}
SEED=${BENCH_SEED:-1}
SERVER_LIMIT=1800       # seconds any server may live
work=${BENCH_WORK:-$(mktemp -d /tmp/sp-bench.XXXXXX)}
mkdir -p "$work"
results="$work/results.txt"
: >"$results"

for prog in "$bin" "$build/bench/sp-bench-gen" "$build/bench/bench-plan" \
    "$build/bench/bench-handlers"; do
    [ -x "$prog" ] || { echo "bench: $prog is not built (run make bench)" >&2; exit 1; }
done

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------

need=""
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need="$need nginx-light"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if [ -n "$need" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "bench: missing packages:$need; install them (as root: apt-get install$need)" >&2
        exit 1
    fi
    echo "bench: installing$need" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need >&2
fi
NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

say() { printf '%s\n' "bench: $*" >&2; }
put() { printf '%s=%s\n' "$1" "$2" >>"$results"; }
py() { python3 "$bench/report.py" "$@"; }
# field NAME LINE: the value of NAME=... in a "RESULT a=1 b=2" line
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
mib_of() { awk -v k="$1" '$1 == k":" { printf "%.0f", $2 / 1024 }' "/proc/$2/status"; }

pids=""
cleanup() {
    for p in $pids; do
        kill -TERM "$p" 2>/dev/null || true
    done
    sleep 0.5
    for p in $pids; do
        kill -KILL "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# serve NAME [ARGS...]: start streams-placer serve with state in $work/NAME;
# sets spid (its pid), surl, sload (seconds until it listened).
serve() {
    sdir="$work/$1"
    shift
    rm -rf "$sdir"
    mkdir -p "$sdir"
    t0=$(date +%s%N)
    timeout -s TERM $SERVER_LIMIT "$bin" serve --listen 127.0.0.1:0 --port-file "$sdir/port" \
        --state-dir "$sdir" "$@" 2>"$sdir/server.log" &
    spid=$!
    pids="$pids $spid"
    i=0
    while [ ! -s "$sdir/port" ]; do
        i=$((i + 1))
        if [ $i -gt 6000 ] || ! kill -0 "$spid" 2>/dev/null; then
            say "the server did not start:"
            tail -n 20 "$sdir/server.log" >&2
            exit 1
        fi
        sleep 0.05
    done
    sload=$(( ($(date +%s%N) - t0) / 1000000 ))   # ms
    surl="https://127.0.0.1:$(cat "$sdir/port")"
    # the process to read /proc of: the server itself, not timeout(1)
    spid_real=$(pgrep -P "$spid" -x streams-placer || echo "$spid")
}

# stop PID [REAL_PID]: SIGTERM to the server (REAL_PID, under timeout(1) as
# PID) and wait for it.
stop() {
    kill -TERM "${2:-$1}" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

metrics() { curl -sk --max-time 30 "$surl/metrics" >"$1"; }

# wrk_run OUT SCRIPT THREADS CONNS URL: one bounded wrk run; the RESULT line
# is left in $OUT and in $wres.
wrk_run() {
    out=$1 script=$2 threads=$3 conns=$4 url=$5
    timeout $((DURATION + 60)) wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 10s \
        -s "$script" "$url" >"$out" 2>&1 || true
    wres=$(grep '^RESULT' "$out" || true)
    if [ -z "$wres" ]; then
        say "wrk failed ($out):"
        cat "$out" >&2
        exit 1
    fi
    if [ "$(field errors "$wres")" != 0 ] || [ "$(field non2xx "$wres")" != 0 ]; then
        say "wrk saw errors ($out): $wres"
        exit 1
    fi
}

# extender KEY NAME VERB THREADS CONNS [PREFIX]: RUNS wrk runs of the
# extender script (environment already set) with server-side figures from
# /metrics; records KEY.{rps,p50_ms,p99_ms,srv.p50_ms,srv.p99_ms} as medians.
# Pods are named after PREFIX (default: NAME and the run number, so that
# every filter run sends new pods).
extender() {
    key=$1 name=$2 verb=$3 threads=$4 conns=$5 fixed=${6:-}
    rps="" p50="" p99="" sp50="" sp99=""
    r=1
    while [ $r -le "$RUNS" ]; do
        metrics "$work/$name-m$r-before"
        BENCH_PREFIX="${fixed:-$name$r}" BENCH_VERB=$verb \
            wrk_run "$work/$name-wrk$r.txt" "$bench/wrk/extender.lua" "$threads" "$conns" "$surl"
        metrics "$work/$name-m$r-after"
        hist=$(py hist "$work/$name-m$r-before" "$work/$name-m$r-after" "/scheduler/$verb")
        say "$name run $r: $wres | server $hist"
        rps="$rps $(field rps "$wres")"
        p50="$p50 $(field p50_ms "$wres")"
        p99="$p99 $(field p99_ms "$wres")"
        sp50="$sp50 $(field p50_ms "$hist")"
        sp99="$sp99 $(field p99_ms "$hist")"
        [ "$verb" != filter ] || [ "$(py counter "$work/$name-m$r-before" "$work/$name-m$r-after" \
            'streams_placer_decisions_total{phase="Reserved"}')" -ge "$(field requests "$wres")" ] || {
            say "$name run $r: fewer reservations than filters: not every PE was placed"
            exit 1
        }
        r=$((r + 1))
    done
    # shellcheck disable=SC2086
    {
        put "$key.rps" "$(py median $rps)"
        put "$key.p50_ms" "$(py median $p50)"
        put "$key.p99_ms" "$(py median $p99)"
        put "$key.srv.p50_ms" "$(py median $sp50)"
        put "$key.srv.p99_ms" "$(py median $sp99)"
    }
}

machine="$(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB, Linux $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg) at start; wrk: medians of $RUNS runs of ${DURATION}s"
put machine "machine: $machine"
say "work directory: $work"

# ---------------------------------------------------------------------------
# 1: filter + prioritize, NodeNames, 5,000 nodes, 50,000 bound PEs
# ---------------------------------------------------------------------------

policy="$work/policy.json"
# Reservations are not bound in these runs: a TTL longer than the whole
# benchmark keeps them (they use capacity as bound PEs do) instead of
# releasing them mid-run.
echo '{"reservationTTLSeconds": 3600}' >"$policy"

# gen DIR [ARGS...]: a generated cluster in DIR; its summary in DIR/gen.txt.
gen() {
    mkdir -p "$1"
    "$build/bench/sp-bench-gen" --seed "$SEED" --out-dir "$@" >"$1/gen.txt"
    cat "$1/gen.txt" >&2
}

case " $SCENARIOS " in *" 1 "*)
    say "scenario 1: generating 5,000 nodes and 50,000 bound PEs"
    d1="$work/data1"
    gen "$d1" --nodes 5000 --pes 50000 --other-per-node 2
    put s1.size "5,000 nodes, 50,000 PEs + 10,000 pods"
    serve s1 --policy "$policy" --nodes "$d1/nodes.json" --hostpools "$d1/hostpools.json" \
        --pods "$d1/pods.json"
    say "scenario 1: loaded in $sload ms"
    export BENCH_DIR="$bench" BENCH_NODES=5000
    unset BENCH_NODELIST BENCH_CYCLE 2>/dev/null || true
    BENCH_PREFIX=warm BENCH_VERB=filter DURATION=2 \
        wrk_run "$work/s1-warm.txt" "$bench/wrk/extender.lua" 1 1 "$surl"
    extender s1.filter s1f filter 1 1
    l=$(grep '^RESULT' "$work/s1f-wrk1.txt")
    put s1.filter.answer_kib "$(echo "$(field bytes "$l") $(field requests "$l")" |
        awk '{ printf "%.0f", $1 / $2 / 1024 }')"
    # prioritize the pods the first filter run sent (kube-scheduler's order)
    BENCH_CYCLE=$(field requests "$l")
    export BENCH_CYCLE
    extender s1.prio s1p prioritize 1 1 s1f1
    unset BENCH_CYCLE
    runs_saved=$RUNS
    RUNS=1
    extender s1.filter2 s1g filter 2 2
    RUNS=$runs_saved
    put s1.hwm_mib "$(mib_of VmHWM "$spid_real")"
    stop "$spid" "$spid_real"

    say "scenario 1: the handlers in-process (exact server-side cost)"
    mkdir -p "$work/h1"
    rm -rf "$work/h1/state"
    mkdir -p "$work/h1/state"
    "$build/bench/bench-handlers" --bench-dir "$bench" --state-dir "$work/h1/state" \
        --policy "$policy" --nodes "$d1/nodes.json" --hostpools "$d1/hostpools.json" \
        --pods "$d1/pods.json" --filters 1000 --prioritizes 1000 \
        >"$work/h1/out.txt" 2>"$work/h1/log" || { say "bench-handlers failed:"; tail "$work/h1/log" >&2; exit 1; }
    cat "$work/h1/out.txt" >&2
    for verb in filter prioritize; do
        l=$(grep "verb=$verb " "$work/h1/out.txt")
        k=$([ $verb = filter ] && echo filter || echo prio)
        put "s1.handler.$k.p50_ms" "$(field p50_ms "$l")"
        put "s1.handler.$k.p99_ms" "$(field p99_ms "$l")"
        put "s1.handler.$k.rps" "$(field mean_ms "$l" | awk '{ printf "%.1f", 1000 / $1 }')"
    done
    ;;
esac

# ---------------------------------------------------------------------------
# 2: filter with a full NodeList of 1,000 nodes
# ---------------------------------------------------------------------------

case " $SCENARIOS " in *" 2 "*)
    say "scenario 2: generating 1,000 nodes and 10,000 bound PEs"
    d2="$work/data2"
    gen "$d2" --nodes 1000 --pes 10000 --other-per-node 2
    body_bytes=$(wc -c <"$d2/nodes.json")
    put s2.size "1,000 nodes, 10,000 PEs + 2,000 pods"
    put s2.body_mib "$(echo "$body_bytes" | awk '{ printf "%.1f", $1 / 1048576 }')"
    serve s2 --policy "$policy" --nodes "$d2/nodes.json" --hostpools "$d2/hostpools.json" \
        --pods "$d2/pods.json" --max-body $((body_bytes + (1 << 20)))
    export BENCH_DIR="$bench" BENCH_NODELIST="$d2/nodes.json"
    unset BENCH_CYCLE 2>/dev/null || true
    extender s2.filter s2f filter 1 1
    l=$(grep '^RESULT' "$work/s2f-wrk1.txt")
    put s2.answer_kib "$(echo "$(field bytes "$l") $(field requests "$l")" | awk '{ printf "%.0f", $1 / $2 / 1024 }')"
    put s2.hwm_mib "$(mib_of VmHWM "$spid_real")"
    unset BENCH_NODELIST
    stop "$spid" "$spid_real"
    ;;
esac

# ---------------------------------------------------------------------------
# 3: admission reviews, and nginx serving the same answer size
# ---------------------------------------------------------------------------

case " $SCENARIOS " in *" 3 "*)
    fx="$top/../shared/fixtures"
    [ -d "$fx/admission" ] || fx="$top/tests/fixtures"
    if [ ! -f "$fx/admission/validate-create-pod-job1-pe0.json" ]; then
        say "scenario 3: no captured AdmissionReview fixtures (../shared/fixtures): skipped"
    else
        say "scenario 3: admission reviews vs nginx ($ADM_THREADS threads, $ADM_CONNS connections)"
        certs="$work/certs"
        rm -rf "$certs"
        "$bin" certs create --out-dir "$certs" --dns localhost --ip 127.0.0.1 >/dev/null
        serve s3 --tls-cert "$certs/tls.crt" --tls-key "$certs/tls.key" \
            --nodes "$fx/cluster-nodes.json" --hostpools "$fx/cluster-hostpools.json"
        put s3.conns "t=$ADM_THREADS c=$ADM_CONNS"
        put s3.size "job1-pe0 (pool[0], colocation)"
        ngx="$work/nginx"
        rm -rf "$ngx"
        mkdir -p "$ngx/tmp"
        for verb in validate mutate; do
            req="$fx/admission/$verb-create-pod-job1-pe0.json"
            curl -sk --max-time 10 -H 'Content-Type: application/json' --data-binary "@$req" \
                -o "$work/s3-$verb-answer.json" "$surl/webhook/$verb?timeout=10s"
            put "s3.$verb.answer_bytes" "$(wc -c <"$work/s3-$verb-answer.json")"
            if grep -q "[\$'\\\\]" "$work/s3-$verb-answer.json"; then
                say "the $verb answer holds a character the nginx config cannot quote"
                exit 1
            fi
        done
        cat >"$ngx/nginx.conf" <<EOF
worker_processes 2;
daemon off;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;
    server {
        listen 127.0.0.1:0 ssl;
        ssl_certificate $certs/tls.crt;
        ssl_certificate_key $certs/tls.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location = /webhook/validate { default_type application/json; return 200 '$(cat "$work/s3-validate-answer.json")'; }
        location = /webhook/mutate { default_type application/json; return 200 '$(cat "$work/s3-mutate-answer.json")'; }
    }
}
EOF
        # nginx cannot listen on port 0 and report it: find a free port
        nport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        sed -i "s/listen 127.0.0.1:0 ssl/listen 127.0.0.1:$nport ssl/" "$ngx/nginx.conf"
        timeout -s TERM $SERVER_LIMIT "$NGINX" -p "$ngx" -c "$ngx/nginx.conf" -e "$ngx/error.log" \
            2>"$ngx/stderr.log" &
        npid=$!
        pids="$pids $npid"
        nurl="https://127.0.0.1:$nport"
        i=0
        until curl -sk --max-time 2 -o /dev/null -X POST -H 'Content-Type: application/json' \
            -d '{}' "$nurl/webhook/validate"; do
            i=$((i + 1))
            if [ $i -gt 100 ] || ! kill -0 "$npid" 2>/dev/null; then
                say "nginx did not start:"
                cat "$ngx/error.log" "$ngx/stderr.log" >&2
                exit 1
            fi
            sleep 0.1
        done
        for verb in validate mutate; do
            export BENCH_BODY="$fx/admission/$verb-create-pod-job1-pe0.json"
            export BENCH_PATH="/webhook/$verb?timeout=10s"
            rps="" p50="" p99="" nrps="" np50="" np99="" ratio="" sp99=""
            r=1
            while [ $r -le "$RUNS" ]; do
                metrics "$work/s3$verb-m$r-before"
                wrk_run "$work/s3$verb-wrk$r.txt" "$bench/wrk/static.lua" "$ADM_THREADS" "$ADM_CONNS" "$surl"
                sp=$wres
                metrics "$work/s3$verb-m$r-after"
                hist=$(py hist "$work/s3$verb-m$r-before" "$work/s3$verb-m$r-after" "/webhook/$verb")
                wrk_run "$work/s3$verb-nginx$r.txt" "$bench/wrk/static.lua" "$ADM_THREADS" "$ADM_CONNS" "$nurl"
                ng=$wres
                say "$verb run $r: streams-placer $(field rps "$sp")/s p99 $(field p99_ms "$sp") ms (server $hist); nginx $(field rps "$ng")/s p99 $(field p99_ms "$ng") ms"
                rps="$rps $(field rps "$sp")"
                p50="$p50 $(field p50_ms "$sp")"
                p99="$p99 $(field p99_ms "$sp")"
                sp99="$sp99 $(field p99_ms "$hist")"
                nrps="$nrps $(field rps "$ng")"
                np50="$np50 $(field p50_ms "$ng")"
                np99="$np99 $(field p99_ms "$ng")"
                ratio="$ratio $(echo "$(field rps "$ng") $(field rps "$sp")" | awk '{ printf "%.3f", $1 / $2 }')"
                r=$((r + 1))
            done
            # shellcheck disable=SC2086
            {
                put "s3.$verb.rps" "$(py median $rps)"
                put "s3.$verb.p50_ms" "$(py median $p50)"
                put "s3.$verb.p99_ms" "$(py median $p99)"
                put "s3.$verb.srv.p99_ms" "$(py median $sp99)"
                put "s3.$verb.nginx.rps" "$(py median $nrps)"
                put "s3.$verb.nginx.p50_ms" "$(py median $np50)"
                put "s3.$verb.nginx.p99_ms" "$(py median $np99)"
                put "s3.$verb.ratio" "$(py median $ratio)"
            }
        done
        put s3.hwm_mib "$(mib_of VmHWM "$spid_real")"
        stop "$npid"
        stop "$spid" "$spid_real"
        unset BENCH_BODY BENCH_PATH
        say "scenario 3: the handlers in-process"
        for verb in validate mutate; do
            rm -rf "$work/h3$verb"
            mkdir -p "$work/h3$verb"
            "$build/bench/bench-handlers" --bench-dir "$bench" --state-dir "$work/h3$verb" \
                --nodes "$fx/cluster-nodes.json" --hostpools "$fx/cluster-hostpools.json" \
                --reviews 20000 --review-mode $verb \
                --review-body "$fx/admission/$verb-create-pod-job1-pe0.json" \
                >"$work/h3$verb/out.txt" 2>"$work/h3$verb/log" ||
                { say "bench-handlers failed:"; tail "$work/h3$verb/log" >&2; exit 1; }
            l=$(grep "verb=$verb " "$work/h3$verb/out.txt")
            put "s3.$verb.handler.p50_ms" "$(field p50_ms "$l")"
            put "s3.$verb.handler.p99_ms" "$(field p99_ms "$l")"
            put "s3.$verb.handler.rps" "$(field mean_ms "$l" | awk '{ printf "%.0f", 1000 / $1 }')"
        done
    fi
    ;;
esac

# ---------------------------------------------------------------------------
# 4: whole-job plan, 10,000 PEs over 5,000 nodes (in-process)
# ---------------------------------------------------------------------------

case " $SCENARIOS " in *" 4 "*)
    for mode in jobs single busy; do
        say "scenario 4: plan ($mode), $PLAN_RUNS runs"
        l=$("$build/bench/bench-plan" --mode $mode --nodes 5000 --pes 10000 \
            --runs "$PLAN_RUNS" --seed "$SEED") || { say "bench-plan failed: $l"; exit 1; }
        say "$l"
        for f in median_ms cpu_median_ms max_ms unplaced runs rss_mib; do
            put "s4.$mode.$f" "$(field $f "$l")"
        done
    done
    ;;
esac

# ---------------------------------------------------------------------------
# 5: memory with 5,000 nodes and 100,000 pods
# ---------------------------------------------------------------------------

case " $SCENARIOS " in *" 5 "*)
    say "scenario 5: generating 5,000 nodes and 100,000 pods (90,000 PEs)"
    d5="$work/data5"
    gen "$d5" --nodes 5000 --pes 90000 --other-per-node 2
    put s5.size "5,000 nodes, 100,000 pods ($(($(wc -c <"$d5/pods.json") / 1048576)) MiB of JSON)"
    serve s5 --policy "$policy" --nodes "$d5/nodes.json" --hostpools "$d5/hostpools.json" \
        --pods "$d5/pods.json"
    put s5.load_s "$(echo "$sload" | awk '{ printf "%.1f", $1 / 1000 }')"
    sleep 1
    put s5.rss_mib "$(mib_of VmRSS "$spid_real")"
    put s5.hwm_mib "$(mib_of VmHWM "$spid_real")"
    export BENCH_DIR="$bench" BENCH_NODES=5000
    BENCH_PREFIX=mem BENCH_VERB=filter DURATION=5 \
        wrk_run "$work/s5-wrk.txt" "$bench/wrk/extender.lua" 1 1 "$surl"
    put s5.rss_after_mib "$(mib_of VmRSS "$spid_real")"
    stop "$spid" "$spid_real"
    ;;
esac

echo
py table "$results"
echo "(figures and logs: $work)"
