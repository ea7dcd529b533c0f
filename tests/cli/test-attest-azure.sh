#!/bin/sh
# cvm-agent attest, Azure end to end on the host: a simulated Azure SEV-SNP vTPM (swtpm +
# tests/vtpm/cvm-vtpm) -> emulated IMDS (THIM, managed identity) -> emulated MAA (AzureGuest,
# envelope, /certs) -> emulated Key Vault (secure key release) -> the released key must be what
# the vault holds (compared by SHA-256; the key itself is never printed). Then every fault knob
# must end in no key, within the deadline, with a one-line error naming the stage and cause.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vtpm/swtpm.sh"
. "$(dirname "$0")/emu.sh"

swtpm_require
emu_require
VTPM=${CVM_BUILDDIR:-build}/tests/vtpm/cvm-vtpm
[ -x "$VTPM" ] || { echo "FAIL: simulator $VTPM not built"; exit 1; }
PKI=${CVM_BUILDDIR:-build}/tests/vtpm-pki

trap 'emu_stop_all; swtpm_stop; rm -rf "$TMP"' EXIT
EMU_STATE=$TMP/emu
mkdir -p "$EMU_STATE"

# ---- the simulated CVM ------------------------------------------------------------------------
LOG=$TMP/eventlog.bin
"$VTPM" make-eventlog "$LOG" || { echo "FAIL: cannot make the event log"; exit 1; }
swtpm_start "$TMP/swtpm" || { echo "FAIL: cannot start swtpm"; exit 1; }
CVM_AGENT_TCTI=$SWTPM_TCTI
export CVM_AGENT_TCTI
"$VTPM" provision --dir "$TMP/sim" --pki "$PKI" --eventlog "$LOG" >"$TMP/provision.json" 2>"$TMP/provision.err" ||
        { echo "FAIL: provisioning: $(cat "$TMP/provision.err")"; exit 1; }

# ---- the emulated services --------------------------------------------------------------------
"$EMU_PYTHON" "$EMU_DIR/testpki.py" "$EMU_STATE/pki" >/dev/null 2>&1 || { echo "FAIL: test PKI"; exit 1; }
jq -n --rawfile v "$PKI/vcek.pem" --rawfile c "$PKI/chain.pem" \
        '{vcekCert: $v, certificateChain: $c, tcbm: "DB18000000000004"}' >"$TMP/thim.json"
emu_start IMDS imds.py --plain --thim "$TMP/thim.json" || exit 1
emu_start MAA maa.py --amd-roots "$PKI/chain.pem" || exit 1
emu_start KV keyvault.py --aad-cert "$EMU_STATE/imds-aad-signing.pem" --maa-ca "$EMU_STATE/pki/ca.pem" || exit 1
CA=$EMU_STATE/pki/ca.pem
MAA=https://127.0.0.1:$MAA_PORT
VAULT=https://localhost:$KV_PORT

# A 256-bit oct key and an RSA key, both released only to a compliant SNP CVM attested by our MAA.
policy=$(jq -cn --arg a "$MAA" '{version: "1.0.0", anyOf: [{authority: $a, allOf: [
        {claim: "x-ms-isolation-tee.x-ms-attestation-type", equals: "sevsnpvm"},
        {claim: "x-ms-isolation-tee.x-ms-compliance-status", equals: "azure-compliant-cvm"}]}]}')
policy_b64=$(printf '%s' "$policy" | basenc --base64url -w0 | tr -d '=')
OCT_HEX=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
OCT_B64=$(printf '%s' "$OCT_HEX" | xxd -r -p | base64 -w0)
emu_control KV POST /import "$(jq -cn --arg k "$OCT_B64" --arg p "$policy_b64" \
        '{name: "disk", oct_b64: $k, release_policy: {data: $p}}')" >/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.pem" 2>/dev/null
emu_control KV POST /import "$(jq -cn --rawfile k "$TMP/rsa.pem" --arg p "$policy_b64" \
        '{name: "kek", pem: $k, release_policy: {data: $p}}')" >/dev/null
OCT_SHA=$(printf '%s' "$OCT_HEX" | xxd -r -p | sha256sum | cut -d' ' -f1)
RSA_SHA=$(emu_control KV POST /key-material '{"name":"kek"}' | jq -r .material_b64 | base64 -d | sha256sum |
        cut -d' ' -f1)
emu_control KV POST /import "$(jq -cn --arg k "$OCT_B64" \
        --arg p "$(jq -cn '{version: "1.0.0", anyOf: [{authority: "https://other.invalid", allOf: [
                {claim: "x-ms-attestation-type", equals: "azurevm"}]}]}' | basenc --base64url -w0 | tr -d '=')" \
        '{name: "foreign", oct_b64: $k, release_policy: {data: $p}}')" >/dev/null

attest() {
        "$CVM_AGENT" attest --maa "$MAA" --vault-key "$VAULT/keys/disk" --imds "http://127.0.0.1:$IMDS_PLAIN" \
                --ca "$CA" --kv-root "$EMU_STATE/kv-jws-root.pem" --eventlog "$LOG" "$@"
}

# no_secret: neither the released key nor its base64 appears in the outputs.
no_secret() {
        CHECKS=$((CHECKS + 1))
        if grep -qi -e "$OCT_HEX" -e "$OCT_B64" "$OUT" "$ERR" "$EMU_STATE"/*.stderr; then
                fail "the released key appears in an output"
        fi
}

# stage_error CODE NEEDLE CMD...: exit CODE, one line on stderr containing NEEDLE, no stdout.
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
expect_rc 0 "$CVM_AGENT" attest --help
grep -q -- '--vault-key URL' "$OUT" || fail "--help does not document --vault-key"
expect_rc 2 "$CVM_AGENT" attest
expect_rc 2 "$CVM_AGENT" attest --maa http://insecure.example
expect_rc 2 "$CVM_AGENT" attest --maa "$MAA" --enc RSA1_5
expect_rc 2 "$CVM_AGENT" attest --maa "$MAA" --deadline 0
expect_rc 2 "$CVM_AGENT" attest --maa "$MAA" extra
printf '{"type":"azure","maa":"%s","typo":1}' "$MAA" >"$TMP/bad.json"
stage_error 2 'unknown member "typo"' "$CVM_AGENT" attest --config-json "$TMP/bad.json"
stage_error 5 'event log' attest --eventlog "$TMP/none"

# ---- success: attestation, claims, releases ---------------------------------------------------
start=$(date +%s)
expect_rc 0 attest --json --release --release="$VAULT/keys/kek"
json_eq .backend azure
json_eq .verified true
json_eq .claims.iss "$MAA"
json_eq '.claims."x-ms-isolation-tee"."x-ms-attestation-type"' sevsnpvm
json_eq '.claims."x-ms-isolation-tee"."x-ms-compliance-status"' azure-compliant-cvm
json_eq '.claims."x-ms-runtime".keys[0].kid' TpmEphemeralEncryptionKey
json_eq '.claims."x-ms-azurevm-attested-pcrs" | length' 8
json_eq '.releases | length' 2
json_eq '.releases[0].size' 32
json_eq '.releases[0].sha256' "$OCT_SHA"
json_eq '.releases[1].sha256' "$RSA_SHA"
json_eq '.releases[1].key_ref' "$VAULT/keys/kek"
no_secret
echo "attest + 2 releases took $(($(date +%s) - start)) s"
# The MAA request carried the nonce as quote extraData and ClientPayload (the emulator checks both).
nonce=$(emu_control MAA GET /last-claims | jq -r '."x-ms-runtime"."client-payload".nonce')
[ "$(printf '%s' "$nonce" | base64 -d | wc -c)" -eq 32 ] || fail "client payload nonce: $nonce"
# Text output.
expect_rc 0 attest --release
grep -q '^TEE: *sevsnpvm' "$OUT" || fail "text output: $(cat "$OUT")"
grep -q "^Released key: .*32 bytes, SHA-256 $OCT_SHA" "$OUT" || fail "text output: $(cat "$OUT")"
no_secret
# The CLI with a JSON configuration (the LUKS2 token's object).
jq -n --arg m "$MAA" --arg v "$VAULT/keys/disk" --arg i "http://127.0.0.1:$IMDS_PLAIN" --arg c "$CA" \
        --arg r "$EMU_STATE/kv-jws-root.pem" \
        '{type: "azure", maa: $m, vault_key: $v, imds: $i, ca_file: $c, kv_root: $r, enc: "CKM_RSA_AES_KEY_WRAP"}' \
        >"$TMP/azure.json"
expect_rc 0 "$CVM_AGENT" attest --json --config-json "$TMP/azure.json" --eventlog "$LOG" --release
json_eq '.releases[0].sha256' "$OCT_SHA"

# ---- refusals ---------------------------------------------------------------------------------
stage_error 7 'KV release: .*HTTP 403.*not an authority' attest --release="$VAULT/keys/foreign"
stage_error 7 'KV release: .*HTTP 404.*KeyNotFound' attest --release="$VAULT/keys/nope"
# A truncated event log: MAA refuses it.
head -c 200 "$LOG" >"$TMP/tampered.bin"
stage_error 7 'MAA attest: .*HTTP 400.*InvalidParameter' attest --eventlog "$TMP/tampered.bin"
# The wrong trusted root for the release signature.
stage_error 4 'KV release verify: x5c chain' attest --release --kv-root "$CA"

# ---- fault knobs: no key, within the deadline, the stage and cause named -----------------------
fault() { # fault EMULATOR JSON CODE NEEDLE [attest args...]
        emu=$1
        json=$2
        code=$3
        needle=$4
        shift 4
        emu_clear "$emu"
        emu_fault "$emu" "$json"
        t0=$(date +%s)
        stage_error "$code" "$needle" attest --release --deadline 8 "$@"
        el=$(($(date +%s) - t0))
        CHECKS=$((CHECKS + 1))
        [ "$el" -le 12 ] || fail "fault $json on $emu took $el s with an 8 s deadline"
        emu_clear "$emu"
}
fault MAA '{"kind":"status","status":503,"count":0}' 8 'MAA attest: .*HTTP 503'
fault MAA '{"kind":"status","status":429,"retry_after":"1","count":0}' 8 'MAA attest: .*HTTP 429'
fault MAA '{"kind":"hang","seconds":30,"count":0}' 8 'MAA attest: '
fault MAA '{"kind":"untrusted_cert","count":0}' 4 'MAA attest: .*certificate'
fault MAA '{"kind":"flag","name":"wrong_nonce"}' 4 'token verify: claim "x-ms-runtime.client-payload.nonce"'
fault MAA '{"kind":"flag","name":"expired_token"}' 4 'token verify: token expired'
fault MAA '{"kind":"flag","name":"bad_signature"}' 4 'token verify: '
fault MAA '{"kind":"flag","name":"wrong_ephemeral_key"}' 4 'token verify: .*TpmEphemeralEncryptionKey'
fault MAA '{"kind":"flag","name":"wrong_issuer"}' 4 'token verify: claim "iss"'
fault MAA '{"kind":"flag","name":"noncompliant"}' 4 'token verify: claim "x-ms-isolation-tee.x-ms-compliance-status"'
fault MAA '{"kind":"flag","name":"wrong_key"}' 4 'envelope decrypt: '
fault IMDS '{"kind":"status","status":500,"count":0}' 8 'IMDS THIM: .*HTTP 500'
fault IMDS '{"kind":"flag","name":"no_thim"}' 7 'IMDS THIM: .*HTTP 404'
fault IMDS '{"kind":"flag","name":"wrong_audience"}' 7 'KV release: .*HTTP 401.*AKV10022'
fault KV '{"kind":"status","status":503,"count":0}' 8 'KV release: .*HTTP 503'
fault KV '{"kind":"status","status":429,"retry_after":"1","count":0}' 8 'KV release: .*HTTP 429'
fault KV '{"kind":"hang","seconds":30,"count":0}' 8 'KV release: '
fault KV '{"kind":"untrusted_cert","count":0}' 4 'KV release: .*certificate'
fault KV '{"kind":"flag","name":"wrong_key"}' 4 'unwrap: the key was not wrapped to our ephemeral vTPM key'
fault KV '{"kind":"flag","name":"corrupt_key_hsm"}' 4 'unwrap: '
fault KV '{"kind":"flag","name":"bad_signature"}' 4 'KV release verify: '
fault KV '{"kind":"flag","name":"untrusted_jws"}' 4 'KV release verify: x5c chain'

# A transient 503 is retried inside the deadline and the key still arrives.
emu_fault MAA '{"kind":"status","status":503,"count":1}'
expect_rc 0 attest --json --release
json_eq '.releases[0].sha256' "$OCT_SHA"

finish
