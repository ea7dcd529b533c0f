#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drives the Trustee KBS emulator through RCAR with synthetic az-snp-vtpm (version 2) and snp
evidence: auth -> attest -> resource (cookie and Bearer), EC P-256 and RSA TEE keys, then every
refusal (401/403/404) and emulator-specific fault. Run by tests/cli/test-emulator-kbs.sh."""
import hashlib
import json
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

import joseutil  # noqa: E402
import synth  # noqa: E402
from harness import Checks, Server, error_message  # noqa: E402

C = Checks("kbs emulator")
PREFIX = "https://github.com/confidential-containers/kbs/errors/"
SECRET = os.urandom(32)


class Rcar:
    """One RCAR client session (cookie jar of one cookie)."""

    def __init__(self, kbs, vtpm, tee="az-snp-vtpm", key_type="EC", hashes=("sha384", "sha256")):
        self.kbs, self.vtpm, self.tee = kbs, vtpm, tee
        self.key = ec.generate_private_key(ec.SECP256R1()) if key_type == "EC" else rsa.generate_private_key(65537, 2048)
        alg = "ECDH-ES+A256KW" if key_type == "EC" else "RSA-OAEP-256"
        self.jwk = joseutil.jwk_from_public(self.key.public_key(), alg=alg)
        self.hashes = hashes
        self.cookie = None
        self.token = None

    def auth(self, version="0.4.0", tee=None):
        body = {"version": version, "tee": tee or self.tee, "extra-params": {}}
        if self.hashes is not None:
            body["extra-params"]["supported-hash-algorithms"] = list(self.hashes)
        status, hdrs, obj = self.kbs.json("POST", "/kbs/v0/auth", body)
        if status == 200:
            self.cookie = hdrs["set-cookie"].split(";")[0]
            self.nonce = obj["nonce"]
            self.hash = obj["extra-params"]["selected-hash-algorithm"]
        return status, hdrs, obj

    def report_data(self, jwk=None, nonce=None):
        runtime = {"tee-pubkey": jwk or self.jwk, "nonce": nonce or self.nonce, "additional-evidence": ""}
        return hashlib.new(self.hash, joseutil.jcs(runtime)).digest()

    def attest(self, evidence=None, runtime_nonce=None, jwk=None, init_data=None, cookie=True):
        if evidence is None:
            rd = self.report_data()
            evidence = self.vtpm.az_snp_vtpm_evidence(rd) if self.tee == "az-snp-vtpm" else self.vtpm.snp_evidence(rd)
        body = {"runtime-data": {"nonce": runtime_nonce or self.nonce, "tee-pubkey": jwk or self.jwk},
                "tee-evidence": {"primary_evidence": evidence, "additional_evidence": ""}}
        if init_data is not None:
            body["init-data"] = init_data
        status, hdrs, obj = self.kbs.json("POST", "/kbs/v0/attest", body,
                                          {"Cookie": self.cookie} if cookie and self.cookie else {})
        if status == 200:
            self.token = obj["token"]
        return status, hdrs, obj

    def resource(self, path="default/key/disk", bearer=False, cookie=True):
        headers = {}
        if bearer:
            headers["Authorization"] = "Bearer " + self.token
        elif cookie and self.cookie:
            headers["Cookie"] = self.cookie
        return self.kbs.json("GET", "/kbs/v0/resource/" + path, None, headers)

    def decrypt(self, jwe):
        return joseutil.jwe_decrypt(jwe, self.key)


def expect_error(result, status, kind, needle, what):
    got, _, obj = result
    C.ok(got == status and isinstance(obj, dict) and obj.get("type") == PREFIX + kind,
         "%s: HTTP %d %s (wanted %d %s)" % (what, got, error_message(obj), status, kind))
    C.contains(error_message(obj), needle, what)


def test_happy(kbs, vtpm):
    for key_type, hashes, want_hash in (("EC", ("sha384", "sha256"), "sha384"), ("RSA", ("sha256",), "sha256"),
                                        ("EC", None, "sha384")):
        c = Rcar(kbs, vtpm, key_type=key_type, hashes=hashes)
        status, hdrs, obj = c.auth()
        C.ok(status == 200 and c.cookie.startswith("kbs-session-id=") and len(joseutil.b64_any_decode(obj["nonce"])) == 32
             and c.hash == want_hash, "auth (%s, offered %s): %d %s" % (key_type, hashes, status, obj))
        status, hdrs, obj = c.attest()
        if not C.ok(status == 200 and obj.get("token"), "attest az-snp-vtpm with %s key: %d %s"
                    % (key_type, status, error_message(obj))):
            continue
        _, claims = joseutil.jwt_claims(c.token)
        C.ok(claims["tee"] == "az-snp-vtpm" and claims["tee-pubkey"] == c.jwk and
             claims["tcb-status"]["tpm.pcr07"] == vtpm.pcrs[7].hex() and
             claims["tcb-status"]["report_data"] == c.report_data().hex(), "token claims")
        status, _, obj = c.resource()
        C.ok(status == 200 and c.decrypt(obj) == SECRET, "resource with cookie (%s)" % key_type)
        hdr = json.loads(joseutil.b64u_decode(obj["protected"]))
        C.ok(hdr["enc"] == "A256GCM" and hdr["alg"] == ("ECDH-ES+A256KW" if key_type == "EC" else "RSA-OAEP-256"),
             "JWE header %s" % hdr)
        status, _, obj = c.resource(bearer=True)
        C.ok(status == 200 and c.decrypt(obj) == SECRET, "resource with Bearer only (%s)" % key_type)
        status, _, obj = c.attest()
        C.ok(status == 200 and obj["token"] == c.token, "attest again on an attested session returns the same token")
    # snp evidence
    c = Rcar(kbs, vtpm, tee="snp")
    c.auth()
    status, _, obj = c.attest()
    C.ok(status == 200, "attest snp evidence: %s" % error_message(obj))
    if status == 200:
        C.ok(c.decrypt(c.resource()[2]) == SECRET, "snp resource")
    # init-data bound to PCR 8
    body = 'algorithm = "sha256"\nversion = "0.1.0"\n'
    saved = vtpm.pcrs[8]
    vtpm.pcrs[8] = hashlib.sha256(bytes(32) + hashlib.sha256(body.encode()).digest()).digest()
    c = Rcar(kbs, vtpm)
    c.auth()
    C.ok(c.attest(init_data={"format": "toml", "body": body})[0] == 200, "init-data matching PCR 8")
    c = Rcar(kbs, vtpm)
    c.auth()
    expect_error(c.attest(init_data={"format": "toml", "body": body + "#"}), 401, "AttestationError", "PCR 8",
                 "init-data not matching PCR 8")
    vtpm.pcrs[8] = saved


def test_refusals(kbs, vtpm, amd_other):
    c = Rcar(kbs, vtpm)
    expect_error(c.auth(version="0.3.0"), 401, "AttestationError", "Version Mismatch", "protocol version 0.3.0")
    expect_error(c.auth(tee="tdx"), 401, "AttestationError", "unsupported tee", "unsupported tee")
    c.hashes = ("md5",)
    expect_error(c.auth(), 401, "AttestationError", "supported", "no common hash algorithm")
    c.hashes = ("sha384",)
    c.auth()
    expect_error(c.attest(cookie=False), 401, "AttestationError", "cookie not found", "attest without cookie")
    c.auth()
    expect_error(c.attest(runtime_nonce=joseutil.b64std(os.urandom(32))), 401, "AttestationError",
                 "nonce in the handshake session is different", "runtime-data nonce differs")
    # evidence for another key than runtime-data: report_data differs
    other = Rcar(kbs, vtpm)
    c.auth()
    ev_other = vtpm.az_snp_vtpm_evidence(c.report_data(jwk=other.jwk))
    expect_error(c.attest(evidence=ev_other), 401, "AttestationError", "does not equal the expected report_data",
                 "evidence bound to another tee-pubkey")
    # evidence from a previous session (stale nonce)
    c.auth()
    old = vtpm.az_snp_vtpm_evidence(c.report_data())
    c.auth()
    expect_error(c.attest(evidence=old), 401, "AttestationError", "nonce", "evidence from a previous session")
    # changed PCR after the quote
    c.auth()
    e = vtpm.az_snp_vtpm_evidence(c.report_data())
    e["tpm_quote"]["pcrs"][7] = "00" * 32
    expect_error(c.attest(evidence=e), 401, "AttestationError", "pcrDigest", "changed PCR")
    c.auth()
    e = vtpm.az_snp_vtpm_evidence(c.report_data())
    sig = bytearray.fromhex(e["tpm_quote"]["signature"])
    sig[0] ^= 1
    e["tpm_quote"]["signature"] = sig.hex()
    expect_error(c.attest(evidence=e), 401, "AttestationError", "signature", "bad quote signature")
    # foreign VCEK: a VCEK from another (untrusted) AMD chain
    c.auth()
    e = vtpm.az_snp_vtpm_evidence(c.report_data())
    foreign = synth.SoftVtpm(amd_other, chip_id=vtpm.chip_id)
    e["vcek"] = foreign.az_snp_vtpm_evidence(c.report_data())["vcek"]
    expect_error(c.attest(evidence=e), 401, "AttestationError", "ASK", "foreign VCEK")
    # user-data not equal to report_data although the quote nonce is
    c.auth()
    rd = c.report_data()
    vtpm.user_data = b"123abc".ljust(64, b"\0")
    hcl = vtpm.hcl()
    e = vtpm.az_snp_vtpm_evidence(rd, hcl=hcl)
    expect_error(c.attest(evidence=e), 401, "AttestationError", "user-data", "HCL user-data mismatch")
    c.auth()
    rd = c.report_data()
    vtpm.user_data = rd.ljust(64, b"\0")
    e = vtpm.az_snp_vtpm_evidence(rd, hcl=vtpm.hcl(vmpl=2))
    expect_error(c.attest(evidence=e), 401, "AttestationError", "VMPL 2", "report from VMPL 2")
    c.auth()
    e = vtpm.az_snp_vtpm_evidence(c.report_data())
    e["version"] = 1
    expect_error(c.attest(evidence=e), 401, "AttestationError", "version", "evidence version 1")
    c.auth()
    expect_error(c.attest(evidence="not json"), 401, "AttestationError", "not JSON", "evidence not JSON")
    # resource refusals
    c = Rcar(kbs, vtpm)
    expect_error(c.resource(cookie=False), 401, "TokenNotFound", "not found", "resource without cookie or token")
    c.auth()
    expect_error(c.resource(), 401, "TokenNotFound", "not authorized", "resource on an unattested session")
    c.attest()
    expect_error(c.resource("default/key/missing"), 404, "ResourceNotFound", "default/key/missing", "missing resource")
    expect_error(c.resource("other/key/disk"), 403, "PolicyDeny", "denied by policy", "resource policy default deny")
    expect_error(c.resource("default/key/pinned"), 403, "PolicyDeny", "snp.measurement", "resource policy condition")
    expect_error(kbs.json("GET", "/kbs/v0/nope"), 404, "InvalidRequestPath", "invalid", "unknown KBS path")
    forged = c.token.rsplit(".", 1)[0] + "." + joseutil.b64u(b"x" * 256)
    status, _, obj = kbs.json("GET", "/kbs/v0/resource/default/key/disk", None, {"Authorization": "Bearer " + forged})
    expect_error((status, None, obj), 401, "TokenVerifierError", "signature", "forged Bearer token")


def test_faults(kbs, vtpm):
    c = Rcar(kbs, vtpm)
    kbs.flag("stale_nonce")
    c.auth()
    expect_error(c.attest(), 401, "AttestationError", "nonce", "stale_nonce fault")
    kbs.flag("expire_session")
    c.auth()
    expect_error(c.attest(), 401, "AttestationError", "expired", "expire_session fault")
    c.auth()
    kbs.flag("expired_token")
    C.ok(c.attest()[0] == 200, "expired_token fault still issues a token")
    expect_error(c.resource(bearer=True), 401, "TokenVerifierError", "expired", "expired_token fault on Bearer use")
    c.auth()
    kbs.flag("bad_signature")
    c.attest()
    expect_error(c.resource(bearer=True), 401, "TokenVerifierError", "signature", "bad_signature fault on Bearer use")
    C.ok(c.resource()[0] == 200, "cookie still works after a bad token signature")
    kbs.flag("wrong_key")
    status, _, obj = c.resource()
    try:
        c.decrypt(obj)
        C.ok(False, "wrong_key JWE decrypted")
    except Exception:  # noqa: BLE001 (any failure to decrypt is the point)
        C.ok(status == 200, "wrong_key")
    kbs.flag("policy_deny")
    expect_error(c.resource(), 403, "PolicyDeny", "policy_deny", "policy_deny fault")
    kbs.control("POST", "/faults", {"kind": "status", "status": 503, "retry_after": "2", "path": "/kbs/v0/resource"})
    status, hdrs, _ = c.resource()
    C.ok(status == 503 and hdrs.get("retry-after") == "2", "framework 503 fault on resource")


def main():
    state = tempfile.mkdtemp(prefix="cvm-emu-kbs.")
    kbs = None
    try:
        amd = synth.AmdChain(os.path.join(state, "amd"))
        amd_other = synth.AmdChain(os.path.join(state, "amd-other"))
        vtpm = synth.SoftVtpm(amd)
        secret = os.path.join(state, "secret.bin")
        with open(secret, "wb") as f:
            f.write(SECRET)
        policy = {"default": "deny", "rules": [
            {"path": "default/key/pinned", "condition": {"claim": "tcb-status.snp.measurement", "equals": "00" * 48}},
            {"path": "default/*/*", "condition": {"allOf": [
                {"claim": "tcb-status.snp.vmpl", "equals": 0},
                {"claim": "tcb-status.snp.policy_debug", "equals": False}]}}]}
        with open(os.path.join(state, "policy.json"), "w") as f:
            json.dump(policy, f)
        kbs = Server("kbs.py", state, "kbs", ["--amd-roots", amd.bundle, "--resource", "default/key/disk=" + secret,
                                              "--resource", "default/key/pinned=" + secret,
                                              "--resource", "other/key/disk=" + secret,
                                              "--resource-policy", os.path.join(state, "policy.json")])
        test_happy(kbs, vtpm)
        test_refusals(kbs, vtpm, amd_other)
        test_faults(kbs, vtpm)
    finally:
        if kbs:
            kbs.stop()
            if C.failed:
                print(open(os.path.join(state, "kbs.stderr")).read()[-3000:])
        shutil.rmtree(state, ignore_errors=True)
    return C.finish()


if __name__ == "__main__":
    sys.exit(main())
