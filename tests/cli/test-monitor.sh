#!/bin/sh
# cvm-agent monitor and status against a simulated Azure vTPM (swtpm provisioned by cvm-vtpm):
# the daemon runs in the foreground with a 0.2 s interval while the test extends a boot-time PCR,
# appends IMA entries (allowed, not allowed, logged but not yet extended) and alters the event
# log; each must show up as the right finding within an interval, with the reaction (a hook, a
# dry-run close) run once. Then status agrees with the file, and SIGTERM stops the daemon cleanly.
# Re-attestation: test-monitor-attest.sh.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../vtpm/swtpm.sh"

swtpm_require
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq is not installed"; exit 77; }
command -v python3 >/dev/null 2>&1 || { echo "SKIP: python3 is not installed"; exit 77; }
command -v tpm2_pcrextend >/dev/null 2>&1 || { echo "SKIP: tpm2-tools is not installed"; exit 77; }
VTPM=${CVM_BUILDDIR:-build}/tests/vtpm/cvm-vtpm
[ -x "$VTPM" ] || { echo "FAIL: simulator $VTPM not built"; exit 1; }
PKI=${CVM_BUILDDIR:-build}/tests/vtpm-pki
IMA_APPEND="python3 $(dirname "$0")/ima-append.py"
DAEMON_PID=

cleanup() {
        if [ -n "$DAEMON_PID" ]; then
                kill "$DAEMON_PID" 2>/dev/null
                wait "$DAEMON_PID" 2>/dev/null
        fi
        swtpm_stop
        rm -rf "$TMP"
}
trap cleanup EXIT

# ---- every MESSAGE_ID the agent emits has a catalog entry -----------------------------------
TOP=$(dirname "$0")/../..
for id in $(sed -n 's/^#define JOURNAL_MSGID_[A-Z_]* *"\([0-9a-f]\{32\}\)"$/\1/p' "$TOP/agent/adapters/journal.h"); do
        CHECKS=$((CHECKS + 1))
        grep -q "^-- $id\$" "$TOP/units/cvm-agent.catalog" || fail "MESSAGE_ID $id has no catalog entry"
done
[ "$CHECKS" -ge 12 ] || fail "found only $CHECKS message IDs in journal.h"

# ---- usage and contract errors (no TPM needed) ----------------------------------------------
expect_rc 0 "$CVM_AGENT" monitor --help
grep -q -- '--interval SECONDS' "$OUT" || fail "monitor --help does not document --interval"
expect_rc 0 "$CVM_AGENT" status --help
expect_rc 2 "$CVM_AGENT" monitor --interval 0
expect_rc 2 "$CVM_AGENT" monitor --interval abc
expect_rc 2 "$CVM_AGENT" monitor --bank md5
expect_rc 2 "$CVM_AGENT" monitor --pcrs 10
expect_rc 2 "$CVM_AGENT" monitor --reaction pcr
expect_rc 2 "$CVM_AGENT" monitor --reaction nosuch=log
expect_rc 2 "$CVM_AGENT" monitor --reaction pcr=hook:relative
expect_rc 2 "$CVM_AGENT" monitor --reaction 'pcr=close:bad/name'
expect_rc 2 "$CVM_AGENT" monitor extra
expect_rc 2 "$CVM_AGENT" status extra
echo '{"version": 1, "ima": {"files": 3}}' >"$TMP/bad-policy.json"
expect_rc 11 "$CVM_AGENT" monitor --once --policy "$TMP/bad-policy.json" --state-dir "$TMP/st0" && one_line_error
expect_rc 5 "$CVM_AGENT" status --state-dir "$TMP/nowhere" && one_line_error 'no status file'
mkdir -p "$TMP/st-bad"
echo '{"version": 1, "state": "healthy", "findings": [{"class": "pcr", "severity": "violation", "message": "x"}]}' \
        >"$TMP/st-bad/status.json"
expect_rc 3 "$CVM_AGENT" status --state-dir "$TMP/st-bad" && one_line_error 'does not agree'
printf '{"version": 1, "state": "heal' >"$TMP/st-bad/status.json"
expect_rc 3 "$CVM_AGENT" status --state-dir "$TMP/st-bad" && one_line_error
# A malformed configuration file: exit 11 naming FILE:LINE, before any TPM access.
printf '[Monitor]\nInterval=1min\nInterval=soon\n' >"$TMP/bad.conf"
expect_rc 11 "$CVM_AGENT" --config "$TMP/bad.conf" monitor --once --state-dir "$TMP/st0" &&
        one_line_error 'bad\.conf:3: '
expect_rc 11 "$CVM_AGENT" --config "$TMP/bad.conf" status && one_line_error 'bad\.conf:3: '
expect_rc 5 "$CVM_AGENT" --config "$TMP/no-such.conf" status && one_line_error 'no-such\.conf'

# ---- a provisioned simulated vTPM, event log and IMA log consistent with its PCRs -----------
SIM=$TMP/sim
LOG=$TMP/eventlog.bin
IMA=$TMP/ima.bin
"$VTPM" make-eventlog "$LOG" || { echo "FAIL: cannot make the synthetic event log"; exit 1; }
swtpm_start "$SIM/state" || { echo "FAIL: cannot start swtpm"; exit 1; }
CVM_AGENT_TCTI=$SWTPM_TCTI
export CVM_AGENT_TCTI
"$VTPM" provision --dir "$SIM" --pki "$PKI" --eventlog "$LOG" >/dev/null 2>"$SIM/provision.err" ||
        { echo "FAIL: provisioning failed: $(cat "$SIM/provision.err")"; exit 1; }

# ima_add PATH CONTENT [noextend]: log an ima-ng entry and (unless noextend) extend PCR 10 with it.
ima_add() {
        set -- "$1" "$2" "${3:-}" $($IMA_APPEND "$IMA" "$1" "$2")
        LAST_DIGEST=$6
        if [ "$3" != noextend ]; then
                tpm2_pcrextend -T "$SWTPM_TCTI" "10:sha1=$4,sha256=$5" || fail "tpm2_pcrextend of PCR 10 failed"
        fi
}
ima_add boot_aggregate boot
BOOT_DIGEST=$LAST_DIGEST
ima_add /usr/bin/allowed allowed-content
ALLOWED_DIGEST=$LAST_DIGEST
cat >"$TMP/policy.json" <<EOF
{"version": 1, "ima": {"files": {"boot_aggregate": ["sha256:$BOOT_DIGEST"],
                                 "/usr/bin/allowed": ["sha256:$ALLOWED_DIGEST"]},
                       "exclude": ["/tmp/"]}}
EOF

MON="--eventlog $LOG --ima-log $IMA --policy $TMP/policy.json"

# ---- one-shot checks ----------------------------------------------------------------------------
# shellcheck disable=SC2086
expect_rc 0 "$CVM_AGENT" monitor --once $MON --state-dir "$TMP/once"
expect_rc 0 "$CVM_AGENT" status --json --state-dir "$TMP/once"
json_eq .state healthy
json_eq '.findings | length' 0
json_eq .ima_entries 2
json_eq .checks 1
json_eq '.snp.reported_tcb | test("^0x[0-9a-f]{16}$")' true
json_eq '.last_check | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")' true
expect_rc 0 "$CVM_AGENT" status --state-dir "$TMP/once"
grep -q '^State: *healthy' "$OUT" || fail "status text: $(cat "$OUT")"
# An explicitly named IMA log that is missing: degraded (exit 12), not a crash.
# shellcheck disable=SC2086
expect_rc 12 "$CVM_AGENT" monitor --once --eventlog "$LOG" --ima-log "$TMP/none" --state-dir "$TMP/once2"
expect_rc 12 "$CVM_AGENT" status --json --state-dir "$TMP/once2"
json_eq .state degraded
json_eq '.findings[0].class' unavailable
# An unreachable TPM: degraded.
expect_rc 12 env CVM_AGENT_TCTI=swtpm:host=127.0.0.1,port=1 "$CVM_AGENT" monitor --once --eventlog "$LOG" \
        --state-dir "$TMP/once3"
grep -q 'TPM' "$TMP/once3/status.json" || fail "unreachable TPM not named in the status file"

# ---- [Monitor] of the configuration file: defaults that the options override ------------------
cat >"$TMP/mon.conf" <<EOF
[Monitor]
Interval=5min
StateDirectory=$TMP/cfg-state
EOF
# shellcheck disable=SC2086
expect_rc 0 "$CVM_AGENT" --config "$TMP/mon.conf" monitor --once $MON
CHECKS=$((CHECKS + 1))
[ -f "$TMP/cfg-state/status.json" ] || fail "monitor did not write to StateDirectory= of the configuration"
expect_rc 0 "$CVM_AGENT" --config "$TMP/mon.conf" status --json
json_eq .interval_seconds 300
json_eq .ima_entries 2
expect_rc 0 "$CVM_AGENT" --config "$TMP/mon.conf" status
grep -q '^State: *healthy' "$OUT" || fail "status text with StateDirectory=: $(cat "$OUT")"
# The options win over the file, for monitor and status alike.
# shellcheck disable=SC2086
expect_rc 0 "$CVM_AGENT" --config "$TMP/mon.conf" monitor --once $MON --interval 7 --state-dir "$TMP/cli-state"
expect_rc 0 "$CVM_AGENT" --config "$TMP/mon.conf" status --json --state-dir "$TMP/cli-state"
json_eq .interval_seconds 7
expect_rc 0 "$CVM_AGENT" --config "$TMP/mon.conf" status --json
json_eq .interval_seconds 300
# IMA=no: the IMA log is not checked (PCR 10 not quoted); naming --ima-log checks it anyway.
printf '[Monitor]\nIMA=no\n' >"$TMP/noima.conf"
expect_rc 0 "$CVM_AGENT" --config "$TMP/noima.conf" monitor --once --eventlog "$LOG" --state-dir "$TMP/noima"
expect_rc 0 "$CVM_AGENT" status --json --state-dir "$TMP/noima"
json_eq '.last_checked | test("IMA not checked")' true
json_eq '.last_checked | test("sha256:[0-9,-]*10")' false
# shellcheck disable=SC2086
expect_rc 0 "$CVM_AGENT" --config "$TMP/noima.conf" monitor --once $MON --state-dir "$TMP/noima2"
expect_rc 0 "$CVM_AGENT" status --json --state-dir "$TMP/noima2"
json_eq .ima_entries 2
json_eq '.last_checked | test("IMA 2 entries")' true

# ---- the daemon ---------------------------------------------------------------------------------
HOOKS=$TMP/hooks
mkdir -p "$HOOKS"
cat >"$HOOKS/10-record" <<EOF
#!/bin/sh
env | grep '^CVM_AGENT_' | sort >>"$TMP/hook.out"
echo --- >>"$TMP/hook.out"
EOF
chmod +x "$HOOKS/10-record"
echo "not executable" >"$HOOKS/20-ignored"
ST=$TMP/state
# shellcheck disable=SC2086
CVM_AGENT_REACTION_DRY_RUN=1 CVM_AGENT_LOG=stderr "$CVM_AGENT" monitor $MON --interval 0.2 --jitter 0.02 \
        --state-dir "$ST" --metrics "$TMP/metrics.prom" --reaction "ima=hook:$HOOKS" \
        --reaction "pcr=close:cvm-test-volume-a,cvm-test-volume-a" --reaction all=log \
        >"$TMP/daemon.out" 2>"$TMP/daemon.err" &
DAEMON_PID=$!

# wait_for JQ-FILTER: up to 5 s for the status file to satisfy the filter.
wait_for() {
        CHECKS=$((CHECKS + 1))
        i=0
        while [ $i -lt 50 ]; do
                if [ -s "$ST/status.json" ] && jq -e "$1" "$ST/status.json" >/dev/null 2>&1; then
                        return 0
                fi
                sleep 0.1
                i=$((i + 1))
        done
        fail "status never satisfied '$1': $(cat "$ST/status.json" 2>/dev/null | head -c 1500)"
        return 1
}
checks_now() { jq -r .checks "$ST/status.json"; }

wait_for '.checks >= 2 and .state == "healthy"'
json_file() { cp "$ST/status.json" "$OUT"; }

# An allowed entry, logged and extended: no finding, the entry count grows.
ima_add /usr/bin/allowed allowed-content
wait_for '.ima_entries == 3 and .state == "healthy"'

# Logged but not extended yet (the kernel logs before it extends): a race, not a finding; the
# entry waits until PCR 10 covers it.
set -- $($IMA_APPEND "$IMA" /tmp/scratch scratch)
PENDING_SHA1=$1 PENDING_SHA256=$2
N=$(checks_now)
wait_for ".checks >= $((N + 3))"
wait_for '.ima_entries == 3 and .state == "healthy"'
tpm2_pcrextend -T "$SWTPM_TCTI" "10:sha1=$PENDING_SHA1,sha256=$PENDING_SHA256" || fail "pcrextend failed"
wait_for '.ima_entries == 4 and .state == "healthy"'

# An entry the policy does not allow: a finding naming path and digest; the hook runs once.
ima_add /usr/bin/evil evil-content
EVIL_DIGEST=$LAST_DIGEST
wait_for '.state == "violated" and .ima_entries == 5'
json_file
json_eq '[.findings[] | select(.class == "ima")] | length' 1
json_eq '.findings[] | select(.class == "ima") | .path' /usr/bin/evil
json_eq '.findings[] | select(.class == "ima") | .actual' "sha256:$EVIL_DIGEST"
json_eq '.findings[] | select(.class == "ima") | .severity' violation
grep -q "/usr/bin/evil" "$TMP/daemon.err" || fail "IMA finding not logged: $(cat "$TMP/daemon.err")"
N=$(checks_now)
wait_for ".checks >= $((N + 2))"
CHECKS=$((CHECKS + 1))
[ "$(grep -c '^---' "$TMP/hook.out" 2>/dev/null)" = 1 ] || fail "hook ran $(grep -c '^---' "$TMP/hook.out") times"
grep -q '^CVM_AGENT_CLASS=ima$' "$TMP/hook.out" || fail "hook env: $(cat "$TMP/hook.out")"
grep -q '^CVM_AGENT_PATH=/usr/bin/evil$' "$TMP/hook.out" || fail "hook env lacks the path"
grep -q "^CVM_AGENT_ACTUAL=sha256:$EVIL_DIGEST\$" "$TMP/hook.out" || fail "hook env lacks the digest"
grep -q '^CVM_AGENT_STATE=violated$' "$TMP/hook.out" || fail "hook env lacks the state"

# A boot-time PCR extended: a finding with the PCR and both values, within an interval.
BEFORE=$(tpm2_pcrread -T "$SWTPM_TCTI" sha256:7 | awk '/7 *:/ {print tolower($3)}' | sed 's/^0x//')
tpm2_pcrextend -T "$SWTPM_TCTI" "7:sha256=$(printf '%064d' 1)" || fail "pcrextend of PCR 7 failed"
AFTER=$(tpm2_pcrread -T "$SWTPM_TCTI" sha256:7 | awk '/7 *:/ {print tolower($3)}' | sed 's/^0x//')
wait_for '[.findings[] | select(.class == "pcr")] | length == 1'
json_file
json_eq '.findings[] | select(.class == "pcr") | .pcr' 7
json_eq '.findings[] | select(.class == "pcr") | .expected' "$BEFORE"
json_eq '.findings[] | select(.class == "pcr") | .actual' "$AFTER"
# The event log no longer replays to PCR 7 either.
json_eq '.findings[] | select(.class == "eventlog" and .pcr == 7) | .actual' "$AFTER"
grep -q 'would close cvm-test-volume-a (dry run)' "$TMP/daemon.err" || fail "close reaction: $(cat "$TMP/daemon.err")"
CHECKS=$((CHECKS + 1))
[ "$(grep -c 'would close' "$TMP/daemon.err")" = 1 ] || fail "close reaction ran more than once per volume"

# The event log altered (a PCR 0 digest flipped): it no longer replays.
python3 - "$LOG" <<'EOF' || fail "cannot alter the event log"
import json, subprocess, sys, os
log = sys.argv[1]
doc = json.loads(subprocess.run([os.environ["CVM_AGENT"], "eventlog", "--json", log], capture_output=True,
                                check=True).stdout)
ev = next(e for e in doc["events"] if e["pcr"] == 0 and e.get("digests", {}).get("sha256"))
d = bytes.fromhex(ev["digests"]["sha256"])
data = open(log, "rb").read()
assert data.count(d) >= 1
data = data.replace(d, bytes([d[0] ^ 1]) + d[1:], 1)
open(log, "wb").write(data)
EOF
wait_for '[.findings[] | select(.class == "eventlog" and .pcr == 0)] | length == 1'

# status agrees with the file; exit code 13 for violated.
expect_rc 13 "$CVM_AGENT" status --json --state-dir "$ST"
json_eq .state "$(jq -r .state "$ST/status.json")"
json_eq '[.findings[].class] | sort | join(",")' \
        "$(jq -r '[.findings[].class] | sort | join(",")' "$ST/status.json")"
expect_rc 13 "$CVM_AGENT" status --state-dir "$ST"
grep -q '^State: *violated' "$OUT" || fail "status text: $(cat "$OUT")"
grep -q 'expected: ' "$OUT" || fail "status text lacks expected values"

# Metrics, written atomically beside the status.
CHECKS=$((CHECKS + 1))
grep -q '^cvm_agent_monitor_state{state="violated"} 1$' "$TMP/metrics.prom" &&
        grep -q '^cvm_agent_monitor_findings_total{class="ima"} 1$' "$TMP/metrics.prom" &&
        grep -q '^cvm_agent_monitor_check_duration_seconds ' "$TMP/metrics.prom" ||
        fail "metrics: $(cat "$TMP/metrics.prom")"

# SIGTERM: a clean stop, exit 0, with the stop logged.
kill -TERM "$DAEMON_PID"
i=0
while kill -0 "$DAEMON_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
CHECKS=$((CHECKS + 1))
if kill -0 "$DAEMON_PID" 2>/dev/null; then
        fail "daemon still running 5 s after SIGTERM"
else
        wait "$DAEMON_PID"
        rc=$?
        [ "$rc" -eq 0 ] || fail "daemon exited $rc after SIGTERM; stderr: $(tail -3 "$TMP/daemon.err")"
fi
DAEMON_PID=
grep -q 'Integrity monitor stopped' "$TMP/daemon.err" || fail "stop not logged"
# A status whose daemon is gone is stale: degraded at best, and the violation stays.
expect_rc 13 "$CVM_AGENT" status --json --state-dir "$ST"
json_eq '[.findings[] | select(.message | test("not running"))] | length' 1

# ---- degraded, then healthy again when the condition ends ---------------------------------------
"$VTPM" make-eventlog "$LOG"
swtpm_stop
swtpm_start "$TMP/sim2/state" || { echo "FAIL: cannot start swtpm"; exit 1; }
CVM_AGENT_TCTI=$SWTPM_TCTI
"$VTPM" --tcti "$SWTPM_TCTI" provision --dir "$TMP/sim2" --pki "$PKI" --eventlog "$LOG" >/dev/null 2>&1 ||
        fail "second provisioning failed"
ST=$TMP/state2
# sd_notify: a datagram socket standing in for systemd's, recording every message.
python3 - "$TMP/notify.sock" "$TMP/notify.log" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(15)
with open(sys.argv[2], "a") as f:
    try:
        while True:
            m = s.recv(4096).decode()
            f.write(m + "\n--\n")
            f.flush()
            if "STOPPING=1" in m.split("\n"):
                break
    except socket.timeout:
        pass
EOF
NOTIFY_PID=$!
i=0
while [ ! -S "$TMP/notify.sock" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=400000 CVM_AGENT_LOG=stderr "$CVM_AGENT" monitor \
        --eventlog "$LOG" --ima-log "$TMP/ima2.bin" --interval 0.2 --hook-timeout 0.1 \
        --state-dir "$ST" >/dev/null 2>"$TMP/daemon2.err" &
DAEMON_PID=$!
wait_for '.state == "degraded" and (.findings[0].message | test("IMA log .* missing"))'
: >"$TMP/ima2.bin"
wait_for '.state == "healthy" and (.findings | length) == 0'
grep -q 'cleared; state is healthy' "$TMP/daemon2.err" || fail "recovery not logged: $(cat "$TMP/daemon2.err")"
kill -INT "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
CHECKS=$((CHECKS + 1))
[ "$rc" -eq 0 ] || fail "daemon exited $rc after SIGINT"
DAEMON_PID=
wait "$NOTIFY_PID" 2>/dev/null
CHECKS=$((CHECKS + 1))
grep -q '^READY=1$' "$TMP/notify.log" || fail "no READY=1: $(head -c 500 "$TMP/notify.log")"
grep -q '^STATUS=degraded (1 finding, latest: IMA log .* missing); last check ' "$TMP/notify.log" ||
        fail "no degraded STATUS=: $(head -c 800 "$TMP/notify.log")"
grep -q '^STATUS=healthy; last check .*: quote sha256:' "$TMP/notify.log" || fail "no healthy STATUS="
grep -q '^WATCHDOG=1$' "$TMP/notify.log" || fail "no WATCHDOG=1 although WATCHDOG_USEC was set"
grep -q '^STOPPING=1$' "$TMP/notify.log" || fail "no STOPPING=1"

finish
