#!/bin/sh
# cvm-agent policy: generate/check/add-boot-entry command line, JSON contract, exit codes
# (0 match, 9 mismatch, 2 usage, 3 evidence, 5 I/O, 11 invalid policy) and one-line errors.
set -u
. "$(dirname "$0")/lib.sh"

A=$CVM_AGENT

# ---- usage ------------------------------------------------------------------------------------------------
expect_rc 0 "$A" policy --help
grep -q 'add-boot-entry' "$OUT" || fail "--help does not document add-boot-entry"
expect_rc 0 "$A" policy check --help
expect_rc 2 "$A" policy
expect_rc 2 "$A" policy frobnicate
grep -q "unknown verb 'frobnicate'" "$ERR" || fail "unknown verb not named: $(cat "$ERR")"
expect_rc 2 "$A" policy check
grep -q 'check needs --policy FILE' "$ERR" || fail "missing --policy not explained: $(cat "$ERR")"
CVM_AGENT_TCTI=swtpm:host=127.0.0.1,port=1
export CVM_AGENT_TCTI
expect_rc 6 "$A" policy generate --eventlog /dev/null
grep -q 'cannot read the HCL report from the vTPM (NV 0x01400001).*pass --report FILE or --no-report' "$ERR" ||
        fail "unreachable vTPM not explained: $(cat "$ERR")"
expect_rc 2 "$A" policy generate --kernel x --no-report
grep -q -- "--kernel does not apply to 'generate'" "$ERR" || fail "misplaced option not named: $(cat "$ERR")"
expect_rc 2 "$A" policy generate --pcrs 0-30 --no-report
expect_rc 2 "$A" policy check --policy x --mode maybe
expect_rc 2 "$A" policy add-boot-entry --policy x

# ---- invalid policies: exit 11, one line naming the JSON path ------------------------------------------------
printf '{"version": 1, "pcrs": {"sha256": {"7": {"events": [{"type": "EV_SEPARATOR", "digest": "00"}]}}}}' \
        >"$TMP/bad.json"
expect_rc 11 "$A" policy check --policy "$TMP/bad.json" --eventlog /dev/null
one_line_error
grep -q 'bad.json: \$.pcrs.sha256\["7"\].events\[0\].digest: not a hex string of 64 digits' "$ERR" ||
        fail "JSON path not named: $(cat "$ERR")"
printf '{"version": 1, "snp": {"vmpl": 0},' >"$TMP/trunc.json"
expect_rc 11 "$A" policy check --policy "$TMP/trunc.json" --report /dev/null
one_line_error
printf '{"version": 1, "snp": {"vmpl": 0, "measurment": []}}' >"$TMP/typo.json"
expect_rc 11 "$A" policy check --policy "$TMP/typo.json" --report /dev/null
grep -q '\$.snp.measurment: unknown member' "$ERR" || fail "typo not named: $(cat "$ERR")"
expect_rc 5 "$A" policy check --policy "$TMP/nonexistent.json"
one_line_error

if have_vectors; then
        V=$CVM_VECTORS
        LOG=$V/go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin
        HCL=$V/trustee/az-snp-vtpm/hcl-report.bin

        # ---- generate, then check the same evidence: match -------------------------------------------------
        expect_rc 0 "$A" policy generate --eventlog "$LOG" --report "$HCL" -o "$TMP/p.json"
        [ ! -s "$OUT" ] || fail "generate -o wrote to stdout"
        jq -e '.version == 1 and .pcrs.sha256["4"].events[3].class == "boot_application"' "$TMP/p.json" >/dev/null ||
                fail "generated policy lacks the grub rule"
        jq -e '.pcrs.sha256["4"].events[3].label == "event 30: \\EFI\\ubuntu\\grubx64.efi"' "$TMP/p.json" >/dev/null ||
                fail "rule label does not name the event: $(jq '.pcrs.sha256["4"].events[3].label' "$TMP/p.json")"
        jq -e '.snp.vmpl == 0 and .snp.allow_debug == false and (.snp.measurements | length) == 1' "$TMP/p.json" \
                >/dev/null || fail "generated SNP part wrong"
        expect_rc 0 "$A" policy check --policy "$TMP/p.json" --eventlog "$LOG" --report "$HCL" --json
        json_eq '.result' 'match'
        json_eq '.mismatches | length' '0'
        json_eq '.mode' 'enforce'
        json_eq '.checked.eventlog.banks.sha256 | length' '11'
        json_eq '.checked.snp' 'true'
        expect_rc 0 "$A" policy check --policy "$TMP/p.json" --eventlog "$LOG" --report "$HCL"
        grep -q '^result:   match' "$OUT" || fail "text output lacks the verdict"

        # ---- one changed boot component: exit 9 with a precise explanation -----------------------------------
        cp "$LOG" "$TMP/changed.bin"
        chmod u+w "$TMP/changed.bin"
        # grubx64.efi (event 30): its sha256 digest follows pcr, type, count and the sha1 digest
        # (4 + 4 + 4 + 2 + 20 + 2 bytes); flip the low bit of its first byte (0x5e -> 0x5f).
        ev=$("$A" eventlog --json "$LOG" | jq '.events[30].offset')
        off=$((ev + 36))
        [ "$(od -An -tx1 -j "$off" -N1 "$TMP/changed.bin" | tr -d ' ')" = 5e ] || fail "event 30 digest not at $off"
        printf '\137' | dd of="$TMP/changed.bin" bs=1 seek="$off" conv=notrunc 2>/dev/null
        expect_rc 9 "$A" policy check --policy "$TMP/p.json" --eventlog "$TMP/changed.bin" --report "$HCL" --json
        json_eq '.result' 'mismatch'
        json_eq '.mismatches | length' '1'
        json_eq '.mismatches[0].area' 'eventlog'
        json_eq '.mismatches[0].constraint' '$.pcrs.sha256["4"].events[3]'
        json_eq '.mismatches[0].pcr' '4'
        json_eq '.mismatches[0].event.number' '30'
        json_eq '.mismatches[0].event.type' 'EV_EFI_BOOT_SERVICES_APPLICATION'
        json_eq '.mismatches[0].event.description' '\EFI\ubuntu\grubx64.efi'
        json_eq '.mismatches[0].seen' '5f8cb75acdf8e09e5fc14cc2d6ce0c2288af208976d97309851c661e91ec1e03'
        json_eq '.mismatches[0].allowed[0]' '5e8cb75acdf8e09e5fc14cc2d6ce0c2288af208976d97309851c661e91ec1e03'
        expect_rc 0 "$A" policy check --policy "$TMP/p.json" --eventlog "$TMP/changed.bin" --report "$HCL" --mode warn
        grep -q 'MISMATCH (1), tolerated' "$OUT" || fail "warn mode does not say it tolerated: $(cat "$OUT")"

        # ---- SNP field of another machine ----------------------------------------------------------------------
        expect_rc 9 "$A" policy check --policy "$TMP/p.json" --eventlog "$LOG" --report "$V/go-sev-guest/attestation.bin" --json
        json_eq '[.mismatches[] | select(.constraint == "$.snp.allow_debug")] | length' '1'
        json_eq '[.mismatches[] | select(.constraint == "$.snp.measurements")][0].actual' \
                'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01'

        # ---- malformed evidence: exit 3, one line ------------------------------------------------------------
        expect_rc 3 "$A" policy check --policy "$TMP/p.json" --eventlog "$V/keylime/mb/binary_bios_measurements-bogus" --report "$HCL"
        one_line_error
        expect_rc 3 "$A" policy check --policy "$TMP/p.json" --eventlog "$LOG" --report "$V/azure-cvm-tooling/hcl-report-tdx.bin"
        one_line_error
        expect_rc 6 "$A" policy check --policy "$TMP/p.json" --eventlog "$LOG"
        one_line_error
        grep -q 'pass --report FILE$' "$ERR" || fail "unreachable vTPM not explained: $(cat "$ERR")"

        # ---- add-boot-entry: new kernel digests, old boot still passes -----------------------------------------
        if ls /boot/vmlinuz-* >/dev/null 2>&1 && [ -r "$(ls /boot/vmlinuz-* | head -1)" ]; then
                K=$(ls /boot/vmlinuz-* | head -1)
                expect_rc 0 "$A" policy add-boot-entry --policy "$TMP/p.json" --kernel "$K" \
                        --kernel-path /vmlinuz-6.8.0-2000-gcp \
                        --cmdline 'root=PARTUUID=8270f3c9-b4e4-4345-80ee-5a62db7ebf3f ro console=ttyS0,115200 panic=-1' \
                        -o "$TMP/p2.json"
                grep -q 'added to \$.pcrs.sha256\["9"\].events\[10\]: sha256 of the file' "$ERR" ||
                        fail "PCR 9 kernel digest not reported: $(cat "$ERR")"
                sum=$(sha256sum "$K" | cut -d' ' -f1)
                jq -e --arg s "$sum" '.pcrs.sha256["9"].events[10].digests | index($s) != null' "$TMP/p2.json" >/dev/null ||
                        fail "kernel file digest not added"
                cmd='linux /vmlinuz-6.8.0-2000-gcp root=PARTUUID=8270f3c9-b4e4-4345-80ee-5a62db7ebf3f ro console=ttyS0,115200 panic=-1'
                csum=$(printf '%s' "$cmd" | sha256sum | cut -d' ' -f1)
                jq -e --arg s "$csum" '[.pcrs.sha256["8"].events[] | select(.class == "grub_kernel_command") | .digests | index($s)] | any(. != null)' \
                        "$TMP/p2.json" >/dev/null || fail "grub linux command digest not added"
                expect_rc 0 "$A" policy check --policy "$TMP/p2.json" --eventlog "$LOG" --report "$HCL"
                expect_rc 3 "$A" policy add-boot-entry --policy "$TMP/p.json" --kernel "$LOG"
                one_line_error
        else
                echo "SKIP: no readable /boot/vmlinuz-*; add-boot-entry checks skipped"
        fi

        # ---- IMA --------------------------------------------------------------------------------------------
        expect_rc 0 "$A" policy generate --no-eventlog --no-report --ima "$V/embrave-ima/ascii_runtime_measurements" -o "$TMP/ima.json"
        expect_rc 0 "$A" policy check --policy "$TMP/ima.json" --ima "$V/embrave-ima/binary_runtime_measurements" --json
        json_eq '.checked.ima.allowed' '922'
        expect_rc 9 "$A" policy check --policy "$TMP/ima.json" --ima "$V/keylime/ima/test_ima_verification.MEASUREMENTS.ascii" --json
        json_eq '.mismatches[0].verdict' 'unknown'
        json_eq '.mismatches[0].area' 'ima'
fi

finish
