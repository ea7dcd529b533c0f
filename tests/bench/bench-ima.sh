#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# IMA log replay benchmark: a generated 1,000,000-entry ima-ng log (binary and ASCII, realistic
# paths), replayed by `cvm-agent ima FILE` (text mode, streaming) and, side by side, by
# `evmctl ima_measurement` from ima-evm-utils, the fastest peer that does the same work
# (parse, recompute every template hash, replay PCR 10 in the SHA-1 and SHA-256 banks).
#
# evmctl and TPMs: without --pcrs it reads PCRs from a TPM (sysfs or TSS) and, finding none,
# still parses and verifies every template hash but compares nothing ("Failed to read any TPM
# PCRs"). With --pcrs sha1,FILE --pcrs sha256,FILE (FILE: "PCR-NN hex" lines) it replays the
# banks and compares after every entry, stopping at the first match; the expected values are the
# final ones, so it walks the whole log: the like-for-like run. evmctl only reads binary logs,
# and prints every entry (sent to /dev/null here). Targets for cvm-agent: >= 1 M entries/s,
# peak RSS < 16 MiB. The generated files live in a temporary directory, never in the tree.
set -eu

n=${IMA_BENCH_ENTRIES:-1000000}
agent=${CVM_AGENT:-build/cvm-agent}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

[ -x "$agent" ] || { echo "bench-ima: $agent not built (make)"; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-ima: /usr/bin/time missing (apt-get install time)"; exit 1; }
cc -O2 -o "$tmp/gen-ima-log" "$here/gen-ima-log.c" -lcrypto

echo "bench-ima: generating $n ima-ng entries (binary + ASCII) in $tmp"
expect=$("$tmp/gen-ima-log" "$n" "$tmp/log.bin")
"$tmp/gen-ima-log" --ascii "$n" "$tmp/log.ascii" >/dev/null
exp1=${expect% *}
exp256=${expect#* }
i=0
while [ $i -lt 24 ]; do
        z1=0000000000000000000000000000000000000000
        z256=0000000000000000000000000000000000000000000000000000000000000000
        if [ $i -eq 10 ]; then z1=$exp1; z256=$exp256; fi
        printf 'PCR-%02d %s\n' $i "$z1" >>"$tmp/pcrs-sha1"
        printf 'PCR-%02d %s\n' $i "$z256" >>"$tmp/pcrs-sha256"
        i=$((i + 1))
done

# run NAME CMD...: time CMD once, record "wall-seconds cpu-seconds KiB rc". The machine is shared,
# so throughput "on one core" is entries per CPU second (user + sys); wall time is shown too.
run() {
        name=$1
        shift
        /usr/bin/time -f "%e %U %S %M" -o "$tmp/time.$name" "$@" >"$tmp/out.$name" 2>"$tmp/err.$name" && rc=0 || rc=$?
        read -r wall user sys kib <"$tmp/time.$name"
        echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }') $kib $rc" >"$tmp/res.$name"
}

run agent-bin "$agent" ima "$tmp/log.bin"
run agent-ascii "$agent" ima "$tmp/log.ascii"
run evmctl-pcrs evmctl ima_measurement --pcrs "sha1,$tmp/pcrs-sha1" --pcrs "sha256,$tmp/pcrs-sha256" "$tmp/log.bin"
run evmctl-notpm evmctl ima_measurement "$tmp/log.bin"

status=0
# The results must be right before they are fast.
for f in agent-bin agent-ascii; do
        grep -q "^PCR 10 sha1: *$exp1\$" "$tmp/out.$f" && grep -q "^PCR 10 sha256: *$exp256\$" "$tmp/out.$f" &&
                grep -q "^entries: *$n\$" "$tmp/out.$f" || { echo "bench-ima: $f: wrong result"; status=1; }
done
grep -q "Matched per TPM bank" "$tmp/err.evmctl-pcrs" "$tmp/out.evmctl-pcrs" ||
        echo "bench-ima: note: evmctl did not report a PCR match"

printf '\n%-42s %7s %7s %12s %10s %4s\n' "replay of $n entries" "wall s" "CPU s" "entries/CPU-s" "peak RSS" "rc"
for f in agent-bin agent-ascii evmctl-pcrs evmctl-notpm; do
        read -r wall cpu kib rc <"$tmp/res.$f"
        case $f in
        agent-bin) label="cvm-agent ima (binary)" ;;
        agent-ascii) label="cvm-agent ima (ASCII)" ;;
        evmctl-pcrs) label="evmctl ima_measurement --pcrs (binary)" ;;
        evmctl-notpm) label="evmctl ima_measurement, no PCRs (binary)" ;;
        esac
        rate=$(awk -v n="$n" -v s="$cpu" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "inf" }')
        printf '%-42s %7s %7s %12s %6s MiB %4s\n' "$label" "$wall" "$cpu" "$rate" \
                "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')" "$rc"
done
read -r wb cb kb _ <"$tmp/res.agent-bin"
read -r wa ca ka _ <"$tmp/res.agent-ascii"
read -r we ce ke _ <"$tmp/res.evmctl-pcrs"
awk -v cb="$cb" -v ca="$ca" -v ce="$ce" -v wb="$wb" -v wa="$wa" -v we="$we" 'BEGIN {
        printf "\nspeed-up over evmctl --pcrs (CPU time): binary %.1fx, ASCII %.1fx", ce / cb, ce / ca
        printf "; wall time: binary %.1fx, ASCII %.1fx\n", we / wb, we / wa }'

# Targets: >= 1 M entries per CPU second and < 16 MiB peak RSS, for both formats.
for pair in "binary $cb $kb" "ASCII $ca $ka"; do
        set -- $pair
        if awk -v n="$n" -v s="$2" -v k="$3" 'BEGIN { exit !(n / s >= 1000000 && k < 16384) }'; then
                echo "target met ($1): >= 1 M entries/s on one core, peak RSS < 16 MiB"
        else
                echo "bench-ima: target MISSED ($1): $(awk -v n="$n" -v s="$2" 'BEGIN { printf "%.0f", n / s }') entries/CPU-s, $3 KiB"
                status=1
        fi
done
exit $status
