#!/bin/bash
# VM scenario: the Debian root filesystem on LUKS2 (tests/vm/rootfs.sh, debootstrap, cached)
# boots under OVMF + swtpm with the Debian initramfs (real mkinitramfs, cryptsetup-initramfs's
# cryptroot): cryptroot asks for the passphrase on the serial console, the host types it, systemd
# boots the root to the end and the payload's "boot" scenario reports (guest/scenario-boot.sh).
# This is the recovery-passphrase path of the later unlock scenarios, and the builder's test.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/images.sh"
. "$(dirname "$0")/rootfs.sh"

: "${CVM_AGENT:?CVM_AGENT must point to the cvm-agent binary}"
vm_init
[ -x /usr/share/initramfs-tools/scripts/local-top/cryptroot ] ||
        vm_skip "cryptsetup-initramfs not installed (no cryptroot in the initramfs)"
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

vm_kernel
vm_initrd_tools
vm_rootfs
cp --sparse=always "$VM_ROOTFS_LUKS" "$VM_TMP/root.img"
vm_payload_disk "$VM_TMP/payload.img"

# A wrong passphrase first: cryptroot must ask again (it allows several tries).
vm_swtpm_setup "$VM_TMP/tpm" sha256
vm_qemu_start r --tpm "$VM_TMP/tpm" --kernel "$VM_KERNEL" --initrd "$VM_INITRD" --timeout 300 \
        --disk "$VM_TMP/root.img" --disk "$VM_TMP/payload.img" \
        --append "console=ttyS0 panic=-1 loglevel=4 root=/dev/mapper/root cryptopts=target=root,source=UUID=$VM_ROOTFS_UUID,luks cvm.vmtest=boot"
if vm_wait_console r 'Please unlock disk root' 150; then
        prompt_at=$(vm_elapsed "$VM_QEMU_START_r")
        check ok "cryptroot asked for the passphrase (${prompt_at}s)"
        vm_serial_send r "not-the-passphrase"
        if vm_wait_console r 'No key available with this passphrase|[Ww]rong passphrase|cryptsetup: .*failed' 60; then
                check ok "a wrong passphrase is refused"
        else
                check no "no refusal after a wrong passphrase"
        fi
        # Answer the prompt when it comes back: askpass drops what was typed before it.
        if vm_wait_console r 'Please unlock disk root' 60 2; then
                vm_serial_send r "$VM_ROOTFS_PASSPHRASE"
                vm_wait_end r 200
        else
                check no "the prompt did not come back after a wrong passphrase"
                vm_qemu_stop r
        fi
else
        check no "no passphrase prompt on the console"
        vm_qemu_stop r
fi
vm_qemu_wait r
rc=$?
console=$(vm_console r)
[ "$rc" -eq 0 ] && check ok "QEMU exited normally (${VM_BOOT_SECONDS}s)" ||
        check no "QEMU exit status $rc after ${VM_BOOT_SECONDS}s"
grep '^CVMTEST' "$console"

marker() {
        grep -Eq "^CVMTEST PASS $1" "$console" && check ok "guest: $1" || check no "guest: no PASS for '$1'"
}
nfail=$(grep -c '^CVMTEST FAIL' "$console")
[ "$nfail" -eq 0 ] && check ok "no FAIL markers" || check no "$nfail FAIL markers"
grep -Eq '^CVMTEST END boot pass=[0-9]+ fail=0 ' "$console" && check ok "END marker, fail=0" ||
        check no "END marker with fail=0 missing"
for m in system-running root-on-dm-crypt root-luks2 agent-runs; do
        marker "$m\$"
done
grep -q 'reboot: Power down' "$console" && check ok "clean power-off" || check no "no clean power-off"

echo "timing: initramfs build ${VM_INITRD_SECONDS}s, root filesystem build ${VM_ROOTFS_SECONDS}s (0 = cached), passphrase prompt at ${prompt_at:-?}s, boot to power-off ${VM_BOOT_SECONDS}s wall"

vm_check_no_strays && check ok "no stray qemu/swtpm processes" || check no "stray processes left"

if [ "$FAILURES" -ne 0 ]; then
        echo "console tail:"
        tail -n 40 "$console"
        echo "$(basename "$0"): $FAILURES of $CHECKS checks failed"
        exit 1
fi
echo "$(basename "$0"): $CHECKS checks passed"
