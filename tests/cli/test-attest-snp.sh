#!/bin/sh
# cvm-agent attest, Trustee with `snp` evidence (a non-paravisor SEV-SNP guest) end to end: the
# agent's real configfs-tsm code (mkdir an entry, read provider and generation, write inblob, read
# outblob and auxblob, check generation, rmdir) against a test double of the kernel interface
# (tests/cli/tsm-shim.c creates an entry's attributes on mkdir, as configfs does;
# tests/emulators/tsm.py plays the sev_guest TSM with a TEST-ONLY AMD chain) -> emulated KBS
# (RCAR, snp evidence verified up to the test ARK) -> the released resource must be what the KBS
# holds. Then faults on the TSM side, and the KBS token checked against its published signing
# key ("token_cert" / "token_jwks") with the KBS's token faults. No secret may appear anywhere.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/emu.sh"

emu_require
command -v cc >/dev/null || { echo "SKIP: no C compiler for the configfs-tsm shim"; exit 77; }
TSM_PID=
trap '[ -n "$TSM_PID" ] && kill "$TSM_PID" 2>/dev/null; emu_stop_all; rm -rf "$TMP"' EXIT
EMU_STATE=$TMP/emu
ROOT=$TMP/tsm/report
mkdir -p "$EMU_STATE" "$ROOT"
cc -shared -fPIC -o "$TMP/tsm-shim.so" "$(dirname "$0")/tsm-shim.c" -ldl || { echo "FAIL: shim build"; exit 1; }

"$EMU_PYTHON" "$EMU_DIR/testpki.py" "$EMU_STATE/pki" >/dev/null 2>&1 || { echo "FAIL: test PKI"; exit 1; }
"$EMU_PYTHON" "$EMU_DIR/tsm.py" setup "$TMP/amd" >"$TMP/setup.log" 2>&1 ||
        { echo "FAIL: test AMD chain: $(tail -3 "$TMP/setup.log")"; exit 1; }
SECRET_HEX=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
printf '%s' "$SECRET_HEX" | xxd -r -p >"$TMP/secret.bin"
SECRET_SHA=$(sha256sum <"$TMP/secret.bin" | cut -d' ' -f1)
SECRET_B64=$(base64 -w0 <"$TMP/secret.bin")
emu_start KBS kbs.py --amd-roots "$TMP/amd/amd/roots.pem" --resource "default/disk/root=$TMP/secret.bin" || exit 1
KBS=https://127.0.0.1:$KBS_PORT
CA=$EMU_STATE/pki/ca.pem
TOKEN_CERT=$EMU_STATE/kbs-token-signing.pem
TOKEN_JWKS=$EMU_STATE/kbs-token-signing.jwks.json

# tsm_start [FAULT ARGS]: (re)start the TSM double.
tsm_start() {
        [ -n "$TSM_PID" ] && kill "$TSM_PID" 2>/dev/null && wait "$TSM_PID" 2>/dev/null
        "$EMU_PYTHON" "$EMU_DIR/tsm.py" serve --root "$ROOT" --pki "$TMP/amd" --max-lifetime 600 "$@" \
                2>>"$TMP/tsm.stderr" &
        TSM_PID=$!
}

# The agent with the shim; a hung FIFO must not hang the suite (timeout 60).
agent() {
        CVM_TSM_ROOT=$ROOT LD_PRELOAD=$TMP/tsm-shim.so \
                ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
                timeout 60 "$CVM_AGENT" "$@"
}

attest() {
        agent attest --kbs "$KBS" --resource default/disk/root --evidence snp --tsm-dir "$ROOT" --ca "$CA" "$@"
}

no_secret() {
        CHECKS=$((CHECKS + 1))
        if grep -qi -e "$SECRET_HEX" -e "$SECRET_B64" "$OUT" "$ERR" "$EMU_STATE"/*.stderr "$TMP/tsm.stderr"; then
                fail "the released resource appears in an output"
        fi
}

# No entry may be left behind (the agent removes it on success and failure alike).
no_entry() {
        CHECKS=$((CHECKS + 1))
        [ -z "$(ls -A "$ROOT")" ] || fail "configfs-tsm entries left behind: $(ls "$ROOT")"
        rm -rf "${ROOT:?}"/*
}

stage_error() {
        code=$1
        needle=$2
        shift 2
        expect_rc "$code" "$@" && one_line_error
        CHECKS=$((CHECKS + 1))
        grep -q -- "$needle" "$ERR" || fail "error lacks '$needle': $(cat "$ERR")"
        no_secret
        no_entry
}

: >"$TMP/tsm.stderr"
tsm_start

# ---- success: report + certificate table from configfs-tsm, resource released -----------------
expect_rc 0 attest --json --release
json_eq .backend trustee
json_eq .claims.tee snp
json_eq '.claims."tcb-status"."snp.chip_id"' "$(printf '%02x' $(seq 0 63) | tr -d ' ')"
json_eq '.claims."tcb-status".ark' ARK-Milan
json_eq '.releases[0].sha256' "$SECRET_SHA"
json_eq '.releases[0].size' 32
no_secret
no_entry
# RSA TEE key; token verified with the pinned certificate, then with the JWK Set.
jq -n --arg c "$TOKEN_CERT" '{type: "trustee", token_cert: $c}' >"$TMP/cert.json"
jq -n --arg j "$TOKEN_JWKS" '{type: "trustee", token_jwks: $j}' >"$TMP/jwks.json"
expect_rc 0 attest --json --tee-key rsa --config-json "$TMP/cert.json" --release
json_eq '.claims."tee-pubkey".kty' RSA
json_eq '.releases[0].sha256' "$SECRET_SHA"
expect_rc 0 attest --json --config-json "$TMP/jwks.json" --release
json_eq '.releases[0].sha256' "$SECRET_SHA"
no_secret
no_entry

# ---- configuration of the token check --------------------------------------------------------
jq -n --arg c "$TOKEN_CERT" --arg j "$TOKEN_JWKS" '{type: "trustee", token_cert: $c, token_jwks: $j}' \
        >"$TMP/both.json"
stage_error 2 'mutually exclusive' attest --config-json "$TMP/both.json"
jq -n --arg c "$TMP/nonexistent.pem" '{type: "trustee", token_cert: $c}' >"$TMP/missing.json"
stage_error 2 '"token_cert" .*nonexistent.pem' attest --config-json "$TMP/missing.json"
jq -n --arg c "$TMP/secret.bin" '{type: "trustee", token_cert: $c}' >"$TMP/notpem.json"
stage_error 2 'holds no PEM certificate or public key' attest --config-json "$TMP/notpem.json"
jq -n --arg j "$TOKEN_CERT" '{type: "trustee", token_jwks: $j}' >"$TMP/notjwks.json"
stage_error 2 '"token_jwks"' attest --config-json "$TMP/notjwks.json"
# A key the KBS does not sign with: the genuine token is refused.
jq -n --arg c "$EMU_STATE/pki/ca.pem" '{type: "trustee", token_cert: $c}' >"$TMP/other.json"
stage_error 4 'KBS token: RS256 signature does not verify with token_cert' attest --config-json "$TMP/other.json" \
        --release

# ---- TSM faults ------------------------------------------------------------------------------
# One concurrent writer: generation moved by 2, the agent starts over and succeeds.
tsm_start --race 1
expect_rc 0 attest --json --release
json_eq '.releases[0].sha256' "$SECRET_SHA"
no_secret
no_entry
# A writer that never stops: refused after the bounded retries.
tsm_start --race 100
stage_error 5 'SNP report: configfs-tsm: .*generation went from 4 to 6.*gave up after 3 attempts' attest --release
tsm_start --wrong-report-data
stage_error 3 'SNP report: the configfs-tsm report carries report_data .*stale or foreign' attest --release
tsm_start --foreign
stage_error 7 'KBS attest: .*HTTP 401.*ARK' attest --release
tsm_start --bad-aux
stage_error 3 'SNP report: configfs-tsm auxblob: certificate table entry 2 (ASK): offset' attest --release
# No certificate table: without a VCEK the KBS refuses; with --vcek the agent supplies it.
tsm_start --no-aux
stage_error 7 'KBS attest: .*HTTP 401.*no VCEK' attest --release
expect_rc 0 attest --json --vcek "$TMP/amd/amd/vcek1.pem" --release
json_eq '.releases[0].sha256' "$SECRET_SHA"
no_entry
tsm_start
CVM_TSM_PROVIDER=tdx_guest
export CVM_TSM_PROVIDER
stage_error 3 'SNP report: configfs-tsm .*provider is "tdx_guest"' attest --release
unset CVM_TSM_PROVIDER
stage_error 5 'SNP report: configfs-tsm: cannot create .*/nowhere/' attest --tsm-dir "$TMP/nowhere" --release

# ---- KBS token faults, with and without the token check --------------------------------------
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
fault '{"kind":"flag","name":"expired_token"}' 4 'KBS token: .*expired' --config-json "$TMP/cert.json"
fault '{"kind":"flag","name":"expired_token"}' 4 'KBS token: .*expired' --config-json "$TMP/jwks.json"
fault '{"kind":"flag","name":"bad_signature"}' 4 'KBS token: RS256 signature does not verify' \
        --config-json "$TMP/cert.json"
fault '{"kind":"flag","name":"bad_signature"}' 4 'KBS token: RS256 signature does not verify' \
        --config-json "$TMP/jwks.json"
# Unchecked, the same tokens are caught by the KBS when they come back as Bearer.
fault '{"kind":"flag","name":"expired_token"}' 7 'KBS resource: .*HTTP 401.*expired'
fault '{"kind":"flag","name":"bad_signature"}' 7 'KBS resource: .*HTTP 401.*signature'
fault '{"kind":"flag","name":"expire_session"}' 7 'KBS attest: .*HTTP 401.*session expired' \
        --config-json "$TMP/cert.json"
fault '{"kind":"flag","name":"stale_nonce"}' 7 'KBS attest: .*HTTP 401.*nonce' --config-json "$TMP/cert.json"
fault '{"kind":"flag","name":"wrong_key"}' 4 'resource decrypt: ' --config-json "$TMP/cert.json"
fault '{"kind":"flag","name":"policy_deny"}' 7 'KBS resource: .*HTTP 403' --config-json "$TMP/cert.json"
fault '{"kind":"status","status":503,"count":0}' 8 'KBS auth: .*HTTP 503'
fault '{"kind":"untrusted_cert","count":0}' 4 'KBS auth: .*certificate'

finish
