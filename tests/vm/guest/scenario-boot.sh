# Scenario "boot" (root stage, sourced by run from the payload disk): the LUKS2 root was unlocked
# in the initramfs and systemd booted the Debian root filesystem to the end.
# Checks: / is /dev/mapper/root on a LUKS2 volume; systemd reached "running" (no failed unit);
# the cvm-agent from the payload runs against the root filesystem's libraries.

state=$(systemctl is-system-running --wait 2>/dev/null)
info "system_state=$state"
if [ "$state" = running ]; then
        pass system-running
else
        fail system-running "$state; failed units: $(systemctl --failed --no-legend --plain 2>/dev/null | awk '{ printf "%s ", $1 }')"
fi
info "$(systemd-analyze time 2>/dev/null | head -n 1)"
systemd-analyze blame 2>/dev/null | head -n 5 | while read -r t u; do info "slowest_unit=$u time=$t"; done

src=$(findmnt -n -o SOURCE /)
check_eq root-on-dm-crypt /dev/mapper/root "$src"
type=$(cryptsetup status root 2>/dev/null | awk '$1 == "type:" { print $2 }')
check_eq root-luks2 LUKS2 "$type"

if "$CVMTEST_DIR/cvm-agent" --version >/tmp/agent.out 2>&1; then
        pass agent-runs
        info "agent=$(head -n 1 /tmp/agent.out)"
else
        fail agent-runs "$(head -n 2 /tmp/agent.out)"
fi
