#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Integrity monitor benchmark:
#  1. idle RSS of `cvm-agent monitor` after its first check (VmRSS, split into anonymous memory
#     and file-backed pages, i.e. mostly the shared libraries' code), target <= 4 MiB;
#  2. CPU time per check of the daemon process itself (user + sys from /proc/PID/stat over many
#     checks at a 0.05 s interval); the TPM's own work runs in the swtpm process and is excluded;
#  3. the incremental IMA step on logs of 10 k, 100 k and 1 M entries with 0, 100 and 10 000 new
#     entries (bench-monitor-ima.c): the cost must follow the new entries, not the log length.
set -eu

agent=${CVM_AGENT:-build/cvm-agent}
builddir=${CVM_BUILDDIR:-$(dirname "$agent")}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
tmp=$(mktemp -d)
pid=
. "$top/tests/vtpm/swtpm.sh"
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; swtpm_stop; rm -rf "$tmp"' EXIT

[ -x "$agent" ] || { echo "bench-monitor: $agent not built (make)"; exit 1; }
vtpm=$builddir/tests/vtpm/cvm-vtpm
[ -x "$vtpm" ] || { echo "bench-monitor: $vtpm not built (make check-build)"; exit 1; }
command -v swtpm >/dev/null || { echo "bench-monitor: swtpm missing"; exit 1; }

"$vtpm" make-eventlog "$tmp/log.bin"
swtpm_start "$tmp/state"
"$vtpm" --tcti "$SWTPM_TCTI" provision --dir "$tmp/sim" --pki "$builddir/tests/vtpm-pki" \
        --eventlog "$tmp/log.bin" >/dev/null
: >"$tmp/ima"

ticks=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
checks() { jq -r .checks "$tmp/st/status.json" 2>/dev/null || echo 0; }

# 1 + 2: the daemon at a short interval (no jitter), measured over >= 100 checks.
CVM_AGENT_TCTI=$SWTPM_TCTI CVM_AGENT_LOG=stderr "$agent" monitor --eventlog "$tmp/log.bin" --ima-log "$tmp/ima" \
        --interval 0.05 --jitter 0 --state-dir "$tmp/st" 2>"$tmp/err" &
pid=$!
while [ "$(checks)" -lt 3 ]; do sleep 0.05; done
c0=$(checks)
t0=$(cpu_ticks $pid)
sleep 6
c1=$(checks)
t1=$(cpu_ticks $pid)
rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
anon=$(awk '/^RssAnon/ {print $2}' /proc/$pid/status)
file=$(awk '/^RssFile/ {print $2}' /proc/$pid/status)
hwm=$(awk '/^VmHWM/ {print $2}' /proc/$pid/status)
pss=$(awk '/^Pss:/ {print $2}' /proc/$pid/smaps_rollup 2>/dev/null || echo '?')
dur=$(jq -r .last_duration_ms "$tmp/st/status.json")
kill -TERM $pid
wait $pid || true
pid=
n=$((c1 - c0))
echo "bench-monitor: idle RSS ${rss} KiB (anonymous ${anon} KiB, file-backed/libraries ${file} KiB), PSS ${pss} KiB, peak ${hwm} KiB"
awk -v t=$((t1 - t0)) -v hz="$ticks" -v n=$n -v d="$dur" 'BEGIN {
        printf "bench-monitor: %d checks, daemon CPU %.2f ms per check (user+sys, TPM excluded); wall %.1f ms per check incl. swtpm\n",
                n, 1000 * t / hz / n, d }'

# 3: incremental IMA cost.
cc -O2 -o "$tmp/gen-ima-log" "$here/gen-ima-log.c" -lcrypto
# shellcheck disable=SC2046
cc -O2 -std=gnu11 -I"$top/agent/lib" -o "$tmp/bench-monitor-ima" "$here/bench-monitor-ima.c" \
        "$builddir/libcvm.a" $(pkg-config --libs openssl json-c)
printf 'bench-monitor: incremental IMA step (CPU time; resume + read + extend + appraise)\n'
printf '  %-10s %-12s %-14s %-14s %-14s\n' "log" "full read" "0 new" "100 new" "10000 new"
for n in 10000 100000 1000000; do
        "$tmp/gen-ima-log" "$n" "$tmp/big.bin" >/dev/null
        r0=$("$tmp/bench-monitor-ima" "$tmp/big.bin" 0 2000)
        r1=$("$tmp/bench-monitor-ima" "$tmp/big.bin" 100 200)
        r2=$("$tmp/bench-monitor-ima" "$tmp/big.bin" 10000 5)
        echo "$n $r0 $r1 $r2" | awk '{ printf "  %-10d %-12s %-14s %-14s %-14s\n", $1, sprintf("%.3f s", $4),
                sprintf("%.1f us", $3 * 1e6), sprintf("%.1f us", $6 * 1e6), sprintf("%.2f ms", $9 * 1e3) }'
done
rm -f "$tmp/big.bin"
