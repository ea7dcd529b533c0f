# SPDX-License-Identifier: Apache-2.0
"""Server-side JOSE helpers for the emulators (test only), on python3-cryptography.

base64url, RFC 8785 canonical JSON (JCS), JWK import/export, compact JWS sign/verify (RS256/384/512,
PS256/384/512, ES256/384), flattened JWE encrypt/decrypt (ECDH-ES+A256KW, RSA-OAEP, RSA-OAEP-256 with
A256GCM) and the Azure Key Vault key_hsm wrapping (RSA-OAEP of an AES-256 KEK + RFC 5649 key wrap)."""
import base64
import hashlib
import json
import math
import os
import struct

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import (aes_key_unwrap, aes_key_unwrap_with_padding, aes_key_wrap,
                                                    aes_key_wrap_with_padding)


class JoseError(Exception):
    """Malformed or unverifiable JOSE object; the message says which part and why."""


# --- base64 -----------------------------------------------------------------------------------
def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text, what="base64url"):
    if isinstance(text, bytes):
        text = text.decode("ascii", "replace")
    if not isinstance(text, str) or any(c not in _B64U for c in text.rstrip("=")):
        raise JoseError("%s: not base64url" % what)
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except ValueError as e:
        raise JoseError("%s: %s" % (what, e))


def b64std(data):
    return base64.b64encode(data).decode("ascii")


def b64_any_decode(text, what="base64"):
    """Standard or URL-safe base64, padded or not (Azure mixes them)."""
    if not isinstance(text, str):
        raise JoseError("%s: not a string" % what)
    t = text.strip().rstrip("=")
    if any(c not in _B64_ANY for c in t):
        raise JoseError("%s: not base64" % what)
    t = t.replace("-", "+").replace("_", "/")
    if len(t) % 4 == 1:
        raise JoseError("%s: bad base64 length" % what)
    return base64.b64decode(t + "=" * (-len(t) % 4))


_B64U = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_B64_ANY = _B64U | set("+/")


# --- RFC 8785 JSON canonicalization ----------------------------------------------------------
def _jcs_number(x):
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    if isinstance(x, int):
        if abs(x) > 2 ** 53:
            x = float(x)
        else:
            return str(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError("JCS: NaN and Infinity are not JSON")
    if x == 0:
        return "0"
    # ECMAScript Number::toString from the shortest round-trip digits (Python's repr).
    sign = "-" if x < 0 else ""
    r = repr(abs(x))
    mant, _, exp = r.partition("e")
    exp = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    digits = (ip + fp).lstrip("0")
    point = len(ip) + exp - (len(ip + fp) - len((ip + fp).lstrip("0")))
    digits = digits.rstrip("0") or "0"
    k, n = len(digits), point
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        es = ("+" if e >= 0 else "-") + str(abs(e))
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + es
    return sign + out


def _jcs_string(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif c < 0x20:
            out.append({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(c, "\\u%04x" % c))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs(obj):
    """RFC 8785 canonical JSON of obj, as bytes (UTF-8)."""
    return _jcs(obj).encode("utf-8")


def _jcs(obj):
    if obj is None:
        return "null"
    if obj is True:
        return "true"
    if obj is False:
        return "false"
    if isinstance(obj, (int, float)):
        return _jcs_number(obj)
    if isinstance(obj, str):
        return _jcs_string(obj)
    if isinstance(obj, (list, tuple)):
        return "[" + ",".join(_jcs(v) for v in obj) + "]"
    if isinstance(obj, dict):
        keys = sorted(obj, key=lambda k: k.encode("utf-16-be"))  # UTF-16 code unit order
        return "{" + ",".join(_jcs_string(k) + ":" + _jcs(obj[k]) for k in keys) + "}"
    raise TypeError("JCS: cannot serialise %r" % type(obj))


# --- JWK ----------------------------------------------------------------------------------------
def _int_b64u(n, length=None):
    length = length or max(1, (n.bit_length() + 7) // 8)
    return b64u(n.to_bytes(length, "big"))


_CURVES = {"P-256": (ec.SECP256R1, 32), "P-384": (ec.SECP384R1, 48), "P-521": (ec.SECP521R1, 66)}


def jwk_from_public(key, **extra):
    if isinstance(key, rsa.RSAPublicKey):
        pn = key.public_numbers()
        jwk = {"kty": "RSA", "n": _int_b64u(pn.n), "e": _int_b64u(pn.e)}
    elif isinstance(key, ec.EllipticCurvePublicKey):
        name = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name]
        size = _CURVES[name][1]
        pn = key.public_numbers()
        jwk = {"kty": "EC", "crv": name, "x": _int_b64u(pn.x, size), "y": _int_b64u(pn.y, size)}
    else:
        raise JoseError("unsupported key type %r" % type(key))
    jwk.update(extra)
    return jwk


def public_from_jwk(jwk, what="JWK"):
    if not isinstance(jwk, dict):
        raise JoseError("%s: not an object" % what)
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            n = int.from_bytes(b64u_decode(jwk["n"], what + ".n"), "big")
            e = int.from_bytes(b64u_decode(jwk["e"], what + ".e"), "big")
            if n < 2 ** 1023 or e < 3:
                raise JoseError("%s: RSA modulus under 1024 bits or bad exponent" % what)
            return rsa.RSAPublicNumbers(e, n).public_key()
        if kty == "EC":
            curve, size = _CURVES[jwk["crv"]]
            x = b64u_decode(jwk["x"], what + ".x")
            y = b64u_decode(jwk["y"], what + ".y")
            if len(x) != size or len(y) != size:
                raise JoseError("%s: EC coordinate length" % what)
            return ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                                 curve()).public_key()
    except (KeyError, TypeError) as e:
        raise JoseError("%s: missing, unknown or mistyped member %s" % (what, e))
    except ValueError as e:
        raise JoseError("%s: %s" % (what, e))
    raise JoseError("%s: unsupported kty %r" % (what, kty))


def same_public_key(a, b):
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


# --- JWS ------------------------------------------------------------------------------------------
_HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


def _sign(alg, key, data):
    h = _HASHES[alg[2:]]()
    if alg.startswith("RS"):
        return key.sign(data, padding.PKCS1v15(), h)
    if alg.startswith("PS"):
        return key.sign(data, padding.PSS(padding.MGF1(h), h.digest_size), h)
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(h)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise JoseError("unsupported alg %s" % alg)


def verify_signature(alg, key, data, sig):
    """True when sig over data verifies with key for JWS alg."""
    if not isinstance(alg, str) or alg[2:] not in _HASHES:
        raise JoseError("unsupported alg %r" % (alg,))
    h = _HASHES[alg[2:]]()
    try:
        if alg.startswith("RS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), h)
        elif alg.startswith("PS") and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PSS(padding.MGF1(h), h.digest_size), h)
        elif alg.startswith("ES") and isinstance(key, ec.EllipticCurvePublicKey):
            size = (key.curve.key_size + 7) // 8
            if len(sig) != 2 * size:
                return False
            der = encode_dss_signature(int.from_bytes(sig[:size], "big"), int.from_bytes(sig[size:], "big"))
            key.verify(der, data, ec.ECDSA(h))
        else:
            raise JoseError("alg %s does not fit the key type" % alg)
        return True
    except InvalidSignature:
        return False


def jws_sign(header, payload, key):
    """Compact JWS; payload is a dict (serialised compactly) or bytes."""
    if isinstance(payload, dict):
        payload = json.dumps(payload, separators=(",", ":")).encode()
    signing_input = (b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + b64u(payload)).encode()
    return signing_input.decode() + "." + b64u(_sign(header["alg"], key, signing_input))


def jws_split(token, what="JWS"):
    """(header dict, payload bytes, signing input bytes, signature bytes) of a compact JWS."""
    if not isinstance(token, str):
        raise JoseError("%s: not a string" % what)
    parts = token.split(".")
    if len(parts) != 3:
        raise JoseError("%s: %d parts, a compact JWS has 3" % (what, len(parts)))
    try:
        header = json.loads(b64u_decode(parts[0], what + " header"))
    except ValueError as e:
        raise JoseError("%s header: not JSON (%s)" % (what, e))
    if not isinstance(header, dict):
        raise JoseError("%s header: not an object" % what)
    payload = b64u_decode(parts[1], what + " payload")
    sig = b64u_decode(parts[2], what + " signature")
    return header, payload, (parts[0] + "." + parts[1]).encode(), sig


def jwt_claims(token, what="JWT"):
    header, payload, _, _ = jws_split(token, what)
    try:
        claims = json.loads(payload)
    except ValueError as e:
        raise JoseError("%s payload: not JSON (%s)" % (what, e))
    if not isinstance(claims, dict):
        raise JoseError("%s payload: not an object" % what)
    return header, claims


def jwks_lookup(jwks, kid, what="JWKS"):
    """Public key for kid from a JWKS: its n/e or x/y members, else x5c[0]."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        raise JoseError("%s: no keys array" % what)
    for k in keys:
        if isinstance(k, dict) and k.get("kid") == kid:
            if "x5c" in k and isinstance(k["x5c"], list) and k["x5c"]:
                cert = x509.load_der_x509_certificate(base64.b64decode(k["x5c"][0]))
                return cert.public_key()
            return public_from_jwk(k, "%s key %s" % (what, kid))
    raise JoseError("%s: no key with kid %r" % (what, kid))


# --- certificates ---------------------------------------------------------------------------------
def load_pem_certs(data):
    """All certificates of a PEM bundle (python3-cryptography 38 has no load_pem_x509_certificates)."""
    if isinstance(data, str):
        data = data.encode()
    out = []
    marker_b, marker_e = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
    pos = 0
    while True:
        start = data.find(marker_b, pos)
        if start < 0:
            return out
        end = data.find(marker_e, start)
        if end < 0:
            raise JoseError("PEM: unterminated certificate")
        end += len(marker_e)
        out.append(x509.load_pem_x509_certificate(data[start:end]))
        pos = end


def cert_der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def x5c_thumbprints(cert):
    der = cert_der(cert)
    return {"kid": hashlib.sha1(der).hexdigest().upper(), "x5t": b64u(hashlib.sha1(der).digest()),
            "x5t#S256": b64u(hashlib.sha256(der).digest())}


# --- JWE (flattened) --------------------------------------------------------------------------------
def _concat_kdf(z, alg, keylen, apu=b"", apv=b""):
    other = (struct.pack(">I", len(alg)) + alg.encode() + struct.pack(">I", len(apu)) + apu +
             struct.pack(">I", len(apv)) + apv + struct.pack(">I", keylen * 8))
    out = b""
    counter = 1
    while len(out) < keylen:
        out += hashlib.sha256(struct.pack(">I", counter) + z + other).digest()
        counter += 1
    return out[:keylen]


def jwe_encrypt(plaintext, jwk, alg=None, enc="A256GCM"):
    """Flattened JWE of plaintext to the public JWK: ECDH-ES+A256KW for EC, RSA-OAEP-256 for RSA."""
    key = public_from_jwk(jwk, "tee-pubkey")
    if enc != "A256GCM":
        raise JoseError("unsupported enc %s" % enc)
    cek = os.urandom(32)
    if isinstance(key, ec.EllipticCurvePublicKey):
        alg = alg or "ECDH-ES+A256KW"
        if alg != "ECDH-ES+A256KW":
            raise JoseError("unsupported alg %s for an EC key" % alg)
        eph = ec.generate_private_key(key.curve)
        kek = _concat_kdf(eph.exchange(ec.ECDH(), key), alg, 32)
        encrypted_key = aes_key_wrap(kek, cek)
        header = {"alg": alg, "enc": enc, "epk": jwk_from_public(eph.public_key())}
    else:
        alg = alg or "RSA-OAEP-256"
        h = {"RSA-OAEP": hashes.SHA1, "RSA-OAEP-256": hashes.SHA256}.get(alg)
        if h is None:
            raise JoseError("unsupported alg %s for an RSA key" % alg)
        encrypted_key = key.encrypt(cek, padding.OAEP(padding.MGF1(h()), h(), None))
        header = {"alg": alg, "enc": enc}
    protected = b64u(json.dumps(header, separators=(",", ":")).encode())
    iv = os.urandom(12)
    ct = AESGCM(cek).encrypt(iv, plaintext, protected.encode())
    return {"protected": protected, "encrypted_key": b64u(encrypted_key), "iv": b64u(iv),
            "ciphertext": b64u(ct[:-16]), "tag": b64u(ct[-16:])}


def jwe_decrypt(jwe, private_key):
    """Inverse of jwe_encrypt (used by the test clients)."""
    header = json.loads(b64u_decode(jwe["protected"]))
    ek = b64u_decode(jwe["encrypted_key"])
    if header["alg"] == "ECDH-ES+A256KW":
        epk = public_from_jwk(header["epk"])
        kek = _concat_kdf(private_key.exchange(ec.ECDH(), epk), header["alg"], 32)
        cek = aes_key_unwrap(kek, ek)
    else:
        h = {"RSA-OAEP": hashes.SHA1, "RSA-OAEP-256": hashes.SHA256}[header["alg"]]
        cek = private_key.decrypt(ek, padding.OAEP(padding.MGF1(h()), h(), None))
    aad = jwe["protected"].encode()
    if jwe.get("aad"):
        aad += b"." + jwe["aad"].encode()
    return AESGCM(cek).decrypt(b64u_decode(jwe["iv"]), b64u_decode(jwe["ciphertext"]) + b64u_decode(jwe["tag"]),
                               aad)


# --- Azure Key Vault key_hsm (CKM_RSA_AES_KEY_WRAP) -----------------------------------------------
KEY_WRAP_HASHES = {"CKM_RSA_AES_KEY_WRAP": hashes.SHA1, "RSA_AES_KEY_WRAP_256": hashes.SHA256,
                   "RSA_AES_KEY_WRAP_384": hashes.SHA384}


def rsa_aes_key_wrap(wrapping_key, material, enc):
    """RSA-OAEP(wrapping_key, 256-bit KEK) || AES-KWP(KEK, material), OAEP hash chosen by enc."""
    h = KEY_WRAP_HASHES[enc]
    kek = os.urandom(32)
    return wrapping_key.encrypt(kek, padding.OAEP(padding.MGF1(h()), h(), None)) + \
        aes_key_wrap_with_padding(kek, material)


def rsa_aes_key_unwrap(private_key, blob, enc):
    h = KEY_WRAP_HASHES[enc]
    size = private_key.key_size // 8
    kek = private_key.decrypt(blob[:size], padding.OAEP(padding.MGF1(h()), h(), None))
    return aes_key_unwrap_with_padding(kek, blob[size:])





# --- test certificates for the emulators' signing keys ------------------------------------------------
def make_cert(subject_cn, key, issuer_cert=None, issuer_key=None, ca=False, dns=(), ips=(), days=2):
    """An X.509 certificate for key (self-signed when issuer_cert is None), signed with SHA-256."""
    import datetime
    import ipaddress
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.utcnow()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True)
    else:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
    # Key identifiers as every real CA sets them (RFC 5280 4.2.1.1/4.2.1.2); strict X.509
    # verification (OpenSSL X509_V_FLAG_X509_STRICT, used by the agent) requires them.
    builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
        (issuer_key if issuer_key is not None else key).public_key()), critical=False)
    if dns or ips:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]), critical=False)
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
