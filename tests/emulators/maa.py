#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Microsoft Azure Attestation emulator (test only): POST /attest/AzureGuest and GET /certs.

A verifier, not an echo server (azure-protocol.md sections 4.1, 5.1-5.3). For an AzureGuest request
it checks: the AK certificate holds the AK; the quote's signature by the AK, its PCR selection
against PcrSet and its pcrDigest against the PCR values; the TCG event-log replay against those
values; the ephemeral key's TPM2_Certify by the AK and that the certified name is the key's name,
its attributes (decrypt, not sign) and PolicyPCR binding; the SNP report's signature by the VCEK,
VCEK -> ASK -> ARK up to a configured ARK, hwID and TCB; the HCL binding SHA-256(RunTimeData) ==
report_data[0:32]; HCLAkPub == the quoting AK; VMPL 0 and no debug policy; the quote's extraData
against ClientPayload.nonce when non-empty. Then it issues an RS256 JWT (kid + self-signed x5c in
/certs, claims of section 5.3) and returns it encrypted to the certified ephemeral key (5.1).
Refusals are HTTP 400 {"error":{"code":"InvalidParameter","message":"<which check failed>"}}.

Emulator-specific faults ({"kind":"flag","name":...}): wrong_nonce (client-payload altered),
expired_token, bad_signature, wrong_key (envelope encrypted to a foreign key), wrong_ephemeral_key
(x-ms-runtime carries a foreign TpmEphemeralEncryptionKey), wrong_issuer, noncompliant."""
import glob
import hashlib
import json
import os
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

import evidence as ev  # noqa: E402
import joseutil  # noqa: E402
import policy as pol  # noqa: E402
from emulator import Emulator, HttpError, Response  # noqa: E402

API_VERSIONS = ("2020-10-01", "2022-08-01", "2022-09-01-preview", "2023-04-01-preview", "2024-02-01-preview",
                "2025-06-01")
AMD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "agent", "amd")
TRANSPORT_AAD = b"Transport Key"

emu = Emulator("maa")
emu.argument("--amd-roots", action="append", default=[],
             help="PEM bundle with a trusted ARK (and ASK); repeatable (default: agent/amd/*.pem, the real AMD roots)")
emu.argument("--issuer", help="token iss (default: https://<Host header>)")
emu.argument("--verify-at", help="time (RFC 3339 or epoch) for certificate validity checks (default: now)")
emu.argument("--token-lifetime", type=int, default=28800, help="token lifetime in seconds (MAA: 8 h)")
emu.argument("--policy", help="custom attestation policy (JSON: {\"rules\": [condition...], \"issue\": {...}})")
emu.argument("--aik-root", help="PEM CA the AikCert must be issued by (default: only its key is checked)")
emu.argument("--reject-nonce-reuse", action="store_true", help="refuse a ClientPayload nonce seen before")

STATE = {"lock": threading.Lock(), "seen_nonces": set(), "last_claims": None, "policy": None}


class Refused(Exception):
    pass


def refuse(message):
    raise HttpError(400, message, "InvalidParameter")


@emu.on_start
def setup(e):
    a = e.args
    roots = a.amd_roots or sorted(glob.glob(os.path.join(AMD_DIR, "*.pem")))
    STATE["roots"] = ev.AmdRoots.from_files(roots)
    STATE["verify_at"] = ev.parse_time(a.verify_at)
    STATE["key"] = rsa.generate_private_key(65537, 2048)
    cn = a.issuer or "https://127.0.0.1"
    STATE["cert"] = joseutil.make_cert(cn, STATE["key"], days=3)
    der = joseutil.cert_der(STATE["cert"])
    STATE["kid"] = joseutil.b64std(hashlib.sha256(der).digest())
    STATE["jwks"] = {"keys": [{"x5c": [joseutil.b64std(der)], "kid": STATE["kid"], "kty": "RSA"}]}
    STATE["aik_root"] = x509.load_pem_x509_certificate(open(a.aik_root, "rb").read()) if a.aik_root else None
    if a.policy:
        with open(a.policy, encoding="utf-8") as f:
            set_policy(json.load(f))
    joseutil.write_atomic(os.path.join(a.state_dir, "maa-jwks.json"), json.dumps(STATE["jwks"]))
    joseutil.write_atomic(os.path.join(a.state_dir, "maa-signing.pem"), joseutil.cert_pem(STATE["cert"]))


@emu.control_route("POST", "/policy")
def set_policy(body):
    if body is None:
        STATE["policy"] = None
        return {"ok": True}
    if not isinstance(body, dict) or not isinstance(body.get("rules", []), list) or \
            not isinstance(body.get("issue", {}), dict):
        raise ValueError("policy: {\"rules\": [condition...], \"issue\": {claim: value}}")
    for i, c in enumerate(body.get("rules", [])):
        pol.check_condition(c, "policy rules[%d]" % i)
    STATE["policy"] = body
    return {"ok": True}


@emu.control_route("GET", "/jwks")
def control_jwks(_body):
    return STATE["jwks"]


@emu.control_route("GET", "/last-claims")
def control_last(_body):
    return STATE["last_claims"]


def issuer_of(req):
    return emu.args.issuer or "https://" + (req.headers.get("Host") or "127.0.0.1")


@emu.route("GET", "/certs")
def certs(req):
    return Response.json(STATE["jwks"])


@emu.route("GET", "/.well-known/openid-configuration")
def openid(req):
    iss = issuer_of(req)
    return Response.json({"issuer": iss, "jwks_uri": iss + "/certs", "response_types_supported": ["token", "none"],
                          "id_token_signing_alg_values_supported": ["RS256"], "claims_supported": ["iss", "exp", "iat",
                                                                                                   "nbf", "jti"]})


# --- request decoding -------------------------------------------------------------------------------
def get(obj, key, kind, where):
    if not isinstance(obj, dict) or key not in obj:
        refuse("%s: missing %s" % (where, key))
    v = obj[key]
    if kind is bytes:
        try:
            return joseutil.b64_any_decode(v, "%s.%s" % (where, key))
        except joseutil.JoseError as e:
            refuse(str(e))
    if kind is float:
        kind = (int, float)
    if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
        refuse("%s.%s: wrong type" % (where, key))
    return v


def b64text(obj, key, where):
    try:
        return get(obj, key, bytes, where).decode("utf-8")
    except UnicodeDecodeError:
        refuse("%s.%s: not UTF-8 text" % (where, key))


def decode_request(req):
    if req.query.get("api-version") is None:
        raise HttpError(400, "The api-version query parameter is required", "MissingApiVersionParameter")
    if req.query["api-version"] not in API_VERSIONS:
        raise HttpError(400, "Unsupported api-version %s" % req.query["api-version"], "InvalidApiVersionParameter")
    body = req.json()
    raw = get(body, "AttestationInfo", bytes, "request")
    try:
        inner = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        refuse("AttestationInfo: not base64url of JSON (%s)" % e)
    if not isinstance(inner, dict):
        refuse("AttestationInfo: not a JSON object")
    return inner


def verify(inner):
    """All AzureGuest checks; returns (claims-in-progress, ephemeral public key, PCR values)."""
    now = STATE["verify_at"]
    if get(inner, "AttestationProtocolVersion", str, "AttestationInfo") != "2.0":
        refuse("AttestationInfo: AttestationProtocolVersion %r is not 2.0" % inner["AttestationProtocolVersion"])
    os_type = b64text(inner, "OSType", "AttestationInfo")
    os_distro = b64text(inner, "OSDistro", "AttestationInfo")
    os_build = b64text(inner, "OSBuild", "AttestationInfo")
    major = get(inner, "OSVersionMajor", int, "AttestationInfo")
    minor = get(inner, "OSVersionMinor", int, "AttestationInfo")
    payload = inner.get("ClientPayload", {})
    if not isinstance(payload, dict) or not all(isinstance(v, str) for v in payload.values()):
        refuse("AttestationInfo.ClientPayload: not an object of base64 strings")
    for k, v in payload.items():
        try:
            joseutil.b64_any_decode(v, "ClientPayload.%s" % k)
        except joseutil.JoseError as e:
            refuse(str(e))
    tpm = get(inner, "TpmInfo", dict, "AttestationInfo")
    iso = get(inner, "IsolationInfo", dict, "AttestationInfo")
    try:
        # AK
        ak_pub = ev.parse_public(get(tpm, "AikPub", bytes, "TpmInfo"), "TpmInfo.AikPub", sized=True)
        if not ak_pub["attributes"] & ev.ATTR_SIGN or not ak_pub["attributes"] & ev.ATTR_RESTRICTED:
            refuse("TpmInfo.AikPub: not a restricted signing key")
        try:
            ak_cert = x509.load_der_x509_certificate(get(tpm, "AikCert", bytes, "TpmInfo"))
        except ValueError as e:
            refuse("TpmInfo.AikCert: not a DER certificate (%s)" % e)
        if not joseutil.same_public_key(ak_cert.public_key(), ak_pub["key"]):
            refuse("TpmInfo.AikCert: certifies a different key than AikPub")
        if STATE["aik_root"] is not None and not ev.verify_cert_signature(ak_cert, STATE["aik_root"]):
            refuse("TpmInfo.AikCert: not issued by the trusted vTPM CA")
        # quote + PCRs
        pcr_set = get(tpm, "PcrSet", list, "TpmInfo")
        if not pcr_set or len(set(pcr_set)) != len(pcr_set) or \
                not all(type(p) is int and 0 <= p < 24 for p in pcr_set):
            refuse("TpmInfo.PcrSet: not a list of PCR indexes")
        values = {}
        for i, entry in enumerate(get(tpm, "PCRs", list, "TpmInfo")):
            idx = get(entry, "Index", int, "TpmInfo.PCRs[%d]" % i)
            values[idx] = get(entry, "Digest", bytes, "TpmInfo.PCRs[%d]" % i)
        quote = get(tpm, "PcrQuote", bytes, "TpmInfo")
        attest = ev.check_quote(quote, get(tpm, "PcrSignature", bytes, "TpmInfo"), ak_pub["key"], values,
                                None, "TpmInfo.PcrQuote")
        sel = attest["pcr_select"]
        if len(sel) != 1 or sel[0][0] != 0x000B or sorted(sel[0][1]) != sorted(pcr_set):
            refuse("TpmInfo.PcrQuote: the quote's selection is not SHA-256 PCRs %s (PcrSet)" % sorted(pcr_set))
        if attest["extra_data"] and "nonce" in payload and \
                attest["extra_data"] != joseutil.b64_any_decode(payload["nonce"]):
            refuse("TpmInfo.PcrQuote: extraData does not equal ClientPayload.nonce (stale or replayed quote)")
        # event log
        banks, events = ev.replay_event_log(get(inner, "TcgLogs", bytes, "AttestationInfo"), "TcgLogs")
        replayed = banks.get("sha256")
        if replayed is None:
            refuse("TcgLogs: no SHA-256 bank")
        for p in sorted(pcr_set):
            want = replayed.get(p, bytes(32))
            if values[p] != want:
                refuse("TcgLogs: replay gives PCR %d = %s, the quote has %s" % (p, want.hex(), values[p].hex()))
        # ephemeral key
        enc = ev.parse_public(get(tpm, "EncKeyPub", bytes, "TpmInfo"), "TpmInfo.EncKeyPub", sized=True)
        if not isinstance(enc["key"], rsa.RSAPublicKey) or enc["key"].key_size != 2048:
            refuse("TpmInfo.EncKeyPub: not an RSA-2048 key")
        if not enc["attributes"] & ev.ATTR_DECRYPT or enc["attributes"] & (ev.ATTR_SIGN | ev.ATTR_RESTRICTED):
            refuse("TpmInfo.EncKeyPub: attributes 0x%08x are not an unrestricted decryption key" % enc["attributes"])
        if not enc["attributes"] & ev.ATTR_FIXED_TPM:
            refuse("TpmInfo.EncKeyPub: not fixedTPM")
        if enc["auth_policy"]:
            pcrs07 = [values.get(p) for p in range(8)]
            if None in pcrs07 or enc["auth_policy"] != ev.policy_pcr_digest(list(range(8)), pcrs07):
                refuse("TpmInfo.EncKeyPub: authPolicy is not PolicyPCR over the quoted SHA-256 PCRs 0-7")
        cert_info = get(tpm, "EncKeyCertifyInfo", bytes, "TpmInfo")
        certify = ev.parse_attest(cert_info, "TpmInfo.EncKeyCertifyInfo")
        if certify["type"] != ev.TPM_ST_ATTEST_CERTIFY:
            refuse("TpmInfo.EncKeyCertifyInfo: not a TPM2_Certify attestation")
        ev.verify_tpm_signature(ak_pub["key"], cert_info, ev.unwrap_tpmt_signature(
            get(tpm, "EncKeyCertifyInfoSignature", bytes, "TpmInfo")), "sha256", "TpmInfo.EncKeyCertifyInfoSignature")
        if certify["name"] != enc["name"]:
            refuse("TpmInfo.EncKeyCertifyInfo: certified name is not the name of EncKeyPub")
        # isolation evidence
        if get(iso, "Type", str, "IsolationInfo") != "SevSnp":
            refuse("IsolationInfo.Type %r is not SevSnp" % iso["Type"])
        evid = get(iso, "Evidence", dict, "IsolationInfo")
        try:
            proof = json.loads(get(evid, "Proof", bytes, "IsolationInfo.Evidence"))
        except (ValueError, UnicodeDecodeError):
            refuse("IsolationInfo.Evidence.Proof: not base64 of JSON")
        rep = ev.parse_snp_report(get(proof, "SnpReport", bytes, "Proof"), "Proof.SnpReport")
        chain_pem = get(proof, "VcekCertChain", bytes, "Proof")
        try:
            chain = joseutil.load_pem_certs(chain_pem)
        except (ValueError, joseutil.JoseError) as e:
            refuse("Proof.VcekCertChain: %s" % e)
        if not chain:
            refuse("Proof.VcekCertChain: no certificate")
        ev.verify_snp(rep, chain[0], chain[1:], STATE["roots"], now, "Proof.SnpReport")
        ev.check_snp_policy(rep, "Proof.SnpReport")
        runtime_bytes = get(evid, "RunTimeData", bytes, "IsolationInfo.Evidence")
        runtime = ev.check_runtime_binding(rep["report_data"], runtime_bytes, "IsolationInfo.Evidence.RunTimeData")
        hcl_ak = ev.runtime_key(runtime, "HCLAkPub", "RunTimeData")
        if not joseutil.same_public_key(hcl_ak, ak_pub["key"]):
            refuse("RunTimeData: HCLAkPub is not the AK that signed the quote (unbound AK)")
    except ev.EvidenceError as e:
        refuse(str(e))
    claims = {
        "secureboot": bool(ev.secure_boot_from_log(events)),
        "x-ms-attestation-type": "azurevm",
        "x-ms-azurevm-attestation-protocol-ver": "2.0",
        "x-ms-azurevm-attested-pcrs": sorted(pcr_set),
        "x-ms-azurevm-bootdebug-enabled": False, "x-ms-azurevm-dbvalidated": True, "x-ms-azurevm-dbxvalidated": True,
        "x-ms-azurevm-debuggersdisabled": True, "x-ms-azurevm-default-securebootkeysvalidated": True,
        "x-ms-azurevm-elam-enabled": False, "x-ms-azurevm-flightsigning-enabled": False,
        "x-ms-azurevm-hvci-policy": 0, "x-ms-azurevm-hypervisordebug-enabled": False,
        "x-ms-azurevm-is-windows": os_type.lower() == "windows", "x-ms-azurevm-kerneldebug-enabled": False,
        "x-ms-azurevm-osbuild": os_build, "x-ms-azurevm-osdistro": os_distro, "x-ms-azurevm-ostype": os_type,
        "x-ms-azurevm-osversion-major": major, "x-ms-azurevm-osversion-minor": minor,
        "x-ms-azurevm-signingdisabled": True, "x-ms-azurevm-testsigning-enabled": False,
        "x-ms-azurevm-vmid": str((runtime.get("vm-configuration") or {}).get("vmUniqueId", "")),
        "x-ms-isolation-tee": tee_claims(rep, runtime),
        "x-ms-runtime": {"client-payload": payload,
                         "keys": [joseutil.jwk_from_public(enc["key"], kid="TpmEphemeralEncryptionKey",
                                                           key_ops=["encrypt"])]},
        "x-ms-ver": "1.0",
    }
    return claims, enc["key"], values


def tee_claims(rep, runtime):
    tcb = ev.tcb_parts(rep["reported_tcb"], ev.product_of_report(rep) or "milan")
    return {
        "x-ms-attestation-type": "sevsnpvm", "x-ms-compliance-status": "azure-compliant-cvm",
        "x-ms-runtime": runtime,
        "x-ms-sevsnpvm-authorkeydigest": rep["author_key_digest"].hex(),
        "x-ms-sevsnpvm-bootloader-svn": tcb["bootloader"], "x-ms-sevsnpvm-familyId": rep["family_id"].hex(),
        "x-ms-sevsnpvm-guestsvn": rep["guest_svn"], "x-ms-sevsnpvm-hostdata": rep["host_data"].hex(),
        "x-ms-sevsnpvm-idkeydigest": rep["id_key_digest"].hex(), "x-ms-sevsnpvm-imageId": rep["image_id"].hex(),
        "x-ms-sevsnpvm-is-debuggable": bool(rep["policy"] >> 19 & 1),
        "x-ms-sevsnpvm-launchmeasurement": rep["measurement"].hex(), "x-ms-sevsnpvm-microcode-svn": tcb["microcode"],
        "x-ms-sevsnpvm-migration-allowed": bool(rep["policy"] >> 18 & 1),
        "x-ms-sevsnpvm-reportdata": rep["report_data"].hex(), "x-ms-sevsnpvm-reportid": rep["report_id"].hex(),
        "x-ms-sevsnpvm-smt-allowed": bool(rep["policy"] >> 16 & 1), "x-ms-sevsnpvm-snpfw-svn": tcb["snp"],
        "x-ms-sevsnpvm-tee-svn": tcb["tee"], "x-ms-sevsnpvm-vmpl": rep["vmpl"],
    }


def apply_policy(claims, values):
    p = STATE["policy"]
    text = json.dumps(p, sort_keys=True) if p else "default AzureGuest policy (TEST-ONLY)"
    claims["x-ms-policy-hash"] = joseutil.b64u(hashlib.sha256(text.encode()).digest())
    if not p:
        return
    inputs = dict(claims)
    inputs["pcrs"] = {str(i): v.hex() for i, v in values.items()}
    for c in p.get("rules", []):
        ok, why = pol.evaluate(c, inputs)
        if not ok:
            refuse("Attestation policy evaluation failed: %s" % why)
    claims.update(p.get("issue", {}))


def encrypt_envelope(jwt, key):
    aes = os.urandom(32)
    iv = os.urandom(12)
    ct = AESGCM(aes).encrypt(iv, jwt.encode("ascii"), TRANSPORT_AAD)
    env = {"AuthenticationData": joseutil.b64std(ct[-16:]),
           "EncryptedInnerKey": joseutil.b64std(key.encrypt(aes, padding.PKCS1v15())),
           "EncryptionParams": {"BlockMode": "ChainingModeGCM", "BlockPadding": "PKCS7", "Cipher": "AES",
                                "Iv": joseutil.b64std(iv), "KeySizeInBits": 256},
           "Jwt": joseutil.b64std(ct[:-16])}
    return joseutil.b64u(json.dumps(env, separators=(",", ":")).encode())


@emu.route("POST", "/attest/AzureGuest")
def attest(req):
    inner = decode_request(req)
    claims, enc_key, values = verify(inner)
    payload = claims["x-ms-runtime"]["client-payload"]
    if emu.args.reject_nonce_reuse and "nonce" in payload:
        with STATE["lock"]:
            if payload["nonce"] in STATE["seen_nonces"]:
                refuse("ClientPayload.nonce was already used (stale nonce)")
            STATE["seen_nonces"].add(payload["nonce"])
    apply_policy(claims, values)
    now = int(time.time())
    iss = issuer_of(req)
    if req.take_flag("wrong_issuer"):
        iss = "https://wrong-issuer.invalid"
    if req.take_flag("expired_token"):
        now -= emu.args.token_lifetime + 3600
    claims.update({"exp": now + emu.args.token_lifetime, "iat": now, "iss": iss,
                   "jti": hashlib.sha256(os.urandom(32)).hexdigest(), "nbf": now})
    if req.take_flag("wrong_nonce"):
        claims["x-ms-runtime"]["client-payload"] = {k: joseutil.b64std(b"WRONG" + joseutil.b64_any_decode(v))
                                                    for k, v in payload.items()} or {"nonce": "V1JPTkc="}
    if req.take_flag("wrong_ephemeral_key"):
        foreign = rsa.generate_private_key(65537, 2048).public_key()
        claims["x-ms-runtime"]["keys"] = [joseutil.jwk_from_public(foreign, kid="TpmEphemeralEncryptionKey",
                                                                   key_ops=["encrypt"])]
    if req.take_flag("noncompliant"):
        claims["x-ms-isolation-tee"]["x-ms-compliance-status"] = "not-azure-compliant-cvm"
    claims = dict(sorted(claims.items()))
    header = {"alg": "RS256", "jku": issuer_of(req) + "/certs", "kid": STATE["kid"], "typ": "JWT"}
    jwt = joseutil.jws_sign(header, claims, STATE["key"])
    if req.take_flag("bad_signature"):
        head, _, sig = jwt.rpartition(".")
        raw = bytearray(joseutil.b64u_decode(sig))
        raw[len(raw) // 2] ^= 0x01
        jwt = head + "." + joseutil.b64u(bytes(raw))
    with STATE["lock"]:
        STATE["last_claims"] = claims
    if req.take_flag("wrong_key"):
        enc_key = rsa.generate_private_key(65537, 2048).public_key()
    return Response.json({"token": encrypt_envelope(jwt, enc_key)})


if __name__ == "__main__":
    sys.exit(emu.main())
