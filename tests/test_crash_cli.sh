#!/bin/sh
# Crashes and a failing disk, `streams-placer serve` standalone as a process:
#
# 1. kill -9 in the middle of a burst of concurrent filter + bind calls,
#    then a restart on the same state dir: every bind answered with success
#    has its decision in the store (phase Bound, on that node, for that
#    pod), a PE whose bind got no answer is bound once or not at all (and
#    only where its filter said), the database passes its integrity check,
#    and the restarted server finishes the job with every node exactly full.
# 2. A full disk: the file size limit (RLIMIT_FSIZE, works unprivileged), and
#    as root a small tmpfs that really fills up: the filter that needed the
#    write is answered 500 with a message naming the state dir and the cause;
#    the server keeps serving; a restart (or, on the tmpfs, freed space)
#    brings writes back; everything acknowledged before is there and the
#    database passes its integrity check.
# 3. An unwritable state dir (chmod, or as root a server run as nobody): the
#    server refuses to start with a clear message and exit 1, and an
#    existing store is left as it was.
#
# Decisions are read from the store with the sqlite3 command-line tool.
# Bounded in time; loopback only; everything under one temporary directory.
# Exit status: 0 pass, 1 fail, 77 skip, 99 error.

: "${top_builddir:=.}"
: "${top_srcdir:=.}"

bin="$(cd "$top_builddir" 2>/dev/null && pwd)/streams-placer"
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 99; }
for tool in curl timeout sqlite3 prlimit sed; do
    command -v $tool >/dev/null 2>&1 || { echo "$tool not found: skip" >&2; exit 77; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/test_crash_cli.XXXXXX")" || exit 99
pid=
mounted=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    [ -n "$mounted" ] && umount "$mounted" 2>/dev/null
    chmod -R u+rwx "$tmp" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM
. "${top_srcdir:-.}/tests/test_lib.sh"

NODES=4 # n1..n4, room for SLOTS PEs each (allocatable pods)
SLOTS=10
PES=$((NODES * SLOTS))
node_names='["n1","n2","n3","n4"]'

{
    printf '{"apiVersion":"v1","kind":"NodeList","items":['
    n=1
    while [ $n -le $NODES ]; do
        [ $n -gt 1 ] && printf ','
        printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"n%d"},' $n
        printf '"status":{"allocatable":{"cpu":"16","memory":"64Gi","pods":"%d"}}}' $SLOTS
        n=$((n + 1))
    done
    printf ']}\n'
} >"$tmp/nodes.json"

# pod JOB PE: a PE pod of JOB in namespace streams (uid u-JOB-PE).
pod() {
    printf '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"%s-%s","namespace":"streams",' "$1" "$2"
    printf '"uid":"u-%s-%s","labels":{"streams.io/job":"%s","streams.io/pe":"%s"}},' "$1" "$2" "$1" "$2"
    printf '"spec":{"containers":[{"name":"pe","resources":{"requests":{"cpu":"100m",'
    printf '"memory":"64Mi"}}}]},"status":{"phase":"Pending"}}'
}

# launch DIR [WRAPPER...] -- [ARGS...]: start serve with state in DIR (its
# port file and log beside it), behind WRAPPER (prlimit, setpriv); sets pid.
launch() {
    dir=$1
    shift
    wrap=
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        wrap="$wrap $1"
        shift
    done
    [ "${1:-}" = -- ] && shift
    rm -f "$dir.port"
    # SIGXFSZ ignored: a write over the file size limit fails with EFBIG
    # instead of killing the server (as a container runtime would set it)
    (
        trap '' XFSZ
        exec $wrap "$bin" serve --listen 127.0.0.1:0 --port-file "$dir.port" \
            --state-dir "$dir" --nodes "$tmp/nodes.json" --drain-timeout 5 \
            --log-level warn "$@" 2>>"$dir.log"
    ) &
    pid=$!
}

# start DIR [WRAPPER...] -- [ARGS...]: launch, then wait until it serves;
# sets url and ca.
start() {
    launch "$@"
    i=0
    while [ ! -s "$dir.port" ] && [ $i -lt 150 ] && kill -0 $pid 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$dir.port" ] || { cat "$dir.log" >&2; echo "server did not start" >&2; exit 99; }
    url="https://127.0.0.1:$(head -n 1 "$dir.port")"
    ca="$dir/ca.crt"
    eventually 10 curl -sfS --cacert "$ca" "$url/readyz" || fail "$dir: not ready"
}

# stop: SIGTERM, and the exit status must be 0.
stop() {
    kill -TERM $pid
    timeout 20 sh -c "while kill -0 $pid 2>/dev/null; do sleep 0.1; done" || fail "server did not stop"
    wait $pid
    status=$?
    [ "$status" -eq 0 ] || fail "exit status after SIGTERM: $status"
    pid=
}

# post PATH FILE OUT: POST FILE's JSON; the HTTP status on stdout (000: no
# answer), the body in OUT.
post() {
    curl -sS --max-time 20 --cacert "$ca" -H 'Content-Type: application/json' \
        --data-binary @"$2" -o "$3" -w '%{http_code}' "$url$1" 2>/dev/null
}

# chosen FILE: the one node of a filter result (empty when none).
chosen() {
    sed -n 's/.*"NodeNames":\["\([^"]*\)"\].*/\1/p' "$1"
}

# error_of FILE: the Error of an extender result.
error_of() {
    sed -n 's/.*"Error":"\(\([^"\\]\|\\.\)*\)".*/\1/p' "$1" 2>/dev/null
}

# schedule JOB PE OUTDIR: what kube-scheduler does for one pod, filter then
# bind, recording each answer: OUTDIR/JOB-PE.filter (status node) and
# OUTDIR/JOB-PE.bind (status, and the Error after a tab).
schedule() {
    w="$3/$1-$2"
    { printf '{"Pod":'; pod "$1" "$2"; printf ',"NodeNames":%s}' "$node_names"; } >"$w.args"
    code=$(post /scheduler/filter "$w.args" "$w.fout")
    node=$(chosen "$w.fout")
    echo "$code $node" >"$w.filter.tmp" && mv "$w.filter.tmp" "$w.filter"
    [ "$code" = 200 ] && [ -n "$node" ] || return 0
    printf '{"PodName":"%s-%s","PodNamespace":"streams","PodUID":"u-%s-%s","Node":"%s"}' \
        "$1" "$2" "$1" "$2" "$node" >"$w.bargs"
    code=$(post /scheduler/bind "$w.bargs" "$w.bout")
    printf '%s\t%s\n' "$code" "$(error_of "$w.bout")" >"$w.bind.tmp" && mv "$w.bind.tmp" "$w.bind"
}

# row DIR JOB PE: "phase|node|uid" of the PE's placement in DIR's store.
row() {
    sqlite3 "$1/streams-placer.db" \
        "SELECT phase || '|' || coalesce(node, '') || '|' || coalesce(uid, '') FROM placements
         WHERE namespace = 'streams' AND job = '$2' AND pe = '$3';"
}

# intact DIR: the store passes SQLite's integrity check.
intact() {
    got=$(sqlite3 "$1/streams-placer.db" 'PRAGMA integrity_check;' 2>&1)
    [ "$got" = ok ] || fail "$1: integrity_check says: $got"
}

# ==========================================================================
# 1. kill -9 in a burst of binds
# ==========================================================================
s="$tmp/burst"
r="$tmp/burst-answers"
mkdir -p "$r"
start "$s" --
i=0
while [ $i -lt $PES ]; do
    schedule b $i "$r" &
    i=$((i + 1))
done
# kill -9 once some binds are answered, while most are still in flight
i=0
while [ "$(ls "$r" | grep -c '\.bind$')" -lt 3 ] && [ $i -lt 400 ]; do
    sleep 0.01
    i=$((i + 1))
done
kill -9 $pid
wait $pid 2>/dev/null
pid=
wait # every client has its answer, or none

answered=0 unanswered=0
intact "$s"
i=0
while [ $i -lt $PES ]; do
    f="$r/b-$i"
    fcode=$(cut -d' ' -f1 "$f.filter" 2>/dev/null)
    fnode=$(cut -s -d' ' -f2 "$f.filter" 2>/dev/null)
    bcode=$(cut -f1 "$f.bind" 2>/dev/null)
    berr=$(cut -s -f2 "$f.bind" 2>/dev/null)
    got=$(row "$s" b $i)
    phase=${got%%|*}
    rest=${got#*|}
    node=${rest%%|*}
    if [ "$bcode" = 200 ] && [ -z "$berr" ]; then
        answered=$((answered + 1))
        [ "$got" = "Bound|$fnode|u-b-$i" ] ||
            fail "b-$i: bind answered 200 on $fnode, the store says '$got'"
    else
        unanswered=$((unanswered + 1))
        [ "$bcode" = 200 ] && fail "b-$i: bind answered 200 with Error '$berr'"
        case "$phase" in
        "" | Reserved | Bound)
            # where its filter said, when the filter was answered
            [ -z "$got" ] || [ "$fcode" != 200 ] || [ "$node" = "$fnode" ] ||
                fail "b-$i: filter chose $fnode, the store says '$got'" ;;
        *) fail "b-$i: after the crash the store says '$got'" ;;
        esac
    fi
    i=$((i + 1))
done
[ $answered -ge 3 ] || fail "only $answered binds were answered before kill -9"
[ $unanswered -ge 1 ] || echo "note: every bind was answered before kill -9" >&2
dups=$(sqlite3 "$s/streams-placer.db" "SELECT count(*) FROM (SELECT 1 FROM placements
    GROUP BY namespace, job, pe HAVING count(*) > 1);")
[ "$dups" = 0 ] || fail "$dups PEs have more than one placement"
over=$(sqlite3 "$s/streams-placer.db" "SELECT count(*) FROM (SELECT node FROM placements
    WHERE phase IN ('Reserved', 'Bound') GROUP BY node HAVING count(*) > $SLOTS);")
[ "$over" = 0 ] || fail "$over nodes hold more PEs than they have room for"

# restart on the same state: kube-scheduler retries every pod whose bind got
# no answer; each goes where the store says, or fits in what is left
cp -r "$r" "$r.before"
i=0
while [ $i -lt $PES ]; do
    echo "$(row "$s" b $i)" >"$r.before/b-$i.row"
    i=$((i + 1))
done
start "$s" --
i=0
while [ $i -lt $PES ]; do
    bcode=$(cut -f1 "$r.before/b-$i.bind" 2>/dev/null)
    berr=$(cut -s -f2 "$r.before/b-$i.bind" 2>/dev/null)
    if [ "$bcode" != 200 ] || [ -n "$berr" ]; then
        before=$(cat "$r.before/b-$i.row")
        rm -f "$r/b-$i.filter" "$r/b-$i.bind"
        schedule b $i "$r"
        [ "$(cut -f1 "$r/b-$i.bind" 2>/dev/null)" = 200 ] ||
            fail "b-$i: after the restart: filter '$(cat "$r/b-$i.filter")', bind '$(cat "$r/b-$i.bind" 2>/dev/null)'"
        before_node=${before#*|}
        before_node=${before_node%%|*}
        [ -z "$before" ] || [ "$before_node" = "$(cut -s -d' ' -f2 "$r/b-$i.filter")" ] ||
            fail "b-$i: stored on $before_node before the restart, placed on $(cut -s -d' ' -f2 "$r/b-$i.filter") after"
    fi
    i=$((i + 1))
done
stop
intact "$s"
bound=$(sqlite3 "$s/streams-placer.db" "SELECT count(*) FROM placements WHERE phase = 'Bound';")
[ "$bound" = $PES ] || fail "$bound of $PES PEs bound in the end"
full=$(sqlite3 "$s/streams-placer.db" "SELECT count(*) FROM (SELECT node FROM placements
    WHERE phase = 'Bound' GROUP BY node HAVING count(*) = $SLOTS);")
[ "$full" = $NODES ] || fail "$full of $NODES nodes exactly full: $(sqlite3 "$s/streams-placer.db" \
    "SELECT node || ':' || count(*) FROM placements GROUP BY node;" | tr '\n' ' ')"
# what was answered before the crash stayed as it was
i=0
while [ $i -lt $PES ]; do
    bcode=$(cut -f1 "$r.before/b-$i.bind" 2>/dev/null)
    berr=$(cut -s -f2 "$r.before/b-$i.bind" 2>/dev/null)
    if [ "$bcode" = 200 ] && [ -z "$berr" ]; then
        [ "$(row "$s" b $i)" = "Bound|$(cut -s -d' ' -f2 "$r.before/b-$i.filter")|u-b-$i" ] ||
            fail "b-$i: answered before the crash, now '$(row "$s" b $i)'"
    fi
    i=$((i + 1))
done
echo "kill -9: $answered binds answered, $unanswered not, before the crash"

# ==========================================================================
# 2. A full disk
# ==========================================================================

# fill_until_refused DIR JOB: filter new PEs of JOB one at a time until one
# is refused (at most 200); sets ok (PEs placed) and refused (its answer).
fill_until_refused() {
    ok=0
    refused=
    while [ $ok -lt 200 ]; do
        schedule_filter_only "$2" $ok "$1.answers"
        [ "$code" = 200 ] || { refused="$code $(error_of "$1.answers/$2-$ok.fout")"; return; }
        ok=$((ok + 1))
    done
}

# schedule_filter_only JOB PE OUTDIR: only the filter; sets code and node.
schedule_filter_only() {
    mkdir -p "$3"
    w="$3/$1-$2"
    { printf '{"Pod":'; pod "$1" "$2"; printf ',"NodeNames":%s}' "$node_names"; } >"$w.args"
    code=$(post /scheduler/filter "$w.args" "$w.fout")
    node=$(chosen "$w.fout")
    echo "$code $node" >"$w.filter"
}

# still_serving: what needs no write keeps working after the write failed.
still_serving() {
    curl -sfS --cacert "$ca" "$url/healthz" >/dev/null || fail "$1: healthz after the failed write"
    curl -sfS --cacert "$ca" "$url/readyz" >/dev/null || fail "$1: readyz after the failed write"
    { printf '{"Pod":'; pod "$2" 0; printf ',"NodeNames":%s}' "$node_names"; } >"$tmp/prio.json"
    [ "$(post /scheduler/prioritize "$tmp/prio.json" "$tmp/prio.out")" = 200 ] ||
        fail "$1: prioritize after the failed write"
    has "$tmp/prio.out" '"Score"'
    { printf '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":'
      printf '{"uid":"r1","operation":"CREATE","namespace":"streams","kind":{"kind":"Pod"},'
      printf '"object":{"metadata":{"name":"x","namespace":"streams","labels":{'
      printf '"streams.io/job":"x","streams.io/pe":"0"},"annotations":{'
      printf '"streams.io/host-pool-index":"-1"}},"spec":{"containers":[{"name":"c"}]}}}}'
    } >"$tmp/review.json"
    [ "$(post /webhook/validate "$tmp/review.json" "$tmp/review.out")" = 200 ] ||
        fail "$1: the webhook after the failed write"
    has "$tmp/review.out" '"allowed":false'
}

# acknowledged DIR JOB N: PEs 0..N-1 of JOB were answered 200 on a node,
# and the store has each Reserved there.
acknowledged() {
    i=0
    while [ $i -lt $3 ]; do
        want="Reserved|$(cut -s -d' ' -f2 "$1.answers/$2-$i.filter")|u-$2-$i"
        [ "$(row "$1" "$2" $i)" = "$want" ] ||
            fail "$2-$i: answered, the store says '$(row "$1" "$2" $i)', not '$want'"
        i=$((i + 1))
    done
}

# --- the file size limit: unprivileged ---------------------------------------
s="$tmp/fsize"
mkdir -p "$s"
start "$s" prlimit --fsize=131072 --
fill_until_refused "$s" f
[ $ok -ge 1 ] || fail "fsize: no filter went through below the limit"
case "$refused" in
"500 state dir $s: cannot store "*"file too large"*) ;;
*) fail "fsize: refused with '$refused'" ;;
esac
still_serving fsize f
# a bind of what was placed needs a write too: refused, clearly
printf '{"PodName":"f-0","PodNamespace":"streams","PodUID":"u-f-0","Node":"%s"}' \
    "$(cut -s -d' ' -f2 "$s.answers/f-0.filter")" >"$tmp/bind.json"
code=$(post /scheduler/bind "$tmp/bind.json" "$tmp/bind.out")
[ "$code" = 500 ] || fail "fsize: bind over the limit: HTTP $code"
has "$tmp/bind.out" "file too large"
stop
intact "$s"
acknowledged "$s" f $ok
[ -z "$(row "$s" f $ok)" ] || fail "fsize: the refused f-$ok is in the store: $(row "$s" f $ok)"
# restarted without the limit: everything acknowledged is there, writes work
start "$s" --
schedule_filter_only f $ok "$s.answers"
[ "$code" = 200 ] || fail "fsize: after the restart, f-$ok: HTTP $code"
schedule_filter_only f 0 "$s.again"
[ "$(cut -s -d' ' -f2 "$s.again/f-0.filter")" = "$(cut -s -d' ' -f2 "$s.answers/f-0.filter")" ] ||
    fail "fsize: f-0 moved across the restart"
stop
intact "$s"
acknowledged "$s" f $((ok + 1))

# --- a file system that fills up: root only ----------------------------------
s="$tmp/tmpfs"
mkdir -p "$s"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m,mode=0700 sp-test "$s" 2>/dev/null; then
    mounted="$s"
    start "$s" --
    # leave about 96 KiB free
    free_kb=$(df -k "$s" | awk 'NR == 2 { print $4 }')
    dd if=/dev/zero of="$s/filler" bs=1024 count=$((free_kb - 96)) 2>/dev/null
    fill_until_refused "$s" t
    [ $ok -ge 1 ] || fail "tmpfs: no filter went through before the disk was full"
    case "$refused" in
    "500 state dir $s: cannot store "*"no space left on device"*) ;;
    *) fail "tmpfs: refused with '$refused'" ;;
    esac
    still_serving tmpfs t
    # space comes back: the same server writes again, no restart
    rm -f "$s/filler"
    schedule_filter_only t $ok "$s.answers"
    [ "$code" = 200 ] || fail "tmpfs: once space is free again, t-$ok: HTTP $code"
    stop
    intact "$s"
    acknowledged "$s" t $((ok + 1))
    umount "$s" && mounted=
else
    echo "not root, or no tmpfs mount here: the full file system case is skipped" >&2
fi

# ==========================================================================
# 3. An unwritable state dir
# ==========================================================================

# refuses TEXT DIR [WRAPPER...]: serve exits 1 at once with TEXT on stderr.
refuses() {
    want=$1
    d=$2
    shift 2
    (
        trap '' XFSZ
        exec timeout 20 "$@" "$bin" serve --listen 127.0.0.1:0 --state-dir "$d" \
            --tls-cert "$tmp/keys/tls.crt" --tls-key "$tmp/keys/tls.key" \
            --nodes "$tmp/nodes.json"
    ) >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq 1 ] || fail "serve on $d: exit $got, expected 1"
    has "$tmp/err" "$want"
}

mkdir -p "$tmp/keys"
cp "$tmp/burst/serving.crt" "$tmp/keys/tls.crt"
cp "$tmp/burst/serving.key" "$tmp/keys/tls.key"
chmod 0600 "$tmp/keys/tls.key"
sum() { cat "$1"/streams-placer.db* | cksum; }
nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
if [ "$(id -u)" = 0 ]; then
    # root ignores permission bits: the server runs as nobody instead
    chmod 0755 "$tmp" "$tmp/keys"
    chown 65534:65534 "$tmp/keys/tls.crt" "$tmp/keys/tls.key"
    command -v setpriv >/dev/null 2>&1 && $nobody test -x "$bin" || {
        echo "nobody cannot run $bin here: the unwritable state dir case is skipped" >&2
        nobody=skip
    }
else
    nobody=
fi
if [ "$nobody" != skip ]; then
    mkdir -p "$tmp/ro/new"
    chmod 0755 "$tmp/ro"
    if [ -n "$nobody" ]; then chmod 0755 "$tmp/ro/new"; else chmod 0500 "$tmp/ro/new"; fi
    refuses "state dir $tmp/ro/new: cannot" "$tmp/ro/new" $nobody
    has "$tmp/err" "permission denied"
    [ -z "$(ls "$tmp/ro/new")" ] || fail "files left in the unwritable state dir"
    # an existing store it may read but not write
    if [ -n "$nobody" ]; then
        chmod 0755 "$tmp/fsize"
        chmod 0644 "$tmp/fsize"/streams-placer.*
    else
        chmod 0500 "$tmp/fsize"
    fi
    before=$(sum "$tmp/fsize")
    refuses "state dir $tmp/fsize: cannot" "$tmp/fsize" $nobody
    has "$tmp/err" "permission denied"
    [ "$(sum "$tmp/fsize")" = "$before" ] || fail "the unwritable store changed"
    chmod 0700 "$tmp" "$tmp/fsize"
    intact "$tmp/fsize"
fi

finish crash
