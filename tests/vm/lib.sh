# shellcheck shell=bash
# Host-side helpers for the VM end-to-end tests (tests/vm/test-*.sh). Source it from bash.
#
# What it gives a scenario (see tests/vm/README.md for the whole picture):
#   vm_init                      temp dir $VM_TMP, teardown trap, tool checks (exit 77 if absent)
#   vm_free_port                 a free TCP port on 127.0.0.1
#   vm_swtpm_setup DIR [BANKS]   manufacture a vTPM state dir (EK, PCR banks) with swtpm_setup
#   vm_swtpm_provision_start DIR / vm_swtpm_provision_stop
#                                the same state on a TCP swtpm, for tpm2-tools/tss2 provisioning
#                                (NV indexes, keys) before the boot; exports $TPM2TOOLS_TCTI
#   vm_swtpm_start DIR           swtpm on DIR with a unix control socket, as QEMU's tpm-emulator
#   vm_qemu_start NAME [opts]    boots OVMF (q35, TCG) + vTPM + kernel/initrd in the background,
#                                serial console captured to $VM_TMP/NAME/console.log, bounded by
#                                `timeout`; options: --kernel --initrd --append --disk FILE
#                                --fwd PORT (guest 10.0.2.100:PORT -> host 127.0.0.1:PORT, every
#                                connection; the service may start after QEMU)
#                                --timeout S --mem M --tpm DIR|none
#   vm_wait_console NAME RE S [N]  wait until N console lines match the extended regexp RE
#   vm_qemu_stop NAME            stop a VM now (after a failed wait) rather than at its timeout
#   vm_wait_end NAME S           wait for "CVMTEST END"; stop the VM early at a dead end
#                                (emergency shell, panic) or after S seconds
#   vm_serial_send NAME TEXT     type TEXT + Enter on the guest's serial console (ttyS0)
#   vm_qemu_wait NAME            wait for QEMU to exit; returns its status (124 = timed out)
#   vm_console NAME              path of the console log with the CRs removed
#   vm_guest_out NAME            path of what the guest wrote to its second serial port (ttyS1)
#   vm_check_no_strays           fail if any qemu/swtpm we started is still alive
#
# Rules it enforces: TCG only (never KVM), every QEMU run under `timeout`, user networking with
# restrict=on and guestfwd to 127.0.0.1 only, every process we start recorded and killed by pid
# on exit.

VM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_SRC_DIR=$(cd "$VM_LIB_DIR/../.." && pwd)

: "${VM_QEMU:=qemu-system-x86_64}"
: "${VM_OVMF_CODE:=/usr/share/OVMF/OVMF_CODE_4M.fd}"
: "${VM_OVMF_VARS:=/usr/share/OVMF/OVMF_VARS_4M.fd}"
: "${VM_BOOT_TIMEOUT:=180}"
: "${VM_MEM:=1024}"
: "${VM_SMP:=1}"
# The guest side of guestfwd; the guest reaches host 127.0.0.1:PORT at this address.
VM_FWD_ADDR=10.0.2.100
# Static guest address for initramfs-tools' ip= (with net.ifnames=0): immediate, where ip=dhcp
# costs seconds of ipconfig's DHCP waits under TCG.
VM_GUEST_IP=10.0.2.15::10.0.2.2:255.255.255.0::eth0:off

VM_PIDS=()
VM_TMP=

vm_log() {
        printf '%s vm: %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

vm_die() {
        vm_log "ERROR: $*"
        exit 1
}

vm_skip() {
        echo "SKIP: $*"
        exit 77
}

# Seconds since the epoch with milliseconds, for the timings the tests report.
vm_now() {
        date +%s.%N | cut -c1-14
}

vm_elapsed() {
        awk -v a="$1" -v b="$(vm_now)" 'BEGIN { printf "%.1f", b - a }'
}

vm_track_pid() {
        VM_PIDS+=("$1")
}

# Stops one recorded process: SIGTERM, up to 5 s grace, then SIGKILL.
vm_stop_pid() {
        local pid=$1 i
        kill -0 "$pid" 2>/dev/null || return 0
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        return 0
}

vm_cleanup() {
        local rc=$? pid
        trap - EXIT INT TERM
        # Newest first: readers and QEMU before the swtpm they talk to.
        for ((i = ${#VM_PIDS[@]} - 1; i >= 0; i--)); do
                pid=${VM_PIDS[i]}
                vm_stop_pid "$pid"
        done
        if [ -n "$VM_TMP" ] && [ -d "$VM_TMP" ]; then
                if [ "${VM_KEEP:-0}" = 1 ] || { [ "${VM_KEEP:-0}" = fail ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
                        vm_log "keeping $VM_TMP"
                else
                        rm -rf "$VM_TMP"
                fi
        fi
        exit "$rc"
}

# vm_init: checks the tools (skip with a reason when one is missing), creates $VM_TMP and
# installs the teardown trap. VM_KEEP=1 keeps $VM_TMP (console logs, swtpm logs, QEMU command
# lines) for debugging; VM_KEEP=fail keeps it only when the test fails.
vm_init() {
        local t
        for t in "$VM_QEMU" swtpm swtpm_setup timeout mkfifo python3; do
                command -v "$t" >/dev/null 2>&1 || vm_skip "$t not installed (make check-vm installs the VM packages)"
        done
        [ -r "$VM_OVMF_CODE" ] && [ -r "$VM_OVMF_VARS" ] || vm_skip "OVMF not found at $VM_OVMF_CODE"
        VM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/cvm-vmtest.XXXXXX") || vm_die "mktemp failed"
        trap vm_cleanup EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
}

# A TCP port on 127.0.0.1 that nobody listens on right now (the kernel picks it).
vm_free_port() {
        python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# vm_port_free PORT: nobody listens on 127.0.0.1:PORT (bash's /dev/tcp connect fails).
vm_port_free() {
        ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# vm_wait_listen PORT PID [SECONDS]: waits (bounded) until something listens on 127.0.0.1:PORT;
# fails if PID died first. QEMU's guestfwd connects at startup: start services before QEMU.
vm_wait_listen() {
        local port=$1 pid=$2 secs=${3:-10} i
        for i in $(seq $((secs * 10))); do
                vm_port_free "$port" || return 0
                kill -0 "$pid" 2>/dev/null || return 1
                sleep 0.1
        done
        return 1
}

# Waits (bounded) until PATH exists; fails if the process PID died first.
vm_wait_path() {
        local path=$1 pid=$2 secs=${3:-10} i
        for i in $(seq $((secs * 10))); do
                [ -e "$path" ] && return 0
                kill -0 "$pid" 2>/dev/null || return 1
                sleep 0.1
        done
        return 1
}

# vm_swtpm_setup DIR [BANKS]: manufactures a fresh TPM 2.0 in DIR with an EK and the PCR banks
# BANKS (default sha1,sha256, so both banks of the event log are exercised).
vm_swtpm_setup() {
        local dir=$1 banks=${2:-sha1,sha256}
        mkdir -p "$dir"
        timeout 120 swtpm_setup --tpm2 --tpmstate "$dir" --createek --pcr-banks "$banks" --overwrite \
                --logfile "$dir/swtpm_setup.log" >/dev/null 2>&1 ||
                vm_die "swtpm_setup failed: $(tail -5 "$dir/swtpm_setup.log" 2>/dev/null)"
}

# vm_swtpm_provision_start DIR: serves the state in DIR on TCP (loopback) so tpm2-tools or a
# tss2 program can define NV indexes and persistent keys before the boot. Sets VM_PROV_PID and
# exports TPM2TOOLS_TCTI / TSS2 TCTI strings. PCRs written now do not survive: the firmware
# starts the TPM afresh at boot (only NV and persistent objects stay in DIR).
vm_swtpm_provision_start() {
        local dir=$1 port ctrl
        # The swtpm TCTI expects the control channel on the server port + 1.
        for _ in $(seq 20); do
                port=$(vm_free_port)
                ctrl=$((port + 1))
                vm_port_free "$ctrl" && break
        done
        swtpm socket --tpm2 --tpmstate dir="$dir" \
                --server type=tcp,port="$port",bindaddr=127.0.0.1 \
                --ctrl type=tcp,port="$ctrl",bindaddr=127.0.0.1 \
                --flags not-need-init,startup-clear --log file="$dir/swtpm-provision.log" &
        VM_PROV_PID=$!
        VM_PROV_CTRL=$ctrl
        vm_track_pid "$VM_PROV_PID"
        vm_wait_listen "$port" "$VM_PROV_PID" 10 || vm_die "provisioning swtpm did not start: $(tail -n 5 "$dir/swtpm-provision.log")"
        export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
        export TSS2_TCTI="$TPM2TOOLS_TCTI"
}

vm_swtpm_provision_stop() {
        local i
        [ -n "${VM_PROV_PID:-}" ] || return 0
        # A clean shutdown (TPM2_Shutdown through the control channel, then exit) makes swtpm
        # write its NV state before it goes.
        timeout 10 swtpm_ioctl --tcp "127.0.0.1:$VM_PROV_CTRL" -s >/dev/null 2>&1 || true
        for i in $(seq 50); do
                kill -0 "$VM_PROV_PID" 2>/dev/null || break
                sleep 0.1
        done
        vm_stop_pid "$VM_PROV_PID"
        VM_PROV_PID=
        unset TPM2TOOLS_TCTI TSS2_TCTI
}

# vm_swtpm_start DIR: starts swtpm for QEMU on the state in DIR (control socket DIR/ctrl.sock).
# --terminate makes it exit when QEMU disconnects; the trap kills it otherwise.
vm_swtpm_start() {
        local dir=$1 pid
        rm -f "$dir/ctrl.sock"
        swtpm socket --tpm2 --tpmstate dir="$dir" --ctrl type=unixio,path="$dir/ctrl.sock" \
                --terminate --log file="$dir/swtpm.log",level=2 &
        pid=$!
        vm_track_pid "$pid"
        vm_wait_path "$dir/ctrl.sock" "$pid" 10 || vm_die "swtpm did not start: $(tail -5 "$dir/swtpm.log" 2>/dev/null)"
}

# vm_qemu_start NAME [options]: see the header. The VM's files live in $VM_TMP/NAME.
vm_qemu_start() {
        local name=$1 dir kernel="" initrd="" append="" tpm="" timeout_s=$VM_BOOT_TIMEOUT mem=$VM_MEM
        local -a disks=() fwds=() extra=() args=()
        shift
        while [ $# -gt 0 ]; do
                case $1 in
                --kernel) kernel=$2; shift ;;
                --initrd) initrd=$2; shift ;;
                --append) append=$2; shift ;;
                --disk) disks+=("$2"); shift ;;
                --fwd) fwds+=("$2"); shift ;;
                --tpm) tpm=$2; shift ;;
                --timeout) timeout_s=$2; shift ;;
                --mem) mem=$2; shift ;;
                --) shift; extra=("$@"); break ;;
                *) vm_die "vm_qemu_start: unknown option $1" ;;
                esac
                shift
        done
        case $name in *[!a-z0-9_]* | "") vm_die "vm_qemu_start: NAME must match [a-z0-9_]+" ;; esac
        dir=$VM_TMP/$name
        mkdir -p "$dir"
        cp "$VM_OVMF_VARS" "$dir/OVMF_VARS.fd"

        args=(-accel tcg -machine q35 -m "$mem" -smp "$VM_SMP" -nographic -no-reboot
                -monitor none -parallel none
                -drive "if=pflash,format=raw,readonly=on,file=$VM_OVMF_CODE"
                -drive "if=pflash,format=raw,file=$dir/OVMF_VARS.fd")

        # ttyS0: the console, through two FIFOs (guest output is copied to console.log by a
        # reader we own; vm_serial_send writes to serial.in). ttyS1: a quiet channel the guest can
        # write results to without kernel messages interleaved.
        mkfifo "$dir/serial.in" "$dir/serial.out"
        args+=(-chardev "pipe,id=ser0,path=$dir/serial" -serial chardev:ser0
                -chardev "file,id=ser1,path=$dir/guest-out" -serial chardev:ser1)

        if [ -n "$tpm" ] && [ "$tpm" != none ]; then
                [ -S "$tpm/ctrl.sock" ] || vm_swtpm_start "$tpm"
                args+=(-chardev "socket,id=chrtpm,path=$tpm/ctrl.sock"
                        -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-crb,tpmdev=tpm0)
        fi

        local i=0 d
        for d in "${disks[@]}"; do
                args+=(-drive "file=$d,format=raw,if=none,id=disk$i,cache=unsafe"
                        -device "virtio-blk-pci,drive=disk$i")
                i=$((i + 1))
        done

        # Network: user mode, restrict=on (no route anywhere), plus one guestfwd per service, each
        # to host loopback: by default through fwd-relay.py, started per guest connection and
        # connecting to 127.0.0.1:PORT only; VM_FWD_MODE=chardev uses QEMU's own tcp: chardev,
        # which carries only the first connection (see fwd-relay.py). romfile= skips the PXE
        # option ROM (faster OVMF, no iPXE needed).
        if [ ${#fwds[@]} -gt 0 ]; then
                local netdev="user,id=n0,restrict=on" p
                for p in "${fwds[@]}"; do
                        case $p in *[!0-9]* | "") vm_die "vm_qemu_start: bad port '$p'" ;; esac
                        if [ "${VM_FWD_MODE:-relay}" = chardev ]; then
                                netdev+=",guestfwd=tcp:$VM_FWD_ADDR:$p-tcp:127.0.0.1:$p"
                        else
                                case "$VM_LIB_DIR$dir" in *[,\ ]*) vm_die "vm_qemu_start: path with a comma or space" ;; esac
                                netdev+=",guestfwd=tcp:$VM_FWD_ADDR:$p-cmd:python3 $VM_LIB_DIR/fwd-relay.py $p $dir/"
                        fi
                done
                args+=(-netdev "$netdev" -device virtio-net-pci,netdev=n0,romfile=)
        else
                args+=(-nic none)
        fi

        [ -n "$kernel" ] && args+=(-kernel "$kernel")
        [ -n "$initrd" ] && args+=(-initrd "$initrd")
        [ -n "$append" ] && args+=(-append "$append")
        args+=("${extra[@]}")

        printf '%q ' "$VM_QEMU" "${args[@]}" >"$dir/cmdline"
        echo >>"$dir/cmdline"

        : >"$dir/console.raw"
        cat "$dir/serial.out" >"$dir/console.raw" &
        eval "VM_READER_PID_$name=$!"
        vm_track_pid $!
        # QEMU never sees KVM: -accel tcg above, and no -enable-kvm anywhere.
        timeout -k 5 "$timeout_s" "$VM_QEMU" "${args[@]}" </dev/null >"$dir/qemu.log" 2>&1 &
        eval "VM_QEMU_PID_$name=$!"
        vm_track_pid $!
        eval "VM_QEMU_START_$name=$(vm_now)"
        eval "VM_QEMU_TIMEOUT_$name=$timeout_s"
}

vm_qemu_pid() {
        eval "echo \${VM_QEMU_PID_$1:-}"
}

# The console log with carriage returns removed (refreshed on every call).
vm_console() {
        local dir=$VM_TMP/$1
        tr -d '\r' <"$dir/console.raw" >"$dir/console.log" 2>/dev/null
        echo "$dir/console.log"
}

vm_guest_out() {
        local dir=$VM_TMP/$1
        tr -d '\r' <"$dir/guest-out" >"$dir/guest-out.txt" 2>/dev/null
        echo "$dir/guest-out.txt"
}

# vm_wait_console NAME ERE SECONDS [COUNT]: 0 once COUNT (default 1) console lines match ERE;
# 1 on timeout or when QEMU exits first. COUNT waits for a prompt that comes back (a retry).
vm_wait_console() {
        local name=$1 re=$2 secs=$3 count=${4:-1} pid i
        pid=$(vm_qemu_pid "$name")
        for i in $(seq $((secs * 5))); do
                [ "$(grep -Ec -- "$re" "$(vm_console "$name")")" -ge "$count" ] && return 0
                if ! kill -0 "$pid" 2>/dev/null; then
                        [ "$(grep -Ec -- "$re" "$(vm_console "$name")")" -ge "$count" ]
                        return
                fi
                sleep 0.2
        done
        return 1
}

# Console lines after which a guest never reaches a CVMTEST END: emergency/rescue shells, panics.
VM_DEAD_END='Entering emergency mode|Press Enter for maintenance|Kernel panic|^\(initramfs\) |ALERT! .* does not exist'

# vm_wait_end NAME SECONDS: waits for the guest's "CVMTEST END" marker; stops the VM at once when
# it reaches a dead end (VM_DEAD_END) or SECONDS pass, rather than waiting for its timeout.
# Returns 0 when the END marker came.
vm_wait_end() {
        local name=$1 secs=$2
        if vm_wait_console "$name" "^CVMTEST END|$VM_DEAD_END" "$secs" &&
                grep -q '^CVMTEST END' "$(vm_console "$name")"; then
                return 0
        fi
        vm_log "$name: no CVMTEST END ($(grep -Eo -m1 -- "$VM_DEAD_END" "$(vm_console "$name")" || echo "still running after ${secs}s")); stopping the VM"
        vm_qemu_stop "$name"
        return 1
}

# vm_qemu_stop NAME: stops a VM now (e.g. after a failed wait) instead of at its timeout.
vm_qemu_stop() {
        vm_stop_pid "$(vm_qemu_pid "$1")"
}

# vm_serial_send NAME TEXT: types TEXT and Enter on ttyS0 (e.g. a recovery passphrase at the
# cryptsetup prompt). The FIFO is held open read-write by QEMU, so this never blocks.
vm_serial_send() {
        printf '%s\r' "$2" >"$VM_TMP/$1/serial.in"
}

# vm_qemu_wait NAME: waits for QEMU to exit; returns its status (124 when `timeout` stopped it).
# Sets VM_BOOT_SECONDS to the wall time since vm_qemu_start.
vm_qemu_wait() {
        local name=$1 pid rc start reader
        pid=$(vm_qemu_pid "$name")
        wait "$pid"
        rc=$?
        eval "start=\$VM_QEMU_START_$name"
        # The reader drains the FIFO and ends at EOF once QEMU is gone; give it a moment.
        eval "reader=\$VM_READER_PID_$name"
        for _ in $(seq 20); do
                kill -0 "$reader" 2>/dev/null || break
                sleep 0.1
        done
        VM_BOOT_SECONDS=$(vm_elapsed "$start")
        vm_console "$name" >/dev/null
        [ "$rc" -eq 124 ] && vm_log "$name: QEMU stopped by its $(eval "echo \$VM_QEMU_TIMEOUT_$name")s timeout"
        return "$rc"
}

# vm_check_no_strays: every process we started has exited (or is stopped now and reported).
vm_check_no_strays() {
        local pid strays=""
        for pid in "${VM_PIDS[@]}"; do
                if kill -0 "$pid" 2>/dev/null; then
                        strays="$strays $pid($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-60))"
                        vm_stop_pid "$pid"
                fi
        done
        [ -z "$strays" ] || { echo "stray processes:$strays"; return 1; }
        # And nothing else that names our temp dir (children of the above, e.g. after a fork).
        if pgrep -f -- "$VM_TMP/" >/dev/null 2>&1; then
                echo "stray processes: $(pgrep -a -f -- "$VM_TMP/")"
                return 1
        fi
        return 0
}
