#!/bin/bash
# dracut module of the VM tests (tests/vm/images.sh: vm_initrd_dracut): installs the cvm-agent
# under test, the tools the guest scenarios use and tests/vm/guest, plus a unit that runs an
# initramfs-stage scenario when the kernel command line says cvm.vmtest.initrd=NAME.
# The harness exports CVM_VMTEST_AGENT and CVM_VMTEST_GUEST.

check() {
        # Only when asked for (--add / -m).
        return 255
}

depends() {
        echo systemd
}

install() {
        local f
        [ -x "${CVM_VMTEST_AGENT:-}" ] || {
                derror "cvm-vmtest: CVM_VMTEST_AGENT (the cvm-agent binary) is not set"
                return 1
        }
        inst_binary "$CVM_VMTEST_AGENT" /usr/bin/cvm-agent
        inst_multiple jq od fold tr cut head sha256sum awk mount umount mkdir cp cat sync seq \
                poweroff findmnt
        inst_multiple -o curl tpm2
        inst_libdir_file "libtss2-tcti-device.so*"
        for f in "$CVM_VMTEST_GUEST"/*; do
                inst_simple "$f" "/usr/lib/cvm-vmtest/${f##*/}"
        done
        chmod 0755 "$initdir/usr/lib/cvm-vmtest/run"
        inst_simple "$moddir/cvm-vmtest-initrd.service" "$systemdsystemunitdir/cvm-vmtest-initrd.service"
        $SYSTEMCTL -q --root "$initdir" add-wants initrd.target cvm-vmtest-initrd.service
}
