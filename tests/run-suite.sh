#!/bin/sh
# Runs every test given on the command line: cmocka binaries and tests/cli/*.sh scripts.
# A script that exits 77 is skipped (automake convention). Prints each test's output, a
# failure list, and one closing line "suite: N passed, N failed, N skipped".
set -u

passed=0
failed=0
skipped=0
failures=""
log_dir=$(mktemp -d)
trap 'rm -rf "$log_dir"' EXIT

for t in "$@"; do
        name=$(basename "$t")
        echo "=== $name"
        case "$t" in
        *.sh) sh "$t" >"$log_dir/$name.log" 2>&1 ;;
        *) CMOCKA_MESSAGE_OUTPUT=stdout "$t" >"$log_dir/$name.log" 2>&1 ;;
        esac
        rc=$?
        cat "$log_dir/$name.log"
        if [ $rc -eq 0 ]; then
                passed=$((passed + 1))
        elif [ $rc -eq 77 ]; then
                skipped=$((skipped + 1))
        else
                failed=$((failed + 1))
                failures="$failures $name(rc=$rc)"
        fi
done

echo
[ -n "$failures" ] && echo "FAILED:$failures"
echo "suite: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
