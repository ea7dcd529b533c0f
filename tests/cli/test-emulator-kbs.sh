#!/bin/sh
# The Trustee KBS emulator (tests/emulators/kbs.py) driven through RCAR with synthetic az-snp-vtpm and
# snp evidence: auth/attest/resource, cookie and Bearer, JWE to EC and RSA TEE keys, 401/403/404, faults.
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
exec "$python" tests/emulators/kbs_test.py
