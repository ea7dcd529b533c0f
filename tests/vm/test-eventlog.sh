#!/bin/bash
# VM scenario: boot the Debian kernel under QEMU (TCG, q35) + OVMF + swtpm, so real firmware
# writes a real UEFI TCG2 event log and extends the vTPM; in the guest, cvm-agent replays the
# event log and the IMA log and compares every PCR with the TPM (guest/scenario-eventlog.sh).
# The host checks the markers, then replays the guest's log itself and checks IMA's
# boot_aggregate against the replayed PCRs 0-9.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/images.sh"

: "${CVM_AGENT:?CVM_AGENT must point to the cvm-agent binary}"
vm_init
command -v jq >/dev/null || vm_skip "jq not installed"
for cmd in eventlog ima; do
        "$CVM_AGENT" "$cmd" --help >/dev/null 2>&1 || vm_skip "this cvm-agent has no working '$cmd' command yet"
done
FAILURES=0
CHECKS=0

check() {
        CHECKS=$((CHECKS + 1))
        if [ "$1" = ok ]; then
                echo "ok: $2"
        else
                echo "FAIL: $2"
                FAILURES=$((FAILURES + 1))
        fi
}

# One boot per initramfs generator in VM_FLAVOURS (the scenario is the same in both; the later
# unlock scenarios need both). Default: dracut only, to keep CI short; initramfs-tools images
# boot in test-harness.sh and test-rootfs.sh. VM_FLAVOURS="initramfs-tools dracut" runs both.
run_flavour() {
        local flavour=$1 name d console out rc n agg calc begin
        case $flavour in
        initramfs-tools) vm_initrd_tools; name=ev_tools ;;
        dracut) vm_initrd_dracut; name=ev_dracut ;;
        *) vm_die "VM_FLAVOURS: unknown flavour '$flavour' (initramfs-tools, dracut)" ;;
        esac
        echo "--- $flavour: kernel $VM_KERNEL, initramfs $VM_INITRD"
        d=$VM_TMP/$name.d
        mkdir -p "$d"

        # The data disk: a copy of the agent (run from there, so IMA measures it), a file to read.
        mkdir -p "$d/data/measured"
        cp "$CVM_AGENT" "$d/data/cvm-agent"
        echo "cvm-agent vm test $(date +%s)" >"$d/data/measured/hello.txt"
        vm_data_disk "$d/data.img" "$d/data"

        vm_swtpm_setup "$d/tpm" sha1,sha256
        vm_qemu_start "$name" --tpm "$d/tpm" --kernel "$VM_KERNEL" --initrd "$VM_INITRD" \
                --disk "$d/data.img" \
                --append "console=ttyS0 panic=-1 loglevel=4 ima_policy=tcb cvm.vmtest.initrd=eventlog cvm.datadisk=vda"
        vm_wait_end "$name" 150
        vm_qemu_wait "$name"
        rc=$?
        console=$(vm_console "$name")
        out=$(vm_guest_out "$name")
        [ "$rc" -eq 0 ] && check ok "$flavour: QEMU exited normally (${VM_BOOT_SECONDS}s)" ||
                check no "$flavour: QEMU exit status $rc after ${VM_BOOT_SECONDS}s"
        grep '^CVMTEST' "$console" | grep -v '^CVMTEST PASS pcr '

        # marker RE: a PASS line matching RE exists.
        marker() {
                grep -Eq "^CVMTEST PASS $1" "$console" && check ok "$flavour guest: $1" ||
                        check no "$flavour guest: no PASS for '$1'"
        }
        n=$(grep -c '^CVMTEST FAIL' "$console")
        [ "$n" -eq 0 ] && check ok "$flavour: no FAIL markers" || check no "$flavour: $n FAIL markers"
        grep -Eq '^CVMTEST END eventlog pass=[0-9]+ fail=0 ' "$console" && check ok "$flavour: END marker, fail=0" ||
                { check no "$flavour: END marker with fail=0 missing; console tail:"; tail -n 30 "$console"; }
        marker tpm-sysfs
        marker eventlog-parse
        marker eventlog-digests
        # The firmware measures PCRs 0-7 at least (separators); both banks the vTPM was given.
        for bank in sha1 sha256; do
                for idx in 0 1 2 3 4 5 6 7; do
                        marker "pcr $bank $idx\$"
                done
                marker "pcrs-covered $bank "
                marker "ima-pcr10 $bank\$"
        done
        marker ima-parse
        marker ima-template-hashes
        marker ima-ascii-binary-agree
        n=$(sed -n 's/^CVMTEST INFO ima_entries=\([0-9]*\).*/\1/p' "$console")
        # boot_aggregate + the agent's exec from the ext4 disk + the file read from it.
        [ "${n:-0}" -ge 3 ] && check ok "$flavour: IMA log has $n entries" ||
                check no "$flavour: IMA log has ${n:-no} entries, expected >= 3"

        # The bulky results from ttyS1.
        extract() {
                sed -n "/^=== BEGIN $1\$/,/^=== END $1\$/p" "$out" | sed '1d;$d'
        }
        extract eventlog.bin | xxd -r -p >"$d/eventlog.bin"
        extract eventlog.json >"$d/guest-eventlog.json"
        extract ima.txt >"$d/ima.txt"

        # The host replays the guest's log: the PCRs the guest computed and compared with its TPM.
        if [ -s "$d/eventlog.bin" ] && "$CVM_AGENT" eventlog --json "$d/eventlog.bin" >"$d/host-eventlog.json"; then
                if [ "$(jq -cS .pcrs "$d/host-eventlog.json")" = "$(jq -cS .pcrs "$d/guest-eventlog.json")" ]; then
                        check ok "$flavour: host replay of the guest's log = guest replay"
                else
                        check no "$flavour: host replay differs from the guest's"
                fi
                jq -r '"event log: \(.format), \(.event_count) events, banks \(.banks | join(","))"' "$d/host-eventlog.json"
                jq -r '.events[] | "  \(.number) PCR\(.pcr) \(.type) \(.description // "" | .[0:80])"' "$d/host-eventlog.json"
        else
                check no "$flavour: event log not received from the guest or not parsed on the host"
        fi

        # The comparison can fail: one flipped bit in the SHA-1 digest of event 1 (record at
        # .events[1].offset: PCR, type, digest count, algorithm id, then the digest) must change
        # the replayed PCR 0, so it no longer matches what the guest's TPM held.
        local off
        off=$(jq -r '.events[1].offset // empty' "$d/host-eventlog.json" 2>/dev/null)
        if [ -n "$off" ]; then
                cp "$d/eventlog.bin" "$d/tampered.bin"
                b=$(od -An -tu1 -j $((off + 14)) -N1 "$d/tampered.bin" | tr -d ' ')
                printf "$(printf '\\%03o' $((b ^ 1)))" |
                        dd of="$d/tampered.bin" bs=1 seek=$((off + 14)) conv=notrunc status=none
                "$CVM_AGENT" eventlog --json "$d/tampered.bin" >"$d/tampered.json" 2>/dev/null
                a=$(jq -r '.pcrs.sha1."0" // empty' "$d/tampered.json")
                b=$(jq -r '.pcrs.sha1."0" // empty' "$d/guest-eventlog.json")
                [ -n "$a" ] && [ -n "$b" ] && [ "$a" != "$b" ] &&
                        check ok "$flavour: a flipped digest bit changes the replayed PCR 0 (the check can fail)" ||
                        check no "$flavour: a flipped digest bit did not change the replayed PCR 0 ('$a' vs '$b')"
        fi

        # IMA's boot_aggregate (sha256 bank: SHA-256 over PCRs 0-9) must equal the hash of the PCRs
        # the event log replays; PCRs the log does not extend are zero.
        agg=$(awk '$5 == "boot_aggregate" { sub(/^sha256:/, "", $4); print $4; exit }' "$d/ima.txt")
        calc=$(for i in 0 1 2 3 4 5 6 7 8 9; do
                jq -r --arg i "$i" '.pcrs.sha256[$i] // "0000000000000000000000000000000000000000000000000000000000000000"' \
                        "$d/host-eventlog.json" 2>/dev/null
        done | tr -d '\n' | xxd -r -p | sha256sum | cut -d' ' -f1)
        if [ -n "$agg" ] && [ "$agg" = "$calc" ]; then
                check ok "$flavour: IMA boot_aggregate = SHA-256(replayed PCRs 0-9)"
        else
                check no "$flavour: IMA boot_aggregate '${agg:-missing}' != SHA-256(replayed PCRs 0-9) '$calc'"
        fi

        begin=$(sed -n 's/^CVMTEST BEGIN eventlog uptime=\([0-9.]*\).*/\1/p' "$console")
        echo "timing ($flavour): initramfs build ${VM_INITRD_SECONDS}s (0 = cached), boot to power-off ${VM_BOOT_SECONDS}s wall, guest uptime at first marker ${begin:-?}s"
}

vm_kernel
for flavour in ${VM_FLAVOURS:-dracut}; do
        run_flavour "$flavour"
done

vm_check_no_strays && check ok "no stray qemu/swtpm processes" || check no "stray processes left"

if [ "$FAILURES" -ne 0 ]; then
        echo "$(basename "$0"): $FAILURES of $CHECKS checks failed"
        exit 1
fi
echo "$(basename "$0"): $CHECKS checks passed"
