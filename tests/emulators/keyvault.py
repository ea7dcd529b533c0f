#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Azure Key Vault / Managed HSM emulator for Secure Key Release (test only; azure-protocol.md 6).

  POST /keys/{name}/create?api-version=7.x     body {"kty","key_size"|"crv","key_ops","attributes":
                                                {"exportable":true},"release_policy":{"data":b64url,...}}
  GET  /keys/{name}[/{version}]?api-version=7.x  the key bundle (public part only)
  POST /keys/{name}[/{version}]/release?api-version=7.x  body {"target": <MAA JWT>, "enc"?, "nonce"?}

Release requires `Authorization: Bearer` with an access token from the IMDS emulator (RS256, checked
with --aad-cert, audience = the vault resource, not expired). The MAA token is verified like the
real service does: its `iss` must be an authority of the key's release policy; the signing keys
come from that authority's /.well-known/openid-configuration -> jwks_uri (HTTPS, trusting
--maa-ca), or from --maa-jwks FILE; RS256 by kid; nbf/exp (at --verify-at when given). Then the
release policy (anyOf/allOf, claim conditions) is evaluated against the claims and the key is
returned as {"value": <RS256 JWS with an x5c chain to this emulator's TEST-ONLY root>}, payload
{"request": {...}, "response": {"key": <bundle with key.key_hsm>}}. key_hsm is base64url of
{"schema_version":"1.0","header":{"kid":"TpmEphemeralEncryptionKey","alg":"dir","enc":ENC},
"ciphertext": base64url(RSA-OAEP(x-ms-runtime key, AES-256 KEK) || AES-KWP(KEK, key material))},
key material = PKCS#8 DER for RSA/EC keys, raw bytes for oct keys.

Errors: {"error":{"code","message"}}; 400 BadParameter, 401 Unauthorized (with WWW-Authenticate),
403 Forbidden (token not trusted, policy not satisfied, key not exportable), 404 KeyNotFound.
The JWS root is written to <state-dir>/kv-jws-root.pem. Control (TEST-ONLY, returns secrets):
POST /key-material {"name","version"?} -> {"kty","material_b64"}; POST /import {"name","pem"|"oct_b64",
"release_policy"}.

Faults ({"kind":"flag","name":...}): wrong_key (key_hsm wrapped to a foreign RSA key), bad_signature
(JWS signature corrupted), untrusted_jws (JWS chain from a root nobody trusts), corrupt_key_hsm."""
import base64
import json
import os
import ssl
import sys
import threading
import time
import urllib.request
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402

import evidence as ev  # noqa: E402
import joseutil  # noqa: E402
import policy as pol  # noqa: E402
from emulator import Emulator, HttpError, Response  # noqa: E402

API_VERSIONS = ("7.3", "7.4", "7.5", "7.6", "2025-07-01")
TOKEN_SKEW = 300

emu = Emulator("keyvault")
emu.argument("--aad-cert", required=True, help="certificate of the IMDS emulator's access-token signing key")
emu.argument("--managed-hsm", action="store_true", help="behave as a Managed HSM (oct-HSM keys, resource "
                                                          "https://managedhsm.azure.net)")
emu.argument("--maa-jwks", help="JWKS file for MAA tokens (default: fetch the authority's OpenID metadata)")
emu.argument("--maa-ca", help="CA file to trust when fetching MAA metadata over HTTPS")
emu.argument("--verify-at", help="time (RFC 3339 or epoch) at which MAA tokens must be valid (default: now)")

STATE = {"lock": threading.Lock(), "keys": {}}


def kv_error(status, code, message, headers=None):
    return HttpError(status, message, code, headers)


@emu.on_start
def setup(e):
    a = e.args
    STATE["aad"] = x509.load_pem_x509_certificate(open(a.aad_cert, "rb").read())
    STATE["resource"] = "https://managedhsm.azure.net" if a.managed_hsm else "https://vault.azure.net"
    STATE["verify_at"] = ev.parse_time(a.verify_at)
    STATE["chain"] = make_chain("cvm-agent TEST-ONLY Key Vault")
    STATE["untrusted_chain"] = make_chain("cvm-agent TEST-ONLY untrusted Key Vault")
    joseutil.write_atomic(os.path.join(a.state_dir, "kv-jws-root.pem"), joseutil.cert_pem(STATE["chain"][1][-1]))


def make_chain(name):
    """(leaf key, [leaf, intermediate, root]) like the real x5c (leaf, TLS issuing CA, root)."""
    root_key = rsa.generate_private_key(65537, 2048)
    root = joseutil.make_cert(name + " root", root_key, ca=True, days=3)
    mid_key = rsa.generate_private_key(65537, 2048)
    mid = joseutil.make_cert(name + " issuing CA", mid_key, root, root_key, ca=True, days=3)
    leaf_key = rsa.generate_private_key(65537, 2048)
    leaf = joseutil.make_cert("localhost", leaf_key, mid, mid_key, dns=("localhost", "vault.azure.net",
                                                                        "*.vault.azure.net", "*.managedhsm.azure.net"),
                              ips=("127.0.0.1",), days=3)
    return leaf_key, [leaf, mid, root]


def check_api_version(req):
    v = req.query.get("api-version")
    if not v:
        raise kv_error(400, "BadParameter", "The 'api-version' query parameter is missing.")
    if v not in API_VERSIONS:
        raise kv_error(400, "BadParameter", "The specified version (%s) is not recognized. Consider using the latest "
                                            "supported version (7.5)." % v)
    return v


def vault_url(req):
    return "https://" + (req.headers.get("Host") or "127.0.0.1")


# --- keys ----------------------------------------------------------------------------------------------
def material_of(k):
    key = k["private"]
    if isinstance(key, bytes):
        return key
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def bundle(req, k, with_policy=True):
    kid = "%s/keys/%s/%s" % (vault_url(req), k["name"], k["version"])
    key = {"kid": kid, "kty": k["kty"], "key_ops": k["key_ops"]}
    priv = k["private"]
    if isinstance(priv, rsa.RSAPrivateKey):
        key.update({kk: v for kk, v in joseutil.jwk_from_public(priv.public_key()).items() if kk in ("n", "e")})
    elif isinstance(priv, ec.EllipticCurvePrivateKey):
        key.update({kk: v for kk, v in joseutil.jwk_from_public(priv.public_key()).items() if kk in ("crv", "x", "y")})
    out = {"key": key, "attributes": dict(k["attributes"]), "tags": k["tags"]}
    if with_policy and k.get("release_policy") is not None:
        out["release_policy"] = k["release_policy"]
    return out


def parse_release_policy(rp):
    if not isinstance(rp, dict) or not isinstance(rp.get("data"), str):
        raise kv_error(400, "BadParameter", "release_policy.data must be a base64url string")
    try:
        doc = json.loads(joseutil.b64_any_decode(rp["data"], "release_policy.data"))
        pol.check_release_policy(doc)
    except (ValueError, joseutil.JoseError) as e:
        raise kv_error(400, "BadParameter", "Invalid release policy: %s" % e)
    return doc, {"contentType": rp.get("contentType", "application/json; charset=utf-8"),
                 "data": joseutil.b64u(joseutil.b64_any_decode(rp["data"])), "immutable": bool(rp.get("immutable", False))}


def store_key(name, kty, private, key_ops, attrs, release_policy_wire, tags=None):
    if not isinstance(name, str) or not name or len(name) > 127 or \
            not all(c.isalnum() or c == "-" for c in name):
        raise kv_error(400, "BadParameter", "The key name '%s' is invalid (1-127 letters, digits, dashes)" % name)
    now = int(time.time())
    k = {"name": name, "version": uuid.uuid4().hex, "kty": kty, "private": private, "key_ops": key_ops,
         "attributes": {"enabled": attrs.get("enabled", True), "created": now, "updated": now,
                        "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90,
                        "exportable": bool(attrs.get("exportable", False))},
         "tags": tags or {}, "release_policy": release_policy_wire}
    with STATE["lock"]:
        STATE["keys"].setdefault(name, []).append(k)
    return k


def validate_create(body):
    if not isinstance(body, dict):
        raise kv_error(400, "BadParameter", "The request body is not a JSON object")
    kty = body.get("kty")
    hsm = emu.args.managed_hsm
    allowed = ("RSA-HSM", "EC-HSM", "oct-HSM") if hsm else ("RSA", "RSA-HSM", "EC", "EC-HSM")
    if kty not in allowed:
        raise kv_error(400, "BadParameter", "Key type %r is not supported by this %s" % (kty, "managed HSM" if hsm
                                                                                          else "key vault"))
    attrs = body.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise kv_error(400, "BadParameter", "attributes must be an object")
    rp = body.get("release_policy")
    exportable = bool(attrs.get("exportable", False))
    if exportable and rp is None:
        raise kv_error(400, "BadParameter", "AKV.SKR.1004: Exportable keys must have release policy.")
    if rp is not None and not exportable:
        raise kv_error(400, "BadParameter", "A release policy requires an exportable key (attributes.exportable)")
    if rp is not None and not kty.endswith("-HSM"):
        raise kv_error(400, "BadParameter", "Keys with a release policy must be HSM-protected (%s-HSM)" % kty)
    wire = parse_release_policy(rp)[1] if rp is not None else None
    return kty, attrs, wire


@emu.route("POST", "/keys/(?P<name>[^/]+)/create")
def create(req):
    check_api_version(req)
    body = req.json()
    kty, attrs, wire = validate_create(body)
    if kty.startswith("RSA"):
        size = body.get("key_size", 2048)
        if size not in (2048, 3072, 4096):
            raise kv_error(400, "BadParameter", "key_size %r is not 2048, 3072 or 4096" % size)
        private = rsa.generate_private_key(65537, size)
        ops = ["encrypt", "decrypt", "sign", "verify", "wrapKey", "unwrapKey"]
    elif kty.startswith("EC"):
        curves = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1}
        if body.get("crv", "P-256") not in curves:
            raise kv_error(400, "BadParameter", "crv %r is not supported" % body.get("crv"))
        private = ec.generate_private_key(curves[body.get("crv", "P-256")]())
        ops = ["sign", "verify"]
    else:
        size = body.get("key_size", 256)
        if size not in (128, 192, 256):
            raise kv_error(400, "BadParameter", "key_size %r is not 128, 192 or 256" % size)
        private = os.urandom(size // 8)
        ops = ["encrypt", "decrypt", "wrapKey", "unwrapKey"]
    if isinstance(body.get("key_ops"), list):
        ops = body["key_ops"]
    k = store_key(req.params["name"], kty, private, ops, attrs, wire, body.get("tags"))
    return Response.json(bundle(req, k))


def find_key(name, version):
    with STATE["lock"]:
        versions = STATE["keys"].get(name) or []
        k = versions[-1] if versions and not version else next((v for v in versions if v["version"] == version), None)
    if k is None:
        raise kv_error(404, "KeyNotFound", "A key with (name/id) %s%s was not found in this key vault."
                       % (name, "/" + version if version else ""))
    return k


@emu.route("GET", "/keys/(?P<name>[^/]+)(?:/(?P<version>[0-9a-f]{32}))?")
def get_key(req):
    check_api_version(req)
    return Response.json(bundle(req, find_key(req.params["name"], req.params.get("version"))))


# --- release -------------------------------------------------------------------------------------------
def unauthorized(message):
    auth = 'Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-0000000test0", ' \
           'resource="%s"' % STATE["resource"]
    return kv_error(401, "Unauthorized", message, {"WWW-Authenticate": auth})


def check_bearer(req):
    h = req.headers.get("Authorization") or ""
    if not h.startswith("Bearer ") or not h[7:].strip():
        raise unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
    token = h[7:].strip()
    try:
        header, claims = joseutil.jwt_claims(token, "access token")
        _, _, signing_input, sig = joseutil.jws_split(token, "access token")
        if header.get("alg") != "RS256" or not joseutil.verify_signature("RS256", STATE["aad"].public_key(),
                                                                          signing_input, sig):
            raise unauthorized("AKV10032: Invalid issuer or signature of the access token.")
    except joseutil.JoseError as e:
        raise unauthorized("AKV10000: Malformed access token: %s" % e)
    if str(claims.get("aud", "")).rstrip("/") != STATE["resource"]:
        raise unauthorized("AKV10022: Invalid audience. Expected %s, found: %s." % (STATE["resource"], claims.get("aud")))
    now = time.time()
    if not isinstance(claims.get("exp"), int) or claims["exp"] + TOKEN_SKEW < now:
        raise unauthorized("AKV10021: The access token is expired.")
    if isinstance(claims.get("nbf"), int) and claims["nbf"] - TOKEN_SKEW > now:
        raise unauthorized("AKV10020: The access token is not yet valid.")


def fetch_json(url):
    ctx = ssl.create_default_context(cafile=emu.args.maa_ca) if emu.args.maa_ca else ssl.create_default_context()
    with urllib.request.urlopen(url, timeout=5, context=ctx) as r:  # noqa: S310 (https, loopback in tests)
        return json.loads(r.read(1 << 20))


def maa_jwks(authority):
    if emu.args.maa_jwks:
        with open(emu.args.maa_jwks, encoding="utf-8") as f:
            return json.load(f)
    meta = fetch_json(authority.rstrip("/") + "/.well-known/openid-configuration")
    uri = meta.get("jwks_uri") if isinstance(meta, dict) else None
    if not isinstance(uri, str) or not uri.startswith("https://"):
        raise ValueError("no https jwks_uri in the authority's OpenID metadata")
    return fetch_json(uri)


def forbidden(message):
    return kv_error(403, "Forbidden", message)


def verify_target(target, release_policy):
    """Claims of the MAA token once its issuer, signature and times check out."""
    try:
        header, claims = joseutil.jwt_claims(target, "target")
        _, _, signing_input, sig = joseutil.jws_split(target, "target")
    except joseutil.JoseError as e:
        raise kv_error(400, "BadParameter", "The target attestation token is malformed: %s" % e)
    iss = claims.get("iss")
    authorities = [a["authority"] for a in release_policy["anyOf"]]
    if not isinstance(iss, str) or iss.rstrip("/").lower() not in [a.rstrip("/").lower() for a in authorities]:
        raise forbidden("Target environment attestation statement cannot be verified: issuer %r is not an authority "
                        "of the key release policy" % (iss,))
    if header.get("alg") != "RS256":
        raise forbidden("Target environment attestation statement cannot be verified: alg %r" % header.get("alg"))
    try:
        key = joseutil.jwks_lookup(maa_jwks(iss), header.get("kid"), "attestation authority JWKS")
    except (joseutil.JoseError, OSError, ValueError) as e:
        raise forbidden("Target environment attestation statement cannot be verified: %s" % e)
    if not joseutil.verify_signature("RS256", key, signing_input, sig):
        raise forbidden("Target environment attestation statement cannot be verified: bad signature")
    now = STATE["verify_at"].timestamp() if STATE["verify_at"] else time.time()
    if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] + TOKEN_SKEW < now:
        raise forbidden("Target environment attestation statement has expired (exp %s)" % claims.get("exp"))
    if isinstance(claims.get("nbf"), (int, float)) and claims["nbf"] - TOKEN_SKEW > now:
        raise forbidden("Target environment attestation statement is not yet valid (nbf %s)" % claims.get("nbf"))
    return claims


def wrapping_key(claims):
    runtime = claims.get("x-ms-runtime")
    keys = runtime.get("keys") if isinstance(runtime, dict) else None
    if not isinstance(keys, list) or not keys:
        raise kv_error(400, "BadParameter", "The target attestation token has no x-ms-runtime.keys to wrap the key to")
    jwk = next((k for k in keys if isinstance(k, dict) and k.get("kid") == "TpmEphemeralEncryptionKey"), None)
    jwk = jwk or next((k for k in keys if isinstance(k, dict) and k.get("kty") == "RSA"), None)
    if jwk is None:
        raise kv_error(400, "BadParameter", "x-ms-runtime.keys holds no RSA key to wrap the key to")
    try:
        return jwk.get("kid", "TpmEphemeralEncryptionKey"), joseutil.public_from_jwk(jwk, "x-ms-runtime key")
    except joseutil.JoseError as e:
        raise kv_error(400, "BadParameter", str(e))


@emu.route("POST", "/keys/(?P<name>[^/]+)(?:/(?P<version>[0-9a-f]{32}))?/release")
def release(req):
    api = check_api_version(req)
    check_bearer(req)
    k = find_key(req.params["name"], req.params.get("version"))
    body = req.json()
    if not isinstance(body, dict) or not isinstance(body.get("target"), str) or not body["target"]:
        raise kv_error(400, "BadParameter", "The release request needs a 'target' attestation token")
    enc = body.get("enc", "CKM_RSA_AES_KEY_WRAP")
    if enc not in joseutil.KEY_WRAP_HASHES:
        raise kv_error(400, "BadParameter", "Unsupported 'enc' %r (CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256, "
                                            "RSA_AES_KEY_WRAP_384)" % (enc,))
    if "nonce" in body and not isinstance(body["nonce"], str):
        raise kv_error(400, "BadParameter", "'nonce' must be a string")
    if not k["attributes"]["exportable"] or k["release_policy"] is None:
        raise forbidden("Operation release is not allowed on a non-exportable key")
    if not k["attributes"]["enabled"]:
        raise forbidden("Operation release is not allowed on a disabled key")
    policy_doc = json.loads(joseutil.b64u_decode(k["release_policy"]["data"]))
    claims = verify_target(body["target"], policy_doc)
    ok, why = pol.evaluate_release_policy(policy_doc, claims)
    if not ok:
        raise forbidden("Target environment attestation statement does not satisfy the key release policy: %s" % why)
    kid, wrap_to = wrapping_key(claims)
    if req.take_flag("wrong_key"):
        wrap_to = rsa.generate_private_key(65537, 2048).public_key()
    ciphertext = joseutil.rsa_aes_key_wrap(wrap_to, material_of(k), enc)
    if req.take_flag("corrupt_key_hsm"):
        ciphertext = ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])
    key_hsm = joseutil.b64u(json.dumps({"schema_version": "1.0", "header": {"kid": kid, "alg": "dir", "enc": enc},
                                        "ciphertext": joseutil.b64u(ciphertext)}, separators=(",", ":")).encode())
    b = bundle(req, k)
    b["key"]["key_hsm"] = key_hsm
    request = {"api-version": api, "enc": enc, "kid": "%s/keys/%s" % (vault_url(req), k["name"])}
    if "nonce" in body:
        request["nonce"] = body["nonce"]
    payload = {"request": request, "response": {"key": b}}
    leaf_key, chain = STATE["untrusted_chain" if req.take_flag("untrusted_jws") else "chain"]
    header = {"alg": "RS256"}
    header.update(joseutil.x5c_thumbprints(chain[0]))
    header.update({"typ": "JWT", "x5c": [joseutil.b64std(joseutil.cert_der(c)) for c in chain]})
    jws = joseutil.jws_sign(header, payload, leaf_key)
    if req.take_flag("bad_signature"):
        head, _, sig = jws.rpartition(".")
        raw = bytearray(joseutil.b64u_decode(sig))
        raw[-1] ^= 0x01
        jws = head + "." + joseutil.b64u(bytes(raw))
    return Response.json({"value": jws})


# --- TEST-ONLY control endpoints -------------------------------------------------------------------------
@emu.control_route("POST", "/key-material")
def key_material(body):
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        raise ValueError("needs {\"name\": ..., \"version\"?: ...}")
    try:
        k = find_key(body["name"], body.get("version"))
    except HttpError as e:
        raise ValueError(e.message)
    return {"kty": k["kty"], "version": k["version"], "material_b64": joseutil.b64std(material_of(k))}


@emu.control_route("POST", "/import")
def import_key(body):
    """{"name", "pem" (RSA/EC private key) | "oct_b64", "release_policy": {"data": b64url(policy)}}."""
    if not isinstance(body, dict):
        raise ValueError("body must be an object")
    try:
        if "pem" in body:
            private = serialization.load_pem_private_key(body["pem"].encode(), None)
            kty = "RSA-HSM" if isinstance(private, rsa.RSAPrivateKey) else "EC-HSM"
        else:
            private = base64.b64decode(body["oct_b64"])
            kty = "oct-HSM"
        rp = body.get("release_policy")
        wire = parse_release_policy(rp)[1] if rp is not None else None
    except HttpError as e:
        raise ValueError(e.message)
    except (KeyError, TypeError) as e:
        raise ValueError("bad import body: %s" % e)
    try:
        k = store_key(body.get("name"), kty, private, ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
                      {"exportable": rp is not None}, wire)
    except HttpError as e:
        raise ValueError(e.message)
    return {"name": k["name"], "version": k["version"], "kty": kty}


if __name__ == "__main__":
    sys.exit(emu.main())
