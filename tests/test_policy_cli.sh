#!/bin/sh
# End-to-end tests of `streams-placer policy check`: the shipped policy and
# an empty one are valid and printed as they apply (defaults included); a
# policy with several mistakes gets every one of them, each naming the field
# and the fix, and exit status 1; standard input works; unreadable files,
# non-JSON and bad usage are clear errors.
#
# SP_TEST_WRAPPER runs the binary under a tool (valgrind, say).
# Exit status: 0 pass, 1 fail, 99 error.

: "${top_builddir:=.}"
: "${top_srcdir:=.}"

bin="$(cd "$top_builddir" 2>/dev/null && pwd)/streams-placer"
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 99; }
tmp="$(mktemp -d "${TMPDIR:-/tmp}/test_policy_cli.XXXXXX")" || exit 99
trap 'rm -rf "$tmp"' EXIT
. "${top_srcdir:-.}/tests/test_lib.sh"

# expect STATUS ARGS...: run (stdout to $tmp/out, stderr to $tmp/err) and
# check the exit status.
expect() {
    want=$1
    shift
    # shellcheck disable=SC2086
    timeout 60 $SP_TEST_WRAPPER "$bin" "$@" >"$tmp/out" 2>"$tmp/err" <"${stdin:-/dev/null}"
    got=$?
    [ "$got" -eq "$want" ] || { fail "policy $*: exit $got, expected $want"; cat "$tmp/err" >&2; }
}

# The shipped policy.
expect 0 policy check "$top_srcdir/manifests/base/policy.json"
has "$tmp/out" "policy.json: the policy is valid; as it applies:"
has "$tmp/out" "schedulerName                streams-scheduler"
has "$tmp/out" "isolationScope               cluster"

# An empty policy: every default.
printf '{}' >"$tmp/empty.json"
expect 0 policy check "$tmp/empty.json"
has "$tmp/out" "reservationTTLSeconds        30"
has "$tmp/out" "namespaces                   (every namespace)"
has "$tmp/out" "schedulerName                (none: pods keep theirs)"

# Every mistake at once.
cat >"$tmp/bad.json" <<'JSON'
{
  "isolationScop": "job",
  "balancing": "spread",
  "reservationTTLSeconds": 0,
  "namespaces": ["streams", "Bad_NS"]
}
JSON
expect 1 policy check "$tmp/bad.json"
has "$tmp/err" "bad.json: the policy is invalid: 4 errors"
has "$tmp/err" '1. unknown field "isolationScop"; did you mean "isolationScope"?'
has "$tmp/err" '2. balancing: must be "balancedInstance" or "balancedJob", got a string ("spread")'
has "$tmp/err" "3. reservationTTLSeconds: must be an integer from 1 to 3600, got a number (0)"
has "$tmp/err" '4. namespaces[1]: must be a namespace name'

# Standard input.
stdin="$tmp/bad.json" expect 1 policy check -
has "$tmp/err" "standard input: the policy is invalid: 4 errors"
stdin="$tmp/empty.json" expect 0 policy check -
has "$tmp/out" "standard input: the policy is valid"

# Not JSON, not an object, unreadable, bad usage.
printf '{"mode": "audit",' >"$tmp/broken.json"
expect 1 policy check "$tmp/broken.json"
has "$tmp/err" "the policy is invalid: 1 error"
printf '[1]' >"$tmp/array.json"
expect 1 policy check "$tmp/array.json"
has "$tmp/err" "must be a JSON object of policy fields"
expect 1 policy check "$tmp/missing.json"
has "$tmp/err" "missing.json: cannot open"
expect 1 policy
has "$tmp/err" "want \`policy check FILE\`"
expect 1 policy lint "$tmp/empty.json"
expect 0 policy --help
has "$tmp/out" "usage: streams-placer policy check FILE"

finish "policy check"
