#!/bin/sh
# Baseline for the unlock latency budget: the time of each TPM command of the tpm adapter on
# swtpm, and of whole `cvm-agent evidence` runs against a simulated Azure vTPM.
#
#   CVM_AGENT=build/cvm-agent CVM_BUILDDIR=build sh tests/bench/bench-tpm.sh [RUNS]
#
# swtpm is a software TPM: its RSA key generation and signing cost are those of this host's
# CPU, not of a vTPM behind a paravisor, so treat the figures as a lower bound for hardware-
# backed vTPMs and as the regression baseline for our own overhead.
set -u
RUNS=${1:-20}
: "${CVM_AGENT:=build/cvm-agent}"
B=${CVM_BUILDDIR:-$(dirname "$CVM_AGENT")}
. "$(dirname "$0")/../vtpm/swtpm.sh"
if ! command -v swtpm >/dev/null 2>&1; then
        echo "bench-tpm: SKIP: swtpm is not installed"
        exit 0
fi
for tool in "$B/tests/vtpm/cvm-vtpm" "$B/tests/vtpm/cvm-tpm-bench" "$CVM_AGENT"; do
        [ -x "$tool" ] || { echo "bench-tpm: $tool is not built (make check-build)" >&2; exit 1; }
done

TMP=$(mktemp -d)
trap 'swtpm_stop; rm -rf "$TMP"' EXIT
swtpm_start "$TMP/state" || exit 1
"$B/tests/vtpm/cvm-vtpm" make-eventlog "$TMP/log.bin" || exit 1
"$B/tests/vtpm/cvm-vtpm" --tcti "$SWTPM_TCTI" provision --dir "$TMP/sim" --pki "$B/tests/vtpm-pki" \
        --eventlog "$TMP/log.bin" >/dev/null || exit 1

echo "== TPM commands on swtpm $(swtpm --version 2>/dev/null | head -1 | sed 's/,.*//') ($RUNS runs)"
"$B/tests/vtpm/cvm-tpm-bench" --tcti "$SWTPM_TCTI" "$RUNS" || exit 1

# Whole evidence runs: process start, TPM gathering (AK, AK cert, HCL report, quote, PCRs), and
# the local checks (quote, event log replay, HCL parse and AK binding, SNP signature + chain).
echo
echo "== cvm-agent evidence ($RUNS runs, ms)"
now_ms() { date +%s%N | cut -c1-13; }
run_many() {
        label=$1
        shift
        times=""
        i=0
        while [ $i -lt "$RUNS" ]; do
                s=$(now_ms)
                "$@" >/dev/null 2>&1
                rc=$?
                e=$(now_ms)
                [ $rc -eq 0 ] || { echo "bench-tpm: '$*' exited $rc" >&2; exit 1; }
                times="$times $((e - s))"
                i=$((i + 1))
        done
        echo "$times" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk -v label="$label" '
                { t[NR] = $1 } END { printf "%-44s median %5d  min %5d  max %5d\n", label, t[int((NR + 1) / 2)], t[1], t[NR] }'
}
export CVM_AGENT_TCTI="$SWTPM_TCTI"
run_many "evidence (quote + log + HCL + AK binding)" "$CVM_AGENT" evidence --json --eventlog "$TMP/log.bin"
run_many "evidence + SNP report/VCEK chain check" "$CVM_AGENT" evidence --json --eventlog "$TMP/log.bin" \
        --vcek "$B/tests/vtpm-pki/vcek.pem" --chain "$B/tests/vtpm-pki/chain.pem" \
        --test-ark "$B/tests/vtpm-pki/ark.pem"
run_many "evidence, PCRs 0-15" "$CVM_AGENT" evidence --json --eventlog "$TMP/log.bin" --pcrs 0-15
