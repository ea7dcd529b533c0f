#!/bin/sh
# make demo: the main job on embedded defaults, on any Debian 12 machine with no TPM and no
# confidential hardware. A throw-away swtpm on loopback is provisioned as a simulated Azure
# SEV-SNP vTPM (test AMD key hierarchy, AK, HCL report, PCRs from a measured-boot log); the
# emulated IMDS, Microsoft Azure Attestation and Key Vault run on loopback (TLS, test CA); a
# LUKS2 image with a recovery passphrase is enrolled for a vault key and opened by the attested
# unlock (--test: the keyslot is verified, no device-mapper needed), as inside a real CVM; then
# tampered boots get no key. Everything runs in a temporary directory that is removed at the end;
# the last line is the verdict.
set -eu

AGENT=${CVM_AGENT:-build/cvm-agent}
BUILDDIR=${CVM_BUILDDIR:-build}
VTPM=$BUILDDIR/tests/vtpm/cvm-vtpm
PKI=$BUILDDIR/tests/vtpm-pki

. "$(dirname "$0")/vtpm/swtpm.sh"
EMU_DIR=$(cd "$(dirname "$0")/emulators" && pwd)
. "$(dirname "$0")/cli/emu.sh"
swtpm_require
emu_require
command -v cryptsetup >/dev/null || { echo "demo: cryptsetup is not installed (make deps)"; exit 1; }

WORK=$(mktemp -d)
EMU_STATE=$WORK/emu
mkdir -p "$EMU_STATE"
cleanup() {
        emu_stop_all
        swtpm_stop
        rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() {
        printf '\n=== %s\n' "$*"
}

verdict_fail() {
        echo
        echo "demo: FAILED at: $*"
        exit 1
}

step "1. Start swtpm on loopback and provision it as a simulated Azure SEV-SNP vTPM"
swtpm_start "$WORK/tpm" || verdict_fail "starting swtpm"
export CVM_AGENT_TCTI="$SWTPM_TCTI"
echo "TPM: $SWTPM_TCTI"
"$VTPM" make-eventlog "$WORK/eventlog.bin" || verdict_fail "making the measured-boot log"
"$VTPM" provision --dir "$WORK/vtpm" --pki "$PKI" --eventlog "$WORK/eventlog.bin" >"$WORK/provision.json" ||
        verdict_fail "provisioning the simulated vTPM"
echo "AK at 0x81000003, AK certificate at NV 0x01C101D0, HCL report at NV 0x01400001,"
echo "PCRs extended from $(basename "$WORK/eventlog.bin") (test AMD chain in $PKI)"

step "2. Measured boot: decode and replay the event log"
"$AGENT" eventlog "$WORK/eventlog.bin" || verdict_fail "event log replay"

step "3. Gather the evidence from the vTPM and check it locally (quote, log replay, HCL binding)"
NONCE=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
"$AGENT" evidence --nonce "$NONCE" --eventlog "$WORK/eventlog.bin" \
        --vcek "$PKI/vcek.pem" --chain "$PKI/chain.pem" --test-ark "$PKI/ark.pem" ||
        verdict_fail "evidence check"
"$AGENT" evidence --json --nonce "$NONCE" --eventlog "$WORK/eventlog.bin" \
        --vcek "$PKI/vcek.pem" --chain "$PKI/chain.pem" --test-ark "$PKI/ark.pem" >"$WORK/evidence.json" ||
        verdict_fail "evidence JSON"

step "4. The same evidence as an operator inspects it: the HCL report"
# The HCL report as read from NV 0x01400001; the chain is judged against AMD's pinned roots here,
# so the test hierarchy is reported as foreign (exit 4) while signature and binding are valid.
jq -r '.hcl_report | "type \(.type)  signature \(.signature)  vek_match \(.vek_match)  runtime_claims_bound \(.runtime_claims_bound)\nmeasurement \(.measurement)\nreported_tcb \(.reported_tcb)"' \
        "$WORK/evidence.json"

step "5. Start the emulated Azure services on loopback: IMDS, MAA, Key Vault"
"$EMU_PYTHON" "$EMU_DIR/testpki.py" "$EMU_STATE/pki" >/dev/null 2>&1 || verdict_fail "making the test CA"
jq -n --rawfile v "$PKI/vcek.pem" --rawfile c "$PKI/chain.pem" \
        '{vcekCert: $v, certificateChain: $c, tcbm: "DB18000000000004"}' >"$WORK/thim.json"
emu_start IMDS imds.py --plain --thim "$WORK/thim.json" || verdict_fail "starting the IMDS emulator"
emu_start MAA maa.py --amd-roots "$PKI/chain.pem" || verdict_fail "starting the MAA emulator"
emu_start KV keyvault.py --aad-cert "$EMU_STATE/imds-aad-signing.pem" --maa-ca "$EMU_STATE/pki/ca.pem" ||
        verdict_fail "starting the Key Vault emulator"
MAA=https://127.0.0.1:$MAA_PORT
VAULT=https://localhost:$KV_PORT
echo "MAA $MAA, Key Vault $VAULT, IMDS http://127.0.0.1:$IMDS_PLAIN"
# An RSA key that the vault releases only to a compliant SEV-SNP CVM attested by this MAA.
policy=$(jq -cn --arg a "$MAA" '{version: "1.0.0", anyOf: [{authority: $a, allOf: [
        {claim: "x-ms-isolation-tee.x-ms-attestation-type", equals: "sevsnpvm"},
        {claim: "x-ms-isolation-tee.x-ms-compliance-status", equals: "azure-compliant-cvm"}]}]}')
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/kek.pem" 2>/dev/null ||
        verdict_fail "generating the vault key"
emu_control KV POST /import "$(jq -cn --rawfile k "$WORK/kek.pem" \
        --arg p "$(printf '%s' "$policy" | basenc --base64url -w0 | tr -d '=')" \
        '{name: "disk-kek", pem: $k, release_policy: {data: $p}}')" >/dev/null || verdict_fail "creating the vault key"
rm -f "$WORK/kek.pem"
echo "vault key $VAULT/keys/disk-kek (RSA-HSM; release policy: sevsnpvm, azure-compliant-cvm)"
cat >"$WORK/cvm-agent.conf" <<EOF
[TPM]
EventLog=$WORK/eventlog.bin
[Unlock]
Deadline=20s
[Network]
CAFile=$EMU_STATE/pki/ca.pem
[Azure]
IMDS=http://127.0.0.1:$IMDS_PLAIN
ReleaseRoots=$EMU_STATE/kv-jws-root.pem
VaultHosts=localhost:$KV_PORT
EOF

step "6. A LUKS2 volume with a recovery passphrase, enrolled for the vault key"
printf 'demo recovery passphrase' >"$WORK/recovery"
truncate -s 32M "$WORK/disk.img"
cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode "$WORK/disk.img" \
        "$WORK/recovery" || verdict_fail "luksFormat"
# Enrollment needs only the key's public part, as the vault's GET key returns it.
curl -sS --cacert "$EMU_STATE/pki/ca.pem" "$VAULT/keys/disk-kek?api-version=7.4" | jq .key >"$WORK/kek.jwk" ||
        verdict_fail "fetching the vault key's public part"
"$AGENT" enroll "$WORK/disk.img" --backend azure --maa-url "$MAA" --key-id "$VAULT/keys/disk-kek" \
        --wrapping-key "$WORK/kek.jwk" --unlock-key-file "$WORK/recovery" || verdict_fail "enrollment"
"$AGENT" list "$WORK/disk.img" || verdict_fail "list"

step "7. The attested unlock: vTPM evidence -> MAA token -> Key Vault release -> keyslot opens"
"$AGENT" --config "$WORK/cvm-agent.conf" unlock --test "$WORK/disk.img" || verdict_fail "the attested unlock"
"$AGENT" --config "$WORK/cvm-agent.conf" unlock --test --json "$WORK/disk.img" >"$WORK/unlock.json" ||
        verdict_fail "the attested unlock (JSON)"
jq -c '{result: .volumes[0].result, uuid: .volumes[0].uuid, backend: .volumes[0].backend, attestations, measured}' \
        "$WORK/unlock.json"
echo "(--test verifies the keyslot without device-mapper; a real unlock activates the volume and"
echo " measures it into PCR 15, after which no further automatic release happens in that boot)"
cryptsetup open --test-passphrase --key-file "$WORK/recovery" "$WORK/disk.img" ||
        verdict_fail "the recovery passphrase no longer opens the volume"
echo "the recovery passphrase still opens the volume"

step "8. The integrity daemon's view: one check (quote with a fresh nonce, log replay), then status"
CVM_AGENT_LOG=stderr "$AGENT" monitor --once --state-dir "$WORK/state" --eventlog "$WORK/eventlog.bin" ||
        verdict_fail "the integrity check"
"$AGENT" status --state-dir "$WORK/state" || verdict_fail "status"

step "9. A tampered boot gets no key: the measured-boot log no longer matches the quoted PCRs"
head -c 600 "$WORK/eventlog.bin" >"$WORK/tampered.bin"
sed "s|^EventLog=.*|EventLog=$WORK/tampered.bin|" "$WORK/cvm-agent.conf" >"$WORK/tampered.conf"
set +e
"$AGENT" --config "$WORK/tampered.conf" unlock --test "$WORK/disk.img"
rc=$?
set -e
[ $rc -eq 7 ] || verdict_fail "the tampered boot was not refused by the verifier (exit $rc, expected 7)"
echo "(refused by the verifier: exit code 7, no key released)"
emu_stop_all

step "10. Tampering is caught locally too: a vTPM whose PCRs do not match the measured-boot log"
swtpm_stop
swtpm_start "$WORK/tpm-bad" || verdict_fail "starting the second swtpm"
export CVM_AGENT_TCTI="$SWTPM_TCTI"
"$VTPM" provision --dir "$WORK/vtpm-bad" --pki "$PKI" --eventlog "$WORK/eventlog.bin" --variant pcr-mismatch \
        >/dev/null || verdict_fail "provisioning the tampered vTPM"
set +e
"$AGENT" evidence --nonce "$NONCE" --eventlog "$WORK/eventlog.bin" \
        --vcek "$PKI/vcek.pem" --chain "$PKI/chain.pem" --test-ark "$PKI/ark.pem"
rc=$?
set -e
[ $rc -eq 4 ] || verdict_fail "the tampered boot was not refused (exit $rc, expected 4)"
echo "(refused with exit code 4, as documented)"


echo
echo "demo: OK — a LUKS2 volume opened by attested key release on a simulated Azure CVM (MAA + Key Vault), and tampered boots got no key."
