#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Checks the emulators' verification logic against REAL recorded data in $CVM_VECTORS:
Trustee az-snp-vtpm evidence (real AMD roots, pinned time) and tampered copies; the TCG event-log
replay against the go-tpm-tools expected PCRs; the Key Vault emulator's MAA-token path against
real MAA tokens + JWKS (pinned time); our release response against the real thomvanl-skr one
(same JSON shape, same key_hsm header). Plus RFC 8785 JCS examples. Exit 77 without vectors."""
import copy
import glob
import json
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402

import evidence as ev  # noqa: E402
import joseutil  # noqa: E402
import testpki  # noqa: E402
from harness import Checks, Server, error_message  # noqa: E402

C = Checks("emulator vectors")
ROOTS_DIR = os.path.join(HERE, "..", "..", "agent", "amd")
NOW = ev.parse_time("2026-01-01T00:00:00Z")  # the trustee VCEKs are valid 2025-2032 (Genoa: see below)


def test_jcs():
    # RFC 8785 section 3.2.2 / appendix B number examples, and key ordering by UTF-16 code units.
    numbers = {0.0: "0", -0.0: "0", 1e21: "1e+21", 1e-7: "1e-7", 333333333.33333329: "333333333.3333333",
               1e30: "1e+30", 4.5: "4.5", 2e-3: "0.002", 0.000001: "0.000001", 1e23: "1e+23",
               9007199254740992: "9007199254740992", -5e-324: "-5e-324", 295147905179352830000.0: "295147905179352830000"}
    for value, want in numbers.items():
        C.ok(joseutil.jcs(value).decode() == want, "JCS number %r -> %s (got %s)" % (value, want, joseutil.jcs(value)))
    obj = json.loads(r'{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], '
                     r'''"string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}''')
    want = ('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
            '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}')
    C.ok(joseutil.jcs(obj).decode() == want, "JCS RFC 8785 3.2.2 example: %s" % joseutil.jcs(obj))
    order = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
             "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}
    keys = list(json.loads(joseutil.jcs(order)).keys())
    C.ok(keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"], "JCS key order (UTF-16): %r" % keys)


def test_trustee(v):
    roots = ev.AmdRoots.from_files(sorted(glob.glob(os.path.join(ROOTS_DIR, "*.pem"))))
    d = os.path.join(v, "trustee", "az-snp-vtpm")
    expect = {"evidence-v0.json": "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced",
              "evidence-v1.json": "e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced",
              "evidence-v2.json": "84275b2f4312cd4fc6cbe6b152ad3c3683e513d9f1e23c34fca160c8cca7a6a7",
              "evidence-genoa.json": "afd689d0bb1c5f36f023fbaf574135f555a28a10c1f6b938d2a25e70c7783338"}
    nonces = {}
    for name, pcr0 in expect.items():
        e = json.load(open(os.path.join(d, name)))
        q = e.get("tpm_quote", e.get("quote"))
        nonce = ev.parse_attest(ev._hexfield(q, "message", name))["extra_data"]
        nonces[name] = nonce
        try:
            claims = ev.verify_az_snp_vtpm(e, nonce, roots, NOW)
            C.ok(claims["tpm.pcr00"] == pcr0, "%s: pcr00 %s" % (name, claims["tpm.pcr00"]))
            C.ok(claims["ark"] == ("ARK-Genoa" if "genoa" in name else "ARK-Milan"), "%s: ARK %s" % (name, claims["ark"]))
        except ev.EvidenceError as x:
            C.ok(False, "%s: %s" % (name, x))
    C.ok(nonces["evidence-v0.json"] == b"challenge" and nonces["evidence-v2.json"].hex().startswith("982f5c6e"),
         "real nonces")
    C.ok(ev.parse_hcl_report(joseutil.b64u_decode(json.load(open(os.path.join(d, "evidence-v2.json")))["hcl_report"]))
         is not None, "v2 HCL parses")

    base = json.load(open(os.path.join(d, "evidence-v2.json")))
    nonce = nonces["evidence-v2.json"]

    def rejected(e, needle, what, n=nonce, now=NOW):
        try:
            ev.verify_az_snp_vtpm(e, n, roots, now)
            C.ok(False, "%s accepted" % what)
        except ev.EvidenceError as x:
            C.contains(str(x), needle, what)

    e = copy.deepcopy(base)
    sig = bytearray.fromhex(e["tpm_quote"]["signature"])
    sig[0] ^= 1
    e["tpm_quote"]["signature"] = sig.hex()
    rejected(e, "signature", "v2 quote signature byte flipped")
    e = copy.deepcopy(base)
    e["tpm_quote"]["pcrs"][0] = "00" + e["tpm_quote"]["pcrs"][0][2:]
    rejected(e, "pcrDigest", "v2 PCR0 changed")
    rejected(base, "nonce", "v2 with another expected nonce", n=b"123abc")
    rejected(base, "not valid at", "v2 at a time before the VCEK was issued", now=ev.parse_time("2020-01-01T00:00:00Z"))
    e = copy.deepcopy(base)
    hcl = bytearray(joseutil.b64u_decode(e["hcl_report"]))
    hcl[0x6E0] ^= 1  # a byte of the runtime JSON (trustee's upstream negative case)
    e["hcl_report"] = joseutil.b64u(bytes(hcl))
    rejected(e, "", "v2 HCL runtime data changed")
    e = copy.deepcopy(base)
    hcl = bytearray(joseutil.b64u_decode(e["hcl_report"]))
    hcl[0x20 + 0x90] ^= 1  # the SNP measurement: the VCEK signature breaks
    e["hcl_report"] = joseutil.b64u(bytes(hcl))
    rejected(e, "signature does not verify with the VCEK", "v2 SNP measurement changed")
    e = copy.deepcopy(base)
    genoa = json.load(open(os.path.join(d, "evidence-genoa.json")))
    e["vcek"] = genoa["vcek"] if not genoa["vcek"].startswith("-----") else joseutil.b64u(
        x509.load_pem_x509_certificate(genoa["vcek"].encode()).public_bytes(serialization.Encoding.DER))
    rejected(e, "foreign VCEK", "v2 with the Genoa VCEK (foreign)")
    e = copy.deepcopy(base)
    e["vcek"] = e["vcek"][:100] + ("A" if e["vcek"][100] != "A" else "B") + e["vcek"][101:]
    rejected(e, "", "v2 VCEK DER corrupted")
    milan_only = ev.AmdRoots.from_files([os.path.join(ROOTS_DIR, "milan.pem")])
    try:
        ev.verify_az_snp_vtpm(genoa, nonces["evidence-genoa.json"], milan_only, NOW)
        C.ok(False, "Genoa evidence accepted with only the Milan roots")
    except ev.EvidenceError as x:
        C.contains(str(x), "ASK", "Genoa evidence without the Genoa roots")

    # raw SNP report + VCEK (trustee snp test data): signature and chain, and upstream's tampering
    rep = ev.parse_snp_report(open(os.path.join(v, "trustee", "snp", "test-report.bin"), "rb").read())
    vcek = x509.load_der_x509_certificate(open(os.path.join(v, "trustee", "snp", "test-vcek.der"), "rb").read())
    try:
        ev.verify_snp(rep, vcek, [], roots, None)
        C.ok(True, "trustee snp test report verifies")
    except ev.EvidenceError as x:
        C.ok(False, "trustee snp test report: %s" % x)
    raw = bytearray(rep["raw"])
    raw[42] = (raw[42] + 1) & 0xFF
    try:
        ev.verify_snp(ev.parse_snp_report(bytes(raw)), vcek, [], roots, None)
        C.ok(False, "report byte 42 + 1 accepted")
    except ev.EvidenceError:
        C.ok(True, "report byte 42 + 1 rejected")
    for bad in ("test-vcek-invalid-legacy.der", "test-vcek-invalid-new.der"):
        cert = x509.load_der_x509_certificate(open(os.path.join(v, "trustee", "snp", bad), "rb").read())
        try:
            ev.verify_vcek_chain(cert, [], roots, None)
            C.ok(False, "%s chain accepted" % bad)
        except ev.EvidenceError:
            C.ok(True, "%s chain rejected" % bad)


def test_eventlogs(v):
    exp = json.load(open(os.path.join(v, "go-tpm-tools", "expected_pcrs_from_eventlog_test.json")))
    for name, e in sorted(exp.items()):
        banks, _ = ev.replay_event_log(open(os.path.join(v, "go-tpm-tools", "eventlogs", e["file"]), "rb").read())
        bad = [(b, p) for b, vals in e["banks"].items() for p, val in vals.items()
               if int(p) in banks.get(b, {}) and banks[b][int(p)].hex() != val]
        seen = sum(1 for b, vals in e["banks"].items() for p in vals if int(p) in banks.get(b, {}))
        C.ok(not bad and seen > 0, "event log %s: %d PCRs compared, mismatches %s" % (name, seen, bad))
    for neg in ("binary_bios_measurements-bogus", "binary_bios_measurements-empty"):
        try:
            ev.replay_event_log(open(os.path.join(v, "keylime", "mb", neg), "rb").read())
            C.ok(False, "%s parsed" % neg)
        except ev.EvidenceError:
            C.ok(True, "%s rejected" % neg)


def test_keyvault_real_tokens(v, state):
    """Runs the Key Vault emulator with the real sharedwus JWKS and a pinned time, so the real SGX MAA
    tokens go through signature, issuer, time and policy checks."""
    maa = os.path.join(v, "azure-sdk-for-cpp-maa")
    testpki.generate(os.path.join(state, "pki"))
    imds = Server("imds.py", state, "imds", plain=True)
    kv = Server("keyvault.py", state, "kv", ["--aad-cert", os.path.join(state, "imds-aad-signing.pem"),
                                             "--maa-jwks", os.path.join(maa, "sharedwus.jwks.json"),
                                             "--verify-at", "2022-06-01T00:00:00Z"])
    try:
        token = open(os.path.join(maa, "openenclave_json_shared.token0.jwt")).read().strip()
        claims = joseutil.jwt_claims(token)[1]

        def policy(authority, mrsigner):
            return {"data": joseutil.b64u(json.dumps({"version": "1.0.0", "anyOf": [{"authority": authority, "allOf": [
                {"claim": "x-ms-attestation-type", "equals": "sgx"},
                {"claim": "x-ms-sgx-no-such-claim", "exists": False},
                {"claim": "sgx-mrsigner", "equals": mrsigner},
                {"claim": "x-ms-runtime.jwk.crv", "equals": "P-256"}]}]}).encode())}

        good = kv.control("POST", "/import", {"name": "sgx-good", "oct_b64": joseutil.b64std(os.urandom(32)),
                                              "release_policy": policy(claims["iss"], claims["sgx-mrsigner"])})
        kv.control("POST", "/import", {"name": "sgx-deny", "oct_b64": joseutil.b64std(os.urandom(32)),
                                       "release_policy": policy(claims["iss"], "00" * 32)})
        kv.control("POST", "/import", {"name": "sgx-other", "oct_b64": joseutil.b64std(os.urandom(32)),
                                       "release_policy": policy("https://sharedeus2.eus2.attest.azure.net", "00")})
        C.ok(good["kty"] == "oct-HSM", "imported oct key")
        tok = imds.json("GET", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net",
                        headers={"Metadata": "true"}, plain=True)[2]["access_token"]
        bearer = {"Authorization": "Bearer " + tok}

        def release(name, target):
            return kv.json("POST", "/keys/%s/release?api-version=7.3" % name, {"target": target}, bearer)

        # signature, issuer, time and policy pass; the SGX token carries no RSA key to wrap to
        status, _, obj = release("sgx-good", token)
        C.ok(status == 400 and ("no RSA key" in error_message(obj) or "x-ms-runtime" in error_message(obj)),
             "real MAA token verified, then refused for lack of a wrapping key: %d %s" % (status, error_message(obj)))
        status, _, obj = release("sgx-deny", token)
        C.ok(status == 403 and "claim sgx-mrsigner" in error_message(obj), "real token, policy mismatch: %s"
             % error_message(obj))
        status, _, obj = release("sgx-other", token)
        C.ok(status == 403 and "not an authority" in error_message(obj), "real token, foreign authority: %s"
             % error_message(obj))
        head, payload, sig = token.split(".")
        tampered = json.loads(joseutil.b64u_decode(payload))
        tampered["sgx-mrsigner"] = "00" * 32
        forged = head + "." + joseutil.b64u(json.dumps(tampered).encode()) + "." + sig
        status, _, obj = release("sgx-deny", forged)
        C.ok(status == 403 and "bad signature" in error_message(obj), "tampered real token: %s" % error_message(obj))
    finally:
        kv.stop()
        imds.stop()
    imds = Server("imds.py", state, "imds2", plain=True)
    kv = Server("keyvault.py", state, "kv2", ["--aad-cert", os.path.join(state, "imds-aad-signing.pem"),
                                              "--maa-jwks", os.path.join(maa, "sharedwus.jwks.json")])
    try:
        tok = imds.json("GET", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net",
                        headers={"Metadata": "true"}, plain=True)[2]["access_token"]
        kv.control("POST", "/import", {"name": "k", "oct_b64": joseutil.b64std(os.urandom(32)),
                                       "release_policy": policy(claims["iss"], claims["sgx-mrsigner"])})
        status, _, obj = kv.json("POST", "/keys/k/release?api-version=7.3", {"target": token},
                                 {"Authorization": "Bearer " + tok})
        C.ok(status == 403 and "expired" in error_message(obj),
             "real token at the real time is expired: %d %s" % (status, error_message(obj)))
    finally:
        kv.stop()
        imds.stop()


def test_thomvanl_shape(v, state):
    """Our release response must have the real response's JSON shape and key_hsm header."""
    real = json.load(open(os.path.join(v, "thomvanl-skr", "keyvault-release-key-reponse-body.json")))
    rh, rp = joseutil.jwt_claims(real["value"])
    _, _, si, sig = joseutil.jws_split(real["value"])
    chain = [x509.load_der_x509_certificate(joseutil.b64_any_decode(c)) for c in rh["x5c"]]
    C.ok(joseutil.verify_signature("RS256", chain[0].public_key(), si, sig), "real release JWS verifies with x5c[0]")
    C.ok(ev.verify_cert_signature(chain[0], chain[1]) and ev.verify_cert_signature(chain[1], chain[2]),
         "real release x5c chain (leaf <- CA 06 <- root)")
    rk = rp["response"]["key"]["key"]
    rkh = json.loads(joseutil.b64u_decode(rk["key_hsm"]))
    C.ok(len(joseutil.b64u_decode(rkh["ciphertext"])) == 2640, "real key_hsm ciphertext is 256 + 2384 bytes")

    # our response, from a synthetic attestation (the azure test covers the crypto; here only the shape)
    import synth
    amd = synth.AmdChain(os.path.join(state, "amd"))
    vtpm = synth.SoftVtpm(amd)
    imds = Server("imds.py", state, "imds3", plain=True)
    maa = Server("maa.py", state, "maa3", ["--amd-roots", amd.bundle])
    kv = Server("keyvault.py", state, "kv3", ["--aad-cert", os.path.join(state, "imds-aad-signing.pem"),
                                              "--maa-ca", os.path.join(state, "pki", "ca.pem")])
    try:
        from cryptography.hazmat.primitives.asymmetric import padding
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        status, _, obj = maa.json("POST", "/attest/AzureGuest?api-version=2020-10-01", {
            "AttestationInfo": joseutil.b64u(json.dumps(vtpm.maa_request({"nonce": b""})).encode())})
        env = json.loads(joseutil.b64u_decode(obj["token"]))
        aes = vtpm.enc_key.decrypt(joseutil.b64_any_decode(env["EncryptedInnerKey"]), padding.PKCS1v15())
        jwt = AESGCM(aes).decrypt(joseutil.b64_any_decode(env["EncryptionParams"]["Iv"]),
                                  joseutil.b64_any_decode(env["Jwt"]) + joseutil.b64_any_decode(env["AuthenticationData"]),
                                  b"Transport Key").decode()
        real_policy = json.loads(joseutil.b64u_decode(rp["response"]["key"]["release_policy"]["data"]))
        real_policy["anyOf"][0]["authority"] = maa.base
        rp_wire = {"data": joseutil.b64u(json.dumps(real_policy).encode()), "immutable": False}
        kv.json("POST", "/keys/myskrkey/create?api-version=7.3", {"kty": "RSA-HSM", "key_size": 4096,
                                                                 "attributes": {"exportable": True},
                                                                 "release_policy": rp_wire})
        tok = imds.json("GET", "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://vault.azure.net",
                        headers={"Metadata": "true"}, plain=True)[2]["access_token"]
        status, _, obj = kv.json("POST", "/keys/myskrkey/release?api-version=7.3", {"target": jwt},
                                 {"Authorization": "Bearer " + tok})
        if not C.ok(status == 200, "release under the real policy: %d %s" % (status, error_message(obj))):
            return
        oh, op = joseutil.jwt_claims(obj["value"])
        C.ok(sorted(oh) == sorted(rh) and len(oh["x5c"]) == len(rh["x5c"]) == 3, "JWS header members %s vs %s"
             % (sorted(oh), sorted(rh)))

        def shape(x):
            if isinstance(x, dict):
                return {k: shape(val) for k, val in x.items()}
            return type(x).__name__

        ours_key = dict(op["response"]["key"])
        C.ok(set(op) == set(rp) and set(op["request"]) == set(rp["request"]) and set(op["response"]) == set(rp["response"]),
             "payload request/response members")
        C.ok(set(ours_key) == set(rp["response"]["key"]) and set(ours_key["key"]) == set(rk) and
             set(ours_key["attributes"]) <= set(rp["response"]["key"]["attributes"]) and
             set(ours_key["release_policy"]) == set(rp["response"]["key"]["release_policy"]) | {"contentType"},
             "key bundle members: %s vs %s" % (sorted(ours_key["key"]), sorted(rk)))
        okh = json.loads(joseutil.b64u_decode(ours_key["key"]["key_hsm"]))
        C.ok(okh["header"] == rkh["header"] and okh["schema_version"] == rkh["schema_version"] and set(okh) == set(rkh),
             "key_hsm header equals the real one: %s" % okh["header"])
        n = len(joseutil.b64u_decode(ours_key["key"]["n"]))
        blob = joseutil.b64u_decode(okh["ciphertext"])
        C.ok(n == 512 and (len(blob) - 256) % 8 == 0 and len(blob) > 256 + 2300,
             "RSA-4096 key_hsm: 256-byte OAEP block + key wrap (%d bytes, real 2640)" % len(blob))
        C.ok(op["request"]["kid"].endswith("/keys/myskrkey") and op["request"]["api-version"] == "7.3" and
             op["request"]["enc"] == "CKM_RSA_AES_KEY_WRAP", "request echo %s" % op["request"])
    finally:
        for s in (kv, maa, imds):
            s.stop()


def main():
    v = os.environ.get("CVM_VECTORS")
    if not v or not os.path.isdir(v):
        print("SKIP: real-data corpus not found (CVM_VECTORS=%s); vector checks skipped" % v)
        return 77
    state = tempfile.mkdtemp(prefix="cvm-emu-vectors.")
    try:
        test_jcs()
        test_trustee(v)
        test_eventlogs(v)
        test_keyvault_real_tokens(v, state)
        test_thomvanl_shape(v, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return C.finish()


if __name__ == "__main__":
    sys.exit(main())
