#!/bin/sh
# Global command-line behaviour: help, version, unknown commands and options, exit codes.
set -u
. "$(dirname "$0")/lib.sh"

expect_rc 0 "$CVM_AGENT" --help
grep -q '^Usage: cvm-agent' "$OUT" || fail "--help prints no usage line"
for c in eventlog ima report quote; do
        grep -q "^  $c " "$OUT" || fail "--help does not list '$c'"
done

expect_rc 0 "$CVM_AGENT" --version
grep -Eq '^cvm-agent [0-9]+\.[0-9]+\.[0-9]+$' "$OUT" || fail "--version output: $(cat "$OUT")"

expect_rc 2 "$CVM_AGENT"
expect_rc 2 "$CVM_AGENT" no-such-command
grep -q "unknown command 'no-such-command'" "$ERR" || fail "unknown command not named: $(cat "$ERR")"
expect_rc 2 "$CVM_AGENT" --no-such-option
expect_rc 2 "$CVM_AGENT" --tcti

# Every command documents itself and rejects unknown options with the usage exit code.
for c in eventlog ima report quote; do
        expect_rc 0 "$CVM_AGENT" "$c" --help
        [ -s "$OUT" ] || fail "'$c --help' printed nothing"
        expect_rc 2 "$CVM_AGENT" "$c" --no-such-option
done

# Every command has a man page that man(1) can render without warnings.
for page in agent/man/*.1; do
        warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null)
        [ -z "$warnings" ] || fail "$page: $warnings"
done
for c in eventlog ima report quote; do
        [ -f "agent/man/cvm-agent-$c.1" ] || fail "no man page for '$c'"
done

finish
