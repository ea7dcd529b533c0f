#!/bin/bash
# VM harness self-test: the plumbing later scenarios rely on, in one Linux boot plus one short
# firmware-only run.
#   - a vTPM NV index provisioned before the boot through a TCP swtpm reads back in the guest;
#   - the guest reaches a host loopback service through guestfwd, and nothing else (restrict=on);
#   - a line typed on the serial console reaches the guest;
#   - `timeout` bounds a VM that never powers off, and no qemu/swtpm process outlives the test.
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"
set -u

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/images.sh"

: "${CVM_AGENT:?CVM_AGENT must point to the cvm-agent binary}"
vm_init
for t in tpm2_nvdefine tpm2_nvwrite swtpm_ioctl xxd sha256sum; do
        command -v "$t" >/dev/null || vm_skip "$t not installed"
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

port=$(vm_free_port)
case $port in
[0-9]*) [ "$port" -gt 1023 ] && [ "$port" -lt 65536 ] && check ok "free port $port" || check no "free port '$port'" ;;
*) check no "free port '$port'" ;;
esac

vm_kernel
vm_initrd_tools

# vTPM: manufacture, then provision an NV index through TCP before QEMU ever sees the state.
NV=0x01500016
head -c 32 /dev/urandom >"$VM_TMP/nv.bin"
vm_swtpm_setup "$VM_TMP/tpm" sha256
vm_swtpm_provision_start "$VM_TMP/tpm"
if timeout 30 tpm2_nvdefine -C o -s 32 -a "ownerread|ownerwrite|authread|authwrite" "$NV" >/dev/null 2>"$VM_TMP/nv.err" &&
        timeout 30 tpm2_nvwrite -C o -i "$VM_TMP/nv.bin" "$NV" 2>>"$VM_TMP/nv.err"; then
        check ok "NV index $NV provisioned through TCP"
else
        check no "NV provisioning: $(cat "$VM_TMP/nv.err")"
fi
vm_swtpm_provision_stop

# A loopback HTTP service for guestfwd; its log tells what the guest fetched.
mkdir -p "$VM_TMP/www"
token=$(head -c 16 /dev/urandom | xxd -p)
printf '%s' "$token" >"$VM_TMP/www/token"
python3 -m http.server --bind 127.0.0.1 --directory "$VM_TMP/www" "$port" >"$VM_TMP/http.log" 2>&1 &
http_pid=$!
vm_track_pid $http_pid
vm_wait_listen "$port" "$http_pid" 10 || check no "HTTP service did not start"

typed="recovery $(head -c 8 /dev/urandom | xxd -p)"
vm_qemu_start h --tpm "$VM_TMP/tpm" --kernel "$VM_KERNEL" --initrd "$VM_INITRD" --fwd "$port" \
        --append "console=ttyS0 panic=-1 loglevel=4 net.ifnames=0 ip=$VM_GUEST_IP cvm.vmtest.initrd=harness cvm.port=$port cvm.token=$token cvm.nv=$NV"
if vm_wait_console h '^CVMTEST PROMPT serial' 150; then
        vm_serial_send h "$typed"
        vm_wait_end h 90
else
        check no "the guest never asked for serial input"
        vm_qemu_stop h
fi
vm_qemu_wait h
rc=$?
console=$(vm_console h)
[ "$rc" -eq 0 ] && check ok "QEMU exited normally (${VM_BOOT_SECONDS}s)" ||
        check no "QEMU exit status $rc after ${VM_BOOT_SECONDS}s"
grep '^CVMTEST' "$console"

marker() {
        grep -Eq "^CVMTEST PASS $1" "$console" && check ok "guest: $1" || check no "guest: no PASS for '$1'"
}
nfail=$(grep -c '^CVMTEST FAIL' "$console")
[ "$nfail" -eq 0 ] && check ok "no FAIL markers" || check no "$nfail FAIL markers"
grep -Eq '^CVMTEST END harness pass=[0-9]+ fail=0 ' "$console" && check ok "END marker, fail=0" ||
        check no "END marker with fail=0 missing"
for m in net-up guestfwd guestfwd-again restrict serial-read nv-read; do
        marker "$m\$"
done
want=$(printf '%s' "$typed" | sha256sum | cut -d' ' -f1)
grep -q "^CVMTEST INFO typed_sha256=$want\$" "$console" && check ok "the typed line arrived intact" ||
        check no "typed line differs (want sha256 $want)"
want=$(sha256sum <"$VM_TMP/nv.bin" | cut -d' ' -f1)
grep -q "^CVMTEST INFO nv_sha256=$want\$" "$console" && check ok "NV content survived provisioning -> boot" ||
        check no "NV content differs (want sha256 $want)"
n=$(grep -c '^127\.0\.0\.1 .*"GET /token HTTP/1.[01]" 200' "$VM_TMP/http.log")
[ "$n" -eq 2 ] && check ok "the loopback service saw the guest's 2 GETs, from 127.0.0.1" ||
        check no "the loopback service saw $n GETs: $(cat "$VM_TMP/http.log")"

# A VM that never powers off (firmware only: no kernel, no disk) is stopped by the timeout.
VM_BOOT_TIMEOUT=6
vm_qemu_start t --timeout 6
vm_qemu_wait t
rc=$?
[ "$rc" -eq 124 ] && check ok "hung VM stopped by timeout after ${VM_BOOT_SECONDS}s" ||
        check no "hung VM: exit status $rc after ${VM_BOOT_SECONDS}s, expected 124"

vm_stop_pid "$http_pid"
vm_check_no_strays && check ok "no stray qemu/swtpm processes" || check no "stray processes left"

if [ "$FAILURES" -ne 0 ]; then
        echo "console tail:"
        tail -n 30 "$console"
        echo "$(basename "$0"): $FAILURES of $CHECKS checks failed"
        exit 1
fi
echo "$(basename "$0"): $CHECKS checks passed"
