#!/bin/sh
# The loopback TLS emulator framework (tests/emulators/), checked with Python's own HTTP client:
# fault knobs on the wire, test-PKI trust, control endpoint, SIGTERM and parent-death exits.
set -u
cd "$(dirname "$0")/../.." || exit 1
python=${CVM_PYTHON:-}
if [ -z "$python" ]; then
        if [ -x /usr/bin/python3 ]; then python=/usr/bin/python3; else python=python3; fi
fi
if ! command -v "$python" >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
        echo "SKIP: python3 or openssl not installed (packaging/install-deps.sh installs both)"
        exit 77
fi
exec "$python" tests/emulators/selftest.py
