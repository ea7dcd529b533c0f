#!/bin/sh
# cvm-agent monitor re-attestation against the emulated Trustee KBS (tests/emulators/kbs.py) on a
# simulated Azure vTPM: accepted -> last_attestation recorded; KBS answering 503 -> degraded
# (class unavailable, VERIFIER=trustee), healthy again once it recovers; KBS refusing the
# evidence -> an "attestation" violation and the configured hook runs once with the finding.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vtpm/swtpm.sh"
. "$(dirname "$0")/emu.sh"

swtpm_require
emu_require
VTPM=${CVM_BUILDDIR:-build}/tests/vtpm/cvm-vtpm
[ -x "$VTPM" ] || { echo "FAIL: simulator $VTPM not built"; exit 1; }
PKI=${CVM_BUILDDIR:-build}/tests/vtpm-pki
WATCHER=
DAEMON_PID=
cleanup() {
        [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
        [ -n "$WATCHER" ] && kill "$WATCHER" 2>/dev/null
        emu_stop_all
        swtpm_stop
        rm -rf "$TMP"
}
trap cleanup EXIT
EMU_STATE=$TMP/emu
mkdir -p "$EMU_STATE"

LOG=$TMP/eventlog.bin
"$VTPM" make-eventlog "$LOG" || { echo "FAIL: cannot make the event log"; exit 1; }
swtpm_start "$TMP/swtpm" || { echo "FAIL: cannot start swtpm"; exit 1; }
CVM_AGENT_TCTI=$SWTPM_TCTI
export CVM_AGENT_TCTI
"$VTPM" provision --dir "$TMP/sim" --pki "$PKI" --eventlog "$LOG" >/dev/null 2>"$TMP/provision.err" ||
        { echo "FAIL: provisioning: $(cat "$TMP/provision.err")"; exit 1; }
(while :; do "$VTPM" --tcti "$SWTPM_TCTI" refresh --dir "$TMP/sim" --pki "$PKI" >/dev/null 2>&1; sleep 0.1; done) &
WATCHER=$!

"$EMU_PYTHON" "$EMU_DIR/testpki.py" "$EMU_STATE/pki" >/dev/null 2>&1 || { echo "FAIL: test PKI"; exit 1; }
jq -n --rawfile v "$PKI/vcek.pem" --rawfile c "$PKI/chain.pem" \
        '{vcekCert: $v, certificateChain: $c, tcbm: "DB18000000000004"}' >"$TMP/thim.json"
head -c 32 /dev/urandom >"$TMP/secret.bin"
emu_start IMDS imds.py --plain --thim "$TMP/thim.json" || exit 1
emu_start KBS kbs.py --amd-roots "$PKI/chain.pem" --resource "default/disk/root=$TMP/secret.bin" || exit 1
jq -n --arg k "https://127.0.0.1:$KBS_PORT" --arg i "http://127.0.0.1:$IMDS_PLAIN" --arg c "$EMU_STATE/pki/ca.pem" \
        '{type: "trustee", kbs: $k, resource: "default/disk/root", imds: $i, ca_file: $c, evidence: "az-snp-vtpm"}' \
        >"$TMP/trustee.json"

# Configuration mistakes are refused at start (exit 11), not turned into a degraded state.
echo '{"type": "nosuch"}' >"$TMP/bad.json"
expect_rc 11 "$CVM_AGENT" monitor --once --eventlog "$LOG" --attest-config "$TMP/bad.json" --state-dir "$TMP/st0" &&
        one_line_error
expect_rc 2 "$CVM_AGENT" monitor --reattest-interval 0

HOOKS=$TMP/hooks
mkdir -p "$HOOKS"
printf '#!/bin/sh\nenv | grep ^CVM_AGENT_ | sort >>"%s"\necho --- >>"%s"\n' "$TMP/hook.out" "$TMP/hook.out" \
        >"$HOOKS/record"
chmod +x "$HOOKS/record"
ST=$TMP/state
CVM_AGENT_LOG=stderr "$CVM_AGENT" monitor --eventlog "$LOG" --interval 0.2 --jitter 0 --state-dir "$ST" \
        --attest-config "$TMP/trustee.json" --reattest-interval 0.5 --attest-deadline 3 \
        --reaction "attestation=hook:$HOOKS" >/dev/null 2>"$TMP/daemon.err" &
DAEMON_PID=$!

wait_for() {
        CHECKS=$((CHECKS + 1))
        i=0
        while [ $i -lt 150 ]; do
                if [ -s "$ST/status.json" ] && jq -e "$1" "$ST/status.json" >/dev/null 2>&1; then
                        return 0
                fi
                sleep 0.1
                i=$((i + 1))
        done
        fail "status never satisfied '$1': $(head -c 1500 "$ST/status.json" 2>/dev/null); $(tail -5 "$TMP/daemon.err")"
        return 1
}

wait_for '.state == "healthy" and .last_attestation != null'

# Verifier down: degraded, then healthy again when it answers.
emu_fault KBS '{"kind":"status","status":503,"count":0}'
wait_for '.state == "degraded" and ([.findings[] | select(.class == "unavailable" and .verifier == "trustee")] | length) == 1'
emu_clear KBS
wait_for '.state == "healthy"'
A1=$(jq -r .last_attestation "$ST/status.json")
wait_for ".last_attestation != \"$A1\""

# Verifier refuses the evidence: an attestation finding, the hook runs once.
emu_fault KBS '{"kind":"flag","name":"stale_nonce"}'
wait_for '.state == "violated" and ([.findings[] | select(.class == "attestation")] | length) >= 1'
cp "$ST/status.json" "$OUT"
json_eq '[.findings[] | select(.class == "attestation")][0].verifier' trustee
json_eq '[.findings[] | select(.class == "attestation")][0].severity' violation
emu_clear KBS
CHECKS=$((CHECKS + 1))
grep -q '^CVM_AGENT_CLASS=attestation$' "$TMP/hook.out" && grep -q '^CVM_AGENT_VERIFIER=trustee$' "$TMP/hook.out" ||
        fail "hook did not run with the finding: $(cat "$TMP/hook.out" 2>/dev/null)"

kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
CHECKS=$((CHECKS + 1))
[ "$rc" -eq 0 ] || fail "daemon exited $rc after SIGTERM"
finish
