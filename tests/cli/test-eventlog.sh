#!/bin/sh
# cvm-agent eventlog: exit codes, the one-line errors, the JSON contract (pcrs, events, findings,
# ebs_workaround) and text output, on self-made logs and, when present, the real-data corpus.
set -u

agent=${CVM_AGENT:?CVM_AGENT must point to the cvm-agent binary}
vectors=${CVM_VECTORS:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
        echo "FAIL: $*"
        failures=$((failures + 1))
}

# expect_exit CODE DESCRIPTION -- command...: runs the command, stdout/stderr to $tmp/out, $tmp/err
expect_exit() {
        ee_want=$1
        ee_what=$2
        shift 3
        "$@" >"$tmp/out" 2>"$tmp/err"
        ee_got=$?
        [ "$ee_got" -eq "$ee_want" ] || fail "$ee_what: exit $ee_got, expected $ee_want ($(head -c 300 "$tmp/err"))"
}

# one line on stderr, starting "cvm-agent: FILE: " and containing TEXT; nothing on stdout
expect_one_line_error() {
        file=$1
        text=$2
        [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$file: expected one line on stderr, got: $(cat "$tmp/err")"
        grep -qF "cvm-agent: $file: " "$tmp/err" || fail "$file: error does not name the file: $(cat "$tmp/err")"
        grep -qF "$text" "$tmp/err" || fail "$file: error lacks \"$text\": $(cat "$tmp/err")"
        [ ! -s "$tmp/out" ] || fail "$file: output on stdout despite the error"
}

jq_eq() { # FILE FILTER EXPECTED
        got=$(jq -r "$2" "$1" 2>/dev/null)
        [ "$got" = "$3" ] || fail "$1: $2 = '$got', expected '$3'"
}

# --- usage ---------------------------------------------------------------------------------
expect_exit 0 "--help" -- "$agent" eventlog --help
grep -q "^Usage: cvm-agent eventlog" "$tmp/out" || fail "--help prints no usage"
expect_exit 2 "unknown option" -- "$agent" eventlog --frobnicate
expect_exit 2 "unknown bank" -- "$agent" eventlog --bank md5 /dev/null
expect_exit 2 "two files" -- "$agent" eventlog a b

# --- self-made logs ------------------------------------------------------------------------
# SHA-1 format: EV_SEPARATOR 00000000 in PCR 0, then EV_EFI_ACTION in PCR 4 with a wrong digest.
{
        printf '%s' '00000000' '04000000'
        printf '%s' '9069ca78e7450a285173431b3e52c5c25299e473' '04000000' '00000000'
        printf '%s' '04000000' '07000080' '0000000000000000000000000000000000000000' '05000000' '6869212121'
} | xxd -r -p >"$tmp/sha1.bin"

expect_exit 0 "sha1 log" -- "$agent" eventlog --json "$tmp/sha1.bin"
cp "$tmp/out" "$tmp/sha1.json"
jq_eq "$tmp/sha1.json" .format sha1
jq_eq "$tmp/sha1.json" '.banks | join(",")' sha1
jq_eq "$tmp/sha1.json" '.pcrs.sha1["0"]' b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236
jq_eq "$tmp/sha1.json" '.pcrs.sha1 | keys | join(",")' 0,4
jq_eq "$tmp/sha1.json" '.events | length' 2
jq_eq "$tmp/sha1.json" '.events[0] | [.number, .offset, .pcr, .type, .type_value] | map(tostring) | join(" ")' \
        "0 0 0 EV_SEPARATOR 4"
jq_eq "$tmp/sha1.json" '.events[1] | [.offset, .type, .description, .digest_check] | map(tostring) | join("|")' \
        "36|EV_EFI_ACTION|hi!!!|mismatch"
jq_eq "$tmp/sha1.json" '.events[0].digests.sha1' 9069ca78e7450a285173431b3e52c5c25299e473
jq_eq "$tmp/sha1.json" '.digest_mismatches[0] | [.number, .pcr, (.banks | join(","))] | map(tostring) | join(" ")' \
        "1 4 sha1"
jq_eq "$tmp/sha1.json" '.warnings | map(select(test("event 1 at offset 0x24"))) | length' 1

expect_exit 0 "sha1 log from stdin" -- sh -c "\"$agent\" eventlog --json - <\"$tmp/sha1.bin\""
jq_eq "$tmp/out" '.pcrs.sha1["0"]' b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236

expect_exit 0 "text output" -- "$agent" eventlog "$tmp/sha1.bin"
grep -q "EV_SEPARATOR" "$tmp/out" || fail "text output lacks the events"
grep -q "b2a83b0ebf2f8374299a5b2bdfc31ea955ad7236" "$tmp/out" || fail "text output lacks PCR 0"
grep -q "digest does not match" "$tmp/out" || fail "text output lacks the mismatch warning"

expect_exit 0 "--pcrs-only" -- "$agent" eventlog --json --pcrs-only "$tmp/sha1.bin"
jq_eq "$tmp/out" 'has("events")' false
jq_eq "$tmp/out" '.pcrs.sha1["4"] | length' 40
expect_exit 3 "--bank not in the log" -- "$agent" eventlog --bank sha256 "$tmp/sha1.bin"
expect_one_line_error "$tmp/sha1.bin" "the log has no sha256 bank"

# hostile input: empty, garbage, truncated
: >"$tmp/empty"
expect_exit 3 "empty log" -- "$agent" eventlog --json "$tmp/empty"
expect_one_line_error "$tmp/empty" "empty event log"
printf 'this is not an event log, it is text\n' >"$tmp/garbage"
expect_exit 3 "garbage" -- "$agent" eventlog --json "$tmp/garbage"
expect_one_line_error "$tmp/garbage" "event 0 at offset 0x0: PCR index"
head -c 50 "$tmp/sha1.bin" >"$tmp/truncated"
expect_exit 3 "truncated" -- "$agent" eventlog --json "$tmp/truncated"
expect_one_line_error "$tmp/truncated" "event 1 at offset 0x24: truncated event header"
expect_exit 5 "missing file" -- "$agent" eventlog "$tmp/does-not-exist"
expect_one_line_error "$tmp/does-not-exist" "cannot open"
expect_exit 5 "directory" -- "$agent" eventlog "$tmp"

# --- real logs -----------------------------------------------------------------------------
if [ -z "$vectors" ] || [ ! -f "$vectors/MANIFEST.json" ]; then
        echo "SKIP: real-data corpus not found (set CVM_VECTORS); self-made checks only"
        [ $failures -eq 0 ] || exit 1
        exit 0
fi

gce="$vectors/tpm2-tools/logs/event-gce-ubuntu-2104-log.bin"
expect_exit 0 "gce log" -- "$agent" eventlog --json "$gce"
cp "$tmp/out" "$tmp/gce.json"
jq_eq "$tmp/gce.json" .format crypto-agile
jq_eq "$tmp/gce.json" '.banks | join(",")' sha1,sha256,sha384
jq_eq "$tmp/gce.json" '.pcrs.sha256["0"]' 24af52a4f429b71a3184a6d64cddad17e54ea030e2aa6576bf3a5a3d8bd3328f
jq_eq "$tmp/gce.json" '.pcrs.sha256["7"]' ca37324eeffabd318d30a20f15bf27ce25dc33e2c9856279ff6c2ced58b02efa
jq_eq "$tmp/gce.json" '.pcrs.sha256 | keys | length' 11
jq_eq "$tmp/gce.json" '.events | length' 112
jq_eq "$tmp/gce.json" '.events[0].details.kind' spec-id
jq_eq "$tmp/gce.json" '.ebs.status' present
jq_eq "$tmp/gce.json" 'has("ebs_workaround")' false
jq_eq "$tmp/gce.json" '[.events[] | select(.type == "EV_EFI_BOOT_SERVICES_APPLICATION")][0].description' \
        'PciRoot(0x0)/Pci(0x3,0x0)/Scsi(0x1,0x0)/HD(15,GPT,6ea6f740-25ef-4269-838d-1a6f21ebf27f,0x2800,0x35000)/\EFI\ubuntu\shimx64.efi'
jq_eq "$tmp/gce.json" '[.events[] | select(.type == "EV_EFI_VARIABLE_DRIVER_CONFIG")][0].description' "SecureBoot = 0"
# every PCR value in the document agrees with the upstream YAML
for bank in sha1 sha256 sha384; do
        sed -n "/^pcrs:/,\$p" "$vectors/tpm2-tools/expected-yaml/event-gce-ubuntu-2104-log.bin.yaml" |
                sed -n "/^  $bank:/,/^  [a-z]/p" | grep ' : 0x' | while read -r idx _ value; do
                want=${value#0x}
                got=$(jq -r ".pcrs.$bank[\"$idx\"]" "$tmp/gce.json")
                [ "$got" = "$want" ] || echo "$bank[$idx] $got != $want"
        done >>"$tmp/yaml-diff"
done
[ ! -s "$tmp/yaml-diff" ] || fail "gce log differs from the tpm2-tools YAML: $(cat "$tmp/yaml-diff")"

expect_exit 0 "--bank sha256" -- "$agent" eventlog --json --bank sha256 "$gce"
jq_eq "$tmp/out" '.pcrs | keys | join(",")' sha256
jq_eq "$tmp/out" '[.events[].digests | keys[]] | unique | join(",")' sha256

expect_exit 0 "text" -- "$agent" eventlog "$gce"
grep -q "Exit Boot Services Invocation" "$tmp/out" || fail "text output lacks the EBS event"
[ "$(grep -c '' "$tmp/out")" -gt 112 ] || fail "text output has fewer lines than events"

# ExitBootServices missing: default replay follows the log, the workaround gives the TPM's PCR 5
ebs="$vectors/go-attestation/ebs_event_missing_eventlog"
expect_exit 0 "ebs log" -- "$agent" eventlog --json "$ebs"
jq_eq "$tmp/out" '.pcrs.sha1["5"]' e5781a2fd49c23a33b16bf0ba5f10efa1aa5d43c
jq_eq "$tmp/out" '.ebs.status' missing
jq_eq "$tmp/out" '.ebs_workaround.pcrs.sha1["5"]' 31245808d6d35849bc394f6343f2b3ff908ed5e3
jq_eq "$tmp/out" '.ebs_workaround.appended_events | length' 2

# StartupLocality=3: PCR 0 as go-tpm-tools expects (tpm2_eventlog 5.4 gets it wrong)
glinux="$vectors/go-tpm-tools/eventlogs/glinux-alex.bin"
want=$(jq -r '.GlinuxNoSecureBootLaptop.banks.sha256["0"]' "$vectors/go-tpm-tools/expected_pcrs_from_eventlog_test.json")
expect_exit 0 "glinux" -- "$agent" eventlog --json "$glinux"
jq_eq "$tmp/out" .startup_locality 3
jq_eq "$tmp/out" '.pcrs.sha256["0"]' "$want"

# SP800-155 Event3 records are not extended
sp="$vectors/go-tpm-tools/eventlogs/eventlogwithsp800155.bin"
want=$(jq -r '.SP800155EventLog.banks.sha256["0"]' "$vectors/go-tpm-tools/expected_pcrs_from_eventlog_test.json")
expect_exit 0 "sp800-155" -- "$agent" eventlog --json "$sp"
jq_eq "$tmp/out" '.pcrs.sha256["0"]' "$want"
jq_eq "$tmp/out" '[.events[] | select(.details.kind == "sp800-155-event3")] | length > 0' true

# digest mismatch: a finding, exit 0
expect_exit 0 "arch-linux" -- "$agent" eventlog --json "$vectors/tpm2-tools/logs/event-arch-linux.bin"
jq_eq "$tmp/out" '[.digest_mismatches[].number] | map(tostring) | join(",")' 24

# go-attestation's short EV_NO_ACTION log parses; tpm2_eventlog 5.4 rejects it
expect_exit 0 "short no-action" -- "$agent" eventlog --json "$vectors/go-attestation/short_no_action_eventlog"
jq_eq "$tmp/out" '.events | length' 1

# negative vectors: exit 3, one line, nothing on stdout
for neg in binary_bios_measurements-bogus binary_bios_measurements-empty; do
        f="$vectors/keylime/mb/$neg"
        expect_exit 3 "$neg" -- "$agent" eventlog --json "$f"
        expect_one_line_error "$f" ""
done

# a real log cut in the middle of an event
head -c 20000 "$vectors/go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin" >"$tmp/cut"
expect_exit 3 "cut log" -- "$agent" eventlog --json "$tmp/cut"
expect_one_line_error "$tmp/cut" "at offset 0x"

# every other log of the corpus parses into valid JSON
jq -r '.event_logs[].file' "$vectors/MANIFEST.json" | while read -r rel; do
        case "$rel" in *-bogus | *-empty) continue ;; esac
        if ! "$agent" eventlog --json "$vectors/$rel" >"$tmp/all.json" 2>"$tmp/all.err"; then
                echo "$rel: $(cat "$tmp/all.err")"
        elif ! jq -e '.pcrs and .events and .format' "$tmp/all.json" >/dev/null; then
                echo "$rel: incomplete JSON"
        fi
done >"$tmp/all-failures"
[ ! -s "$tmp/all-failures" ] || fail "corpus logs: $(cat "$tmp/all-failures")"

if [ $failures -ne 0 ]; then
        echo "test-eventlog.sh: $failures failure(s)"
        exit 1
fi
echo "test-eventlog.sh: all checks passed"
