#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cvm-agent ima: JSON contract, exit codes, one-line errors on hostile input, resume.
set -u

agent=${CVM_AGENT:?CVM_AGENT must name the built cvm-agent}
vectors=${CVM_VECTORS:-}
here=$(cd "$(dirname "$0")/../.." && pwd)
fx=$here/tests/fixtures/ima
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

ok() {
        checks=$((checks + 1))
}
bad() {
        echo "FAIL: $*"
        failures=$((failures + 1))
}
# expect_rc WANT CMD...: run CMD, stdout to $tmp/out, stderr to $tmp/err
expect_rc() {
        want=$1
        shift
        "$@" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if [ "$rc" -eq "$want" ]; then ok; else bad "exit $rc (want $want): $*; stderr: $(cat "$tmp/err")"; fi
}
# jq_is FILTER EXPECTED: evaluate FILTER on $tmp/out
jq_is() {
        got=$(jq -r "$1" "$tmp/out" 2>&1)
        if [ "$got" = "$2" ]; then ok; else bad "jq '$1' = '$got', want '$2'"; fi
}
# one_line_error SUBSTRING...: stderr is exactly one line naming every SUBSTRING; stdout empty
one_line_error() {
        if [ "$(wc -l <"$tmp/err")" -eq 1 ]; then ok; else bad "stderr is not one line: $(cat "$tmp/err")"; fi
        if [ ! -s "$tmp/out" ]; then ok; else bad "stdout not empty on error: $(head -c 200 "$tmp/out")"; fi
        for s in "$@"; do
                if grep -qF -- "$s" "$tmp/err"; then ok; else bad "stderr lacks '$s': $(cat "$tmp/err")"; fi
        done
}

command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }

# --- usage ---
expect_rc 0 "$agent" ima --help
grep -q -- "--save-position" "$tmp/out" && ok || bad "--help lacks --save-position"
expect_rc 2 "$agent" ima --bogus
expect_rc 2 "$agent" ima --format xml "$fx/templates.bin"
expect_rc 2 "$agent" ima a b

# --- own fixtures: every template, PCRs 9/10/11, a violation ---
expect_rc 0 "$agent" ima --json "$fx/templates.bin"
jq_is '.format' binary
jq_is '.entries' 13
jq_is '.violations' 1
jq_is '.invalid_template_hashes' 0
jq_is '.invalid_entries | length' 0
jq_is '.pcrs.sha1["10"]' b8eda7b68fc09b8267a3f733b7cdbcda6671c449
jq_is '.pcrs.sha256["10"]' 382a7d21acb1750123aaaf138598de1213eba085ca21b3dced1b602465715d37
jq_is '.pcrs.sha1["9"]' 8d33962d45ef2dc2b5a448c5e36e41cf1148bd55
jq_is '.pcrs.sha256["11"]' dab0f5b7409e381278df2c41931d95dad08930ffa30568a0b9a69fb2040ffab8
jq_is 'has("measurements")' false
expect_rc 0 "$agent" ima --json --entries "$fx/templates.ascii"
jq_is '.format' ascii
jq_is '.measurements | length' 13
jq_is '.measurements[1].path' "/usr/bin/has space"
jq_is '.measurements[1].signature' 030204aabbccdd
jq_is '.measurements[1].line' 2
jq_is '.measurements[3].buffer' "$(printf 'root=/dev/vda1 ro' | od -An -tx1 | tr -d ' \n')"
jq_is '.measurements[6].digest_type' verity
jq_is '.measurements[11].violation' true
jq_is '[.measurements[].template_hash_valid] | all' true
expect_rc 0 "$agent" ima -v "$fx/legacy-ima.bin"
grep -q '^1 10 [0-9a-f]\{40\} ima sha1:[0-9a-f]\{40\} /init ok$' "$tmp/out" && ok || bad "text entry line: $(sed -n 2p "$tmp/out")"
grep -q '^PCR 10 sha1: *d2c59f4ed5ec347fce6f72e2c30d080c7787290b$' "$tmp/out" && ok || bad "text PCR line"

# --- a template hash that does not match: exit 4, output still complete ---
for f in invalid-hash.bin invalid-hash.ascii; do
        expect_rc 4 "$agent" ima --json "$fx/$f"
        jq_is '.invalid_template_hashes' 1
        jq_is '.invalid_entries[0].entry' 1
        jq_is '.invalid_entries[0].path' /tampered
        jq_is '.invalid_entries[0].template_hash != .invalid_entries[0].computed' true
        jq_is '.entries' 3
done
jq_is '.invalid_entries[0].line' 2
expect_rc 4 "$agent" ima "$fx/invalid-hash.bin"
grep -q 'entry 1 (offset 0x[0-9a-f]*) /tampered: logged' "$tmp/out" && ok || bad "text invalid line: $(cat "$tmp/out")"
grep -q '^result: *FAILED' "$tmp/out" && ok || bad "text result line"

# --- hostile input: exit 3, one line naming file and place ---
expect_rc 3 "$agent" ima --json "$fx/bad-truncated.bin"
one_line_error "bad-truncated.bin" "entry 1 at offset 0x5c" "truncated"
expect_rc 3 "$agent" ima "$fx/bad-huge-length.bin"
one_line_error "bad-huge-length.bin" "entry 1 at offset 0x5c" "exceeds the limit"
expect_rc 3 "$agent" ima --json "$fx/bad-pcr.bin"
one_line_error "PCR index 24"
expect_rc 3 "$agent" ima --json "$fx/bad-hex.ascii"
one_line_error "bad-hex.ascii" "line 2 (entry 1)"
expect_rc 3 "$agent" ima --json "$fx/bad-missing-field.ascii"
one_line_error "line 2 (entry 1)" "missing field"
expect_rc 3 "$agent" ima --json "$fx/bad-unknown-template.ascii"
one_line_error "line 2 (entry 1)" "my-tmpl"
head -c 100 /dev/urandom | tr '\000' '\001' >"$tmp/garbage"
printf '\012\000\000\000' | cat - "$tmp/garbage" >"$tmp/garbage.bin"
expect_rc 3 "$agent" ima --json "$tmp/garbage.bin"
one_line_error "garbage.bin" "entry 0 at offset 0x0"
expect_rc 3 "$agent" ima --json --format ascii "$fx/templates.bin"
one_line_error "line 1 (entry 0)"

# --- I/O errors: exit 5 ---
expect_rc 5 "$agent" ima --json "$tmp/does-not-exist"
one_line_error "does-not-exist" "cannot open"
expect_rc 5 "$agent" ima "$tmp"

# --- empty log and standard input ---
: >"$tmp/empty"
expect_rc 0 "$agent" ima --json "$tmp/empty"
jq_is '.entries' 0
jq_is '.pcrs.sha1["10"]' 0000000000000000000000000000000000000000
expect_rc 0 sh -c "\"$agent\" ima --json - <\"$fx/templates.bin\""
jq_is '.entries' 13

# --- resume: first part, save, then only the new entries ---
head -n 7 "$fx/templates.ascii" >"$tmp/part.ascii"
expect_rc 0 "$agent" ima --json --save-position "$tmp/pos.json" "$tmp/part.ascii"
jq_is '.entries' 7
jq_is '.entries' "$(jq -r .entries "$tmp/pos.json")"
expect_rc 0 "$agent" ima --json --resume "$tmp/pos.json" --save-position "$tmp/pos2.json" "$fx/templates.ascii"
jq_is '.entries' 6
jq_is '.violations' 1
jq_is '.pcrs.sha1["10"]' b8eda7b68fc09b8267a3f733b7cdbcda6671c449
jq_is '.position.entries' 13
[ "$(jq -r .entries "$tmp/pos2.json")" = 13 ] && ok || bad "saved position entries"
sed 's#/usr/bin/verity#/usr/bin/other#' "$fx/templates.ascii" >"$tmp/replaced.ascii"
expect_rc 3 "$agent" ima --json --resume "$tmp/pos.json" "$tmp/replaced.ascii"
one_line_error "replaced.ascii" "entry 6" "differs from the resume position"
expect_rc 3 "$agent" ima --json --resume "$tmp/pos.json" "$fx/invalid-hash.ascii"
one_line_error "invalid-hash.ascii" "ends before the resume position"
echo '{"format": 1}' >"$tmp/badpos.json"
expect_rc 3 "$agent" ima --json --resume "$tmp/badpos.json" "$fx/templates.ascii"
one_line_error "badpos.json"
expect_rc 5 "$agent" ima --resume "$tmp/nope.json" "$fx/templates.ascii"

# --- real data ---
if [ -n "$vectors" ] && [ -d "$vectors" ]; then
        for f in ascii_runtime_measurements binary_runtime_measurements; do
                expect_rc 0 "$agent" ima --json "$vectors/embrave-ima/$f"
                jq_is '.entries' 922
                jq_is '.invalid_template_hashes' 0
                jq_is '.pcrs.sha1["10"]' f38695bbd9479953543813fb13bb88235440504e
                jq_is '.pcrs.sha256["10"]' 0d204f41041c48fe0d2e1ef0a6c308412c27304a68519d3ce3568a692d3fea83
        done
        expect_rc 4 "$agent" ima --json "$vectors/keylime/ima/test_ima_verification.BAD_SIGNATURES.ascii"
        jq_is '.invalid_entries[0].path' /usr/bin/zmore
        jq_is '.invalid_entries[0].line' 1
        expect_rc 0 "$agent" ima --json "$vectors/keylime/ima/ima-log-sha1"
        jq_is '.violations' 1
        jq_is '.pcrs.sha1["10"]' 62e5bdf4783228f7deec959f0a89a4739af79ac5
else
        echo "SKIP (partial): real-data corpus not found"
fi

echo "test-ima.sh: $checks checks passed, $failures failed"
[ "$failures" -eq 0 ]
