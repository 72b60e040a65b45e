#!/bin/sh
# Live reload in `streams-placer serve`, as a process: the certificate, its
# key and the policy are files (as mounted from a Secret and a ConfigMap)
# that change while it serves.
#  - a new certificate pair, swapped in by rename as the kubelet does, is
#    served from the next handshake on (a client trusting only the new CA
#    gets through, one trusting only the old CA no longer does);
#  - a key that does not match, or that others may read, is refused: the
#    server keeps the pair it has and says why;
#  - a new policy applies to the next request (the mutating webhook sets
#    the new schedulerName); an invalid one is refused, the last good one
#    stays, and /metrics counts both.
# Bounded in time. Exit status: 0 pass, 1 fail, 77 skip, 99 error.

: "${top_builddir:=.}"
: "${top_srcdir:=.}"

bin="$(cd "$top_builddir" 2>/dev/null && pwd)/streams-placer"
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 99; }
for tool in curl timeout base64; do
    command -v $tool >/dev/null 2>&1 || { echo "$tool not found: skip" >&2; exit 77; }
done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/test_reload_cli.XXXXXX")" || exit 99
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM
umask 077
. "${top_srcdir:-.}/tests/test_lib.sh"

# get CA PATH: GET PATH trusting only CA.
get() {
    curl -sS --max-time 5 --cacert "$1" "$url$2"
}

# install SRC NAME: put SRC at live/NAME by rename, as the kubelet swaps files.
install_file() {
    cp "$1" "$tmp/live/.$2.new" && mv "$tmp/live/.$2.new" "$tmp/live/$2"
}

# mutate: the patch (decoded) of a mutating review of a PE pod.
mutate() {
    curl -sS --max-time 5 --cacert "$tmp/two/ca.crt" -H 'Content-Type: application/json' \
        --data-binary @"$tmp/review.json" "$url/webhook/mutate" |
        sed -n 's/.*"patch":"\([^"]*\)".*/\1/p' | base64 -d
}

"$bin" certs create --out-dir "$tmp/one" --ip 127.0.0.1 >/dev/null || exit 99
"$bin" certs create --out-dir "$tmp/two" --ip 127.0.0.1 >/dev/null || exit 99
mkdir -p "$tmp/live" "$tmp/state"
install_file "$tmp/one/tls.crt" tls.crt
install_file "$tmp/one/tls.key" tls.key
printf '{"schedulerName": "first-scheduler"}\n' >"$tmp/policy.json"
install_file "$tmp/policy.json" policy.json
cat >"$tmp/review.json" <<'JSON'
{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
 "request": {"uid": "r-1", "operation": "CREATE", "namespace": "streams",
  "kind": {"group": "", "version": "v1", "kind": "Pod"},
  "object": {"apiVersion": "v1", "kind": "Pod",
   "metadata": {"name": "job1-pe0", "namespace": "streams",
                "labels": {"streams.io/job": "job1", "streams.io/pe": "0"}},
   "spec": {"containers": [{"name": "pe", "image": "pe"}]}}}}
JSON

"$bin" serve --listen 127.0.0.1:0 --port-file "$tmp/port" --state-dir "$tmp/state" \
    --tls-cert "$tmp/live/tls.crt" --tls-key "$tmp/live/tls.key" \
    --policy "$tmp/live/policy.json" --reload-period 1 2>"$tmp/log" &
pid=$!
eventually 10 test -s "$tmp/port" || { cat "$tmp/log" >&2; echo "server did not start" >&2; exit 99; }
url="https://127.0.0.1:$(cat "$tmp/port")"

get "$tmp/one/ca.crt" /healthz >/dev/null || fail "healthz with the first certificate"
curl -sS --cacert "$tmp/one/ca.crt" -H 'Content-Type: application/json' \
    --data-binary @"$tmp/review.json" "$url/webhook/mutate" |
    sed -n 's/.*"patch":"\([^"]*\)".*/\1/p' | base64 -d >"$tmp/patch"
has "$tmp/patch" '"first-scheduler"'

# --- a new pair: served from the next handshake -----------------------------
install_file "$tmp/two/tls.key" tls.key
install_file "$tmp/two/tls.crt" tls.crt
eventually 15 get "$tmp/two/ca.crt" /healthz || fail "the new certificate is not served"
get "$tmp/one/ca.crt" /healthz >/dev/null 2>&1 && fail "the old certificate is still served"
has "$tmp/log" "event=certificate_reloaded"
get "$tmp/two/ca.crt" /metrics >"$tmp/metrics"
grep -q '^streams_placer_cert_reloads_total{result="success"} [1-9]' "$tmp/metrics" ||
    fail "no successful certificate reload in /metrics"

# --- a key that does not belong, then one that others may read -----------------
install_file "$tmp/one/tls.key" tls.key
eventually 15 grep -q "event=certificate_rejected.*does not belong to" "$tmp/log" ||
    fail "a mismatched key was not refused"
get "$tmp/two/ca.crt" /healthz >/dev/null || fail "the pair in use was not kept"
install_file "$tmp/two/tls.key" tls.key
chmod 0604 "$tmp/live/tls.key"
eventually 15 grep -q "event=certificate_rejected.*chmod" "$tmp/log" ||
    fail "a key others may read was not refused"
get "$tmp/two/ca.crt" /healthz >/dev/null || fail "the pair in use was not kept"
get "$tmp/two/ca.crt" /metrics >"$tmp/metrics"
grep -q '^streams_placer_cert_reloads_total{result="error"} [1-9]' "$tmp/metrics" ||
    fail "refused certificates are not counted in /metrics"

# --- a new policy applies to the next request; an invalid one is refused -------
printf '{"schedulerName": "second-scheduler", "isolationScope": "job"}\n' >"$tmp/policy.json"
install_file "$tmp/policy.json" policy.json
eventually 15 grep -q "event=policy_reloaded.*isolationScope=job" "$tmp/log" ||
    fail "the new policy was not reloaded"
mutate >"$tmp/patch"
has "$tmp/patch" '"second-scheduler"'

printf '{"schedulerName": "Not A Name", "mode": "dry-run"}\n' >"$tmp/policy.json"
install_file "$tmp/policy.json" policy.json
eventually 15 grep -q "event=policy_rejected" "$tmp/log" || fail "an invalid policy was not refused"
has "$tmp/log" 'keeping="the last good policy"'
mutate >"$tmp/patch"
has "$tmp/patch" '"second-scheduler"'
get "$tmp/two/ca.crt" /metrics >"$tmp/metrics"
has "$tmp/metrics" 'streams_placer_policy_reloads_total{result="success"} 1'
has "$tmp/metrics" 'streams_placer_policy_reloads_total{result="error"} 1'
has "$tmp/metrics" 'streams_placer_policy_valid 0'

kill -TERM $pid
wait $pid || fail "exit status after SIGTERM"
pid=

[ "$failures" -eq 0 ] || cat "$tmp/log" >&2
finish reload
