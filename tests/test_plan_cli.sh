#!/bin/sh
# End-to-end tests of `streams-placer plan`, the binary as a user runs it.
#
# Round trips: every folder of tests/plan/ is one case, run from inside the
# folder (so messages name files as a user would see them):
#   cmd            the arguments after `plan`
#   status         the expected exit status (0 placed, 2 unplaced, 1 bad input)
#   expected.json  stdout, compared after normalisation (json.tool --sort-keys)
#   expected.txt   stdout, compared exactly (table output)
#   expected.err   stderr, compared exactly; without it stderr must be empty
# Then usage errors, standard input, the bundled examples, and the real
# payloads in ../shared/fixtures (or $SP_FIXTURES_DIR) when they are present.
#
# SP_REGEN=1 rewrites the expected files from the current output (review the
# diff before committing). SP_TEST_WRAPPER runs the binary under a tool, e.g.
# SP_TEST_WRAPPER="valgrind -q --leak-check=full --error-exitcode=99".
# Exit status: 0 pass, 1 fail, 77 skip, 99 error.

: "${top_srcdir:=.}"
: "${top_builddir:=.}"

bin="$(cd "$top_builddir" 2>/dev/null && pwd)/streams-placer"
cases="$(cd "$top_srcdir" 2>/dev/null && pwd)/tests/plan"
examples="$(cd "$top_srcdir" && pwd)/examples"
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 99; }
[ -d "$cases" ] || { echo "no test data at $cases" >&2; exit 99; }
command -v python3 >/dev/null 2>&1 || { echo "python3 not found: skip" >&2; exit 77; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/test_plan_cli.XXXXXX")" || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
. "${top_srcdir:-.}/tests/test_lib.sh"

# Normalise JSON on stdin: sorted keys, fixed indentation.
norm() {
    python3 -m json.tool --sort-keys
}

# ---------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------

# Compare one output with its expected file, or rewrite it under SP_REGEN.
check_out() {  # case, kind (json|txt|err), actual file, expected file
    if [ -n "$SP_REGEN" ]; then
        if [ "$2" = err ] && [ ! -s "$3" ]; then rm -f "$4"
        elif [ "$2" = json ]; then norm <"$3" >"$4"
        else cp "$3" "$4"; fi
        return
    fi
    if [ ! -f "$4" ]; then
        if [ "$2" != err ]; then fail "$1: no $(basename "$4")"
        elif [ -s "$3" ]; then fail "$1: unexpected stderr:"; cat "$3" >&2; fi
        return
    fi
    if [ "$2" = json ]; then
        norm <"$3" >"$3.norm" || { fail "$1: stdout is not JSON:"; cat "$3" >&2;
                                   return; }
        norm <"$4" >"$3.want" || { fail "$1: $4 is not JSON"; return; }
        diff -u "$3.want" "$3.norm" >&2 || fail "$1: stdout differs"
    else
        diff -u "$4" "$3" >&2 || fail "$1: $2 differs"
    fi
}

run_case() {  # case folder
    name="$(basename "$1")"
    out="$tmp/$name.out"
    err="$tmp/$name.err"
    want="$(cat "$1/status")"
    # shellcheck disable=SC2046,SC2086 # cmd and the wrapper hold plain words
    (cd "$1" && exec $SP_TEST_WRAPPER "$bin" plan $(cat cmd)) >"$out" 2>"$err"
    got=$?
    [ "$got" = "$want" ] || fail "$name: exit status $got, expected $want"
    if grep -Eq -- '--output[ =]json' "$1/cmd"; then kind=json; else kind=txt; fi
    if [ "$want" = 1 ]; then
        [ -s "$out" ] && fail "$name: stdout on bad input"
    else
        check_out "$name" "$kind" "$out" "$1/expected.$kind"
    fi
    check_out "$name" err "$err" "$1/expected.err"
}

for dir in "$cases"/*/; do
    [ -f "$dir/cmd" ] && run_case "${dir%/}"
done

# ---------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------

expect() {  # description, expected status, command...
    desc="$1"; want="$2"; shift 2
    if [ "$1" = "$bin" ]; then
        $SP_TEST_WRAPPER "$@" >"$tmp/u.out" 2>"$tmp/u.err"
    else
        "$@" >"$tmp/u.out" 2>"$tmp/u.err"
    fi
    got=$?
    [ "$got" = "$want" ] || { fail "$desc: exit status $got, expected $want";
                              cat "$tmp/u.err" >&2; }
}

has() {  # description, file, fixed string
    grep -qF -- "$3" "$2" || { fail "$1: no '$3' in:"; cat "$2" >&2; }
}

n="$cases/colocation/nodes.json"
p="$cases/colocation/pods.json"

expect "no options" 1 "$bin" plan
has "no options" "$tmp/u.err" "streams-placer plan: --nodes is required"
has "no options" "$tmp/u.err" "usage: streams-placer plan --nodes NODES.json"
expect "no pods" 1 "$bin" plan --nodes "$n"
has "no pods" "$tmp/u.err" "streams-placer plan: --pods is required"
expect "help" 0 "$bin" plan --help
has "help" "$tmp/u.out" "usage: streams-placer plan"
[ -s "$tmp/u.err" ] && fail "help: output on stderr"
expect "-h" 0 "$bin" plan -h
expect "unknown option" 1 "$bin" plan --nodes "$n" --pods "$p" --frobnicate
has "unknown option" "$tmp/u.err" "streams-placer plan: unknown option '--frobnicate'"
expect "bad output" 1 "$bin" plan --nodes "$n" --pods "$p" --output yaml
has "bad output" "$tmp/u.err" "--output must be table or json, not 'yaml'"
expect "missing value" 1 "$bin" plan --pods "$p" --nodes
has "missing value" "$tmp/u.err" "streams-placer plan: --nodes needs a value"
expect "empty value" 1 "$bin" plan --pods "$p" --nodes=
has "empty value" "$tmp/u.err" "streams-placer plan: --nodes needs a file name"
expect "twice" 1 "$bin" plan --nodes "$n" --nodes "$n" --pods "$p"
has "twice" "$tmp/u.err" "--nodes is given twice; give it once"
expect "positional" 1 "$bin" plan --nodes "$n" --pods "$p" extra
has "positional" "$tmp/u.err" "unexpected argument 'extra'"
expect "two stdins" 1 "$bin" plan --nodes - --pods -
has "two stdins" "$tmp/u.err" "only one file may be \"-\""
expect "--opt=value" 0 "$bin" plan "--nodes=$n" "--pods=$p" --output=table
has "--opt=value" "$tmp/u.out" "PLACED (3)"
expect "stdin" 0 sh -c "\"\$0\" plan --nodes - --pods \"\$1\" --output json <\"\$2\"" \
    "$bin" "$p" "$n"
norm <"$tmp/u.out" >/dev/null || fail "stdin: output is not JSON"
expect "stdin error" 1 sh -c "echo '[' | \"\$0\" plan --nodes - --pods \"\$1\"" "$bin" "$p"
has "stdin error" "$tmp/u.err" "streams-placer plan: <stdin>: not JSON:"
expect "main help" 0 "$bin" help
has "main help" "$tmp/u.out" "plan      place pending PEs offline"
expect "help plan" 0 "$bin" help plan
has "help plan" "$tmp/u.out" "usage: streams-placer plan"

# ---------------------------------------------------------------------------
# The bundled examples: properties, not node names the planner may pick
# ---------------------------------------------------------------------------

expect "examples" 2 "$bin" plan --nodes "$examples/nodes.json" \
    --pods "$examples/pods.json" --hostpools "$examples/hostpools.json" \
    --policy "$examples/policy.json" --output json
cp "$tmp/u.out" "$tmp/examples.json"
python3 - "$tmp/examples.json" <<'EOF' || fail "examples: properties"
import json, sys
r = json.load(open(sys.argv[1]))
at = {p["pod"]: p["node"] for p in r["placements"]}
bound = {p["pod"]: p["node"] for p in r["bound"]}
pools = {p["name"]: p["hosts"] for p in r["hostPools"]}
def check(cond, what):
    if not cond:
        print("examples:", what, file=sys.stderr)
        sys.exit(1)
check(len(at) == 10, "10 placements")
check([u["pod"] for u in r["unplaced"]] == ["trades-pe8"], "trades-pe8 unplaced")
check(len(r["unplaced"][0]["nodes"]) == 9, "a reason for each of 9 nodes")
check(r["violations"] == [], "no violations")
check(bound == {"alerts-pe0": "compute-1"}, "alerts-pe0 bound")
check(len(pools["ingest"]) == 2, "ingest has 2 members")
check(at["trades-pe0"] == pools["ingest"][0], "pe0 on ingest[0]")
check(at["trades-pe1"] == pools["ingest"][1], "pe1 on ingest[1]")
check(at["trades-pe2"] == at["trades-pe0"], "pe2 colocated with pe0")
shard = {at["trades-pe3"], at["trades-pe4"], at["trades-pe5"]}
check(len(shard) == 3 and all(n.startswith("compute-") for n in shard),
      "pe3-5 exlocated on compute nodes")
check(sum(1 for n in list(at.values()) + list(bound.values())
          if n == at["trades-pe6"]) == 1, "pe6 isolated")
check(at["trades-pe7"] in ("storage-1", "compute-4"), "pe7 in archive")
check(at["alerts-pe1"] == "compute-1", "alerts-pe1 colocated with alerts-pe0")
EOF
expect "examples table" 2 "$bin" plan --nodes "$examples/nodes.json" \
    --pods "$examples/pods.json" --hostpools "$examples/hostpools.json"
has "examples table" "$tmp/u.out" "UNPLACED (1)"
has "examples table" "$tmp/u.out" "0/9 nodes are available"

# ---------------------------------------------------------------------------
# The real payloads captured from a cluster
# ---------------------------------------------------------------------------

fixtures="${SP_FIXTURES_DIR:-$top_srcdir/../shared/fixtures}"
if [ -f "$fixtures/cluster-nodes.json" ]; then
    expect "fixtures" 0 "$bin" plan --nodes "$fixtures/cluster-nodes.json" \
        --pods "$fixtures/cluster-pods.json" \
        --hostpools "$fixtures/cluster-hostpools.json" --output json
    cp "$tmp/u.out" "$tmp/fixtures.json"
    python3 - "$tmp/fixtures.json" <<'EOF' || fail "fixtures: violations"
import json, sys
r = json.load(open(sys.argv[1]))
v = {(x["pod"], x["node"]): x["reason"] for x in r["violations"]}
# job1-pe0 asks for ingest[0] but sits on fake-node-6, which has no tag
if ("job1-pe0", "fake-node-6") not in v:
    print("fixtures: job1-pe0 on fake-node-6 is not reported:", r["violations"],
          file=sys.stderr)
    sys.exit(1)
if "ingest" not in v[("job1-pe0", "fake-node-6")]:
    print("fixtures: the reason does not name the pool:", v, file=sys.stderr)
    sys.exit(1)
if sorted(p["name"] for p in r["hostPools"]) != ["any-ssd", "ingest"]:
    print("fixtures: hostPools:", r["hostPools"], file=sys.stderr)
    sys.exit(1)
EOF
    expect "fixtures table" 0 "$bin" plan --nodes "$fixtures/cluster-nodes.json" \
        --pods "$fixtures/cluster-pods.json" \
        --hostpools "$fixtures/cluster-hostpools.json"
    has "fixtures table" "$tmp/u.out" "job1-pe0"
    has "fixtures table" "$tmp/u.out" "VIOLATIONS ("
else
    echo "fixtures not found at $fixtures: that part skipped" >&2
fi

finish plan
