#!/bin/sh
# End-to-end tests of `streams-placer certs`, judged by the openssl tool rather
# than by our own code: `certs create` for ECDSA and RSA, then
# `openssl verify` of the chain, `openssl x509 -text` for the extensions,
# every SAN and the key type, file modes, and a real TLS handshake:
# `openssl s_server` serves the new pair on 127.0.0.1 and `openssl s_client`
# must verify it against ca.crt for the Service's name and for an IP, and must
# refuse it for another name or another CA. Then signing with an existing CA,
# `certs show`, and usage errors. Everything runs under `timeout`.
#
# SP_TEST_WRAPPER runs the binary under a tool, e.g.
# SP_TEST_WRAPPER="valgrind -q --leak-check=full --error-exitcode=99".
# Exit status: 0 pass, 1 fail, 77 skip, 99 error.

: "${top_builddir:=.}"

bin="$(cd "$top_builddir" 2>/dev/null && pwd)/streams-placer"
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 99; }
command -v openssl >/dev/null 2>&1 || { echo "openssl not found: skip" >&2; exit 77; }
command -v timeout >/dev/null 2>&1 || { echo "timeout not found: skip" >&2; exit 77; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/test_certs_cli.XXXXXX")" || exit 99
srv_pid=
cleanup() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' INT TERM
umask 022
. "${top_srcdir:-.}/tests/test_lib.sh"

# Run the binary (bounded), stdout to $tmp/out, stderr to $tmp/err.
run() {
    # shellcheck disable=SC2086
    timeout 120 $SP_TEST_WRAPPER "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
}

# expect STATUS ARGS...: run and check the exit status.
expect() {
    want=$1
    shift
    run "$@"
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "streams-placer $*: exit $got, expected $want"
        sed 's/^/    /' "$tmp/err" >&2
    fi
}

mode_is() {  # file, octal mode
    got=$(stat -c %a "$1")
    [ "$got" = "$2" ] || fail "$1 has mode $got, expected $2"
}

# ---------------------------------------------------------------------------
# Creating, and what openssl thinks of the result
# ---------------------------------------------------------------------------

svc=placer
ns=streams
names="$svc $svc.$ns $svc.$ns.svc $svc.$ns.svc.cluster.local extra.example.com"

# check_pair DIR KEYTEXT...: chain, extensions, SANs, key type, modes.
check_pair() {
    dir=$1
    shift
    timeout 20 openssl verify -CAfile "$dir/ca.crt" "$dir/tls.crt" >"$tmp/verify" 2>&1 ||
        { fail "$dir: openssl verify failed"; sed 's/^/    /' "$tmp/verify" >&2; }
    timeout 20 openssl x509 -in "$dir/tls.crt" -text -noout >"$tmp/tls.txt" ||
        { fail "$dir/tls.crt: openssl x509 cannot read it"; return; }
    timeout 20 openssl x509 -in "$dir/ca.crt" -text -noout >"$tmp/ca.txt" ||
        { fail "$dir/ca.crt: openssl x509 cannot read it"; return; }
    has "$tmp/tls.txt" "CA:FALSE"
    has "$tmp/tls.txt" "TLS Web Server Authentication"
    has "$tmp/tls.txt" "Digital Signature"
    # The SANs one per line, compared whole (no prefix matches).
    grep -A1 "Subject Alternative Name" "$tmp/tls.txt" | tail -n 1 |
        tr ',' '\n' | sed 's/^ *//' >"$tmp/sans"
    for n in $names; do
        grep -qxF "DNS:$n" "$tmp/sans" || fail "$dir/tls.crt lacks the SAN DNS:$n"
    done
    for n in 127.0.0.1 0:0:0:0:0:0:0:1; do
        grep -qxF "IP Address:$n" "$tmp/sans" || fail "$dir/tls.crt lacks the SAN IP $n"
    done
    [ "$(wc -l <"$tmp/sans")" -eq 7 ] || fail "$dir/tls.crt: not exactly 7 SANs"
    has "$tmp/tls.txt" "Subject: CN = $svc.$ns.svc"
    has "$tmp/tls.txt" "X509v3 Subject Key Identifier"
    has "$tmp/tls.txt" "X509v3 Authority Key Identifier"
    has "$tmp/ca.txt" "CA:TRUE, pathlen:0"
    has "$tmp/ca.txt" "Certificate Sign, CRL Sign"
    for t in "$@"; do
        has "$tmp/tls.txt" "$t"
        has "$tmp/ca.txt" "$t"
    done
    mode_is "$dir/tls.key" 600
    mode_is "$dir/ca.key" 600
    mode_is "$dir/tls.crt" 644
    mode_is "$dir/ca.crt" 644
    mode_is "$dir" 700
}

ec="$tmp/ec"
expect 0 certs create --out-dir "$ec" --service "$svc" --namespace "$ns" \
    --dns extra.example.com --ip 127.0.0.1 --ip ::1
for f in ca.crt ca.key tls.crt tls.key; do
    has "$tmp/out" "$ec/$f"
done
[ -s "$tmp/err" ] && { fail "create wrote to stderr:"; cat "$tmp/err" >&2; }
check_pair "$ec" "prime256v1" "ecdsa-with-SHA256"

rsa="$tmp/rsa"
expect 0 certs create --out-dir "$rsa" --service "$svc" --namespace "$ns" \
    --dns extra.example.com --ip 127.0.0.1 --ip ::1 --key-type rsa --days 30
check_pair "$rsa" "rsaEncryption" "Public-Key: (2048 bit)" "sha256WithRSAEncryption"
has "$tmp/tls.txt" "Key Encipherment"

# ---------------------------------------------------------------------------
# A real TLS handshake
# ---------------------------------------------------------------------------

# start_server CERT KEY: openssl s_server on a free port; sets port, srv_pid.
start_server() {
    tries=0
    while [ "$tries" -lt 20 ]; do
        tries=$((tries + 1))
        port=$((20000 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 40000))
        : >"$tmp/server.out"
        timeout 60 openssl s_server -cert "$1" -key "$2" -accept "127.0.0.1:$port" \
            -www -naccept 10 </dev/null >"$tmp/server.out" 2>&1 &
        srv_pid=$!
        waited=0
        while [ "$waited" -lt 100 ]; do
            grep -q ACCEPT "$tmp/server.out" && return 0
            kill -0 "$srv_pid" 2>/dev/null || break
            sleep 0.1
            waited=$((waited + 1))
        done
        kill "$srv_pid" 2>/dev/null
        wait "$srv_pid" 2>/dev/null
        srv_pid=
        grep -qi "in use" "$tmp/server.out" && continue
        echo "openssl s_server did not start:" >&2
        cat "$tmp/server.out" >&2
        exit 99
    done
    echo "no free port found for openssl s_server" >&2
    exit 99
}

stop_server() {
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null
    srv_pid=
}

# handshake CAFILE OPTIONS...: s_client's report in $tmp/client.
handshake() {
    cafile=$1
    shift
    timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$cafile" \
        -verify_return_error "$@" </dev/null >"$tmp/client" 2>&1
}

handshakes() {  # dir: the pair being served
    handshake "$1/ca.crt" -servername "$svc.$ns.svc" -verify_hostname "$svc.$ns.svc"
    grep -qF "Verify return code: 0 (ok)" "$tmp/client" ||
        { fail "$1: handshake for $svc.$ns.svc did not verify"; cat "$tmp/client" >&2; }
    handshake "$1/ca.crt" -verify_ip 127.0.0.1
    grep -qF "Verify return code: 0 (ok)" "$tmp/client" ||
        { fail "$1: handshake for 127.0.0.1 did not verify"; cat "$tmp/client" >&2; }
    if handshake "$1/ca.crt" -servername other.example -verify_hostname other.example ||
        ! grep -qi "hostname mismatch" "$tmp/client"; then
        fail "$1: a handshake for other.example was not refused for the name"
    fi
    if handshake "$2/ca.crt" -servername "$svc.$ns.svc" ||
        ! grep -qi "unable to get local issuer certificate" "$tmp/client"; then
        fail "$1: a handshake trusting another CA was not refused"
    fi
}

start_server "$ec/tls.crt" "$ec/tls.key"
handshakes "$ec" "$rsa"
stop_server
start_server "$rsa/tls.crt" "$rsa/tls.key"
handshakes "$rsa" "$ec"
stop_server

# ---------------------------------------------------------------------------
# An existing CA, show, refusals
# ---------------------------------------------------------------------------

more="$tmp/more"
expect 0 certs create --out-dir "$more" --dns more.example.com \
    --ca-cert "$ec/ca.crt" --ca-key "$ec/ca.key"
has "$tmp/out" "$ec/ca.crt (given)"
[ -e "$more/ca.crt" ] || [ -e "$more/ca.key" ] && fail "a given CA was copied"
timeout 20 openssl verify -CAfile "$ec/ca.crt" "$more/tls.crt" >/dev/null 2>&1 ||
    fail "a pair signed by a given CA does not verify against it"

expect 0 certs show "$ec/tls.crt"
has "$tmp/out" "subject:      CN=$svc.$ns.svc"
has "$tmp/out" "DNS names:    $svc, $svc.$ns, $svc.$ns.svc, $svc.$ns.svc.cluster.local, extra.example.com"
has "$tmp/out" "IP addresses: 127.0.0.1, ::1"
has "$tmp/out" "key:          ECDSA P-256"
has "$tmp/out" "CA:           no"
# 365 days, less the seconds since creation: 364 (or 365 within the second).
grep -qE '^days left:    36[45]$' "$tmp/out" || fail "show: wrong days left"
expect 0 certs show "$rsa/ca.crt"
has "$tmp/out" "CA:           yes"
has "$tmp/out" "key:          RSA 2048"

# Files are not replaced without --force.
before=$(cat "$ec/ca.key")
expect 1 certs create --out-dir "$ec" --dns a.example
has "$tmp/err" "$ec/tls.crt already exists; give --force to replace it"
[ "$before" = "$(cat "$ec/ca.key")" ] || fail "ca.key was replaced without --force"
expect 0 certs create --out-dir "$more" --dns b.example --force \
    --ca-cert "$ec/ca.crt" --ca-key "$ec/ca.key"

# A CA key others may read is refused, with the fix.
chmod 644 "$ec/ca.key"
expect 1 certs create --out-dir "$tmp/x" --dns a.example \
    --ca-cert "$ec/ca.crt" --ca-key "$ec/ca.key"
has "$tmp/err" "$ec/ca.key: the private key may be accessed by others or changed by its group (mode 0644); restrict it with \`chmod 600 $ec/ca.key\` (or 640 for a group that must read it)"
chmod 600 "$ec/ca.key"
# A CA key that is not the CA's.
expect 1 certs create --out-dir "$tmp/x" --dns a.example \
    --ca-cert "$ec/ca.crt" --ca-key "$rsa/ca.key"
has "$tmp/err" "does not belong to"
# Something that is not a CA.
expect 1 certs create --out-dir "$tmp/x" --dns a.example \
    --ca-cert "$ec/tls.crt" --ca-key "$ec/tls.key"
has "$tmp/err" "the CA certificate is not a CA"

expect 1 certs create --dns a.example
has "$tmp/err" "--out-dir is required"
expect 1 certs create --out-dir "$tmp/x"
has "$tmp/err" "nothing to cover"
expect 1 certs create --out-dir "$tmp/x" --service "$svc"
has "$tmp/err" "--service and --namespace go together"
expect 1 certs create --out-dir "$tmp/x" --service Bad_Name --namespace "$ns"
has "$tmp/err" "must be Kubernetes names"
expect 1 certs create --out-dir "$tmp/x" --ip 1.2.3
has "$tmp/err" "'1.2.3' is not an IPv4 or IPv6 address"
expect 1 certs create --out-dir "$tmp/x" --dns bad_name
has "$tmp/err" "'bad_name' is not a valid DNS name"
expect 1 certs create --out-dir "$tmp/x" --dns a.example --days 0
has "$tmp/err" "--days must be a whole number of days from 1 to 36500, not '0'"
expect 1 certs create --out-dir "$tmp/x" --dns a.example --key-type dsa
has "$tmp/err" "--key-type must be ecdsa or rsa, not 'dsa'"
[ -e "$tmp/x" ] && fail "a refused create left $tmp/x behind"
expect 1 certs show "$tmp/nope.crt"
has "$tmp/err" "$tmp/nope.crt: cannot open: No such file or directory"
expect 1 certs show "$ec/tls.key"
has "$tmp/err" "not a PEM certificate"
expect 1 certs frobnicate
has "$tmp/err" "unknown subcommand 'frobnicate'"
expect 0 certs --help
has "$tmp/out" "usage: streams-placer certs create"

finish certs
