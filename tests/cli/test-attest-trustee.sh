#!/bin/sh
# cvm-agent attest, Trustee end to end on the host: a simulated Azure SEV-SNP vTPM (swtpm +
# tests/vtpm/cvm-vtpm, with a background "paravisor" that re-issues the HCL report between TPM
# connections) -> emulated IMDS (THIM) -> emulated KBS (RCAR auth/attest/resource, az-snp-vtpm v2)
# -> the released resources must be what the KBS holds (compared by SHA-256), with EC and RSA TEE
# keys; then refusals and faults end in no resource, a one-line error naming the stage and cause.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vtpm/swtpm.sh"
. "$(dirname "$0")/emu.sh"

swtpm_require
emu_require
VTPM=${CVM_BUILDDIR:-build}/tests/vtpm/cvm-vtpm
[ -x "$VTPM" ] || { echo "FAIL: simulator $VTPM not built"; exit 1; }
PKI=${CVM_BUILDDIR:-build}/tests/vtpm-pki
WATCHER=

trap '[ -n "$WATCHER" ] && kill "$WATCHER" 2>/dev/null; emu_stop_all; swtpm_stop; rm -rf "$TMP"' EXIT
EMU_STATE=$TMP/emu
mkdir -p "$EMU_STATE"

LOG=$TMP/eventlog.bin
"$VTPM" make-eventlog "$LOG" || { echo "FAIL: cannot make the event log"; exit 1; }
swtpm_start "$TMP/swtpm" || { echo "FAIL: cannot start swtpm"; exit 1; }
CVM_AGENT_TCTI=$SWTPM_TCTI
export CVM_AGENT_TCTI
"$VTPM" provision --dir "$TMP/sim" --pki "$PKI" --eventlog "$LOG" >"$TMP/provision.json" 2>"$TMP/provision.err" ||
        { echo "FAIL: provisioning: $(cat "$TMP/provision.err")"; exit 1; }
# The paravisor: re-issue the HCL report with the current NV 0x01400002 whenever the TPM is free.
(while :; do "$VTPM" --tcti "$SWTPM_TCTI" refresh --dir "$TMP/sim" --pki "$PKI" >/dev/null 2>&1; sleep 0.1; done) &
WATCHER=$!

"$EMU_PYTHON" "$EMU_DIR/testpki.py" "$EMU_STATE/pki" >/dev/null 2>&1 || { echo "FAIL: test PKI"; exit 1; }
jq -n --rawfile v "$PKI/vcek.pem" --rawfile c "$PKI/chain.pem" \
        '{vcekCert: $v, certificateChain: $c, tcbm: "DB18000000000004"}' >"$TMP/thim.json"
SECRET_HEX=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
printf '%s' "$SECRET_HEX" | xxd -r -p >"$TMP/secret.bin"
SECRET_SHA=$(sha256sum <"$TMP/secret.bin" | cut -d' ' -f1)
SECRET_B64=$(base64 -w0 <"$TMP/secret.bin")
printf 'second resource TEST-ONLY %s' "$SECRET_HEX" | tr 'a-f' 'A-F' >"$TMP/second.bin"
SECOND_SHA=$(sha256sum <"$TMP/second.bin" | cut -d' ' -f1)
emu_start IMDS imds.py --plain --thim "$TMP/thim.json" || exit 1
emu_start KBS kbs.py --amd-roots "$PKI/chain.pem" --resource "default/disk/root=$TMP/secret.bin" \
        --resource "default/disk/second=$TMP/second.bin" || exit 1
KBS=https://127.0.0.1:$KBS_PORT
CA=$EMU_STATE/pki/ca.pem

attest() {
        "$CVM_AGENT" attest --kbs "$KBS" --resource default/disk/root --imds "http://127.0.0.1:$IMDS_PLAIN" \
                --ca "$CA" "$@"
}

no_secret() {
        CHECKS=$((CHECKS + 1))
        if grep -qi -e "$SECRET_HEX" -e "$SECRET_B64" "$OUT" "$ERR" "$EMU_STATE"/*.stderr; then
                fail "the released resource appears in an output"
        fi
}

stage_error() {
        code=$1
        needle=$2
        shift 2
        expect_rc "$code" "$@" && one_line_error
        CHECKS=$((CHECKS + 1))
        grep -q -- "$needle" "$ERR" || fail "error lacks '$needle': $(cat "$ERR")"
        no_secret
}

# ---- usage ------------------------------------------------------------------------------------
expect_rc 2 "$CVM_AGENT" attest --kbs "$KBS" --resource ../x/y
expect_rc 2 "$CVM_AGENT" attest --kbs "$KBS" --evidence tdx
expect_rc 2 "$CVM_AGENT" attest --kbs "$KBS" --tee-key dsa

# ---- success, EC TEE key (default), cookie + Bearer reuse across resources --------------------
expect_rc 0 attest --json --release --release=default/disk/second
json_eq .backend trustee
json_eq .verified true
json_eq .claims.tee az-snp-vtpm
json_eq '.claims."tee-pubkey".kty' EC
json_eq '.releases[0].sha256' "$SECRET_SHA"
json_eq '.releases[0].size' 32
json_eq '.releases[1].sha256' "$SECOND_SHA"
no_secret
# RSA TEE key (RSA-OAEP-256 JWE), VCEK from a file instead of THIM.
expect_rc 0 attest --json --tee-key rsa --vcek "$PKI/vcek.pem" --release
json_eq '.claims."tee-pubkey".kty' RSA
json_eq '.releases[0].sha256' "$SECRET_SHA"
no_secret
# JSON configuration.
jq -n --arg k "$KBS" --arg i "http://127.0.0.1:$IMDS_PLAIN" --arg c "$CA" \
        '{type: "trustee", kbs: $k, resource: "default/disk/root", imds: $i, ca_file: $c, evidence: "az-snp-vtpm"}' \
        >"$TMP/trustee.json"
expect_rc 0 "$CVM_AGENT" attest --json --config-json "$TMP/trustee.json" --release
json_eq '.releases[0].sha256' "$SECRET_SHA"

# ---- refusals and faults ----------------------------------------------------------------------
stage_error 7 'KBS resource: .*HTTP 404' attest --release=default/disk/none
fault() { # fault JSON CODE NEEDLE [attest args...]
        json=$1
        code=$2
        needle=$3
        shift 3
        emu_clear KBS
        emu_fault KBS "$json"
        t0=$(date +%s)
        stage_error "$code" "$needle" attest --release --deadline 8 "$@"
        el=$(($(date +%s) - t0))
        CHECKS=$((CHECKS + 1))
        [ "$el" -le 14 ] || fail "fault $json took $el s with an 8 s deadline"
        emu_clear KBS
}
fault '{"kind":"status","status":503,"count":0}' 8 'KBS auth: .*HTTP 503'
fault '{"kind":"status","status":429,"retry_after":"1","count":0}' 8 'KBS auth: .*HTTP 429'
fault '{"kind":"hang","seconds":30,"count":0}' 8 'KBS auth: '
fault '{"kind":"untrusted_cert","count":0}' 4 'KBS auth: .*certificate'
fault '{"kind":"flag","name":"stale_nonce"}' 7 'KBS attest: .*HTTP 401'
fault '{"kind":"flag","name":"policy_deny"}' 7 'KBS resource: .*HTTP 403'
fault '{"kind":"flag","name":"wrong_key"}' 4 'resource decrypt: '
fault '{"kind":"status","status":500,"count":0,"path":"/kbs/v0/resource"}' 8 'KBS resource: .*HTTP 500'
emu_fault IMDS '{"kind":"flag","name":"no_thim"}'
stage_error 7 'IMDS THIM: .*HTTP 404' attest --release
emu_clear IMDS

finish
