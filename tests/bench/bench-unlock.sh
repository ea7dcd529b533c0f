#!/bin/sh
# The attested unlock against the local-only baseline, on this host:
#   ours:   `cvm-agent unlock --test` — a simulated Azure SEV-SNP vTPM (swtpm + cvm-vtpm), emulated
#           IMDS / MAA / Key Vault over loopback TLS, the keyslot check of a LUKS2 image;
#   clevis: `clevis luks pass` with the tpm2 pin (PCR 7) on the same swtpm, piped into the same
#           keyslot check (`cryptsetup open --test-passphrase`).
# Both images use pbkdf2 with 1000 iterations, so the keyslot check costs the same on both sides.
# Runs alternate (N each); prints median and p90, the per-stage breakdown of ours (from the
# `elapsed_us` of `unlock --json`) and the floor: the irreducible TPM commands (cvm-tpm-bench) plus
# one TLS round trip to each emulated service (curl's time_total; no server-side appraisal).
#
#   CVM_AGENT=build/cvm-agent CVM_BUILDDIR=build sh tests/bench/bench-unlock.sh [N]
set -u
N=${1:-15}
: "${CVM_AGENT:=build/cvm-agent}"
B=${CVM_BUILDDIR:-$(dirname "$CVM_AGENT")}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../vtpm/swtpm.sh"
EMU_DIR=$HERE/../emulators
EMU_PYTHON=${CVM_PYTHON:-python3}
. "$HERE/../cli/emu.sh"

skip() {
        echo "bench-unlock: SKIP: $*"
        exit 0
}
for t in swtpm cryptsetup clevis clevis-encrypt-tpm2 tpm2_createprimary jose jq curl openssl xxd "$EMU_PYTHON"; do
        command -v "$t" >/dev/null 2>&1 || skip "$t is not installed (packaging/install-deps.sh)"
done
"$EMU_PYTHON" -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
for tool in "$B/tests/vtpm/cvm-vtpm" "$B/tests/vtpm/cvm-tpm-bench" "$CVM_AGENT"; do
        [ -x "$tool" ] || { echo "bench-unlock: $tool is not built (make check-build)" >&2; exit 1; }
done
PKI=$B/tests/vtpm-pki
A=$CVM_AGENT

TMP=$(mktemp -d)
trap 'emu_stop_all; swtpm_stop; rm -rf "$TMP"' EXIT
EMU_STATE=$TMP/emu
mkdir -p "$EMU_STATE"
printf 'BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet\n' >"$TMP/cmdline"
export CVM_AGENT_PROC_CMDLINE="$TMP/cmdline"

# ---- the simulated CVM and the emulated services (as tests/cli/test-unlock-e2e.sh) -------------
LOG=$TMP/eventlog.bin
"$B/tests/vtpm/cvm-vtpm" make-eventlog "$LOG" || exit 1
swtpm_start "$TMP/swtpm" || exit 1
export CVM_AGENT_TCTI="$SWTPM_TCTI"
export TPM2TOOLS_TCTI="$SWTPM_TCTI" # clevis-{en,de}crypt-tpm2 keep it when set
"$B/tests/vtpm/cvm-vtpm" provision --dir "$TMP/sim" --pki "$PKI" --eventlog "$LOG" >/dev/null || exit 1

"$EMU_PYTHON" "$EMU_DIR/testpki.py" "$EMU_STATE/pki" >/dev/null 2>&1 || { echo "bench-unlock: test PKI" >&2; exit 1; }
jq -n --rawfile v "$PKI/vcek.pem" --rawfile c "$PKI/chain.pem" \
        '{vcekCert: $v, certificateChain: $c, tcbm: "DB18000000000004"}' >"$TMP/thim.json"
emu_start IMDS imds.py --plain --thim "$TMP/thim.json" || exit 1
emu_start MAA maa.py --amd-roots "$PKI/chain.pem" || exit 1
emu_start KV keyvault.py --aad-cert "$EMU_STATE/imds-aad-signing.pem" --maa-ca "$EMU_STATE/pki/ca.pem" || exit 1
CA=$EMU_STATE/pki/ca.pem
MAA=https://127.0.0.1:$MAA_PORT
VAULT=https://localhost:$KV_PORT
policy=$(jq -cn --arg a "$MAA" '{version: "1.0.0", anyOf: [{authority: $a, allOf: [
        {claim: "x-ms-isolation-tee.x-ms-attestation-type", equals: "sevsnpvm"},
        {claim: "x-ms-isolation-tee.x-ms-compliance-status", equals: "azure-compliant-cvm"}]}]}')
policy_b64=$(printf '%s' "$policy" | basenc --base64url -w0 | tr -d '=')
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/rsa.pem" 2>/dev/null
emu_control KV POST /import "$(jq -cn --rawfile k "$TMP/rsa.pem" --arg p "$policy_b64" \
        '{name: "kek", pem: $k, release_policy: {data: $p}}')" >/dev/null
rm -f "$TMP/rsa.pem"
CONF=$TMP/cvm-agent.conf
cat >"$CONF" <<EOC
[TPM]
EventLog=$LOG
[Unlock]
Deadline=20
[Network]
CAFile=$CA
[Azure]
IMDS=http://127.0.0.1:$IMDS_PLAIN
ReleaseRoots=$EMU_STATE/kv-jws-root.pem
VaultHosts=localhost:$KV_PORT
EOC

# ---- the two images ---------------------------------------------------------------------------
printf 'recovery passphrase' >"$TMP/pass"
for i in ours clevis; do
        truncate -s 32M "$TMP/$i.img"
        cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode \
                "$TMP/$i.img" "$TMP/pass" || exit 1
done
curl -sS --cacert "$CA" "$VAULT/keys/kek?api-version=7.4" | jq .key >"$TMP/kek.jwk"
"$A" enroll "$TMP/ours.img" --backend azure --maa-url "$MAA" --key-id "$VAULT/keys/kek" \
        --wrapping-key "$TMP/kek.jwk" --unlock-key-file "$TMP/pass" >/dev/null || exit 1
"$A" --config "$CONF" unlock --test --json "$TMP/ours.img" >"$TMP/ours.json" ||
        { echo "bench-unlock: cvm-agent unlock failed: $(cat "$TMP/ours.json")" >&2; exit 1; }
OURS_SLOT=$(jq -r '.volumes[0].keyslot' "$TMP/ours.json")

clevis luks bind -y -k "$TMP/pass" -d "$TMP/clevis.img" tpm2 '{"pcr_ids":"7"}' >/dev/null 2>"$TMP/bind.err" ||
        { echo "bench-unlock: clevis luks bind: $(cat "$TMP/bind.err")" >&2; exit 1; }
SLOT=$(clevis luks list -d "$TMP/clevis.img" | sed -n 's/^\([0-9]*\): tpm2.*/\1/p' | head -1)
[ -n "$SLOT" ] || { echo "bench-unlock: no clevis tpm2 binding" >&2; exit 1; }
# clevis adds its keyslot with cryptsetup's default PBKDF (argon2id): make it pbkdf2/1000 as ours.
clevis luks pass -d "$TMP/clevis.img" -s "$SLOT" >"$TMP/clevis.key" || exit 1
cryptsetup luksConvertKey --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-slot "$SLOT" \
        --key-file "$TMP/clevis.key" "$TMP/clevis.img" || exit 1
rm -f "$TMP/clevis.key"

# ---- timed runs (alternating) -------------------------------------------------------------------
now_us() { date +%s%N | cut -c1-16; }
run_ours() {
        "$A" --config "$CONF" unlock --test --json "$TMP/ours.img" >"$TMP/o.json" 2>"$TMP/o.err"
}
run_clevis() {
        clevis luks pass -d "$TMP/clevis.img" -s "$SLOT" 2>"$TMP/c.err" |
                cryptsetup open --test-passphrase --key-slot "$SLOT" --key-file - "$TMP/clevis.img"
}
run_pass_only() { # clevis luks pass alone: it already runs one keyslot check of its own
        clevis luks pass -d "$TMP/clevis.img" -s "$SLOT" >/dev/null 2>"$TMP/c.err"
}
: >"$TMP/t.ours"
: >"$TMP/t.clevis"
: >"$TMP/t.pass"
: >"$TMP/stages"
i=0
while [ $i -lt "$N" ]; do
        for w in ours clevis pass; do
                s=$(now_us)
                case $w in
                ours) run_ours ;;
                clevis) run_clevis ;;
                pass) run_pass_only ;;
                esac
                rc=$?
                e=$(now_us)
                [ $rc -eq 0 ] || { echo "bench-unlock: $w run $i exited $rc: $(cat "$TMP/o.err" "$TMP/c.err")" >&2; exit 1; }
                echo $((e - s)) >>"$TMP/t.$w"
        done
        jq -r --arg t "$(tail -1 "$TMP/t.ours")" \
                '.volumes[0].elapsed_us | "\(.header) \(.secret) \(.keyslot) \($t)"' "$TMP/o.json" >>"$TMP/stages"
        i=$((i + 1))
done
# median and p90 (nearest rank) in ms of a file of µs values, one a line
stat_ms() { sort -n "$1" | awk '{ t[NR] = $1 } END { m = t[int((NR + 1) / 2)]; p = t[int(NR * 0.9 + 0.999)];
        printf "%.1f %.1f\n", m / 1000, p / 1000 }'; }
col_ms() { awk -v c="$1" '{ print $c }' "$TMP/stages" >"$TMP/col"; stat_ms "$TMP/col" | cut -d' ' -f1; }
set -- $(stat_ms "$TMP/t.ours"); O_MED=$1 O_P90=$2
set -- $(stat_ms "$TMP/t.clevis"); C_MED=$1 C_P90=$2
set -- $(stat_ms "$TMP/t.pass"); P_MED=$1 P_P90=$2
S_HDR=$(col_ms 1)
S_SEC=$(col_ms 2)
S_KS=$(col_ms 3)
awk '{ print $4 - $1 - $2 - $3 }' "$TMP/stages" >"$TMP/rest"
S_REST=$(stat_ms "$TMP/rest" | cut -d' ' -f1)

# ---- the floor ------------------------------------------------------------------------------------
"$B/tests/vtpm/cvm-tpm-bench" --tcti "$SWTPM_TCTI" 10 >"$TMP/tpm.txt" 2>&1 || { cat "$TMP/tpm.txt" >&2; exit 1; }
tpm_ms() { grep -F "$1" "$TMP/tpm.txt" | awk '{ print $(NF - 2) }'; }
T_OPEN=$(tpm_ms 'open+close')
T_QUOTE=$(tpm_ms 'Quote sha256')
T_HCL=$(tpm_ms 'NV_Read HCL report')
T_AKC=$(tpm_ms 'NV_Read AK certificate')
T_EPH=$(tpm_ms 'CreatePrimary ephemeral key')
T_CERT=$(tpm_ms 'Certify ephemeral key')
T_DEC=$(tpm_ms 'RSA_Decrypt')
rtt() { # median ms over 10 fresh connections (TCP + TLS + one request), curl's own clock
        j=0
        : >"$TMP/rtt"
        while [ $j -lt 10 ]; do
                curl -s -o /dev/null -w '%{time_total}\n' "$@" >>"$TMP/rtt"
                j=$((j + 1))
        done
        sort -n "$TMP/rtt" | awk '{ t[NR] = $1 } END { printf "%.2f\n", t[int((NR + 1) / 2)] * 1000 }'
}
R_IMDS=$(rtt -H 'Metadata: true' "http://127.0.0.1:$IMDS_PLAIN/metadata/nonexistent")
R_MAA=$(rtt --cacert "$CA" "$MAA/nonexistent")
R_KV=$(rtt --cacert "$CA" "$VAULT/nonexistent")
FLOOR=$(echo "$T_OPEN $T_QUOTE $T_HCL $T_AKC $T_EPH $T_CERT $T_DEC $R_IMDS $R_MAA $R_KV" |
        awk '{ s = 0; for (i = 1; i <= NF; i++) s += $i; printf "%.1f\n", s }')
RATIO=$(awk -v a="$O_MED" -v b="$C_MED" 'BEGIN { printf "%.2f", a / b }')
RATIO_P=$(awk -v a="$O_MED" -v b="$P_MED" 'BEGIN { printf "%.2f", a / b }')
RATIO_F=$(awk -v a="$O_MED" -v b="$FLOOR" 'BEGIN { printf "%.2f", a / b }')

echo "== attested unlock vs clevis tpm2 on swtpm ($N alternating runs each, ms)"
printf '%-64s %8s %8s\n' "" median p90
printf '%-64s %8s %8s\n' "cvm-agent unlock --test (vTPM + MAA + KV over TLS + keyslot)" "$O_MED" "$O_P90"
printf '%-64s %8s %8s\n' "clevis luks pass (tpm2, PCR 7) | cryptsetup --test-passphrase" "$C_MED" "$C_P90"
printf '%-64s %8s %8s\n' "clevis luks pass alone (includes its own keyslot check)" "$P_MED" "$P_P90"
echo "ratio ours/clevis (median): $RATIO   ours/(clevis luks pass alone): $RATIO_P   ours/floor: $RATIO_F"
echo
echo "== cvm-agent stages (median ms, from unlock --json elapsed_us)"
printf '  %-66s %8s\n' "header validation" "$S_HDR"
printf '  %-66s %8s\n' "attest + release + unwrap (IMDS, evidence, MAA, KV, TPM decrypt)" "$S_SEC"
printf '  %-66s %8s\n' "keyslot check (pbkdf2 1000)" "$S_KS"
printf '  %-66s %8s\n' "rest: process start, config, TPM open, exit" "$S_REST"
echo
echo "== floor (median ms): irreducible TPM commands on swtpm + one TLS round trip per service"
for kv in "TPM open+close:$T_OPEN" "Quote (AK, PCRs 0-7):$T_QUOTE" "NV_Read HCL report:$T_HCL" \
        "NV_Read AK certificate:$T_AKC" "CreatePrimary ephemeral key:$T_EPH" "Certify ephemeral key:$T_CERT" \
        "PolicyPCR + RSA_Decrypt:$T_DEC" "IMDS round trip (HTTP):$R_IMDS" "MAA round trip (TLS):$R_MAA" \
        "Key Vault round trip (TLS):$R_KV"; do
        printf '  %-66s %8s\n' "${kv%%:*}" "${kv##*:}"
done
printf '  %-66s %8s\n' "sum (floor)" "$FLOOR"
echo
echo "== README (paste)"
echo "| path (host, swtpm, loopback emulators) | median ms | p90 ms |"
echo "|---|---:|---:|"
echo "| cvm-agent unlock --test: vTPM evidence + MAA + Key Vault over TLS + keyslot check | $O_MED | $O_P90 |"
echo "| clevis luks pass (tpm2 pin, PCR 7) + same keyslot check | $C_MED | $C_P90 |"
echo "| floor: TPM commands + one round trip per service | $FLOOR | |"
echo
echo "Ours/clevis median: $RATIO (stages: header $S_HDR, attest+release+unwrap $S_SEC, keyslot $S_KS," \
        "process/TPM setup $S_REST ms)."
