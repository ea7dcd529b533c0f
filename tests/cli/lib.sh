# Shared helpers for tests/cli/test-*.sh (POSIX sh). Source it; call finish at the end.
# $CVM_AGENT is the binary under test; $CVM_VECTORS the real-data corpus (may be absent).
: "${CVM_AGENT:?CVM_AGENT must point to the cvm-agent binary}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/stdout
ERR=$TMP/stderr
FAILURES=0
CHECKS=0

fail() {
        echo "FAIL: $*"
        FAILURES=$((FAILURES + 1))
}

# expect_rc CODE CMD...: runs CMD with stdout in $OUT and stderr in $ERR; checks the exit code.
expect_rc() {
        want=$1
        shift
        CHECKS=$((CHECKS + 1))
        "$@" >"$OUT" 2>"$ERR"
        got=$?
        if [ "$got" -ne "$want" ]; then
                fail "'$*' exited $got, expected $want; stderr: $(head -c 300 "$ERR")"
                return 1
        fi
        return 0
}

# have_vectors: true when the real-data corpus is present; prints the skip reason otherwise.
have_vectors() {
        if [ -n "${CVM_VECTORS:-}" ] && [ -d "$CVM_VECTORS" ]; then
                return 0
        fi
        echo "SKIP: real-data corpus not found (CVM_VECTORS=${CVM_VECTORS:-unset}); vector checks skipped"
        return 1
}

# json_eq FILTER EXPECTED: jq FILTER over $OUT must print EXPECTED (raw output).
json_eq() {
        CHECKS=$((CHECKS + 1))
        got=$(jq -r "$1" "$OUT" 2>&1)
        [ "$got" = "$2" ] || fail "jq '$1' gave '$got', expected '$2'"
}

# one_line_error [PATTERN]: stderr holds exactly one line and stdout is empty (no partial output);
# with PATTERN, that line is a "cvm-agent: ..." error matching the extended regex PATTERN.
one_line_error() {
        CHECKS=$((CHECKS + 1))
        [ "$(wc -l <"$ERR")" -eq 1 ] || fail "expected a one-line error, got: $(cat "$ERR")"
        [ ! -s "$OUT" ] || fail "stdout not empty on error: $(head -c 200 "$OUT")"
        if [ $# -gt 0 ]; then
                grep -q '^cvm-agent: ' "$ERR" && grep -Eq -- "$1" "$ERR" ||
                        fail "stderr '$(cat "$ERR")' is not a cvm-agent error matching '$1'"
        fi
}

finish() {
        if [ "$FAILURES" -ne 0 ]; then
                echo "$(basename "$0"): $FAILURES of $CHECKS checks failed"
                exit 1
        fi
        echo "$(basename "$0"): $CHECKS checks passed"
        exit 0
}
