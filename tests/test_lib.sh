# Shared by the shell tests, which source it: counting failures, checking
# what a file holds, waiting for a condition, and the exit status
# convention (0 pass, 1 fail; 77 skip and 99 error are the callers').

failures=0

# fail MESSAGE: count one failure and say what it was.
fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# has FILE TEXT: FILE contains TEXT (a fixed string), or that is a failure.
has() {
    grep -qF -- "$2" "$1" || fail "$(basename "$1") lacks '$2'"
}

# eventually SECONDS CMD...: CMD succeeds within SECONDS (tried every 0.1 s).
eventually() {
    limit=$(($1 * 10))
    shift
    i=0
    while [ $i -lt $limit ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# finish NAME: exit 1 when anything failed, else 0 with a line saying so.
finish() {
    if [ "$failures" -ne 0 ]; then
        echo "$1: $failures failure(s)" >&2
        exit 1
    fi
    echo "$1: all checks passed"
    exit 0
}
