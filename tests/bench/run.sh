#!/bin/sh
for b in "$(dirname "$0")"/bench-*.sh; do sh "$b" || exit 1; done
