#!/bin/sh
# make check-valgrind: every CUnit program given on the command line under
# valgrind memcheck, $VALGRIND_JOBS at a time, in the order given (the
# Makefile lists the slowest first). A program fails on a test failure, on
# any memcheck error or on a definite leak (exit 66), or when it runs over
# $VALGRIND_TIMEOUT seconds; the log of every failure is printed: the
# program's output, then valgrind's. Under memcheck, some 50 times slower,
# the heaviest loops run fewer rounds ($VALGRIND_ENV: SP_TEST_SCALE,
# SP_RANDOM_COUNT); every test still runs. Logs and times stay in
# valgrind-logs/. Run from the build directory.
#
#   check-valgrind.sh PROGRAM...
set -u

valgrind=${VALGRIND:-valgrind}
flags=${VALGRIND_FLAGS:-"--error-exitcode=66 --leak-check=full --errors-for-leak-kinds=definite \
--show-leak-kinds=definite --track-fds=no --num-callers=30"}
jobs=${VALGRIND_JOBS:-2}
limit=${VALGRIND_TIMEOUT:-900}
env_vars=${VALGRIND_ENV:-"SP_TEST_SCALE=10 SP_RANDOM_COUNT=50"}

# One program: run it, record "status seconds", print one line.
run_one() {
    log=valgrind-logs/${1##*/}
    t0=$(date +%s)
    env $env_vars timeout "$limit" "$valgrind" $flags --log-file="$log.vg" "./$1" \
        >"$log.out" 2>&1
    rc=$?
    t=$(($(date +%s) - t0))
    echo "$rc $t" >"$log.rc"
    case $rc in
    0) r=PASS ;;
    77) r=SKIP ;;
    66) r="FAIL (memcheck errors)" ;;
    124) r="FAIL (timed out)" ;;
    *) r="FAIL (exit $rc)" ;;
    esac
    echo "$r: $1 ($t s)"
}

# xargs runs this script again for each program
if [ "${1:-}" = --one ]; then
    run_one "$2"
    exit 0
fi

if ! command -v "$valgrind" >/dev/null; then
    echo "check-valgrind: $valgrind not found (scripts/install-deps.sh)" >&2
    exit 1
fi
rm -rf valgrind-logs && mkdir valgrind-logs || exit 1
start=$(date +%s)

for p in "$@"; do echo "$p"; done | xargs -n 1 -P "$jobs" sh "$0" --one

failed=0
for rc in valgrind-logs/*.rc; do
    case $(cut -d" " -f1 "$rc") in 0 | 77) continue ;; esac
    failed=$((failed + 1))
    log=${rc%.rc}
    echo "=== ${log#valgrind-logs/}: its output (last 60 lines)"
    tail -n 60 "$log.out"
    echo "=== ${log#valgrind-logs/}: valgrind"
    cat "$log.vg"
done
echo "check-valgrind: $(ls valgrind-logs/*.rc | wc -l) programs, $failed failed, $(($(date +%s) - start)) s"
[ "$failed" = 0 ]
