#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Trustee Key Broker Service emulator, RCAR protocol 0.4.0 (test only; kbs-protocol.md).

  POST /kbs/v0/auth      {"version":"0.4.0","tee":"az-snp-vtpm"|"snp","extra-params":{"supported-hash-algorithms":[..]}}
                         -> Set-Cookie kbs-session-id, {"nonce": base64(32 bytes), "extra-params":
                            {"selected-hash-algorithm": "sha384"|"sha256"|"sha512"}}
  POST /kbs/v0/attest    (cookie) {"runtime-data":{"nonce","tee-pubkey"},"tee-evidence":{"primary_evidence",
                         "additional_evidence":""},"init-data"?} -> {"token": <RS256 JWT>}
  GET  /kbs/v0/resource/<repo>/<type>/<tag>   (cookie or Bearer) -> flattened JWE to tee-pubkey

The attest step recomputes report_data = H(JCS({"additional-evidence","nonce","tee-pubkey"})) with the
selected hash and verifies the evidence against it: for az-snp-vtpm (version 2) the AK signature on
the quote, quote nonce == report_data, PCR digest, SHA-256(HCL runtime JSON) == SNP report_data,
user-data == report_data, VCEK -> ASK -> ARK (configured --amd-roots) and report signature, VMPL 0;
for snp the report signature and chain and report_data. With init-data, PCR 8 (az-snp-vtpm) must be
SHA-256(0^32 || SHA-256(body)) and HOST_DATA (snp) SHA-256(body).

Resource policy (--resource-policy FILE or control POST /policy): {"default": "allow"|"deny",
"rules": [{"path": "<repo>/<type>/<tag> glob", "condition": <claim condition, see policy.py>}]};
the first rule whose path matches decides (no condition = allow). Claims: the token's "tee",
"tcb-status" (e.g. "tcb-status.snp.measurement", "tcb-status.tpm.pcr07") and "tee-pubkey".

Errors as Trustee: {"type": "https://github.com/confidential-containers/kbs/errors/<Kind>", "detail"}
with 401 (attestation failed, no/expired session or token), 403 PolicyDeny, 404 (no such resource).
Faults ({"kind":"flag","name":...}): stale_nonce (session keeps another nonce than the one returned),
expire_session, expired_token, bad_signature, wrong_key (JWE to a foreign key), policy_deny."""
import fnmatch
import glob
import hashlib
import json
import os
import sys
import threading
import time
import uuid
from email.utils import formatdate

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

import evidence as ev  # noqa: E402
import joseutil  # noqa: E402
import policy as pol  # noqa: E402
from emulator import Emulator, Response  # noqa: E402

PROTOCOL_VERSION = "0.4.0"
ERROR_PREFIX = "https://github.com/confidential-containers/kbs/errors/"
HASHES = ("sha384", "sha256", "sha512")  # server preference
AMD_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "agent", "amd")
COOKIE = "kbs-session-id"

emu = Emulator("kbs")
emu.argument("--amd-roots", action="append", default=[],
             help="PEM bundle with a trusted ARK and its ASK; repeatable (default: agent/amd/*.pem)")
emu.argument("--verify-at", help="time (RFC 3339 or epoch) for certificate validity checks (default: now)")
emu.argument("--session-timeout", type=float, default=300.0, help="RCAR session lifetime in seconds")
emu.argument("--token-lifetime", type=int, default=600, help="attestation token lifetime in seconds")
emu.argument("--resource", action="append", default=[], help="REPO/TYPE/TAG=FILE, repeatable")
emu.argument("--resource-policy", help="resource policy JSON file")

STATE = {"lock": threading.Lock(), "sessions": {}, "resources": {}, "policy": {"default": "allow", "rules": []}}


class KbsError(Exception):
    def __init__(self, status, kind, detail):
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail

    def response(self):
        return Response.json({"type": ERROR_PREFIX + self.kind, "detail": self.detail}, status=self.status)


def attestation_error(detail):
    return KbsError(401, "AttestationError", "Attestation error: %s" % detail)


def kbs_route(method, pattern):
    """emu.route whose handler may raise KbsError (Trustee's error body instead of the framework's)."""
    def register(fn):
        def wrapper(req):
            try:
                return fn(req)
            except KbsError as e:
                return e.response()
        return emu.route(method, pattern)(wrapper)
    return register


@emu.on_start
def setup(e):
    a = e.args
    STATE["roots"] = ev.AmdRoots.from_files(a.amd_roots or sorted(glob.glob(os.path.join(AMD_DIR, "*.pem"))))
    STATE["verify_at"] = ev.parse_time(a.verify_at)
    STATE["key"] = rsa.generate_private_key(65537, 2048)
    STATE["untrusted_key"] = rsa.generate_private_key(65537, 2048)
    cert = joseutil.make_cert("cvm-agent TEST-ONLY KBS token signing", STATE["key"], days=3)
    joseutil.write_atomic(os.path.join(a.state_dir, "kbs-token-signing.pem"), joseutil.cert_pem(cert))
    for spec in a.resource:
        path, _, fname = spec.partition("=")
        with open(fname, "rb") as f:
            put_resource({"path": path, "value_b64": joseutil.b64std(f.read())})
    if a.resource_policy:
        with open(a.resource_policy, encoding="utf-8") as f:
            set_policy(json.load(f))


@emu.control_route("POST", "/resource")
def put_resource(body):
    if not isinstance(body, dict) or not isinstance(body.get("path"), str) or len(body["path"].split("/")) != 3:
        raise ValueError("needs {\"path\": \"repo/type/tag\", \"value_b64\": ...}")
    STATE["resources"][body["path"]] = joseutil.b64_any_decode(body.get("value_b64", ""))
    return {"ok": True}


@emu.control_route("POST", "/policy")
def set_policy(body):
    if not isinstance(body, dict) or body.get("default", "allow") not in ("allow", "deny") or \
            not isinstance(body.get("rules", []), list):
        raise ValueError("policy: {\"default\": \"allow\"|\"deny\", \"rules\": [{\"path\", \"condition\"?}]}")
    for i, r in enumerate(body.get("rules", [])):
        if not isinstance(r, dict) or not isinstance(r.get("path"), str):
            raise ValueError("policy rules[%d]: needs a path glob" % i)
        if "condition" in r:
            pol.check_condition(r["condition"], "policy rules[%d].condition" % i)
    STATE["policy"] = {"default": body.get("default", "allow"), "rules": body.get("rules", [])}
    return {"ok": True}


@emu.control_route("GET", "/sessions")
def list_sessions(_body):
    with STATE["lock"]:
        return [{"id_sha256": hashlib.sha256(k.encode()).hexdigest(), "tee": s["tee"], "attested": s["token"] is not None,
                 "expires": s["expires"]} for k, s in STATE["sessions"].items()]


def cookie_header(sid, expires):
    return "%s=%s; Expires=%s; Path=/kbs/v0; HttpOnly" % (COOKIE, sid, formatdate(expires, usegmt=True))


def json_body(req, what):
    try:
        body = json.loads(req.body)
    except (ValueError, UnicodeDecodeError) as e:
        raise attestation_error("%s: deserialize failed: %s" % (what, e))
    if not isinstance(body, dict):
        raise attestation_error("%s: not a JSON object" % what)
    return body


@kbs_route("POST", "/kbs/v0/auth")
def auth(req):
    body = json_body(req, "Request")
    version = body.get("version")
    if version != PROTOCOL_VERSION:
        raise attestation_error("RCAR handshake Auth failed: KBS Client Protocol Version Mismatch: expect =%s while "
                                "the request is %s" % (PROTOCOL_VERSION, version))
    tee = body.get("tee")
    if tee not in ("az-snp-vtpm", "snp"):
        raise attestation_error("RCAR handshake Auth failed: unsupported tee %r (this KBS verifies az-snp-vtpm, snp)"
                                % (tee,))
    extra = body.get("extra-params") or {}
    offered = extra.get("supported-hash-algorithms") if isinstance(extra, dict) else None
    if offered is None:
        selected = "sha384"
    else:
        if not isinstance(offered, list):
            raise attestation_error("RCAR handshake Auth failed: supported-hash-algorithms is not a list")
        selected = next((h for h in HASHES if h in [str(o).lower() for o in offered]), None)
        if selected is None:
            raise attestation_error("RCAR handshake Auth failed: none of %s is supported" % offered)
    nonce = joseutil.b64std(os.urandom(32))
    sid = uuid.uuid4().hex
    expires = time.time() + emu.args.session_timeout
    session = {"tee": tee, "nonce": nonce, "hash": selected, "expires": expires, "token": None, "claims": None}
    if req.take_flag("stale_nonce"):
        session["nonce"] = joseutil.b64std(os.urandom(32))
    if req.take_flag("expire_session"):
        session["expires"] = time.time() - 1
    with STATE["lock"]:
        now = time.time()
        for k in [k for k, s in STATE["sessions"].items() if s["expires"] < now - 60]:
            del STATE["sessions"][k]
        STATE["sessions"][sid] = session
    return Response.json({"nonce": nonce, "extra-params": {"selected-hash-algorithm": selected}},
                         headers=[("Set-Cookie", cookie_header(sid, expires))])


def session_of(req):
    sid = req.cookies.get(COOKIE)
    with STATE["lock"]:
        s = STATE["sessions"].get(sid) if sid else None
    return sid, s


def check_init_data(tee, init, claims, hash_name):
    if not isinstance(init, dict) or not isinstance(init.get("body"), str):
        raise attestation_error("init-data: needs {\"format\", \"body\"}")
    digest = hashlib.sha256(init["body"].encode()).digest()
    if tee == "az-snp-vtpm":
        want = hashlib.sha256(bytes(32) + digest).hexdigest()
        if claims.get("tpm.pcr08") != want:
            raise attestation_error("verify TEE evidence failed: init-data digest does not match PCR 8")
    elif claims["snp.host_data"] != digest.hex():
        raise attestation_error("verify TEE evidence failed: init-data digest does not match HOST_DATA")
    claims["init_data"] = hashlib.new(hash_name, init["body"].encode()).hexdigest()


@kbs_route("POST", "/kbs/v0/attest")
def attest(req):
    sid, s = session_of(req)
    if sid is None:
        raise attestation_error("RCAR handshake Attest failed: cookie not found")
    if s is None:
        raise attestation_error("RCAR handshake Attest failed: No cookie found")
    if s["expires"] < time.time():
        raise attestation_error("RCAR handshake Attest failed: session expired.")
    if s["token"] is not None:
        return Response.json({"token": s["token"]}, headers=[("Set-Cookie", cookie_header(sid, s["expires"]))])
    body = json_body(req, "Attestation")
    rd = body.get("runtime-data")
    te = body.get("tee-evidence")
    if not isinstance(rd, dict) or not isinstance(te, dict) or "primary_evidence" not in te:
        raise attestation_error("RCAR handshake Attest failed: deserialize Attestation: needs runtime-data and "
                                "tee-evidence.primary_evidence")
    if rd.get("nonce") != s["nonce"]:
        raise attestation_error("RCAR handshake Attest failed: the nonce in the handshake session is different from "
                                "the client side in KBS protocol's Attestation message")
    additional = te.get("additional_evidence", "")
    if not isinstance(additional, str):
        raise attestation_error("RCAR handshake Attest failed: additional_evidence must be a string")
    if additional:
        raise attestation_error("RCAR handshake Attest failed: additional evidence is not supported by this KBS")
    jwk = rd.get("tee-pubkey")
    try:
        joseutil.public_from_jwk(jwk, "tee-pubkey")
    except joseutil.JoseError as e:
        raise attestation_error("RCAR handshake Attest failed: %s" % e)
    runtime = {"tee-pubkey": jwk, "nonce": s["nonce"], "additional-evidence": additional}
    report_data = hashlib.new(s["hash"], joseutil.jcs(runtime)).digest()
    evidence = te["primary_evidence"]
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            raise attestation_error("verify TEE evidence failed: primary_evidence is not JSON")
    try:
        if s["tee"] == "az-snp-vtpm":
            if not isinstance(evidence, dict) or evidence.get("version") != 2:
                raise ev.EvidenceError("az-snp-vtpm evidence: version %r is not 2"
                                       % (evidence.get("version") if isinstance(evidence, dict) else None))
            claims = ev.verify_az_snp_vtpm(evidence, report_data, STATE["roots"], STATE["verify_at"])
            claims.pop("runtime", None)
        else:
            claims = ev.verify_snp_evidence(evidence, report_data, STATE["roots"], STATE["verify_at"])
    except ev.EvidenceError as e:
        raise attestation_error("verify TEE evidence failed: %s" % e)
    if body.get("init-data") is not None:
        check_init_data(s["tee"], body["init-data"], claims, s["hash"])
    now = int(time.time())
    if req.take_flag("expired_token"):
        now -= emu.args.token_lifetime + 3600
    token_claims = {"iss": "cvm-agent-test-kbs", "iat": now, "nbf": now, "exp": now + emu.args.token_lifetime,
                    "jti": uuid.uuid4().hex, "tee": s["tee"], "tee-pubkey": jwk, "tcb-status": claims,
                    "customized_claims": {"runtime_data": {"nonce": s["nonce"], "tee-pubkey": jwk}},
                    "evaluation-reports": []}
    header = {"alg": "RS256", "typ": "JWT", "jwk": joseutil.jwk_from_public(STATE["key"].public_key())}
    token = joseutil.jws_sign(header, token_claims,
                              STATE["untrusted_key"] if req.take_flag("bad_signature") else STATE["key"])
    with STATE["lock"]:
        s["token"], s["claims"] = token, token_claims
    return Response.json({"token": token}, headers=[("Set-Cookie", cookie_header(sid, s["expires"]))])


def claims_from_bearer(token):
    try:
        header, claims = joseutil.jwt_claims(token, "token")
        _, _, signing_input, sig = joseutil.jws_split(token, "token")
    except joseutil.JoseError as e:
        raise KbsError(401, "TokenVerifierError", "Token Verifier error: %s" % e)
    if header.get("alg") != "RS256" or not joseutil.verify_signature("RS256", STATE["key"].public_key(),
                                                                      signing_input, sig):
        raise KbsError(401, "TokenVerifierError", "Token Verifier error: signature does not verify")
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        raise KbsError(401, "TokenVerifierError", "Token Verifier error: token expired")
    return claims


def allowed(path, claims):
    for r in STATE["policy"]["rules"]:
        if fnmatch.fnmatchcase(path, r["path"]):
            if "condition" not in r:
                return True, None
            return pol.evaluate(r["condition"], claims)
    return STATE["policy"]["default"] == "allow", "no rule matches and the default is deny"


@kbs_route("GET", "/kbs/v0/resource/(?P<repo>[^/]+)/(?P<type>[^/]+)/(?P<tag>[^/]+)")
def resource(req):
    h = req.headers.get("Authorization") or ""
    if h.startswith("Bearer "):
        claims = claims_from_bearer(h[7:].strip())
    else:
        sid, s = session_of(req)
        if s is None:
            raise KbsError(401, "TokenNotFound", "Attestation Token not found")
        if s["expires"] < time.time():
            raise KbsError(401, "TokenNotFound", "Attestation Token not found: The session is expired")
        if s["token"] is None:
            raise KbsError(401, "TokenNotFound", "Attestation Token not found: The session is not authorized")
        claims = s["claims"]
    path = "%s/%s/%s" % (req.params["repo"], req.params["type"], req.params["tag"])
    ok, why = allowed(path, claims)
    if req.take_flag("policy_deny"):
        ok, why = False, "injected policy_deny fault"
    if not ok:
        raise KbsError(403, "PolicyDeny", "Access denied by policy: %s" % why)
    value = STATE["resources"].get(path)
    if value is None:
        raise KbsError(404, "ResourceNotFound", "Resource not found: %s" % path)
    jwk = claims.get("tee-pubkey")
    if req.take_flag("wrong_key"):
        foreign = ec.generate_private_key(ec.SECP256R1()) if jwk.get("kty") == "EC" else \
            rsa.generate_private_key(65537, 2048)
        jwk = joseutil.jwk_from_public(foreign.public_key())
    alg = jwk.get("alg") if jwk.get("alg") in ("ECDH-ES+A256KW", "RSA-OAEP-256", "RSA-OAEP") else None
    try:
        jwe = joseutil.jwe_encrypt(value, jwk, alg)
    except joseutil.JoseError as e:
        raise KbsError(401, "JweError", "JWE failed: %s" % e)
    return Response.json(jwe)


@kbs_route("GET", "/kbs/v0/(?P<rest>.*)")
def unknown(req):
    raise KbsError(404, "InvalidRequestPath", "Request path /kbs/v0/%s is invalid" % req.params["rest"])


if __name__ == "__main__":
    sys.exit(emu.main())
