#!/bin/sh
# The Azure emulators (tests/emulators/imds.py, maa.py, keyvault.py) driven by a Python client with
# synthetic CVM evidence: THIM, AzureGuest verification and refusals, envelope, JWT, managed identity,
# secure key release with the release-policy grammar, key_hsm unwrap, and every fault knob.
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
exec "$python" tests/emulators/azure_test.py
