#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Drives the IMDS, MAA and Key Vault emulators with synthetic Azure CVM evidence (synth.py), in the
order the agent will: THIM -> MAA AzureGuest -> decrypt the envelope -> verify the JWT -> IMDS
managed-identity token -> Key Vault release -> verify the JWS -> unwrap key_hsm -> compare with the
vault's key. Then every refusal (changed PCR, tampered log, foreign VCEK, unbound AK, ...) and every
emulator-specific fault. Run by tests/cli/test-emulator-azure.sh."""
import copy
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

import evidence as ev  # noqa: E402
import joseutil  # noqa: E402
import synth  # noqa: E402
import testpki  # noqa: E402
from harness import Checks, Server, error_message  # noqa: E402

C = Checks("azure emulators")
API = "?api-version=2020-10-01"


def attest(maa, inner, api=API):
    body = {"AttestationInfo": joseutil.b64u(json.dumps(inner).encode())}
    return maa.json("POST", "/attest/AzureGuest" + api, body)


def decrypt_envelope(token, enc_key):
    env = json.loads(joseutil.b64u_decode(token))
    aes = enc_key.decrypt(joseutil.b64_any_decode(env["EncryptedInnerKey"]), padding.PKCS1v15())
    iv = joseutil.b64_any_decode(env["EncryptionParams"]["Iv"])
    ct = joseutil.b64_any_decode(env["Jwt"]) + joseutil.b64_any_decode(env["AuthenticationData"])
    return AESGCM(aes).decrypt(iv, ct, b"Transport Key").decode(), env


def verify_jwt(jwt, jwks):
    header, claims = joseutil.jwt_claims(jwt)
    _, _, si, sig = joseutil.jws_split(jwt)
    key = joseutil.jwks_lookup(jwks, header["kid"])
    return joseutil.verify_signature(header["alg"], key, si, sig), header, claims


def refused(maa, inner, needle, what):
    status, _, obj = attest(maa, inner)
    msg = error_message(obj)
    C.ok(status == 400 and isinstance(obj, dict) and obj.get("error", {}).get("code") == "InvalidParameter",
         "%s: HTTP %d %s" % (what, status, msg))
    C.contains(msg, needle, what)


def test_imds(imds, vtpm):
    imds.control("POST", "/thim", vtpm.thim())
    status, _, obj = imds.json("GET", "/metadata/THIM/amd/certification", headers={"Metadata": "true"}, plain=True)
    C.ok(status == 200 and obj["vcekCert"] == vtpm.vcek_pem and obj["tcbm"] == vtpm.thim()["tcbm"]
         and obj["cacheControl"], "THIM answer: %s" % status)
    status, _, obj = imds.json("GET", "/metadata/THIM/amd/certification", plain=True)
    C.ok(status == 400 and "metadata header" in json.dumps(obj), "THIM without Metadata header: %d %s" % (status, obj))
    tok_path = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
    status, _, obj = imds.json("GET", tok_path, plain=True)
    C.ok(status == 400 and obj.get("error") == "invalid_request", "identity without Metadata header: %s" % obj)
    status, _, obj = imds.json("GET", tok_path.replace("vault.azure", "nope.example"), headers={"Metadata": "true"},
                               plain=True)
    C.ok(status == 400 and obj.get("error") == "invalid_resource", "identity for an unknown resource: %s" % obj)
    status, _, obj = imds.json("GET", tok_path, headers={"Metadata": "true"}, plain=True)
    C.ok(status == 200 and obj["token_type"] == "Bearer" and obj["resource"] == "https://vault.azure.net"
         and isinstance(obj["expires_in"], str), "identity token: %s" % status)
    _, claims = joseutil.jwt_claims(obj["access_token"])
    C.ok(claims["aud"] == "https://vault.azure.net", "access token audience")
    return tok_path


def test_maa(maa, vtpm, amd_other, state):
    nonce = os.urandom(16)
    inner = vtpm.maa_request({"nonce": nonce}, quote_nonce=nonce)
    status, _, obj = attest(maa, inner)
    if not C.ok(status == 200, "AzureGuest accepted: %d %s" % (status, error_message(obj))):
        return None
    jwt, env = decrypt_envelope(obj["token"], vtpm.enc_key)
    C.ok(env["EncryptionParams"] == dict(env["EncryptionParams"], Cipher="AES", BlockMode="ChainingModeGCM",
                                         KeySizeInBits=256) and len(joseutil.b64_any_decode(env["AuthenticationData"])) == 16,
         "envelope shape: %s" % sorted(env))
    status, _, jwks = maa.json("GET", "/certs")
    good, header, claims = verify_jwt(jwt, jwks)
    C.ok(status == 200 and good, "MAA JWT verifies against /certs")
    C.ok(header["jku"] == maa.base + "/certs" and header["alg"] == "RS256" and header["typ"] == "JWT", "JWT header %s" % header)
    cert = x509.load_der_x509_certificate(joseutil.b64_any_decode(jwks["keys"][0]["x5c"][0]))
    C.ok(cert.issuer == cert.subject, "JWKS x5c is self-signed like MAA's")
    tee = claims["x-ms-isolation-tee"]
    C.ok(claims["iss"] == maa.base and claims["x-ms-attestation-type"] == "azurevm" and claims["secureboot"] is True
         and claims["exp"] - claims["iat"] == 28800, "top-level claims")
    C.ok(tee["x-ms-attestation-type"] == "sevsnpvm" and tee["x-ms-compliance-status"] == "azure-compliant-cvm" and
         tee["x-ms-sevsnpvm-vmpl"] == 0 and tee["x-ms-sevsnpvm-is-debuggable"] is False and
         tee["x-ms-sevsnpvm-microcode-svn"] == 0x73 and tee["x-ms-runtime"]["keys"][0]["kid"] == "HCLAkPub",
         "x-ms-isolation-tee claims")
    rt = claims["x-ms-runtime"]
    C.ok(rt["client-payload"] == {"nonce": joseutil.b64std(nonce)}, "client payload echoed")
    jwk = rt["keys"][0]
    C.ok(jwk["kid"] == "TpmEphemeralEncryptionKey" and jwk["key_ops"] == ["encrypt"] and
         joseutil.same_public_key(joseutil.public_from_jwk(jwk), vtpm.enc_key.public_key()),
         "x-ms-runtime key is the certified ephemeral key")
    C.ok(claims["x-ms-azurevm-attested-pcrs"] == list(range(8)) and claims["x-ms-azurevm-ostype"] == "Linux",
         "azurevm claims")
    good_jwt = jwt

    # --- refusals ------------------------------------------------------------------------------------
    refused(maa, vtpm.maa_request({"nonce": nonce}, pcr_override={3: os.urandom(32)}), "pcrDigest", "changed PCR")
    bad = copy.deepcopy(inner)
    vtpm_log = vtpm.event_log()
    pos = vtpm_log.rfind(hashlib.sha256(b"TEST-ONLY shim").digest())
    log = bytearray(vtpm_log)
    log[pos] ^= 1
    bad["TcgLogs"] = joseutil.b64std(bytes(log))
    refused(maa, bad, "TcgLogs: replay gives PCR 4", "tampered event log")
    bad = copy.deepcopy(inner)
    bad["TcgLogs"] = joseutil.b64std(b"\x00" * 10)
    refused(maa, bad, "TcgLogs", "truncated event log")
    foreign = synth.SoftVtpm(amd_other)
    thim = foreign.thim()
    refused(maa, vtpm.maa_request({"nonce": nonce}, vcek_chain=thim["vcekCert"] + thim["certificateChain"]),
            "ARK", "foreign VCEK chain")
    refused(maa, vtpm.maa_request({"nonce": nonce}, vcek_chain=vtpm.amd.vcek(vtpm.chip_id)[1] + thim["certificateChain"]),
            "signature does not verify with the VCEK", "VCEK of the right chip, wrong key")
    other_chip = vtpm.amd.vcek(os.urandom(64))[1]
    refused(maa, vtpm.maa_request({"nonce": nonce}, vcek_chain=other_chip + vtpm.amd.ask_pem),
            "foreign VCEK", "VCEK of another chip")
    bad = copy.deepcopy(inner)
    rt_bytes = bytearray(joseutil.b64_any_decode(bad["IsolationInfo"]["Evidence"]["RunTimeData"]))
    rt_bytes[5] ^= 1
    bad["IsolationInfo"]["Evidence"]["RunTimeData"] = joseutil.b64std(bytes(rt_bytes))
    refused(maa, bad, "not bound", "runtime data not bound to the report")
    saved_ak = vtpm.ak
    vtpm.ak = rsa.generate_private_key(65537, 2048)
    hcl_other_ak = vtpm.hcl()
    vtpm.ak = saved_ak
    refused(maa, vtpm.maa_request({"nonce": nonce}, hcl=hcl_other_ak), "unbound AK", "HCLAkPub is not the quoting AK")
    refused(maa, vtpm.maa_request({"nonce": nonce}, hcl=vtpm.hcl(vmpl=1)), "VMPL 1", "report from VMPL 1")
    refused(maa, vtpm.maa_request({"nonce": nonce}, hcl=vtpm.hcl(policy=0x3001F | 1 << 19)), "debugging",
            "debuggable guest policy")
    refused(maa, vtpm.maa_request({"nonce": nonce}, quote_nonce=b"old nonce"), "ClientPayload.nonce",
            "quote nonce differs from the client payload nonce")
    bad = copy.deepcopy(inner)
    sig = bytearray(joseutil.b64_any_decode(bad["TpmInfo"]["PcrSignature"]))
    sig[10] ^= 1
    bad["TpmInfo"]["PcrSignature"] = joseutil.b64std(bytes(sig))
    refused(maa, bad, "does not verify with the attestation key", "bad quote signature")
    bad = copy.deepcopy(inner)
    other = rsa.generate_private_key(65537, 2048)
    bad["TpmInfo"]["EncKeyPub"] = joseutil.b64std(synth.tpm2b(synth.tpmt_public_rsa(other, synth.ENC_KEY_ATTRIBUTES)))
    refused(maa, bad, "certified name", "ephemeral key swapped after certification")
    bad = copy.deepcopy(inner)
    sign_key_pub = synth.tpmt_public_rsa(vtpm.enc_key, synth.AK_ATTRIBUTES, 0x0014, 0x000B)
    cmsg, csig = vtpm.certify(sign_key_pub)
    bad["TpmInfo"].update(EncKeyPub=joseutil.b64std(synth.tpm2b(sign_key_pub)), EncKeyCertifyInfo=joseutil.b64std(cmsg),
                          EncKeyCertifyInfoSignature=joseutil.b64std(csig))
    refused(maa, bad, "not an unrestricted decryption key", "ephemeral key is a signing key")
    bad = copy.deepcopy(inner)
    bad["TpmInfo"]["AikCert"] = joseutil.b64std(synth.SoftVtpm.ak_cert_der(foreign))
    refused(maa, bad, "AikCert", "AK certificate of another key")
    bad = copy.deepcopy(inner)
    bad["AttestationProtocolVersion"] = "1.0"
    refused(maa, bad, "AttestationProtocolVersion", "protocol version")
    del bad["TpmInfo"]
    bad["AttestationProtocolVersion"] = "2.0"
    refused(maa, bad, "missing TpmInfo", "missing TpmInfo")
    status, _, obj = maa.json("POST", "/attest/AzureGuest" + API, {"AttestationInfo": "%%%"})
    C.ok(status == 400 and "base64" in error_message(obj), "AttestationInfo not base64: %s" % error_message(obj))
    status, _, obj = attest(maa, inner, api="")
    C.ok(status == 400 and obj["error"]["code"] == "MissingApiVersionParameter", "missing api-version: %s" % obj)
    status, _, _ = maa.json("GET", "/attest/AzureGuest" + API)
    C.ok(status == 405, "GET on the attest path is 405")

    # custom attestation policy: pin PCR 7, issue a custom claim; then a mismatching pin
    maa.control("POST", "/policy", {"rules": [{"claim": "pcrs.7", "equals": vtpm.pcrs[7].hex()}],
                                    "issue": {"cvm-agent-image": "test"}})
    status, _, obj = attest(maa, vtpm.maa_request({"nonce": nonce}))
    C.ok(status == 200, "custom policy satisfied: %s" % error_message(obj))
    if status == 200:
        C.ok(verify_jwt(decrypt_envelope(obj["token"], vtpm.enc_key)[0], jwks)[2].get("cvm-agent-image") == "test",
             "custom policy claim issued")
    maa.control("POST", "/policy", {"rules": [{"claim": "pcrs.7", "equals": "00" * 32}]})
    refused(maa, vtpm.maa_request({"nonce": nonce}), "policy evaluation failed: claim pcrs.7", "custom policy deny")
    maa.control("POST", "/policy", None)

    # --- faults ---------------------------------------------------------------------------------------
    def faulted(flag):
        maa.flag(flag)
        status, _, obj = attest(maa, vtpm.maa_request({"nonce": nonce}, quote_nonce=nonce))
        C.ok(status == 200, "%s fault still answers 200" % flag)
        return obj["token"]

    jwt = decrypt_envelope(faulted("wrong_nonce"), vtpm.enc_key)[0]
    C.ok(verify_jwt(jwt, jwks)[2]["x-ms-runtime"]["client-payload"]["nonce"] != joseutil.b64std(nonce), "wrong_nonce")
    jwt = decrypt_envelope(faulted("expired_token"), vtpm.enc_key)[0]
    C.ok(verify_jwt(jwt, jwks)[2]["exp"] < time.time(), "expired_token")
    jwt = decrypt_envelope(faulted("bad_signature"), vtpm.enc_key)[0]
    C.ok(not verify_jwt(jwt, jwks)[0], "bad_signature")
    token = faulted("wrong_key")
    try:
        decrypt_envelope(token, vtpm.enc_key)
        C.ok(False, "wrong_key envelope decrypted")
    except (ValueError, Exception):
        C.ok(True, "wrong_key")
    jwt = decrypt_envelope(faulted("wrong_ephemeral_key"), vtpm.enc_key)[0]
    C.ok(not joseutil.same_public_key(joseutil.public_from_jwk(verify_jwt(jwt, jwks)[2]["x-ms-runtime"]["keys"][0]),
                                      vtpm.enc_key.public_key()), "wrong_ephemeral_key")
    faults = {n: decrypt_envelope(faulted(n), vtpm.enc_key)[0] for n in ("wrong_issuer", "noncompliant")}
    C.ok(verify_jwt(faults["wrong_issuer"], jwks)[2]["iss"] != maa.base, "wrong_issuer")
    C.ok(verify_jwt(faults["noncompliant"], jwks)[2]["x-ms-isolation-tee"]["x-ms-compliance-status"] !=
         "azure-compliant-cvm", "noncompliant")
    faults["expired"] = decrypt_envelope(faulted("expired_token"), vtpm.enc_key)[0]
    faults["bad_signature"] = decrypt_envelope(faulted("bad_signature"), vtpm.enc_key)[0]
    maa.control("POST", "/faults", {"kind": "status", "status": 429, "retry_after": "1"})
    status, headers, obj = attest(maa, inner)
    C.ok(status == 429 and headers.get("retry-after") == "1", "framework fault 429 with Retry-After")
    return good_jwt, faults


def test_reuse(state, bundle, vtpm):
    maa = Server("maa.py", state, "maa-replay", ["--amd-roots", bundle, "--reject-nonce-reuse"])
    try:
        inner = vtpm.maa_request({"nonce": b"once"})
        C.ok(attest(maa, inner)[0] == 200, "first use of a nonce")
        refused(maa, vtpm.maa_request({"nonce": b"once"}), "stale nonce", "nonce reuse with --reject-nonce-reuse")
    finally:
        maa.stop()


def test_keyvault(kv, imds, maa, vtpm, tok_path, jwt, faults):
    policy = {"version": "1.0.0", "anyOf": [{"authority": maa.base, "allOf": [
        {"claim": "x-ms-isolation-tee.x-ms-attestation-type", "equals": "sevsnpvm"},
        {"claim": "x-ms-isolation-tee.x-ms-compliance-status", "equals": "azure-compliant-cvm"},
        {"claim": "x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable", "equals": "false"},
        {"anyOf": [{"claim": "secureboot", "equals": True}, {"claim": "x-ms-azurevm-is-windows", "equals": True}]}]}]}
    rp = {"contentType": "application/json; charset=utf-8", "data": joseutil.b64u(json.dumps(policy).encode()),
          "immutable": False}
    status, _, obj = kv.json("POST", "/keys/disk1/create?api-version=7.4",
                             {"kty": "RSA-HSM", "key_size": 2048, "attributes": {"exportable": True},
                              "release_policy": rp})
    C.ok(status == 200 and obj["key"]["kty"] == "RSA-HSM" and obj["release_policy"]["data"] == rp["data"] and
         obj["attributes"]["exportable"] is True and "d" not in obj["key"], "create RSA-HSM key: %s" % error_message(obj))
    version = obj["key"]["kid"].rsplit("/", 1)[1]
    for body, needle, what in (
            ({"kty": "RSA-HSM", "attributes": {"exportable": True}}, "AKV.SKR.1004", "exportable without policy"),
            ({"kty": "RSA", "attributes": {"exportable": True}, "release_policy": rp}, "HSM", "software key with policy"),
            ({"kty": "oct-HSM", "attributes": {"exportable": True}, "release_policy": rp}, "not supported", "oct on a vault"),
            ({"kty": "RSA-HSM", "attributes": {"exportable": True},
              "release_policy": {"data": joseutil.b64u(b'{"version":"1.0.0","anyOf":[{"authority":"x","allOf":[{"claim":"a"}]}]}')}},
             "Invalid release policy", "policy grammar")):
        status, _, obj = kv.json("POST", "/keys/bad/create?api-version=7.4", body)
        C.ok(status == 400 and obj["error"]["code"] == "BadParameter", "%s: %d" % (what, status))
        C.contains(error_message(obj), needle, what)
    status, _, obj = kv.json("POST", "/keys/disk1/create", {"kty": "RSA-HSM"})
    C.ok(status == 400 and "api-version" in error_message(obj), "create without api-version")

    def access_token(flag=None):
        if flag:
            imds.flag(flag)
        return imds.json("GET", tok_path, headers={"Metadata": "true"}, plain=True)[2]["access_token"]

    bearer = {"Authorization": "Bearer " + access_token()}
    rel = "/keys/disk1/%s/release?api-version=7.4" % version
    status, hdrs, obj = kv.json("POST", rel, {"target": jwt})
    C.ok(status == 401 and "www-authenticate" in hdrs and "AKV10000" in error_message(obj), "release without bearer")
    for flag, needle in (("wrong_audience", "AKV10022"), ("expired_token", "expired"), ("bad_signature", "signature")):
        status, _, obj = kv.json("POST", rel, {"target": jwt}, {"Authorization": "Bearer " + access_token(flag)})
        C.ok(status == 401, "bearer %s: %d" % (flag, status))
        C.contains(error_message(obj), needle, "bearer " + flag)

    root = x509.load_pem_x509_certificate(open(os.path.join(kv.state, "kv-jws-root.pem"), "rb").read())
    material = joseutil.b64_any_decode(kv.control("POST", "/key-material", {"name": "disk1"})["material_b64"])

    def released(enc=None, flag=None, body_extra=None):
        if flag:
            kv.flag(flag)
        body = {"target": jwt}
        if enc:
            body["enc"] = enc
        body.update(body_extra or {})
        return kv.json("POST", rel, body, bearer)

    for enc, h in ((None, hashes.SHA1), ("RSA_AES_KEY_WRAP_256", hashes.SHA256)):
        status, _, obj = released(enc, body_extra={"nonce": "abc"})
        if not C.ok(status == 200, "release %s: %d %s" % (enc, status, error_message(obj))):
            continue
        header, payload = joseutil.jwt_claims(obj["value"])
        chain = [x509.load_der_x509_certificate(joseutil.b64_any_decode(c)) for c in header["x5c"]]
        _, _, si, sig = joseutil.jws_split(obj["value"])
        C.ok(joseutil.verify_signature("RS256", chain[0].public_key(), si, sig), "release JWS verifies with x5c[0]")
        C.ok(ev.verify_cert_signature(chain[0], chain[1]) and ev.verify_cert_signature(chain[1], root) and
             joseutil.cert_der(chain[2]) == joseutil.cert_der(root), "x5c chains to the trusted test root")
        C.ok(header["kid"] == joseutil.x5c_thumbprints(chain[0])["kid"] and "x5t#S256" in header, "JWS header %s" % sorted(header))
        key = payload["response"]["key"]["key"]
        kh = json.loads(joseutil.b64u_decode(key["key_hsm"]))
        want_enc = enc or "CKM_RSA_AES_KEY_WRAP"
        C.ok(kh["header"] == {"kid": "TpmEphemeralEncryptionKey", "alg": "dir", "enc": want_enc} and
             kh["schema_version"] == "1.0" and payload["request"]["enc"] == want_enc and
             payload["request"]["nonce"] == "abc", "key_hsm header and request echo")
        blob = joseutil.b64u_decode(kh["ciphertext"])
        kek = vtpm.enc_key.decrypt(blob[:256], padding.OAEP(padding.MGF1(h()), h(), None))
        from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
        C.ok(aes_key_unwrap_with_padding(kek, blob[256:]) == material, "unwrapped key equals the vault's key (%s)" % want_enc)
        priv = serialization.load_der_private_key(material, None)
        C.ok(joseutil.jwk_from_public(priv.public_key())["n"] == key["n"], "released key matches its public part")

    # denials through the real MAA token verification path (JWKS fetched from the MAA emulator)
    for name, needle in (("noncompliant", "does not satisfy the key release policy"),
                         ("wrong_issuer", "not an authority"), ("expired", "expired"), ("bad_signature", "bad signature")):
        status, _, obj = kv.json("POST", rel, {"target": faults[name]}, bearer)
        C.ok(status == 403 and obj["error"]["code"] == "Forbidden", "MAA token %s: %d" % (name, status))
        C.contains(error_message(obj), needle, "MAA token " + name)
    status, _, obj = kv.json("POST", rel, {"target": "not.a.jwt"}, bearer)
    C.ok(status == 400 and obj["error"]["code"] == "BadParameter", "malformed target: %d" % status)
    status, _, obj = kv.json("POST", rel, {"target": jwt, "enc": "AES"}, bearer)
    C.ok(status == 400 and "enc" in error_message(obj), "unknown enc")
    status, _, obj = kv.json("POST", "/keys/nope/release?api-version=7.4", {"target": jwt}, bearer)
    C.ok(status == 404 and obj["error"]["code"] == "KeyNotFound", "unknown key: %d" % status)
    status, _, obj = kv.json("POST", "/keys/disk1/release?api-version=7.4", {"target": jwt}, bearer)
    C.ok(status == 200, "release of the latest version without a version segment")

    # faults
    status, _, obj = released(flag="wrong_key")
    blob = joseutil.b64u_decode(json.loads(joseutil.b64u_decode(joseutil.jwt_claims(obj["value"])[1]["response"]["key"]["key"]["key_hsm"]))["ciphertext"])
    try:
        vtpm.enc_key.decrypt(blob[:256], padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))
        C.ok(False, "wrong_key: unwrap succeeded")
    except ValueError:
        C.ok(True, "wrong_key")
    status, _, obj = released(flag="bad_signature")
    header, _ = joseutil.jwt_claims(obj["value"])
    _, _, si, sig = joseutil.jws_split(obj["value"])
    leaf = x509.load_der_x509_certificate(joseutil.b64_any_decode(header["x5c"][0]))
    C.ok(not joseutil.verify_signature("RS256", leaf.public_key(), si, sig), "bad_signature")
    status, _, obj = released(flag="untrusted_jws")
    header, _ = joseutil.jwt_claims(obj["value"])
    top = x509.load_der_x509_certificate(joseutil.b64_any_decode(header["x5c"][-1]))
    C.ok(joseutil.cert_der(top) != joseutil.cert_der(root) and not ev.verify_cert_signature(
        x509.load_der_x509_certificate(joseutil.b64_any_decode(header["x5c"][1])), root), "untrusted_jws")
    log = kv.control("GET", "/requests")
    C.ok(all("Bearer" not in json.dumps(e.get("query")) for e in log), "request log keeps no bearer in queries")


def main():
    state = tempfile.mkdtemp(prefix="cvm-emu-azure.")
    servers = []
    try:
        testpki.generate(os.path.join(state, "pki"))  # one test CA for all three emulators
        amd = synth.AmdChain(os.path.join(state, "amd"))
        amd_other = synth.AmdChain(os.path.join(state, "amd-other"))
        vtpm = synth.SoftVtpm(amd)
        imds = Server("imds.py", state, "imds", plain=True)
        servers.append(imds)
        maa = Server("maa.py", state, "maa", ["--amd-roots", amd.bundle])
        servers.append(maa)
        kv = Server("keyvault.py", state, "kv", ["--aad-cert", os.path.join(state, "imds-aad-signing.pem"),
                                                 "--maa-ca", os.path.join(state, "pki", "ca.pem")])
        kv.state = state
        servers.append(kv)
        tok_path = test_imds(imds, vtpm)
        result = test_maa(maa, vtpm, amd_other, state)
        if result:
            test_keyvault(kv, imds, maa, vtpm, tok_path, *result)
        test_reuse(state, amd.bundle, vtpm)
    finally:
        for s in servers:
            s.stop()
        if C.failed:
            for tag in ("imds", "maa", "kv"):
                p = os.path.join(state, tag + ".stderr")
                if os.path.exists(p) and os.path.getsize(p):
                    print("--- %s stderr:\n%s" % (tag, open(p).read()[-3000:]))
        shutil.rmtree(state, ignore_errors=True)
    return C.finish()


if __name__ == "__main__":
    sys.exit(main())
