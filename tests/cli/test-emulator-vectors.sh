#!/bin/sh
# The emulators' verification logic against real recorded data in $CVM_VECTORS: Trustee az-snp-vtpm
# evidence and tampered copies, event-log replay, real MAA tokens through the Key Vault emulator,
# and the real Key Vault release response as the shape template. Skips without the corpus.
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
if ! "$python" -c 'import cryptography' 2>/dev/null; then
        echo "SKIP: python3-cryptography not installed (packaging/install-deps.sh installs it)"
        exit 77
fi
exec "$python" tests/emulators/vectors_test.py
