#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test-only TLS material for the loopback emulators, generated at run time with the openssl CLI.

Nothing generated here is ever committed: every run creates fresh keys in a temporary state
directory. Files (all PEM):

  ca.pem / ca.key                     "cvm-agent TEST-ONLY CA": the trust anchor clients get
  server.pem / server.key             leaf for IP 127.0.0.1 and DNS localhost, signed by ca
  untrusted-ca.pem / untrusted-ca.key an unrelated CA that no client trusts
  untrusted.pem / untrusted.key       same names as server.pem, signed by untrusted-ca
  wronghost.pem / wronghost.key       signed by ca, but only for DNS wrong-host.invalid

Usage as a program: testpki.py DIR  (creates DIR if needed, prints the CA path).
"""
import os
import subprocess
import sys

_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @alt
[alt]
{alt}
"""

LOOPBACK_NAMES = "IP.1 = 127.0.0.1\nDNS.1 = localhost"


def _openssl(*args, cwd):
    proc = subprocess.run(("openssl",) + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=60, check=False)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], proc.stderr.decode(errors="replace").strip()))


def _config(directory, name, alt):
    path = os.path.join(directory, name)
    with open(path, "w", encoding="ascii") as f:
        f.write(_CONFIG.format(alt=alt))
    return path


def _make_ca(directory, stem, cn):
    cfg = _config(directory, stem + ".cnf", LOOPBACK_NAMES)
    _openssl("req", "-x509", "-config", cfg, "-extensions", "ca_ext", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", stem + ".key", "-out", stem + ".pem",
             "-days", "2", "-subj", "/CN=" + cn, cwd=directory)


def _make_leaf(directory, stem, ca_stem, cn, alt):
    cfg = _config(directory, stem + ".cnf", alt)
    _openssl("req", "-new", "-config", cfg, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", stem + ".key", "-out", stem + ".csr", "-subj", "/CN=" + cn, cwd=directory)
    _openssl("x509", "-req", "-in", stem + ".csr", "-CA", ca_stem + ".pem", "-CAkey", ca_stem + ".key",
             "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2", "-extfile", cfg,
             "-extensions", "leaf_ext", "-out", stem + ".pem", cwd=directory)
    os.unlink(os.path.join(directory, stem + ".csr"))


def generate(directory):
    """Creates the test PKI in directory (reusing it when already complete); returns a dict of paths."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    paths = {stem: os.path.join(directory, stem + ".pem")
             for stem in ("ca", "server", "untrusted-ca", "untrusted", "wronghost")}
    if all(os.path.exists(p) for p in paths.values()):
        return paths
    _make_ca(directory, "ca", "cvm-agent TEST-ONLY CA")
    _make_leaf(directory, "server", "ca", "127.0.0.1", LOOPBACK_NAMES)
    _make_ca(directory, "untrusted-ca", "cvm-agent TEST-ONLY untrusted CA")
    _make_leaf(directory, "untrusted", "untrusted-ca", "127.0.0.1", LOOPBACK_NAMES)
    _make_leaf(directory, "wronghost", "ca", "wrong-host.invalid", "DNS.1 = wrong-host.invalid")
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: testpki.py DIR")
    print(generate(sys.argv[1])["ca"])
