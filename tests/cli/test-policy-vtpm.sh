#!/bin/sh
# cvm-agent policy on simulated Azure SEV-SNP boots (swtpm provisioned by tests/vtpm/cvm-vtpm
# with an event log whose events are extended into the PCRs): generate from one boot reading the
# HCL report from the vTPM, check it against the same boot (match) and against a boot with one
# changed boot component (mismatch naming the event).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vtpm/swtpm.sh"

swtpm_require
VTPM=${CVM_BUILDDIR:-build}/tests/vtpm/cvm-vtpm
PKI=${CVM_BUILDDIR:-build}/tests/vtpm-pki
trap 'swtpm_stop; rm -rf "$TMP"' EXIT

boot() { # boot NAME LOG: a fresh simulated vTPM whose PCRs are LOG's replay
        swtpm_stop
        SIM=$TMP/$1
        swtpm_start "$SIM/state" || { fail "cannot start swtpm"; return 1; }
        CVM_AGENT_TCTI=$SWTPM_TCTI
        export CVM_AGENT_TCTI
        "$VTPM" provision --dir "$SIM" --pki "$PKI" --eventlog "$2" >"$SIM/provision.json" 2>"$SIM/provision.err" ||
                fail "provisioning failed: $(cat "$SIM/provision.err")"
}

have_vectors || exit 77
# A real boot (GCE Ubuntu 24.04 SEV-SNP: shim, grub, kernel) replayed into the simulated vTPM.
LOG=$CVM_VECTORS/go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin
n=30 # \EFI\ubuntu\grubx64.efi in PCR 4
digest=5e8cb75acdf8e09e5fc14cc2d6ce0c2288af208976d97309851c661e91ec1e03
# Boot 2: a different grub binary. Its sha256 digest follows pcr, type, count, the sha1 digest.
ev=$("$CVM_AGENT" eventlog --json "$LOG" | jq ".events[$n].offset")
off=$((ev + 36))
cp "$LOG" "$TMP/boot2.bin"
chmod u+w "$TMP/boot2.bin"
[ "$(od -An -tx1 -j "$off" -N1 "$LOG" | tr -d ' ')" = 5e ] || fail "event $n digest not at $off"
printf '\137' | dd of="$TMP/boot2.bin" bs=1 seek="$off" conv=notrunc 2>/dev/null

# ---- boot 1: generate from this boot (HCL report read from the vTPM), check the same boot ----------
boot one "$LOG"
expect_rc 0 "$CVM_AGENT" policy generate --eventlog "$LOG" -o "$TMP/p.json"
jq -e '.generated.report == "vTPM NV 0x01400001" and .snp.vmpl == 0 and (.snp.measurements | length) == 1' \
        "$TMP/p.json" >/dev/null || fail "generated policy lacks the vTPM report: $(jq -c .generated "$TMP/p.json")"
expect_rc 0 "$CVM_AGENT" policy check --policy "$TMP/p.json" --eventlog "$LOG" --json
json_eq '.result' 'match'
json_eq '.report' 'vTPM NV 0x01400001'

# ---- boot 2: same VM, one changed boot application -----------------------------------------------
boot two "$TMP/boot2.bin"
expect_rc 9 "$CVM_AGENT" policy check --policy "$TMP/p.json" --eventlog "$TMP/boot2.bin" --json
json_eq '.result' 'mismatch'
json_eq '[.mismatches[] | select(.area == "eventlog")] | length' '1'
json_eq '[.mismatches[] | select(.area == "eventlog")][0].event.number' "$n"
json_eq '[.mismatches[] | select(.area == "eventlog")][0].event.type' 'EV_EFI_BOOT_SERVICES_APPLICATION'
json_eq '[.mismatches[] | select(.area == "eventlog")][0].allowed[0]' "$digest"

# ---- no vTPM: a TPM error that says what to pass instead --------------------------------------------
swtpm_stop
CVM_AGENT_TCTI=swtpm:host=127.0.0.1,port=1
export CVM_AGENT_TCTI
expect_rc 6 "$CVM_AGENT" policy generate --eventlog "$LOG"
one_line_error
grep -q 'pass --report FILE or --no-report' "$ERR" || fail "unreachable vTPM not explained: $(cat "$ERR")"
finish
