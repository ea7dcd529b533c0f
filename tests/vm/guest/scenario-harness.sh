# Scenario "harness" (sourced by run): checks the plumbing later scenarios rely on.
#   - network: initramfs-tools' configure_networking (ip= on the command line) brings the NIC up;
#     the host's 127.0.0.1:PORT answers at 10.0.2.100:PORT through guestfwd; the host itself
#     (10.0.2.2) is not reachable (restrict=on).
#   - serial input: a line typed by the host on ttyS0 arrives (the recovery-passphrase path).
#   - vTPM provisioning: an NV index written by the host before the boot (through a TCP swtpm)
#     reads back in the guest with the same content.
# Command line: cvm.port=PORT cvm.token=HEX (the file content the host serves) cvm.nv=INDEX

port=$(cmdline_arg cvm.port)
token=$(cmdline_arg cvm.token)
nv=$(cmdline_arg cvm.nv)

. /scripts/functions
start=$(uptime_s)
configure_networking >/tmp/net.log 2>&1
info "network_started=$start network_up=$(uptime_s) device=${DEVICE:-?}"
[ -n "$DEVICE" ] && [ -e "/run/net-$DEVICE.conf" ] && pass net-up || fail net-up "$(tail -n 3 /tmp/net.log)"

got=$(curl -sS --max-time 10 "http://10.0.2.100:$port/token" 2>/tmp/curl.err)
check_eq guestfwd "$token" "$got$(head -n 1 /tmp/curl.err)"
# A second connection: agents make several (verifier, then key broker).
got=$(curl -sS --max-time 10 "http://10.0.2.100:$port/token" 2>/tmp/curl.err)
check_eq guestfwd-again "$token" "$got$(head -n 1 /tmp/curl.err)"
if curl -sS --max-time 3 -o /dev/null "http://10.0.2.2:$port/token" 2>/dev/null; then
        fail restrict "the host gateway 10.0.2.2 answered despite restrict=on"
else
        pass restrict
fi

# The host waits for this marker, then types the line.
echo "CVMTEST PROMPT serial"
if read -r -t 60 line </dev/console; then
        # Printed hashed: the tty echoes the typed text itself, so a plain echo would prove nothing.
        info "typed_sha256=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)"
        pass serial-read
else
        fail serial-read "nothing typed within 60 s"
fi

if [ -n "$nv" ] && command -v tpm2 >/dev/null; then
        export TPM2TOOLS_TCTI=device:/dev/tpmrm0
        if tpm2 nvread -C o -s 32 "$nv" >/tmp/nv.bin 2>/tmp/nv.err; then
                info "nv_sha256=$(sha256sum </tmp/nv.bin | cut -d' ' -f1)"
                pass nv-read
        else
                fail nv-read "$(head -n 1 /tmp/nv.err)"
        fi
fi
