# Scenario "eventlog" (sourced by run): the firmware's TCG2 event log and the kernel's IMA log,
# replayed by cvm-agent, must reproduce the PCRs the vTPM holds.
#
# Checks (host asserts on the markers): every PCR the replay computes equals the TPM's value in
# sysfs, in every bank; every PCR the TPM shows as extended (not all-zero / all-one), except the
# IMA PCR 10, is one the log accounts for; no event's digest disagrees with its data; IMA's PCR 10
# equals the replay of the binary and of the ASCII runtime log, which agree with each other.
# sysfs prints PCRs in uppercase hex: jq's ascii_upcase brings cvm-agent's lowercase to match.

TPM_SYSFS=/sys/class/tpm/tpm0
BIOS_LOG=/sys/kernel/security/tpm0/binary_bios_measurements
IMA_DIR=/sys/kernel/security/ima
ALL_PCRS="0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23"

mount_securityfs

# sysfs_pcr BANK INDEX: sets $pcr to the TPM's current value (empty if absent); builtins only.
sysfs_pcr() {
        pcr=
        [ -r "$TPM_SYSFS/pcr-$1/$2" ] && read -r pcr <"$TPM_SYSFS/pcr-$1/$2"
}

# untouched VALUE: all zeros or all ones (a PCR nobody extended since reset), or empty.
untouched() {
        case $1 in
        *[!0]*) ;;
        *) return 0 ;;
        esac
        case $1 in
        *[!F]*) return 1 ;;
        esac
        return 0
}

banks=
for d in "$TPM_SYSFS"/pcr-*; do
        [ -d "$d" ] && banks="$banks ${d##*/pcr-}"
done
info "tpm_banks=$banks"
[ -n "$banks" ] && pass tpm-sysfs || fail tpm-sysfs "no $TPM_SYSFS/pcr-* (TPM driver or tpm-crb missing)"

if [ -r "$BIOS_LOG" ]; then
        pass eventlog-present
        cp "$BIOS_LOG" /tmp/bios.bin
else
        fail eventlog-present "$BIOS_LOG missing"
fi

start=$(uptime_s)
if cvm-agent eventlog --json "$BIOS_LOG" >/tmp/ev.json 2>/tmp/ev.err; then
        pass eventlog-parse
else
        fail eventlog-parse "rc=$? $(head -n1 /tmp/ev.err)"
fi
info "eventlog_started=$start eventlog_done=$(uptime_s)"

if [ -s /tmp/ev.json ]; then
        jq -r '"INFO eventlog_format=\(.format) events=\(.event_count) banks=\(.banks | join(",")) warnings=\(.warnings | length)",
                "MISMATCHES \(.digest_mismatches | length)",
                (.warnings[]? | "INFO warning=\(.)"),
                (.pcrs | to_entries[] | .key as $b | .value | to_entries[] | "PCR \($b) \(.key) \(.value | ascii_upcase)")' \
                /tmp/ev.json >/tmp/ev.lines
        replayed=" "
        nreplayed=0
        while read -r tag a b c; do
                case $tag in
                INFO) info "$a $b $c" ;;
                MISMATCHES) [ "$a" = 0 ] && pass eventlog-digests ||
                        fail eventlog-digests "$a events whose digest does not match their data" ;;
                PCR)
                        # Every replayed PCR against the TPM.
                        sysfs_pcr "$a" "$b"
                        check_eq "pcr $a $b" "$pcr" "$c"
                        replayed="$replayed$a:$b "
                        nreplayed=$((nreplayed + 1))
                        ;;
                esac
        done </tmp/ev.lines
        info "replayed_pcrs=$nreplayed"

        # Every PCR the TPM shows as extended is accounted for by the log (PCR 10 belongs to IMA).
        for bank in $banks; do
                missing=
                n=0
                for idx in $ALL_PCRS; do
                        [ "$idx" = 10 ] && continue
                        sysfs_pcr "$bank" "$idx"
                        untouched "$pcr" && continue
                        n=$((n + 1))
                        case $replayed in
                        *" $bank:$idx "*) ;;
                        *) missing="$missing $idx" ;;
                        esac
                done
                if [ -z "$missing" ]; then
                        pass "pcrs-covered $bank n=$n"
                else
                        fail "pcrs-covered $bank extended in the TPM but not in the log:$missing"
                fi
        done
        info "pcrs_checked=$(uptime_s)"
fi

# IMA: PCR 10 from the runtime log (binary and ASCII) against the TPM.
if [ -r "$IMA_DIR/binary_runtime_measurements" ]; then
        agent=cvm-agent
        # An ext4 disk (from the host, cvm.datadisk=vda) gives IMA real measurements: executing
        # the agent from it and reading a file as root are measured under ima_policy=tcb (ramfs
        # and tmpfs never are). udev may still be creating the node: wait for it (bounded).
        disk=$(cmdline_arg cvm.datadisk)
        if [ -n "$disk" ]; then
                for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
                        [ -b "/dev/$disk" ] && break
                        sleep 0.5
                done
                [ -b "/dev/$disk" ] || fail ima-disk "no /dev/$disk after 10 s"
        fi
        if [ -n "$disk" ] && [ -b "/dev/$disk" ]; then
                mkdir -p /mnt/data
                if mount -t ext4 -o ro "/dev/$disk" /mnt/data; then
                        [ -x /mnt/data/cvm-agent ] && agent=/mnt/data/cvm-agent
                        for f in /mnt/data/measured/*; do
                                [ -f "$f" ] && cat "$f" >/dev/null
                        done
                else
                        fail ima-disk "cannot mount /dev/$disk"
                fi
        fi
        # Nothing measured runs between the log and the PCR reads, except the agent's own exec,
        # which happens before it reads; retry once in case something else raced.
        for attempt in 1 2; do
                "$agent" ima --json "$IMA_DIR/binary_runtime_measurements" >/tmp/ima.json 2>/tmp/ima.err
                rc=$?
                "$agent" ima --json "$IMA_DIR/ascii_runtime_measurements" >/tmp/ima-ascii.json 2>>/tmp/ima.err
                rc2=$?
                jq -r -s '.[0] as $b | .[1] as $a |
                        "ENTRIES \($b.entries) \($b.invalid_template_hashes)",
                        "AGREE \([$b.entries, $b.pcrs] == [$a.entries, $a.pcrs])",
                        ($b.pcrs | to_entries[] | "PCR10 \(.key) \(.value."10" // "" | ascii_upcase)")' \
                        /tmp/ima.json /tmp/ima-ascii.json >/tmp/ima.lines 2>/dev/null
                ok=1
                while read -r tag a b; do
                        [ "$tag" = PCR10 ] || continue
                        sysfs_pcr "$a" 10
                        [ "$pcr" = "$b" ] || ok=0
                done </tmp/ima.lines
                [ $ok = 1 ] && break
        done
        if [ $rc = 0 ] && [ $rc2 = 0 ]; then
                pass ima-parse
        else
                fail ima-parse "rc=$rc/$rc2 $(head -n1 /tmp/ima.err)"
        fi
        seen=" "
        while read -r tag a b; do
                case $tag in
                ENTRIES)
                        info "ima_entries=$a ima_agent=$agent"
                        [ "$a" != 0 ] && [ "$b" = 0 ] && pass ima-template-hashes ||
                                fail ima-template-hashes "entries=$a invalid=$b"
                        ;;
                AGREE) [ "$a" = true ] && [ $rc = 0 ] && [ $rc2 = 0 ] && pass ima-ascii-binary-agree ||
                        fail ima-ascii-binary-agree "binary and ASCII logs replay differently" ;;
                PCR10)
                        sysfs_pcr "$a" 10
                        check_eq "ima-pcr10 $a" "$pcr" "$b"
                        seen="$seen$a "
                        ;;
                esac
        done </tmp/ima.lines
        for bank in $banks; do
                case $seen in
                *" $bank "*) ;;
                *) fail "ima-pcr10 $bank" "no replayed value for this bank" ;;
                esac
        done
        info "ima_checked=$(uptime_s)"
        cp "$IMA_DIR/ascii_runtime_measurements" /tmp/ima.txt
        umount /mnt/data 2>/dev/null
else
        info "ima=absent"
fi

# Bulky results for the host, on ttyS1 (after the checks, so their timing is not skewed).
[ -s /tmp/bios.bin ] && to_host eventlog.bin /tmp/bios.bin
[ -s /tmp/ev.json ] && text_to_host eventlog.json /tmp/ev.json
[ -s /tmp/ima.txt ] && text_to_host ima.txt /tmp/ima.txt
info "results_sent=$(uptime_s)"
