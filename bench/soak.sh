#!/bin/sh
# A bounded soak of streams-placer on loopback: mixed extender and admission
# traffic, valid and malformed at once, for SECONDS (default 300), against
# one `streams-placer serve` loaded with a generated cluster. Usage:
#
#   bench/soak.sh BUILD_DIR [SECONDS]
#
# Concurrently, for the whole run:
#   lifecycle  wrk, 2 threads x 1 connection (bench/wrk/soak.lua): jobs of 8
#              PE pods walked through mutate, validate CREATE, filter with
#              every node name, prioritize, bind to the node filter chose,
#              validate DELETE: pods are learned, placed, bound and forgotten
#              all the time while the number of live PEs stays bounded. Each
#              thread resubmits SOAK_JOBS job names over and over (every pod
#              a new uid), so the placements kept per job name stay bounded
#   replay     wrk, 1 x 1: the captured AdmissionReviews of
#              ../shared/fixtures/admission (pods, HostPools) in turn
#   malformed  wrk, 1 x 1 (bench/wrk/malformed.lua): truncated JSON, wrong
#              types, invalid UTF-8, nesting bombs, rule-breaking pods and
#              HostPools, unknown nodes, wrong methods, paths and content
#              types, each answered on a connection that stays usable
#   garbage    python3, one connection each: bodies one byte over the caps
#              (with Content-Length and chunked) and far over them, a path
#              and a header over the limits, both Transfer-Encoding and
#              Content-Length, a negative length, a bad chunk; connections
#              that are not TLS, cut TLS handshakes, TLS below 1.2, requests
#              cut off mid-header and mid-body, bytes that are not HTTP; and
#              a /healthz every 50 of them
#   sampler    VmRSS, threads and open descriptors of the server every
#              SOAK_SAMPLE seconds, a /healthz each time, /metrics at the
#              end of the warm-up (the first fifth of the run) and at the end
#
# Then it stops the server with SIGTERM, prints one table (requests by
# stream and kind, statuses, client and server p99, RSS at the end of the
# warm-up, min, max and at the end) and checks:
#   - the server is alive at the end, answers /healthz, and exits 0 on SIGTERM
#   - valid requests: every one answered 2xx with a right answer (a filter
#     places the PE, a bind has no Error, our pods are allowed), no 5xx, no
#     socket error
#   - malformed requests: every one answered and refused, with a 4xx or a 200
#     that refuses (allowed: false, an Error, no node), never a 5xx, never
#     accepted
#   - garbage connections: each limit answered with its 4xx (413, 414, 431,
#     400), never a 5xx or a 2xx, TLS below 1.2 refused, and /healthz always
#     answers between them
#   - /metrics: no 5xx on any route (a request whose client went away is a
#     499), and at least as many 2xx per route as the valid streams got
#   - VmRSS after the warm-up: max within 10% of min (SOAK_RSS_TOLERANCE), of
#     what the server keeps: each sample taken as the lowest of it and the
#     next two (15 s), so that a request in flight at one sample (a 4 MiB
#     body) is not taken for growth; the raw max and min are printed too
# Exit status: 0 when every check passes, 1 when one fails or the soak could
# not run.
#
# Environment (defaults in brackets):
#   SOAK_NODES, SOAK_PES   the generated cluster [1000, 10000]
#   SOAK_JOBS              job names each lifecycle thread reuses [25]; 0: a
#                          new name for every job (Released placements are then
#                          deleted after the policy's TTL: run 300 s or more, so
#                          that the warm-up outlasts it; bench/README.md)
#   SOAK_SEED              generator seed [1]
#   SOAK_SAMPLE            seconds between samples [5]
#   SOAK_RSS_TOLERANCE     allowed max/min - 1 of VmRSS after warm-up [0.10]
#   SOAK_FIXTURES          captured payloads [../shared/fixtures]
#   SOAK_WORK              working directory (kept) [a new /tmp/sp-soak.XXXXXX]
# Needs wrk, curl, python3 (installed from Debian when missing and run as
# root). The server and every client are bounded by timeout(1) and stopped
# by process id.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bench="$top/bench"
build=$(cd "${1:-$top/build}" && pwd)
DURATION=${2:-300}
bin="$build/streams-placer"
NODES=${SOAK_NODES:-1000}
PES=${SOAK_PES:-10000}
JOBS=${SOAK_JOBS:-25}
SEED=${SOAK_SEED:-1}
SAMPLE=${SOAK_SAMPLE:-5}
TOLERANCE=${SOAK_RSS_TOLERANCE:-0.10}
FIXTURES=${SOAK_FIXTURES:-$top/../shared/fixtures}
MAX_BODY=4194304                # the server's default --max-body
MAX_EXT_BODY=8388608            # --max-extender-body: over 1,000 nodes' NodeList
WARM=$((DURATION / 5))
LIMIT=$((DURATION + 120))       # seconds any process may live

say() { printf '%s\n' "soak: $*" >&2; }
die() { say "$*"; exit 1; }

case $DURATION in '' | *[!0-9]*) die "SECONDS must be a whole number: $DURATION" ;; esac
[ "$DURATION" -ge 30 ] || die "SECONDS must be at least 30"
[ -x "$bin" ] || die "$bin is not built (run make)"
if [ ! -x "$build/bench/sp-bench-gen" ]; then
    make -C "$build" bench/sp-bench-gen >/dev/null || die "cannot build bench/sp-bench-gen"
fi
if [ ! -f "$FIXTURES/admission/validate-create-pod-job1-pe0.json" ] ||
    [ ! -f "$FIXTURES/extender-nodenames/filter-job1-pe3.json" ]; then
    die "no captured payloads in $FIXTURES (set SOAK_FIXTURES)"
fi
FIXTURES=$(cd "$FIXTURES" && pwd)

need=""
command -v wrk >/dev/null 2>&1 || need="$need wrk"
command -v curl >/dev/null 2>&1 || need="$need curl"
command -v python3 >/dev/null 2>&1 || need="$need python3"
if [ -n "$need" ]; then
    [ "$(id -u)" = 0 ] || die "missing packages:$need; install them (as root: apt-get install$need)"
    say "installing$need"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $need >&2
fi

work=${SOAK_WORK:-$(mktemp -d /tmp/sp-soak.XXXXXX)}
mkdir -p "$work"
work=$(cd "$work" && pwd)
say "work directory: $work"

pids=""
spid=""
cleanup() {
    for p in $pids $spid; do
        kill -TERM "$p" 2>/dev/null || true
    done
    sleep 0.5
    for p in $pids $spid; do
        kill -KILL "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---------------------------------------------------------------------------
# The cluster, the certificates, the server
# ---------------------------------------------------------------------------

say "generating $NODES nodes and $PES bound PEs"
mkdir -p "$work/data"
"$build/bench/sp-bench-gen" --seed "$SEED" --out-dir "$work/data" --nodes "$NODES" \
    --pes "$PES" --other-per-node 2 >"$work/data/gen.txt"
rm -rf "$work/certs" "$work/state"
mkdir -p "$work/state"
"$bin" certs create --out-dir "$work/certs" --dns localhost --ip 127.0.0.1 >/dev/null
# Released placements are kept 30 s, reservations expire after 30 s (the
# default): what a pod leaves behind is gone well within the warm-up.
echo '{"reservationTTLSeconds": 30, "releasedPlacementTTLSeconds": 30}' >"$work/policy.json"

timeout -s TERM $LIMIT "$bin" serve --listen 127.0.0.1:0 --port-file "$work/state/port" \
    --state-dir "$work/state" --tls-cert "$work/certs/tls.crt" --tls-key "$work/certs/tls.key" \
    --policy "$work/policy.json" --nodes "$work/data/nodes.json" \
    --hostpools "$work/data/hostpools.json" --pods "$work/data/pods.json" \
    --max-body $MAX_BODY --max-extender-body $MAX_EXT_BODY --drain-timeout 5 \
    2>"$work/server.log" &
spid=$!
i=0
while [ ! -s "$work/state/port" ]; do
    i=$((i + 1))
    if [ $i -gt 1200 ] || ! kill -0 "$spid" 2>/dev/null; then
        tail -n 20 "$work/server.log" >&2
        die "the server did not start"
    fi
    sleep 0.1
done
# the process to watch: the server itself, not timeout(1)
real=$(pgrep -P "$spid" -x streams-placer || echo "$spid")
port=$(head -n 1 "$work/state/port")
url="https://127.0.0.1:$port"
cacert="$work/certs/ca.crt"
i=0
until [ "$(curl -s --cacert "$cacert" --max-time 5 -o /dev/null -w '%{http_code}' "$url/readyz")" = 200 ]; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 "$real" 2>/dev/null; then
        die "the server did not become ready"
    fi
    sleep 0.1
done
say "serving on $url (pid $real); driving it for $DURATION s, warm-up $WARM s"

# ---------------------------------------------------------------------------
# The streams
# ---------------------------------------------------------------------------

export SOAK_DIR="$bench" SOAK_FIXTURES="$FIXTURES" SOAK_NODES="$NODES"

# stream NAME THREADS SCRIPT [VAR=VALUE...]: one bounded wrk run in the
# background, its output in $work/NAME.txt.
stream() {
    name=$1 threads=$2 script=$3
    shift 3
    env "$@" timeout -s KILL $LIMIT wrk -t"$threads" -c"$threads" -d"${DURATION}s" \
        --timeout 10s -s "$bench/wrk/$script" "$url" >"$work/$name.txt" 2>&1 &
    pids="$pids $!"
}

stream lifecycle 2 soak.lua SOAK_MODE=lifecycle SOAK_PREFIX="soak$$" SOAK_JOBS="$JOBS"
stream replay 1 soak.lua SOAK_MODE=replay SOAK_DELAY_MS=2
stream malformed 1 malformed.lua SOAK_DELAY_MS=2

cat >"$work/garbage.py" <<'EOF'
"""Connection-level abuse of the server until a deadline, one connection per
case; prints JSON: per case, how many times each outcome came, and the
outcomes each case may have."""
import json, random, re, socket, ssl, sys, time

host, port, cafile, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
max_body, max_ext = int(sys.argv[5]), int(sys.argv[6])
DISCARD_MAX = 16 << 20   # server/srv.c: a body over the cap up to this is read, then 413
rnd = random.Random(1)
ctx = ssl.create_default_context(cafile=cafile)
V, F = b'/webhook/validate?timeout=10s', b'/scheduler/filter'


def head(path, extra=b''):
    return b'POST ' + path + b' HTTP/1.1\r\nHost: localhost\r\n' \
           b'Content-Type: application/json\r\n' + extra


def tcp():
    s = socket.create_connection((host, port), timeout=10)
    s.settimeout(10)
    return s


def tls():
    return ctx.wrap_socket(tcp(), server_hostname='localhost')


def outcome(s, wait=10):
    """What the server does next: an HTTP status, or how it ended."""
    data = b''
    s.settimeout(wait)
    try:
        while b'\r\n' not in data:
            chunk = s.recv(4096)
            if not chunk:
                return 'closed' if not data else 'cut'
            data += chunk
    except ssl.SSLError:
        return 'tls-alert'
    except ConnectionResetError:
        return 'reset'
    except (socket.timeout, TimeoutError):
        return 'open'
    finally:
        s.close()
    m = re.match(rb'HTTP/1\.[01] (\d{3}) ', data)
    return m.group(1).decode() if m else 'not-http'


def send_then_outcome(payload):
    s = tls()
    try:
        s.sendall(payload)
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        pass   # refused while sending: the answer may still be there
    return outcome(s)


def client_hello():
    out = ssl.MemoryBIO()
    obj = ctx.wrap_bio(ssl.MemoryBIO(), out, server_hostname='localhost')
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


HELLO = client_hello()
GONE = {'closed', 'reset', 'open', 'tls-alert', 'cut'}
SENT = {'sent'}

# --- limits: each must be refused with its status ----------------------------


def c_oversize_review():
    n = max_body + 1
    return send_then_outcome(head(V, b'Content-Length: %d\r\n\r\n' % n) + b' ' * n)


def c_oversize_filter():
    n = max_ext + 1
    return send_then_outcome(head(F, b'Content-Length: %d\r\n\r\n' % n) + b' ' * n)


def c_oversize_chunked():
    chunk = b'10000\r\n' + b' ' * 65536 + b'\r\n'
    return send_then_outcome(head(V, b'Transfer-Encoding: chunked\r\n\r\n') +
                             chunk * (max_body // 65536 + 1) + b'0\r\n\r\n')


def c_far_over_cap():
    # declared far over the cap: answered at once, the connection closed
    return send_then_outcome(head(F, b'Content-Length: %d\r\n\r\n' % (DISCARD_MAX * 4)) +
                             b' ' * 65536)


def c_long_path():
    return send_then_outcome(b'GET /' + b'a' * 40000 + b' HTTP/1.1\r\nHost: localhost\r\n\r\n')


def c_header_over_limit():
    return send_then_outcome(b'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: ' +
                             b'p' * 40000 + b'\r\n\r\n')


def c_chunked_and_length():
    return send_then_outcome(head(V, b'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n') +
                             b'5\r\n{"a":\r\n0\r\n\r\n')


def c_negative_length():
    return send_then_outcome(head(V, b'Content-Length: -5\r\n\r\n'))


def c_bad_chunk():
    return send_then_outcome(head(V, b'Transfer-Encoding: chunked\r\n\r\n') +
                             b'zz\r\nnot a chunk\r\n0\r\n\r\n')


def c_bad_request_line():
    return send_then_outcome(b'POST  /webhook/validate HTTP/9.9 extra\r\nHost: localhost\r\n\r\n')


# --- connections that go wrong -----------------------------------------------


def c_random_bytes():
    s = tcp()
    s.sendall(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 4096))))
    return outcome(s, 2)


def c_plain_http():
    s = tcp()
    s.sendall(b'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n')
    return outcome(s, 2)


def c_half_hello():
    s = tcp()
    s.sendall(HELLO[:len(HELLO) // 2])
    s.close()
    return 'sent'


def c_hello_then_close():
    s = tcp()
    s.sendall(HELLO)
    s.close()
    return 'sent'


def c_handshake_then_close():
    tls().close()
    return 'sent'


def c_old_tls():
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    try:
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        old.set_ciphers('ALL:@SECLEVEL=0')
    except (ValueError, ssl.SSLError):
        return 'client-cannot'
    try:
        s = old.wrap_socket(tcp(), server_hostname='localhost')
    except (ssl.SSLError, ConnectionResetError, OSError):
        return 'refused'
    version = s.version()
    s.close()
    return 'ACCEPTED ' + str(version)


def c_cut_in_headers():
    s = tls()
    req = head(V, b'Content-Length: 10\r\n\r\n')
    s.sendall(req[:rnd.randint(1, len(req) - 1)])
    s.close()
    return 'sent'


def c_cut_in_body():
    s = tls()
    s.sendall(head(V, b'Content-Length: 1000\r\n\r\n{"kind":"Admiss'))
    s.close()
    return 'sent'


def c_not_http_over_tls():
    s = tls()
    s.sendall(b'\x00\x01\x02 this is not HTTP at all \xff\xfe\r\n\r\n')
    return outcome(s, 2)


# the case, the outcomes it may have, every how many rounds it runs
CASES = [
    (c_oversize_review, {'413'}, 10),
    (c_oversize_filter, {'413'}, 10),
    (c_oversize_chunked, {'413'}, 10),
    (c_far_over_cap, {'413', 'reset'}, 10),
    (c_long_path, {'414'}, 1),
    (c_header_over_limit, {'431'}, 1),
    (c_chunked_and_length, {'400'}, 1),
    (c_negative_length, {'400'}, 1),
    (c_bad_chunk, {'400'}, 1),
    (c_bad_request_line, {'400'}, 1),
    (c_random_bytes, GONE, 1),
    (c_plain_http, GONE | {'400'}, 1),
    (c_half_hello, SENT, 1),
    (c_hello_then_close, SENT, 1),
    (c_handshake_then_close, SENT, 1),
    (c_old_tls, {'refused', 'client-cannot'}, 1),
    (c_cut_in_headers, SENT, 1),
    (c_cut_in_body, SENT, 1),
    (c_not_http_over_tls, GONE | {'400'}, 1),
]


def health():
    try:
        s = tls()
        s.sendall(b'GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
        return outcome(s) == '200'
    except OSError:
        return False


counts = {c.__name__[2:]: {} for c, _, _ in CASES}
checks = {'ok': 0, 'failed': 0}
deadline = time.monotonic() + seconds
n = rounds = 0
while time.monotonic() < deadline:
    for case, _, every in CASES:
        if rounds % every or time.monotonic() >= deadline:
            continue
        try:
            what = case()
        except (OSError, ValueError) as e:
            what = 'error:' + type(e).__name__
        d = counts[case.__name__[2:]]
        d[what] = d.get(what, 0) + 1
        n += 1
        if n % 50 == 0:
            checks['ok' if health() else 'failed'] += 1
        time.sleep(0.01)
    rounds += 1
print(json.dumps({'cases': counts, 'health': checks,
                  'allowed': {c.__name__[2:]: sorted(ok) for c, ok, _ in CASES}}))
EOF
timeout -s KILL $LIMIT python3 "$work/garbage.py" 127.0.0.1 "$port" "$cacert" "$DURATION" \
    $MAX_BODY $MAX_EXT_BODY >"$work/garbage.json" 2>"$work/garbage.err" &
pids="$pids $!"

# The sampler, in the foreground: "seconds VmRSS_kB threads fds healthz"
: >"$work/samples.txt"
t0=$(date +%s)
warm_done=0
while :; do
    now=$(($(date +%s) - t0))
    [ $now -le "$DURATION" ] || break
    kill -0 "$real" 2>/dev/null || { say "the server died at $now s"; break; }
    rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$real/status" 2>/dev/null || echo 0)
    thr=$(awk '$1 == "Threads:" { print $2 }' "/proc/$real/status" 2>/dev/null || echo 0)
    fds=$(find "/proc/$real/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    hz=$(curl -s --cacert "$cacert" --max-time 10 -o /dev/null -w '%{http_code}' "$url/healthz" || true)
    echo "$now $rss $thr $fds $hz" >>"$work/samples.txt"
    if [ $warm_done = 0 ] && [ $now -ge $WARM ]; then
        curl -s --cacert "$cacert" --max-time 30 "$url/metrics" >"$work/metrics-warm.txt" || true
        warm_done=1
    fi
    sleep "$SAMPLE"
done

say "waiting for the clients"
for p in $pids; do
    wait "$p" || true
done
pids=""

# ---------------------------------------------------------------------------
# The end: /metrics, /healthz, SIGTERM
# ---------------------------------------------------------------------------

alive=0
kill -0 "$real" 2>/dev/null && alive=1
end_health=$(curl -s --cacert "$cacert" --max-time 10 -o /dev/null -w '%{http_code}' "$url/healthz" || true)
curl -s --cacert "$cacert" --max-time 30 "$url/metrics" >"$work/metrics-end.txt" || true
end_rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$real/status" 2>/dev/null || echo 0)
hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$real/status" 2>/dev/null || echo 0)
kill -TERM "$real" 2>/dev/null || true
status=0
wait "$spid" || status=$?
spid=""

machine="$(date -u +%Y-%m-%d), $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
python3 - "$work" "$DURATION" "$WARM" "$TOLERANCE" "$alive" "$end_health" "$status" \
    "$end_rss" "$hwm" "$machine" "$(cat "$work/data/gen.txt")" "$JOBS" "$bench" <<'EOF'
import json, os, re, sys

work, duration, warm, tol = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
alive, end_health, exit_status = sys.argv[5] == '1', sys.argv[6], int(sys.argv[7])
end_rss, hwm, machine, gen = int(sys.argv[8] or 0), int(sys.argv[9] or 0), sys.argv[10], sys.argv[11]
jobs = int(sys.argv[12])
sys.path.insert(0, sys.argv[13])
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from report import quantile, read_metrics  # bench/report.py: /metrics parsing, as run.sh's
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)


def fields(line):
    return dict(kv.split('=', 1) for kv in line.split()[1:] if '=' in kv)


def wrk_out(name):
    path = os.path.join(work, name + '.txt')
    out = {'rows': [], 'bad': [], 'result': None}
    text = open(path, errors='replace').read() if os.path.exists(path) else ''
    for line in text.splitlines():
        if line.startswith(('KIND ', 'CASE ')):
            out['rows'].append(fields(line))
        elif line.startswith('BAD '):
            out['bad'].append(line[4:])
        elif line.startswith('RESULT '):
            out['result'] = fields(line)
    if out['result'] is None:
        failures.append('%s: wrk gave no result (%s)' % (name, path))
        sys.stderr.write(text[-2000:])
    return out


def n(d, k):
    return int(float(d.get(k, 0)))


def metrics(name):
    path = os.path.join(work, name)
    return read_metrics(path) if os.path.exists(path) else {}


def labels(key):
    return dict(re.findall(r'(\w+)="([^"]*)"', key))


print()
print('soak of %d s (warm-up %d s) on loopback; %s' % (duration, warm, machine))
print('cluster: ' + gen)
print('lifecycle: jobs of 8 PEs, %s' % ('%d job names per thread, resubmitted' % jobs if jobs
                                         else 'a new job name every time'))
print()

# --- valid streams ---------------------------------------------------------
life, replay = wrk_out('lifecycle'), wrk_out('replay')
mal = wrk_out('malformed')
fmt = '%-26s %9s %9s %6s %6s %6s %6s %8s %9s %9s'
print(fmt % ('valid requests', 'sent', '2xx', '4xx', '5xx', 'other', 'bad', 'rps', 'p50 ms', 'p99 ms'))
valid_2xx = {}
route_of = {'mutate': '/webhook/mutate', 'validate': '/webhook/validate',
            'delete': '/webhook/validate', 'filter': '/scheduler/filter',
            'prioritize': '/scheduler/prioritize', 'bind': '/scheduler/bind',
            'fixture-validate': '/webhook/validate', 'fixture-mutate': '/webhook/mutate'}
for name, out in (('lifecycle', life), ('replay (fixtures)', replay)):
    r = out['result'] or {}
    for row in out['rows']:
        print(fmt % ('  ' + row['kind'], row['sent'], row['s2xx'], row['s4xx'], row['s5xx'],
                     row['other'], row['bad'], '', '', ''))
        route = route_of.get(row['kind'], '?')
        valid_2xx[route] = valid_2xx.get(route, 0) + n(row, 's2xx')
        for k in ('s4xx', 's5xx', 'other', 'bad'):
            check(n(row, k) == 0, '%s %s: %s=%s' % (name, row['kind'], k, row[k]))
    print(fmt % (name, r.get('requests', '-'), '', '', '', '', '', r.get('rps', '-'),
                 r.get('p50_ms', '-'), r.get('p99_ms', '-')))
    check(out['rows'] and n(r, 'requests') > 0, name + ': no requests')
    check(n(r, 'errors') == 0, '%s: %s socket errors or timeouts' % (name, r.get('errors')))
    check(n(r, 'non2xx') == 0, '%s: %s answers not 2xx' % (name, r.get('non2xx')))
    for b in out['bad']:
        print('    first bad answer: ' + b[:200])
print()

# --- malformed streams -------------------------------------------------------
fmt = '%-30s %7s %8s %8s %8s %6s %6s %8s'
print(fmt % ('malformed requests', 'sent', '4xx', '200 no', 'accepted', '5xx', 'other', 'no answer'))
for name, out in (('malformed', mal),):
    tot = {}
    for row in out['rows']:
        for k, v in row.items():
            if k != 'name':
                tot[k] = tot.get(k, 0) + int(v)
        print(fmt % ('  ' + row['name'], row['sent'], row['refused4xx'], row['refused200'],
                     row['accepted'], row['s5xx'], row['other'], row['noanswer']))
        for k in ('accepted', 's5xx', 'other'):
            check(n(row, k) == 0, 'malformed %s: %s=%s' % (row['name'], k, row[k]))
        check(n(row, 'noanswer') == 0, 'malformed %s: %s requests got no answer'
              % (row['name'], row['noanswer']))
    r = out['result'] or {}
    print(fmt % (name + ' (%s/s, p99 %s ms)' % (r.get('rps', '-'), r.get('p99_ms', '-')),
                 tot.get('sent', 0), tot.get('refused4xx', 0), tot.get('refused200', 0),
                 tot.get('accepted', 0), tot.get('s5xx', 0), tot.get('other', 0),
                 tot.get('noanswer', 0)))
    check(out['rows'] and tot.get('refused4xx', 0) > 0, 'malformed %s: nothing refused' % name)
    for b in out['bad']:
        print('    first wrong answer: ' + b[:200])
print()

# --- garbage connections ---------------------------------------------------
try:
    garbage = json.load(open(os.path.join(work, 'garbage.json')))
except (OSError, ValueError):
    garbage = None
    failures.append('garbage: no result (%s/garbage.err)' % work)
if garbage:
    total = sum(sum(d.values()) for d in garbage['cases'].values())
    print('garbage connections: %d; /healthz between them: %d ok, %d failed'
          % (total, garbage['health']['ok'], garbage['health']['failed']))
    for case, d in garbage['cases'].items():
        ok = set(garbage['allowed'][case])
        print('  %-24s %s' % (case, ', '.join('%s %d' % kv for kv in sorted(d.items()))))
        for what, count in d.items():
            check(what in ok, 'garbage %s: %s %d times (expected %s)'
                  % (case, what, count, ' or '.join(sorted(ok))))
    check(garbage['health']['failed'] == 0 and garbage['health']['ok'] > 0,
          'garbage: /healthz failed between garbage connections')
print()

# --- server side ---------------------------------------------------------------
m0, m1 = metrics('metrics-warm.txt'), metrics('metrics-end.txt')
check(bool(m1), 'no /metrics at the end')
by_route = {}
for key, v in m1.items():
    if key.startswith('streams_placer_http_requests_total{'):
        lb = labels(key)
        by_route.setdefault(lb.get('route', '?'), {})[lb.get('code', '?')] = \
            by_route.get(lb.get('route', '?'), {}).get(lb.get('code', '?'), 0) + int(v)
print('server /metrics, whole run (requests by route and status); p99 server side after warm-up')
for route in sorted(by_route):
    codes = by_route[route]
    rows = {}
    for key, v in m1.items():
        if key.startswith('streams_placer_http_request_duration_seconds_bucket{'):
            lb = labels(key)
            if lb.get('route') == route:
                le = float('inf') if lb['le'] == '+Inf' else float(lb['le'])
                rows[le] = rows.get(le, 0) + v - m0.get(key, 0)
    p99 = quantile(0.99, sorted(rows.items())) * 1e3
    print('  %-24s %s   p99 %s' % (route, ', '.join('%s: %d' % kv for kv in sorted(codes.items())
                                                     if kv[1]),
                                   '-' if p99 != p99 else '%.2f ms' % p99))
    for code, count in codes.items():
        check(not (code.startswith('5') and count), '/metrics: %s answered %s %d times'
              % (route, code, count))
for route, want in valid_2xx.items():
    got = sum(v for c, v in by_route.get(route, {}).items() if c.startswith('2'))
    check(got >= want, '/metrics: %s counts %d 2xx, the valid streams got %d' % (route, got, want))
print()

# --- memory ----------------------------------------------------------------------
samples = []
for line in open(os.path.join(work, 'samples.txt')):
    p = line.split()
    if len(p) == 5:
        samples.append((int(p[0]), int(p[1]), int(p[2]), int(p[3]), p[4]))
after = [s for s in samples if s[0] >= warm]
health_bad = [s for s in samples if s[4] != '200']
check(not health_bad, 'sampler: /healthz failed %d times' % len(health_bad))
if after:
    lo, hi = min(s[1] for s in after), max(s[1] for s in after)
    ratio = hi / lo if lo else float('inf')
    # what the server keeps, not what a request in flight holds for a moment:
    # the lowest of every 3 consecutive samples
    kept = [min(x[1] for x in after[i:i + 3]) for i in range(max(len(after) - 2, 1))]
    klo, khi = min(kept), max(kept)
    kratio = khi / klo if klo else float('inf')
    mib = lambda kb: '%.1f MiB' % (kb / 1024)
    print('VmRSS: start %s, warm-up end (%d s) %s, min %s, max %s, end %s (max/min %.3f); '
          'peak (VmHWM) %s' % (mib(samples[0][1]), after[0][0], mib(after[0][1]), mib(lo), mib(hi),
                               mib(end_rss or after[-1][1]), ratio, mib(hwm)))
    print('VmRSS kept (lowest of 3 consecutive samples): min %s, max %s (max/min %.3f)'
          % (mib(klo), mib(khi), kratio))
    print('threads %d -> %d, open descriptors %d -> %d (%d samples, every %d s)'
          % (after[0][2], after[-1][2], after[0][3], after[-1][3], len(samples),
             samples[1][0] - samples[0][0] if len(samples) > 1 else 0))
    check(kratio <= 1 + tol, 'VmRSS kept after warm-up moved by %.1f%% (max %d kB, min %d kB), '
          'over %.0f%%' % ((kratio - 1) * 100, khi, klo, tol * 100))
    check(after[-1][3] <= after[0][3] + 16, 'open descriptors grew from %d to %d'
          % (after[0][3], after[-1][3]))
else:
    failures.append('no memory samples after the warm-up')
print()

check(alive, 'the server was not alive at the end')
check(end_health == '200', '/healthz at the end: %r' % end_health)
check(exit_status == 0, 'the server exited %d on SIGTERM' % exit_status)
errors = sum(1 for line in open(os.path.join(work, 'server.log'), errors='replace')
             if 'level=error' in line)
print('server: alive at the end %s, /healthz %s, exit status on SIGTERM %d, %d error lines in its log'
      % ('yes' if alive else 'NO', end_health, exit_status, errors))
print()
if failures:
    print('FAIL')
    for f in failures:
        print('  ' + f)
    sys.exit(1)
print('PASS: every check held')
EOF
