#!/bin/sh
# Runs every side-by-side benchmark tests/bench/bench-*.sh ($CVM_AGENT, $CVM_VECTORS set by make bench).
for b in "$(dirname "$0")"/bench-*.sh; do sh "$b" || exit 1; done
