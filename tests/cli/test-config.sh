#!/bin/sh
# cvm-agent config and the global configuration: TCTI precedence (--tcti > $CVM_AGENT_TCTI >
# [TPM] TCTI= > default) in `config --json` and in `evidence` against unreachable TPMs (the error
# names the TCTI actually used), drop-ins, exit 5 for a missing --config file, exit 11 for a
# malformed one, and commands that need no setting ignoring the configuration.
set -u
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null 2>&1 || { echo "SKIP: jq is not installed"; exit 77; }
unset CVM_AGENT_TCTI

# Unreachable TCTIs: nothing listens on these loopback ports.
T_CFG=swtpm:host=127.0.0.1,port=2
T_DROP=swtpm:host=127.0.0.1,port=3
T_ENV=swtpm:host=127.0.0.1,port=4
T_OPT=swtpm:host=127.0.0.1,port=5

CONF=$TMP/cvm-agent.conf
cat >"$CONF" <<EOF
# test configuration
[TPM]
TCTI=$T_CFG

[Unlock]
Deadline=90
PolicyMode=warn
EOF
LOG=$TMP/eventlog.bin
printf 'not an event log' >"$LOG"

# ---- usage --------------------------------------------------------------------------------------
expect_rc 0 "$CVM_AGENT" config --help
grep -q -- '--json' "$OUT" || fail "config --help does not document --json"
expect_rc 2 "$CVM_AGENT" config extra
expect_rc 2 "$CVM_AGENT" config --bogus
"$CVM_AGENT" --help | grep -q '11 invalid configuration' || fail "cvm-agent --help does not list exit code 11"

# ---- defaults (only when this machine has no configuration installed) --------------------------
if [ ! -e /etc/cvm-agent/cvm-agent.conf ] && [ ! -e /etc/cvm-agent/cvm-agent.conf.d ]; then
        expect_rc 0 "$CVM_AGENT" config --json
        json_eq '.config_file' /etc/cvm-agent/cvm-agent.conf
        json_eq '.files | length' 0
        json_eq '.settings.TPM.TCTI.value' device:/dev/tpmrm0
        json_eq '.settings.TPM.TCTI.source' default
        json_eq '.settings.Unlock.Deadline.usec' 60000000
        json_eq '.settings.Unlock.PCRExtend.value' 15
        json_eq '.settings.Network.CAFile.value' null
        json_eq '.settings.Monitor.StateDirectory.value' /run/cvm-agent
        json_eq '.settings.Monitor.IMA.value' true
        json_eq '[.settings[][] | .source] | unique | join(",")' default
else
        echo "SKIP: /etc/cvm-agent has a configuration; default checks skipped"
fi

# ---- precedence in `config --json` --------------------------------------------------------------
expect_rc 0 "$CVM_AGENT" --config "$CONF" config --json
json_eq '.config_file' "$CONF"
json_eq '.files | join(",")' "$CONF"
json_eq '.settings.TPM.TCTI.value' "$T_CFG"
json_eq '.settings.TPM.TCTI.source' file
json_eq '.settings.TPM.TCTI.file' "$CONF"
json_eq '.settings.TPM.TCTI.line' 3
json_eq '.settings.TPM.TCTI.default' device:/dev/tpmrm0
json_eq '.settings.Unlock.Deadline.value' 1min\ 30s
json_eq '.settings.Unlock.Deadline.usec' 90000000
json_eq '.settings.Unlock.Deadline.line' 6
json_eq '.settings.Unlock.PolicyMode.value' warn
json_eq '.settings.Unlock.PCRExtend.source' default

CVM_AGENT_TCTI=$T_ENV expect_rc 0 "$CVM_AGENT" --config "$CONF" config --json
json_eq '.settings.TPM.TCTI.value' "$T_ENV"
json_eq '.settings.TPM.TCTI.source' environment
json_eq '.settings.TPM.TCTI.variable' CVM_AGENT_TCTI

CVM_AGENT_TCTI=$T_ENV expect_rc 0 "$CVM_AGENT" --config "$CONF" --tcti "$T_OPT" config --json
json_eq '.settings.TPM.TCTI.value' "$T_OPT"
json_eq '.settings.TPM.TCTI.source' option
json_eq '.settings.TPM.TCTI.option' --tcti

# An empty variable counts as unset.
CVM_AGENT_TCTI= expect_rc 0 "$CVM_AGENT" --config "$CONF" config --json
json_eq '.settings.TPM.TCTI.value' "$T_CFG"

# The readable form names each source too.
CVM_AGENT_TCTI=$T_ENV expect_rc 0 "$CVM_AGENT" --config "$CONF" config
grep -Eq "^TCTI=$T_ENV +# environment CVM_AGENT_TCTI\$" "$OUT" || fail "text output: $(cat "$OUT")"
grep -Eq "^PolicyMode=warn +# $CONF:7\$" "$OUT" || fail "text output lacks PolicyMode source: $(cat "$OUT")"
grep -Eq '^CAFile= +# default \(unset\)$' "$OUT" || fail "text output lacks unset CAFile: $(cat "$OUT")"

# ---- drop-ins ---------------------------------------------------------------------------------------
mkdir "$CONF.d"
printf '[TPM]\nTCTI=%s\n' "$T_DROP" >"$CONF.d/50-tpm.conf"
printf '[TPM]\nTCTI=%s\n' "$T_ENV" >"$CONF.d/10-early.conf"
printf '[Nope]\n' >"$CONF.d/ignored.conf.disabled"
expect_rc 0 "$CVM_AGENT" --config "$CONF" config --json
json_eq '.settings.TPM.TCTI.value' "$T_DROP"
json_eq '.settings.TPM.TCTI.file' "$CONF.d/50-tpm.conf"
json_eq '.settings.TPM.TCTI.line' 2
json_eq '.files | length' 3
json_eq '.settings.Unlock.PolicyMode.file' "$CONF"

# ---- the TCTI `evidence` uses follows the same precedence ---------------------------------------
evidence_tcti() {
        tcti_want=$1 # not "want": expect_rc uses that name
        shift
        expect_rc 6 "$@" evidence --eventlog "$LOG" && one_line_error "cannot open TPM through TCTI '$tcti_want'"
}
evidence_tcti "$T_DROP" "$CVM_AGENT" --config "$CONF"
rm -r "$CONF.d"
evidence_tcti "$T_CFG" "$CVM_AGENT" --config "$CONF"
CVM_AGENT_TCTI=$T_ENV evidence_tcti "$T_ENV" "$CVM_AGENT" --config "$CONF"
CVM_AGENT_TCTI=$T_ENV evidence_tcti "$T_OPT" "$CVM_AGENT" --config "$CONF" --tcti "$T_OPT"

# ---- the shipped example: valid, and uncommented it lists every setting with its default ----------
EXAMPLE=$(dirname "$0")/../../packaging/cvm-agent.conf
expect_rc 0 "$CVM_AGENT" --config "$EXAMPLE" config --json
json_eq '[.settings[][] | .source] | unique | join(",")' default
sed 's/^#\([A-Za-z]*=\)/\1/' "$EXAMPLE" >"$TMP/example.conf"
expect_rc 0 "$CVM_AGENT" --config "$TMP/example.conf" config --json
json_eq '[.settings[][] | .source] | unique | join(",")' file
json_eq '[.settings[][] | select(.value != .default)] | length' 0

# ---- errors ------------------------------------------------------------------------------------------
expect_rc 5 "$CVM_AGENT" --config "$TMP/missing.conf" config --json &&
        one_line_error "^cvm-agent: $TMP/missing.conf: "
expect_rc 5 "$CVM_AGENT" --config "$TMP/missing.conf" evidence --eventlog "$LOG" &&
        one_line_error "missing.conf"

BAD=$TMP/bad.conf
printf '[TPM]\nTCTI=x\n[Unlock]\nDeadline=soon\n' >"$BAD"
expect_rc 11 "$CVM_AGENT" --config "$BAD" config --json &&
        one_line_error "^cvm-agent: $BAD:4: Deadline=soon is not a duration"
# The configuration is checked before the TPM is touched, whatever --tcti says.
expect_rc 11 "$CVM_AGENT" --config "$BAD" --tcti "$T_OPT" evidence --eventlog "$LOG" &&
        one_line_error "$BAD:4: "

printf '[TPM]\nDevice=/dev/tpm0\n' >"$BAD"
expect_rc 11 "$CVM_AGENT" --config "$BAD" config && one_line_error "$BAD:2: unknown key Device= in section \\[TPM\\]"
printf '[Reactions]\n' >"$BAD"
expect_rc 11 "$CVM_AGENT" --config "$BAD" config && one_line_error "$BAD:1: unknown section \\[Reactions\\]"
printf 'TCTI=x\n' >"$BAD"
expect_rc 11 "$CVM_AGENT" --config "$BAD" config && one_line_error "$BAD:1: TCTI= outside of a \\[Section\\]"
printf '[Unlock]\nPCRExtend=23\n' >"$BAD"
expect_rc 11 "$CVM_AGENT" --config "$BAD" config && one_line_error "PCRExtend=23 is out of range 8..15"
head -c 70000 /dev/zero | tr '\0' '#' >"$BAD"
expect_rc 11 "$CVM_AGENT" --config "$BAD" config && one_line_error "$BAD: .*more than the limit of 65536"

# A malformed drop-in is named, and fails the default-path case as well.
mkdir "$CONF.d"
printf '[Monitor]\nInterval=1x\n' >"$CONF.d/90-bad.conf"
expect_rc 11 "$CVM_AGENT" --config "$CONF" config && one_line_error "$CONF.d/90-bad.conf:2: Interval=1x"
rm -r "$CONF.d"

# A bad TCTI from the command line or the environment is a usage error.
expect_rc 2 "$CVM_AGENT" --config "$CONF" --tcti "$(printf 'a\001b')" config &&
        one_line_error "option --tcti: TCTI= value contains a control character"

# Commands that need no setting do not read the configuration at all.
printf '[Nope]\n' >"$BAD"
expect_rc 5 "$CVM_AGENT" --config "$BAD" eventlog "$TMP/no-such-log" && one_line_error "no-such-log"
expect_rc 5 "$CVM_AGENT" --config "$TMP/missing.conf" eventlog "$TMP/no-such-log" && one_line_error "no-such-log"

finish
