#!/bin/sh
# Runs each libFuzzer target for SECONDS, seeded from tests/fuzz/seeds/<target>/ (own small
# fixtures) and from the real-data corpus files listed in tests/fuzz/<target>.seeds (paths
# relative to $CVM_VECTORS, one per line). New corpus entries go to a temporary directory, so
# the repository is never written. Any crash, leak or sanitizer report fails the run.
set -eu

seconds=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
vectors=${CVM_VECTORS:-}
status=0

for fuzzer in "$@"; do
        name=$(basename "$fuzzer")
        work=$(mktemp -d)
        mkdir -p "$work/corpus" "$work/seeds"
        if [ -d "$here/seeds/$name" ]; then
                cp -r "$here/seeds/$name/." "$work/seeds/"
        fi
        if [ -f "$here/$name.seeds" ]; then
                if [ -n "$vectors" ] && [ -d "$vectors" ]; then
                        i=0
                        while IFS= read -r rel; do
                                case "$rel" in '' | '#'*) continue ;; esac
                                i=$((i + 1))
                                [ -f "$vectors/$rel" ] && cp "$vectors/$rel" "$work/seeds/vector-$i"
                        done <"$here/$name.seeds"
                else
                        echo "fuzz: $name: real-data corpus not found, seeding from own fixtures only"
                fi
        fi
        echo "=== $name for ${seconds}s ($(ls "$work/seeds" | wc -l) seeds)"
        if ! "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
                -artifact_prefix="$work/" "$work/corpus" "$work/seeds" >"$work/log" 2>&1; then
                tail -n 60 "$work/log"
                echo "fuzz: $name FAILED; reproducer(s):"
                ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null || true
                mkdir -p artifacts && cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* artifacts/ 2>/dev/null || true
                status=1
        else
                grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs' "$work/log" || true
                echo "fuzz: $name ok"
        fi
        rm -rf "$work"
done
exit $status
