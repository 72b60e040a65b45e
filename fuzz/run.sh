#!/bin/sh
# Build the libFuzzer targets and run each for a bounded time (fuzz/README.md).
#
#   fuzz/run.sh SRCDIR OUTDIR [--build-only] [TARGET...]
#
# Builds with $FUZZ_CC (clang) straight from the library's sources, with
# libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer (every UB report
# aborts), into OUTDIR/fuzz_<target>; objects are kept in OUTDIR/obj and
# rebuilt when their source or any header is newer. Then runs each target,
# one at a time, for $FUZZ_SECONDS seconds on OUTDIR/run/<target>/corpus (a
# copy of SRCDIR/fuzz/corpus/<target> that keeps what earlier runs found),
# with the saved crashes of SRCDIR/fuzz/regressions/<target> replayed first
# and the target's dictionary. Prints one line per target (seconds,
# executions, corpus size, result) and exits 1 when any target crashed,
# leaked, timed out (an input slower than $FUZZ_TIMEOUT seconds) or broke a
# check; the input is then in OUTDIR/run/<target>/crash-* (or leak-*,
# timeout-*), the log in OUTDIR/run/<target>/log.
#
# Environment (the Makefile sets it): FUZZ_CC, FUZZ_SECONDS (60),
# FUZZ_TIMEOUT (25), FUZZ_CPPFLAGS (include paths and macros), FUZZ_WARN
# (warning flags), FUZZ_LIBS (libraries), FUZZ_ARGS (more libFuzzer flags).
set -u

srcdir=${1:?usage: run.sh SRCDIR OUTDIR [--build-only] [TARGET...]}
out=${2:?usage: run.sh SRCDIR OUTDIR [--build-only] [TARGET...]}
shift 2
build_only=no
if [ "${1:-}" = --build-only ]; then
    build_only=yes
    shift
fi
targets=${*:-"quantity annotations extender admission hostpool policy kubeconfig skim"}

cc=${FUZZ_CC:-clang}
seconds=${FUZZ_SECONDS:-60}
timeout=${FUZZ_TIMEOUT:-25}
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer $san ${FUZZ_WARN:-} \
-I$srcdir -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L ${FUZZ_CPPFLAGS:-}"
libs=${FUZZ_LIBS:-"-lcjson -lmicrohttpd -lcurl -lssl -lcrypto -lsqlite3 -lyaml -lpthread -lm"}
# The library's modules (everything libsp.a holds); the linker takes what
# the targets use.
lib_dirs="util placement kobj policy store certs kapi svc webhook scheduler server app reconciler"

if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found: install clang and libclang-rt-dev (libFuzzer)" >&2
    exit 2
fi
mkdir -p "$out/obj" "$out/run" || exit 2

# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

# An object is stale when missing, older than its source, or older than the
# newest header of the tree.
newest_h=$(ls -t $(find "$srcdir" -name '*.h' -not -path '*/build*/*') 2>/dev/null | head -n 1)
stale() {
    [ ! -f "$1" ] || [ "$2" -nt "$1" ] || { [ -n "$newest_h" ] && [ "$newest_h" -nt "$1" ]; }
}

echo "fuzz: building with $cc in $out"
objs=
for dir in $lib_dirs; do
    for src in "$srcdir/$dir"/*.c; do
        [ -f "$src" ] || continue
        obj="$out/obj/$(echo "${src#"$srcdir"/}" | tr / _ | sed 's/\.c$/.o/')"
        if stale "$obj" "$src"; then
            # shellcheck disable=SC2086
            $cc $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$obj" || exit 2
        fi
        objs="$objs $obj"
    done
done
harness="$out/obj/fuzz_fuzz_targets.o"
if stale "$harness" "$srcdir/fuzz/fuzz_targets.c"; then
    # shellcheck disable=SC2086
    $cc $cflags -fsanitize=fuzzer-no-link -c "$srcdir/fuzz/fuzz_targets.c" -o "$harness" || exit 2
fi
rm -f "$out/libfuzzsp.a"
# shellcheck disable=SC2086
ar cr "$out/libfuzzsp.a" $objs "$harness" || exit 2
for t in $targets; do
    # shellcheck disable=SC2086
    $cc $cflags -fsanitize=fuzzer "$srcdir/fuzz/fuzz_$t.c" "$out/libfuzzsp.a" \
        -o "$out/fuzz_$t" $libs || exit 2
done
[ "$build_only" = yes ] && exit 0

# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------

failed=
printf '%-12s %8s %12s %8s  %s\n' target seconds executions corpus result
for t in $targets; do
    dir="$out/run/$t"
    mkdir -p "$dir/corpus"
    cp "$srcdir/fuzz/corpus/$t"/* "$dir/corpus/" 2>/dev/null
    set -- "$dir/corpus"
    [ -d "$srcdir/fuzz/regressions/$t" ] && set -- "$@" "$srcdir/fuzz/regressions/$t"
    dict=
    [ -f "$srcdir/fuzz/dict/$t.dict" ] && dict="-dict=$srcdir/fuzz/dict/$t.dict"
    start=$(date +%s)
    # shellcheck disable=SC2086
    "$out/fuzz_$t" -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2560 \
        -print_final_stats=1 -artifact_prefix="$dir/" $dict ${FUZZ_ARGS:-} "$@" \
        >"$dir/log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    size=$(ls "$dir/corpus" | wc -l)
    if [ $rc -eq 0 ]; then
        result=ok
    else
        result="FAILED (exit $rc): $(grep -a -m 1 -E 'ERROR|broken check' "$dir/log" | cut -c 1-100)"
        failed="$failed $t"
    fi
    printf '%-12s %8s %12s %8s  %s\n' "$t" "$took" "${execs:-?}" "$size" "$result"
done
if [ -n "$failed" ]; then
    echo "fuzz: failed:$failed (inputs and logs in $out/run/<target>/)" >&2
    exit 1
fi
exit 0
