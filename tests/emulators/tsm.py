#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test double of the Linux configfs-tsm report interface with the sev_guest provider (TEST ONLY).

  tsm.py setup DIR      a TEST-ONLY AMD chain with one VCEK (DIR/amd, the KBS's --amd-roots is
                        DIR/amd/roots.pem) and a foreign chain with its own VCEK (DIR/foreign)
  tsm.py serve --root ROOT --pki DIR [faults]   play the TSM for every entry under ROOT

configfs-tsm (Documentation/ABI/testing/configfs-tsm): mkdir ROOT/<name> creates the entry's
attributes; writing inblob (64 bytes of report data) increments generation; reading outblob returns
the SNP ATTESTATION_REPORT for that report data and auxblob the host's certificate table (GHCB spec:
24-byte entries {GUID, offset u32, length u32} ended by a zero entry, certificates after it). A
plain directory cannot create files on mkdir: tests/cli/tsm-shim.c (LD_PRELOAD into the agent) does
that part, making inblob/outblob/auxblob FIFOs. This process finds new entries, and per round reads
inblob, bumps generation, then writes outblob and auxblob — so the agent's reads see exactly what
a kernel would give, in the same order, and block until it is ready, like the real attribute.

Faults: --race N (the first N rounds move generation by 2, as if another process wrote inblob
too), --wrong-report-data (the report carries other report data), --foreign (signed by a VCEK of
another chain, whose certificates the table carries), --no-aux (empty auxblob), --bad-aux (a table
entry pointing past the end)."""
import argparse
import os
import struct
import sys
import threading
import time
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

import synth  # noqa: E402

GUIDS = {"VCEK": "63da758d-e664-4564-adc5-f4b93be8accd", "ASK": "4ab7b379-bbac-4fe4-a02f-05aef327c782",
         "ARK": "c0b406a4-a803-4952-9743-3fb6014cd0ae"}
CRL_GUID = "92f81bc3-5811-4d3d-97ff-d19f88dc67ea"
CHIP_ID = bytes(range(64))


def setup(d):
    for name in ("amd", "foreign"):
        chain = synth.AmdChain(os.path.join(d, name), "Milan" if name == "amd" else "Foreign")
        chain.vcek(CHIP_ID)  # writes vcek1.key / vcek1.pem


def der(pem_path):
    with open(pem_path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)


def cert_table(d, bad=False):
    """VCEK, a CRL-type entry the agent must skip, ASK, ARK; offsets from the table start."""
    certs = [("VCEK", der(os.path.join(d, "vcek1.pem"))), ("CRL", b"TEST-ONLY not a CRL"),
             ("ASK", der(os.path.join(d, "ask.pem"))), ("ARK", der(os.path.join(d, "ark.pem")))]
    head = 24 * (len(certs) + 1)
    table, body = b"", b""
    for kind, data in certs:
        guid = uuid.UUID(GUIDS.get(kind, CRL_GUID)).bytes
        length = len(data) + (100000 if bad and kind == "ASK" else 0)
        table += guid + struct.pack("<II", head + len(body), length)
        body += data
    return (table + bytes(24) + body).ljust(4096 * ((head + len(body)) // 4096 + 1), b"\0")


class Provider:
    def __init__(self, a):
        d = os.path.join(a.pki, "foreign" if a.foreign else "amd")
        with open(os.path.join(d, "vcek1.key"), "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), None)
        self.aux = b"" if a.no_aux else cert_table(d, a.bad_aux)
        self.args, self.races, self.lock = a, a.race, threading.Lock()

    def round(self, entry):
        with open(os.path.join(entry, "inblob"), "rb") as f:
            data = f.read()
        gpath = os.path.join(entry, "generation")
        with open(gpath, encoding="ascii") as f:
            gen = int(f.read().strip())
        with self.lock:
            race = self.races > 0
            self.races -= 1 if race else 0
        tmp = os.path.join(entry, "generation.tmp")
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % (gen + (2 if race else 1)))
        os.rename(tmp, gpath)
        rd = data[:64].ljust(64, b"\0")
        if self.args.wrong_report_data:
            rd = bytes(b ^ 0xFF for b in rd)
        report = synth.snp_report(self.key, rd, CHIP_ID)
        with open(os.path.join(entry, "outblob"), "wb") as f:
            f.write(report)
        with open(os.path.join(entry, "auxblob"), "wb") as f:
            f.write(self.aux)

    def serve_entry(self, entry):
        while os.path.exists(os.path.join(entry, "inblob")):
            try:
                self.round(entry)
            except OSError:
                return


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("dir")
    v = sub.add_parser("serve")
    v.add_argument("--root", required=True)
    v.add_argument("--pki", required=True)
    v.add_argument("--race", type=int, default=0)
    v.add_argument("--wrong-report-data", action="store_true")
    v.add_argument("--foreign", action="store_true")
    v.add_argument("--no-aux", action="store_true")
    v.add_argument("--bad-aux", action="store_true")
    v.add_argument("--max-lifetime", type=float, default=300.0)
    a = p.parse_args()
    if a.cmd == "setup":
        setup(a.dir)
        return 0
    prov, seen = Provider(a), set()
    end = time.monotonic() + a.max_lifetime
    while time.monotonic() < end:
        for name in os.listdir(a.root):
            entry = os.path.join(a.root, name)
            if entry not in seen and os.path.exists(os.path.join(entry, "inblob")):
                seen.add(entry)
                threading.Thread(target=prov.serve_entry, args=(entry,), daemon=True).start()
        time.sleep(0.02)
    return 0


if __name__ == "__main__":
    sys.exit(main())
