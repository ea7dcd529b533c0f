#!/bin/sh
# Decode + replay of real event logs: cvm-agent eventlog --json against tpm2_eventlog (Debian
# tpm2-tools 5.4), run alternately on the same files in one go. Prints per-log mean wall time
# per run, the ratio, and the peak RSS of one run of each (/usr/bin/time -f %M).
# RUNS (default 30) sets the runs per tool and log; keep it small on shared machines.
set -eu

agent=${CVM_AGENT:?CVM_AGENT must point to the cvm-agent binary}
vectors=${CVM_VECTORS:-}
runs=${RUNS:-30}

if [ -z "$vectors" ] || [ ! -d "$vectors" ]; then
        echo "bench-eventlog: SKIP: real-data corpus not found (set CVM_VECTORS)"
        exit 0
fi
if ! command -v tpm2_eventlog >/dev/null; then
        echo "bench-eventlog: SKIP: tpm2_eventlog (tpm2-tools) not installed"
        exit 0
fi

# The larger logs of the corpus, plus one tpm2_eventlog crashes on.
logs="
go-attestation/option_rom_eventlog
ima-evm-utils/sample-binary_bios_measurements-pcrs-8-9
go-tpm-tools/eventlogs/gdc-host.bin
keylime/mb/binary_bios_measurements
go-tpm-tools/eventlogs/ubuntu-2404-amd-sevsnp.bin
go-attestation/windows_gcp_shielded_vm.decomposed/eventlog.bin
go-tpm-tools/eventlogs/rhel8-uefi.bin
tpm2-tools/logs/event-gce-ubuntu-2104-log.bin
"

now_ns() {
        date +%s%N
}

# Runs "$@" once, adding its wall time to the variable named $1's accumulator; the exit status
# of the tool is returned so a crash can be reported instead of being timed.
run_timed() {
        t0=$(now_ns)
        "$@" >/dev/null 2>&1
        rc=$?
        t1=$(now_ns)
        elapsed=$((t1 - t0))
        return $rc
}

peak_rss() {
        /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n 1
}

ms() { # nanoseconds total, runs -> "x.xx"
        awk -v ns="$1" -v n="$2" 'BEGIN { printf "%.2f", ns / n / 1e6 }'
}

echo "bench-eventlog: $runs alternating runs per tool and log; cvm-agent $("$agent" --version | cut -d' ' -f2), $(tpm2_eventlog --version | sed 's/.*version="\([^"]*\)".*/tpm2_eventlog \1/')"
printf '%-58s %7s %6s %10s %10s %7s %9s %9s\n' "log" "bytes" "events" "cvm ms" "tpm2 ms" "ratio" "cvm KiB" "tpm2 KiB"
total_cvm=0
total_tpm=0
for rel in $logs; do
        f="$vectors/$rel"
        [ -f "$f" ] || continue
        size=$(wc -c <"$f")
        events=$("$agent" eventlog --json --pcrs-only "$f" | sed -n 's/^ *"event_count": \([0-9]*\).*/\1/p')
        cvm_ns=0
        tpm_ns=0
        tpm_status=ok
        i=0
        while [ $i -lt "$runs" ]; do
                run_timed "$agent" eventlog --json "$f" || { echo "cvm-agent failed on $rel" >&2; exit 1; }
                cvm_ns=$((cvm_ns + elapsed))
                if [ "$tpm_status" = ok ]; then
                        if run_timed tpm2_eventlog "$f"; then
                                tpm_ns=$((tpm_ns + elapsed))
                        else
                                tpm_status="rc=$rc"
                        fi
                fi
                i=$((i + 1))
        done
        cvm_rss=$(peak_rss "$agent" eventlog --json "$f")
        cvm_ms=$(ms "$cvm_ns" "$runs")
        if [ "$tpm_status" = ok ]; then
                tpm_rss=$(peak_rss tpm2_eventlog "$f")
                tpm_ms=$(ms "$tpm_ns" "$runs")
                ratio=$(awk -v a="$tpm_ns" -v b="$cvm_ns" 'BEGIN { printf "%.2fx", a / b }')
                total_cvm=$((total_cvm + cvm_ns))
                total_tpm=$((total_tpm + tpm_ns))
        else
                # 139 = killed by SIGSEGV
                tpm_rss="-"
                tpm_ms="($tpm_status)"
                ratio="-"
        fi
        printf '%-58s %7s %6s %10s %10s %7s %9s %9s\n' "$rel" "$size" "$events" "$cvm_ms" "$tpm_ms" "$ratio" "$cvm_rss" "$tpm_rss"
done
if [ "$total_cvm" -gt 0 ]; then
        echo "bench-eventlog: on the logs both tools handle, tpm2_eventlog takes $(awk -v a="$total_tpm" -v b="$total_cvm" 'BEGIN { printf "%.2f", a / b }')x the time of cvm-agent (ratio = tpm2 / cvm)"
fi
