#!/bin/sh
# Runs every side-by-side benchmark in tests/bench/ (make bench).
for b in "$(dirname "$0")"/bench-*.sh; do sh "$b" || exit 1; done
