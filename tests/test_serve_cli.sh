#!/bin/sh
# End-to-end tests of `streams-placer serve` as a process: it starts on port 0
# with its self-signed default and answers over TLS; on SIGTERM it stops
# accepting, lets a request in flight (a slow upload) finish with its answer,
# and exits 0; its logs are logfmt lines; it speaks no plain HTTP unless
# --insecure-listen asks for a second, plaintext listener; and it refuses to
# start, with a clear message and exit 1, on a bad flag, a key readable by
# others, a port in use and a second server on the same state directory.
# Bounded in time.
# Exit status: 0 pass, 1 fail, 77 skip, 99 error.

: "${top_builddir:=.}"
: "${top_srcdir:=.}"

bin="$(cd "$top_builddir" 2>/dev/null && pwd)/streams-placer"
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 99; }
for tool in curl timeout; do
    command -v $tool >/dev/null 2>&1 || { echo "$tool not found: skip" >&2; exit 77; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/test_serve_cli.XXXXXX")" || exit 99
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM
. "${top_srcdir:-.}/tests/test_lib.sh"

# start DIR [ARGS...]: serve on port 0 with state in DIR; sets pid and url.
start() {
    dir=$1
    shift
    mkdir -p "$dir"
    rm -f "$dir/port"
    "$bin" serve --listen 127.0.0.1:0 --port-file "$dir/port" --state-dir "$dir" \
        --drain-timeout 20 "$@" 2>"$dir/log" &
    pid=$!
    i=0
    while [ ! -s "$dir/port" ] && [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
    [ -s "$dir/port" ] || { cat "$dir/log" >&2; echo "server did not start" >&2; exit 99; }
    url="https://127.0.0.1:$(head -n 1 "$dir/port")"
}

# refuses TEXT ARGS...: serve exits 1 at once with TEXT on stderr.
refuses() {
    want=$1
    shift
    timeout 20 "$bin" serve "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq 1 ] || fail "serve $*: exit $got, expected 1"
    has "$tmp/err" "$want"
}

# --- serving, then a graceful stop with a request in flight ----------------
start "$tmp/a"
curl -sS --cacert "$tmp/a/ca.crt" "$url/healthz" >"$tmp/health" || fail "healthz over TLS"
has "$tmp/health" "ok"
has "$tmp/a/log" "event=certificate_created"
has "$tmp/a/log" "level=info event=listening"

# 256 KiB at 64 KiB/s: about four seconds in flight when SIGTERM arrives
head -c 262144 /dev/zero | tr '\0' ' ' >"$tmp/slow.json"
curl -sS --cacert "$tmp/a/ca.crt" --limit-rate 64k -H 'Content-Type: application/json' \
    --data-binary @"$tmp/slow.json" -o "$tmp/slow.out" -w '%{http_code}' \
    "$url/scheduler/filter" >"$tmp/slow.code" 2>"$tmp/slow.err" &
client=$!
sleep 1
kill -TERM $pid
timeout 30 sh -c "while kill -0 $pid 2>/dev/null; do sleep 0.1; done" || fail "server did not stop"
wait $pid
status=$?
pid=
[ "$status" -eq 0 ] || fail "exit status after SIGTERM: $status"
wait $client || fail "the request in flight failed: $(cat "$tmp/slow.err")"
[ "$(cat "$tmp/slow.code")" = 400 ] || fail "in-flight request: HTTP $(cat "$tmp/slow.code"), expected 400"
has "$tmp/slow.out" "not JSON"
has "$tmp/a/log" "event=stopping signal=SIGTERM"
has "$tmp/a/log" "event=stopped"

# --- restart on the same state: the certificate is reused -------------------
start "$tmp/a"
has "$tmp/a/log" "event=certificate_loaded"
curl -sS --cacert "$tmp/a/ca.crt" "$url/readyz" >"$tmp/ready" || fail "readyz after restart"
has "$tmp/ready" "ok"

# --- plaintext only when asked for -------------------------------------------
curl -sS --max-time 5 "http://${url#https://}/healthz" >/dev/null 2>&1 &&
    fail "the TLS port answered plain HTTP"
kill -TERM $pid
wait $pid
pid=
start "$tmp/e" --insecure-listen 127.0.0.1:0
plain="http://127.0.0.1:$(sed -n 2p "$tmp/e/port")"
curl -sS --max-time 5 "$plain/healthz" >"$tmp/plain" || fail "no answer on --insecure-listen"
has "$tmp/plain" "ok"
has "$tmp/e/log" "event=plaintext_listener"
curl -sS --max-time 5 --cacert "$tmp/e/ca.crt" "$url/metrics" >"$tmp/metrics" ||
    fail "metrics over TLS"
has "$tmp/metrics" 'streams_placer_http_requests_total{listener="http",route="/healthz",code="200"} 1'
kill -TERM $pid
wait $pid
pid=

# --- refusals ----------------------------------------------------------------
start "$tmp/a"
refuses "in use by another streams-placer" --listen 127.0.0.1:0 --state-dir "$tmp/a"
kill -TERM $pid
wait $pid
pid=
refuses "--insecure-listen \"8080\": use ADDR:PORT" --insecure-listen 8080
refuses "unknown option" --frobnicate
refuses "--tls-cert and --tls-key go together" --tls-cert "$tmp/a/serving.crt"
refuses "--listen \"nowhere\": use ADDR:PORT" --listen nowhere
refuses "--tls-secret needs cluster mode" --mode standalone --tls-secret placer-tls \
    --cert-service streams-placer
refuses "need --tls-secret" --cert-service streams-placer
refuses "--tls-secret needs --cert-service" --mode cluster --tls-secret placer-tls
refuses "--tls-secret and --tls-cert are exclusive" --mode cluster --tls-secret placer-tls \
    --cert-service streams-placer --tls-cert "$tmp/a/serving.crt" --tls-key "$tmp/a/serving.key"
cp "$tmp/a/serving.key" "$tmp/open.key"
chmod 0644 "$tmp/open.key"
refuses "chmod 600" --listen 127.0.0.1:0 --state-dir "$tmp/b" \
    --tls-cert "$tmp/a/serving.crt" --tls-key "$tmp/open.key"
start "$tmp/c"
refuses "cannot listen on 127.0.0.1 port $(head -n 1 "$tmp/c/port")" \
    --listen "127.0.0.1:$(head -n 1 "$tmp/c/port")" --state-dir "$tmp/d"
kill -TERM $pid
wait $pid
pid=

finish serve
