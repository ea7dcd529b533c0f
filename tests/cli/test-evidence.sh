#!/bin/sh
# cvm-agent evidence against a simulated Azure SEV-SNP vTPM (swtpm provisioned by
# tests/vtpm/cvm-vtpm): the JSON contract, exit codes, one-line errors, and the negative
# variants (AK not bound, foreign report signer, PCRs not matching the log, missing NV indexes,
# stale report). Each scenario gets its own swtpm on a free loopback port, killed on exit.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vtpm/swtpm.sh"

swtpm_require
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq is not installed"; exit 77; }
VTPM=${CVM_BUILDDIR:-build}/tests/vtpm/cvm-vtpm
[ -x "$VTPM" ] || { echo "FAIL: simulator $VTPM not built"; exit 1; }
PKI=${CVM_BUILDDIR:-build}/tests/vtpm-pki

trap 'swtpm_stop; rm -rf "$TMP"' EXIT
LOG=$TMP/synthetic.bin
"$VTPM" make-eventlog "$LOG" || { echo "FAIL: cannot make the synthetic event log"; exit 1; }
NONCE=00112233445566778899aabbccddeeff

# scenario NAME [provision options...]: a fresh swtpm, provisioned; $SIM holds its outputs.
scenario() {
        swtpm_stop
        SIM=$TMP/$1
        shift
        swtpm_start "$SIM/state" || { fail "cannot start swtpm"; return 1; }
        CVM_AGENT_TCTI=$SWTPM_TCTI
        export CVM_AGENT_TCTI
        if [ "$#" -gt 0 ] && [ "$1" = "--bare" ]; then
                return 0
        fi
        "$VTPM" provision --dir "$SIM" --pki "$PKI" "$@" >"$SIM/provision.json" 2>"$SIM/provision.err" ||
                fail "provisioning ($*) failed: $(cat "$SIM/provision.err")"
}

evidence() {
        "$CVM_AGENT" evidence --json --nonce "$NONCE" --vcek "$PKI/vcek.pem" --chain "$PKI/chain.pem" \
                --test-ark "$PKI/ark.pem" "$@"
}

# ---- usage errors and unreachable TPM (no swtpm needed) --------------------------------------
CVM_AGENT_TCTI=swtpm:host=127.0.0.1,port=1
export CVM_AGENT_TCTI
expect_rc 0 "$CVM_AGENT" evidence --help
grep -q -- '--eventlog FILE' "$OUT" || fail "--help does not document --eventlog"
expect_rc 2 "$CVM_AGENT" evidence --nonce zz
expect_rc 2 "$CVM_AGENT" evidence --nonce "$(printf '%0130d' 0)"
expect_rc 2 "$CVM_AGENT" evidence --pcrs 0-24
expect_rc 2 "$CVM_AGENT" evidence --bank md5
expect_rc 2 "$CVM_AGENT" evidence --ak-handle 0x01000000
expect_rc 2 "$CVM_AGENT" evidence --user-data "$(printf '%0130d' 0)"
expect_rc 2 "$CVM_AGENT" evidence --chain x
expect_rc 2 "$CVM_AGENT" evidence extra-argument
expect_rc 5 "$CVM_AGENT" evidence --eventlog "$TMP/no-such-log" && one_line_error
expect_rc 6 "$CVM_AGENT" evidence --eventlog "$LOG" && one_line_error
grep -q "cannot open TPM through TCTI 'swtpm:host=127.0.0.1,port=1'" "$ERR" || fail "unreachable TPM: $(cat "$ERR")"

# ---- a healthy simulated Azure CVM ----------------------------------------------------------
scenario good --eventlog "$LOG"
expect_rc 0 evidence --eventlog "$LOG"
json_eq .quote.signature valid
json_eq .quote.pcr_digest valid
json_eq .quote.nonce valid
json_eq .eventlog_matches_quote true
json_eq .ak_bound_to_report true
json_eq .verified true
json_eq '.failures | length' 0
json_eq .nonce "$NONCE"
json_eq .pcr_bank sha256
json_eq .pcr_selection 0-7
json_eq '.pcrs | keys | length' 8
json_eq .ak.handle 0x81000003
json_eq .ak.created false
json_eq .ak.certificate.matches_ak true
json_eq .quote.attest.extra_data "$NONCE"
json_eq .hcl_report.runtime_claims_bound true
json_eq '.hcl_report.runtime_claims.keys[0].kid' HCLAkPub
json_eq .hcl_report.signature valid
json_eq .hcl_report.chain valid
json_eq .hcl_report.vek_match valid
json_eq .hcl_report.chain_root "test ARK (--test-ark)"
json_eq '.eventlog.pcr_mismatches | length' 0
# The simulated report is exactly what is in NV (zero-padded to 2048 bytes).
json_eq .hcl_report.hcl.file_size 2048

# The simulated report goes through `cvm-agent report` like a real one: same parser, same
# signature/VCEK checks; only the chain is refused, since the test ARK is not AMD's pinned root.
expect_rc 4 "$CVM_AGENT" report --json --vcek "$PKI/vcek.pem" --chain "$PKI/chain.pem" "$SIM/hcl-report.bin"
json_eq .type hcl
json_eq .version 3
json_eq .runtime_claims_bound true
json_eq .signature valid
json_eq .vek_match valid
json_eq .chain invalid
json_eq '.problems | length' 1

# Text output for an operator; the same exit code.
expect_rc 0 "$CVM_AGENT" evidence --eventlog "$LOG"
grep -q '^Result: *all checks passed' "$OUT" || fail "text output: $(cat "$OUT")"
grep -q '^AK binding: *HCLAkPub is the AK' "$OUT" || fail "text output lacks the AK binding"

# Without --vcek the SNP signature is not judged, the rest is.
expect_rc 0 "$CVM_AGENT" evidence --json --eventlog "$LOG"
json_eq '.hcl_report.signature // "absent"' absent
# Against AMD's pinned roots the test chain must fail: the test ARK is trusted only on request.
expect_rc 4 "$CVM_AGENT" evidence --json --eventlog "$LOG" --vcek "$PKI/vcek.pem" --chain "$PKI/chain.pem"
json_eq .hcl_report.signature valid
json_eq .hcl_report.chain invalid
# A random nonce is used when none is given.
expect_rc 0 "$CVM_AGENT" evidence --json --eventlog "$LOG"
json_eq '.nonce | length' 64
# Another PCR selection and bank.
expect_rc 0 "$CVM_AGENT" evidence --json --eventlog "$LOG" --pcrs 0,4,8 --bank sha1
json_eq .pcr_selection 0,4,8
json_eq .eventlog_matches_quote true
# A log the PCRs were not built from.
printf 'not an event log' >"$TMP/garbage.bin"
expect_rc 3 evidence --eventlog "$TMP/garbage.bin"
json_eq .eventlog_matches_quote false
json_eq '.eventlog.error | length > 0' true

# Fresh report via NV 0x01400002: nobody regenerates it here -> explicit "stale report".
expect_rc 4 evidence --eventlog "$LOG" --user-data 0badc0de --wait 300
json_eq '[.failures[] | select(test("stale report"))] | length' 1
# The simulator's paravisor re-issues it; now the report carries the user data.
swtpm_tcti=$SWTPM_TCTI
"$VTPM" --tcti "$swtpm_tcti" refresh --dir "$SIM" --pki "$PKI" || fail "cvm-vtpm refresh failed"
expect_rc 0 evidence --eventlog "$LOG" --user-data 0badc0de --wait 300
json_eq '.hcl_report.runtime_claims."user-data" | ascii_downcase | .[0:8]' 0badc0de
json_eq .ak_bound_to_report true

# ---- a real measured-boot log from the corpus, replayed into the PCRs ----------------------
if have_vectors; then
        REAL=$CVM_VECTORS/tpm2-tools/logs/event-sd-boot-fedora37.bin
        scenario real --eventlog "$REAL"
        expect_rc 0 evidence --eventlog "$REAL" --pcrs 0-15
        json_eq .eventlog_matches_quote true
        json_eq .verified true
        expect_rc 4 evidence --eventlog "$LOG"
        json_eq .eventlog_matches_quote false
fi

# ---- negative variants ----------------------------------------------------------------------
scenario unbound --eventlog "$LOG" --variant ak-unbound
expect_rc 4 evidence --eventlog "$LOG"
json_eq .ak_bound_to_report false
json_eq .quote.signature valid
json_eq .hcl_report.runtime_claims_bound true
json_eq '[.failures[] | select(startswith("AK binding"))] | length' 1
expect_rc 4 "$CVM_AGENT" evidence --eventlog "$LOG"
grep -q 'HCLAkPub is NOT the AK' "$OUT" || fail "text output does not explain the AK binding failure"

scenario foreign --eventlog "$LOG" --variant foreign-signer
expect_rc 4 evidence --eventlog "$LOG"
json_eq .hcl_report.signature invalid
json_eq .ak_bound_to_report true
json_eq .eventlog_matches_quote true

scenario pcrs --eventlog "$LOG" --variant pcr-mismatch
expect_rc 4 evidence --eventlog "$LOG"
json_eq .eventlog_matches_quote false
json_eq .quote.pcr_digest valid
json_eq '.eventlog.pcr_mismatches | map(.pcr) | join(",")' 7
json_eq '[.failures[] | select(test("PCR 7"))] | length' 1

scenario nohcl --eventlog "$LOG" --variant no-hcl-report
expect_rc 0 evidence --eventlog "$LOG"
json_eq .hcl_report null
json_eq .ak_bound_to_report null
json_eq .verified true

scenario nocert --eventlog "$LOG" --variant no-ak-cert
expect_rc 0 evidence --eventlog "$LOG"
json_eq .ak.certificate null

# No AK at all: a TPM error naming the handle; --create-ak provisions one under the EK.
scenario bare --bare
expect_rc 6 "$CVM_AGENT" evidence --eventlog "$LOG" && one_line_error
grep -q '0x81000003' "$ERR" || fail "missing AK not named: $(cat "$ERR")"
expect_rc 4 "$CVM_AGENT" evidence --json --eventlog "$LOG" --create-ak --ak-handle 0x81000010
json_eq .ak.created true
json_eq .ak.handle 0x81000010
json_eq .quote.signature valid
json_eq .hcl_report null
json_eq .eventlog_matches_quote false

# ---- clean teardown: no swtpm of ours survives ------------------------------------------------
last_pid=$SWTPM_PID
swtpm_stop
CHECKS=$((CHECKS + 1))
if kill -0 "$last_pid" 2>/dev/null; then
        fail "swtpm $last_pid still running after swtpm_stop"
fi
CHECKS=$((CHECKS + 1))
if pgrep -f "tpmstate dir=$TMP" >/dev/null 2>&1; then
        fail "stray swtpm processes: $(pgrep -af "tpmstate dir=$TMP")"
fi

finish
