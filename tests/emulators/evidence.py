# SPDX-License-Identifier: Apache-2.0
"""Evidence verification for the emulators (test only): TPM 2.0 structures (TPMS_ATTEST quote and
certify, TPMT_PUBLIC and object names, PolicyPCR digests), TCG event-log replay (crypto-agile and
SHA1 format), the AMD SEV-SNP report with its VCEK -> ASK -> ARK chain, the Azure HCL report, and the
Trustee az-snp-vtpm / snp evidence checks. Independent of the C code: written from the TCG, AMD and
Azure documents (shared/docs/azure-protocol.md, kbs-protocol.md).

Every check raises EvidenceError with a message naming the field and the reason."""
import datetime
import hashlib
import json
import struct

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import joseutil


class EvidenceError(Exception):
    """Evidence that is malformed or fails a check; str() names where and what."""


# --- TPM 2.0 -----------------------------------------------------------------------------------------
TPM_ALG = {0x0004: ("sha1", 20), 0x000B: ("sha256", 32), 0x000C: ("sha384", 48), 0x000D: ("sha512", 64),
           0x0012: ("sm3_256", 32)}
TPM_ALG_BY_NAME = {v[0]: k for k, v in TPM_ALG.items()}
TPM_GENERATED = 0xFF544347
TPM_ST_ATTEST_QUOTE = 0x8018
TPM_ST_ATTEST_CERTIFY = 0x8017
TPM_ALG_RSA, TPM_ALG_ECC, TPM_ALG_NULL = 0x0001, 0x0023, 0x0010
TPM_CC_POLICY_PCR = 0x0000017F
# objectAttributes bits
ATTR_FIXED_TPM, ATTR_FIXED_PARENT, ATTR_SENSITIVE_DATA_ORIGIN = 1 << 1, 1 << 4, 1 << 5
ATTR_RESTRICTED, ATTR_DECRYPT, ATTR_SIGN = 1 << 16, 1 << 17, 1 << 18


def _hash(name, data):
    return hashlib.new(name, data).digest()


class Reader:
    def __init__(self, data, what):
        self.data, self.pos, self.what = bytes(data), 0, what

    def take(self, n, field):
        if n < 0 or self.pos + n > len(self.data):
            raise EvidenceError("%s: truncated at offset %d reading %s (%d bytes wanted, %d left)"
                                % (self.what, self.pos, field, n, len(self.data) - self.pos))
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self, f):
        return self.take(1, f)[0]

    def u16(self, f):
        return struct.unpack(">H", self.take(2, f))[0]

    def u32(self, f):
        return struct.unpack(">I", self.take(4, f))[0]

    def u64(self, f):
        return struct.unpack(">Q", self.take(8, f))[0]

    def tpm2b(self, f):
        return self.take(self.u16(f + ".size"), f)

    def done(self):
        if self.pos != len(self.data):
            raise EvidenceError("%s: %d trailing bytes at offset %d" % (self.what, len(self.data) - self.pos, self.pos))


def parse_pcr_selection(r, what):
    sel = []
    count = r.u32(what + ".count")
    if count > 16:
        raise EvidenceError("%s: %d PCR banks" % (what, count))
    for i in range(count):
        alg = r.u16("%s[%d].hash" % (what, i))
        size = r.u8("%s[%d].sizeofSelect" % (what, i))
        bits = r.take(size, "%s[%d].pcrSelect" % (what, i))
        pcrs = [b * 8 + j for b in range(size) for j in range(8) if bits[b] >> j & 1]
        sel.append((alg, pcrs, size))
    return sel


def encode_pcr_selection(sel):
    out = struct.pack(">I", len(sel))
    for alg, pcrs, size in sel:
        bits = bytearray(size)
        for p in pcrs:
            bits[p // 8] |= 1 << (p % 8)
        out += struct.pack(">HB", alg, size) + bytes(bits)
    return out


def parse_attest(data, what="TPMS_ATTEST"):
    r = Reader(data, what)
    a = {"magic": r.u32("magic"), "type": r.u16("type")}
    if a["magic"] != TPM_GENERATED:
        raise EvidenceError("%s: magic 0x%08x is not TPM_GENERATED_VALUE" % (what, a["magic"]))
    a["qualified_signer"] = r.tpm2b("qualifiedSigner")
    a["extra_data"] = r.tpm2b("extraData")
    a["clock"] = r.u64("clockInfo.clock")
    a["reset_count"] = r.u32("clockInfo.resetCount")
    a["restart_count"] = r.u32("clockInfo.restartCount")
    a["safe"] = r.u8("clockInfo.safe")
    a["firmware_version"] = r.u64("firmwareVersion")
    if a["type"] == TPM_ST_ATTEST_QUOTE:
        a["pcr_select"] = parse_pcr_selection(r, "quote.pcrSelect")
        a["pcr_digest"] = r.tpm2b("quote.pcrDigest")
    elif a["type"] == TPM_ST_ATTEST_CERTIFY:
        a["name"] = r.tpm2b("certify.name")
        a["qualified_name"] = r.tpm2b("certify.qualifiedName")
    else:
        raise EvidenceError("%s: type 0x%04x is neither a quote nor a certify" % (what, a["type"]))
    r.done()
    return a


def parse_public(data, what="TPMT_PUBLIC", sized=False):
    """TPMT_PUBLIC (or TPM2B_PUBLIC when sized) -> dict with 'key' (cryptography public key), 'raw'."""
    if sized:
        r0 = Reader(data, what)
        data = r0.tpm2b("size")
        r0.done()
    r = Reader(data, what)
    p = {"raw": bytes(data), "type": r.u16("type"), "name_alg": r.u16("nameAlg"), "attributes": r.u32("objectAttributes")}
    p["auth_policy"] = r.tpm2b("authPolicy")
    sym = r.u16("parameters.symmetric.algorithm")
    if sym != TPM_ALG_NULL:
        r.u16("parameters.symmetric.keyBits")
        r.u16("parameters.symmetric.mode")
    p["scheme"] = r.u16("parameters.scheme")
    p["scheme_hash"] = r.u16("parameters.scheme.hashAlg") if p["scheme"] != TPM_ALG_NULL else None
    if p["type"] == TPM_ALG_RSA:
        bits = r.u16("parameters.keyBits")
        exp = r.u32("parameters.exponent") or 65537
        n = r.tpm2b("unique.rsa")
        if len(n) * 8 != bits or bits < 1024:
            raise EvidenceError("%s: RSA modulus of %d bytes for keyBits %d" % (what, len(n), bits))
        p["key"] = rsa.RSAPublicNumbers(exp, int.from_bytes(n, "big")).public_key()
    elif p["type"] == TPM_ALG_ECC:
        curve = r.u16("parameters.curveID")
        kdf = r.u16("parameters.kdf")
        if kdf != TPM_ALG_NULL:
            r.u16("parameters.kdf.hashAlg")
        x, y = r.tpm2b("unique.ecc.x"), r.tpm2b("unique.ecc.y")
        curves = {0x0003: ec.SECP256R1, 0x0004: ec.SECP384R1}
        if curve not in curves:
            raise EvidenceError("%s: unsupported ECC curve 0x%04x" % (what, curve))
        p["key"] = ec.EllipticCurvePublicNumbers(int.from_bytes(x, "big"), int.from_bytes(y, "big"),
                                                 curves[curve]()).public_key()
    else:
        raise EvidenceError("%s: unsupported key type 0x%04x" % (what, p["type"]))
    r.done()
    if p["name_alg"] not in TPM_ALG:
        raise EvidenceError("%s: unsupported nameAlg 0x%04x" % (what, p["name_alg"]))
    p["name"] = struct.pack(">H", p["name_alg"]) + _hash(TPM_ALG[p["name_alg"]][0], data)
    return p


def verify_tpm_signature(key, message, sig, hash_name="sha256", what="signature"):
    """RSASSA-PKCS1-v1_5 (or ECDSA for EC keys, sig = r||s) over message with the AK."""
    h = {"sha1": hashes.SHA1, "sha256": hashes.SHA256, "sha384": hashes.SHA384}[hash_name]()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, message, padding.PKCS1v15(), h)
        else:
            half = len(sig) // 2
            key.verify(encode_dss_signature(int.from_bytes(sig[:half], "big"), int.from_bytes(sig[half:], "big")),
                       message, ec.ECDSA(h))
    except InvalidSignature:
        raise EvidenceError("%s: does not verify with the attestation key" % what)


def unwrap_tpmt_signature(sig):
    """Raw signature bytes from a TPMT_SIGNATURE (RSASSA/RSAPSS), or sig unchanged when it is raw."""
    if len(sig) > 6:
        alg, _h, size = struct.unpack(">HHH", sig[:6])
        if alg in (0x0014, 0x0016) and size == len(sig) - 6:
            return sig[6:]
    return sig


def pcr_digest(hash_name, values):
    return _hash(hash_name, b"".join(values))


def policy_pcr_digest(pcrs, values, hash_name="sha256"):
    """TPM2_PolicyPCR policy digest from an empty policy: H(0 || CC || TPML_PCR_SELECTION || H(values))."""
    sel = encode_pcr_selection([(TPM_ALG_BY_NAME[hash_name], pcrs, 3)])
    size = TPM_ALG[TPM_ALG_BY_NAME[hash_name]][1]
    return _hash(hash_name, bytes(size) + struct.pack(">I", TPM_CC_POLICY_PCR) + sel + pcr_digest(hash_name, values))


def check_quote(attest_bytes, sig, ak_key, pcr_values, nonce=None, what="quote"):
    """Verifies a quote: signature by ak_key, PCR digest over pcr_values {index: bytes} (the quoted
    bank's values), and extraData == nonce when nonce is not None. Returns the parsed TPMS_ATTEST."""
    a = parse_attest(attest_bytes, what)
    if a["type"] != TPM_ST_ATTEST_QUOTE:
        raise EvidenceError("%s: TPMS_ATTEST type 0x%04x is not a quote" % (what, a["type"]))
    verify_tpm_signature(ak_key, attest_bytes, unwrap_tpmt_signature(sig), "sha256", what + " signature")
    if nonce is not None and a["extra_data"] != nonce:
        raise EvidenceError("%s: extraData %s does not equal the expected nonce %s"
                            % (what, a["extra_data"].hex(), nonce.hex()))
    values = []
    for alg, pcrs, _ in a["pcr_select"]:
        if alg not in TPM_ALG:
            raise EvidenceError("%s: unsupported PCR bank 0x%04x" % (what, alg))
        for p in pcrs:
            v = pcr_values.get(p)
            if v is None:
                raise EvidenceError("%s: PCR %d is quoted but no value was supplied" % (what, p))
            if len(v) != TPM_ALG[alg][1]:
                raise EvidenceError("%s: PCR %d value has %d bytes, bank %s wants %d"
                                    % (what, p, len(v), TPM_ALG[alg][0], TPM_ALG[alg][1]))
            values.append(v)
    if not a["pcr_select"]:
        raise EvidenceError("%s: selects no PCR" % what)
    bank = TPM_ALG[a["pcr_select"][0][0]][0]
    if pcr_digest(bank, values) != a["pcr_digest"]:
        raise EvidenceError("%s: pcrDigest does not match the PCR values (a PCR was changed)" % what)
    return a


# --- TCG PC Client event log -----------------------------------------------------------------------
EV_NO_ACTION = 0x00000003
EV_SEPARATOR = 0x00000004
EV_EFI_VARIABLE_DRIVER_CONFIG = 0x80000001
SPEC_ID_SIGNATURE = b"Spec ID Event03\0"
STARTUP_LOCALITY_SIGNATURE = b"StartupLocality\0"
MAX_EVENTS = 100000


def replay_event_log(data, what="TcgLogs"):
    """Replays a binary_bios_measurements log. Returns (banks {name: {pcr: value}}, events list).
    Crypto-agile (Spec ID Event03) and SHA1 (TCG 1.2) formats; EV_NO_ACTION is never extended;
    a StartupLocality event sets PCR0's initial value to its locality."""
    r = Reader(data, what)
    events = []
    if len(data) == 0:
        raise EvidenceError("%s: empty event log" % what)
    pcr, etype = struct.unpack("<II", r.take(8, "event 0 header"))
    digest0 = r.take(20, "event 0 digest")
    body0 = r.take(struct.unpack("<I", r.take(4, "event 0 eventSize"))[0], "event 0 event")
    sizes = {}
    agile = etype == EV_NO_ACTION and body0.startswith(SPEC_ID_SIGNATURE)
    if agile:
        s = Reader(body0, "%s event 0 (Spec ID)" % what)
        s.take(16 + 4 + 4, "header")  # signature, platformClass, versions, uintnSize
        n = struct.unpack("<I", s.take(4, "numberOfAlgorithms"))[0]
        if n == 0 or n > 16:
            raise EvidenceError("%s: Spec ID event declares %d algorithms" % (what, n))
        for i in range(n):
            alg, size = struct.unpack("<HH", s.take(4, "digestSizes[%d]" % i))
            sizes[alg] = size
        banks = {TPM_ALG[a][0]: {} for a in sizes if a in TPM_ALG}
    else:
        banks = {"sha1": {}}
    locality = {}
    extends = []  # (pcr, {bank: digest})

    def note_event(index, pcr, etype, digests, body):
        events.append({"index": index, "pcr": pcr, "type": etype, "digests": digests, "data": body})
        if etype == EV_NO_ACTION:
            if pcr == 0 and body.startswith(STARTUP_LOCALITY_SIGNATURE) and len(body) >= 17:
                locality[0] = body[16]
            return
        extends.append((pcr, digests))

    if not agile:
        note_event(0, pcr, etype, {"sha1": digest0}, body0)
    index = 1
    while r.pos < len(r.data):
        if index > MAX_EVENTS:
            raise EvidenceError("%s: more than %d events" % (what, MAX_EVENTS))
        pcr = struct.unpack("<I", r.take(4, "event %d pcrIndex" % index))[0]
        etype = struct.unpack("<I", r.take(4, "event %d eventType" % index))[0]
        digests = {}
        if agile:
            count = struct.unpack("<I", r.take(4, "event %d digests.count" % index))[0]
            if count > 16:
                raise EvidenceError("%s: event %d at offset %d has %d digests" % (what, index, r.pos, count))
            for j in range(count):
                alg = struct.unpack("<H", r.take(2, "event %d digest %d alg" % (index, j)))[0]
                if alg not in sizes:
                    raise EvidenceError("%s: event %d digest %d uses algorithm 0x%04x not in the Spec ID event"
                                        % (what, index, j, alg))
                d = r.take(sizes[alg], "event %d digest %d" % (index, j))
                if alg in TPM_ALG:
                    digests[TPM_ALG[alg][0]] = d
        else:
            digests["sha1"] = r.take(20, "event %d digest" % index)
        size = struct.unpack("<I", r.take(4, "event %d eventSize" % index))[0]
        body = r.take(size, "event %d event data" % index)
        if pcr > 23 and etype != EV_NO_ACTION:
            raise EvidenceError("%s: event %d extends PCR %d" % (what, index, pcr))
        note_event(index, pcr, etype, digests, body)
        index += 1
    for bank, vals in banks.items():
        size = hashlib.new(bank).digest_size
        for pcr, digests in extends:
            if bank not in digests:
                continue
            if pcr not in vals:
                vals[pcr] = bytes(size - 1) + bytes([locality.get(0, 0) if pcr == 0 else 0])
            vals[pcr] = _hash(bank, vals[pcr] + digests[bank])
    return banks, events


def secure_boot_from_log(events):
    """True/False from the EV_EFI_VARIABLE_DRIVER_CONFIG 'SecureBoot' variable in PCR7, None if absent."""
    sb_name = "SecureBoot".encode("utf-16-le")
    for ev in events:
        if ev["pcr"] != 7 or ev["type"] != EV_EFI_VARIABLE_DRIVER_CONFIG:
            continue
        d = ev["data"]
        if len(d) < 32:
            continue
        nlen, dlen = struct.unpack("<QQ", d[16:32])
        if nlen > 64 or 32 + 2 * nlen + dlen > len(d):
            continue
        if d[32:32 + 2 * nlen] == sb_name:
            val = d[32 + 2 * nlen:32 + 2 * nlen + dlen]
            return len(val) >= 1 and val[0] == 1
    return None


# --- AMD SEV-SNP --------------------------------------------------------------------------------------
SNP_REPORT_SIZE = 0x4A0
OID_AMD = "1.3.6.1.4.1.3704.1."
PRODUCTS = ("milan", "genoa", "turin")


def _le(b):
    return int.from_bytes(b, "little")


def parse_snp_report(data, what="SNP report"):
    if len(data) < SNP_REPORT_SIZE:
        raise EvidenceError("%s: %d bytes, an ATTESTATION_REPORT has %d" % (what, len(data), SNP_REPORT_SIZE))
    d = bytes(data[:SNP_REPORT_SIZE])
    rep = {
        "raw": d, "version": _le(d[0:4]), "guest_svn": _le(d[4:8]), "policy": _le(d[8:16]),
        "family_id": d[0x10:0x20], "image_id": d[0x20:0x30], "vmpl": _le(d[0x30:0x34]),
        "signature_algo": _le(d[0x34:0x38]), "current_tcb": _le(d[0x38:0x40]), "platform_info": _le(d[0x40:0x48]),
        "signer_info": _le(d[0x48:0x4C]), "report_data": d[0x50:0x90], "measurement": d[0x90:0xC0],
        "host_data": d[0xC0:0xE0], "id_key_digest": d[0xE0:0x110], "author_key_digest": d[0x110:0x140],
        "report_id": d[0x140:0x160], "report_id_ma": d[0x160:0x180], "reported_tcb": _le(d[0x180:0x188]),
        "cpuid": d[0x188:0x18B], "chip_id": d[0x1A0:0x1E0], "committed_tcb": _le(d[0x1E0:0x1E8]),
        "launch_tcb": _le(d[0x1F0:0x1F8]), "signature": d[0x2A0:],
    }
    if rep["version"] < 2 or rep["version"] > 5:
        raise EvidenceError("%s: unsupported version %d" % (what, rep["version"]))
    if rep["signature_algo"] != 1:
        raise EvidenceError("%s: signature_algo %d is not ECDSA P-384/SHA-384" % (what, rep["signature_algo"]))
    return rep


def product_of_report(rep):
    """'milan'/'genoa'/'turin' from the CPUID bytes of v3+ reports, None when unknown (v2)."""
    if rep["version"] < 3:
        return None
    fam, model = rep["cpuid"][0], rep["cpuid"][1]
    if fam == 0x19 and model < 0x10:
        return "milan"
    if fam == 0x19:
        return "genoa"
    if fam == 0x1A:
        return "turin"
    return None


def tcb_parts(tcb, product):
    b = tcb.to_bytes(8, "little")
    if product == "turin":
        return {"fmc": b[0], "bootloader": b[1], "tee": b[2], "snp": b[3], "microcode": b[7]}
    return {"bootloader": b[0], "tee": b[1], "snp": b[6], "microcode": b[7]}


def verify_snp_signature(rep, vcek_key, what="SNP report"):
    sig = rep["signature"]
    r = int.from_bytes(sig[0:72], "little")
    s = int.from_bytes(sig[72:144], "little")
    if any(sig[144:]):
        raise EvidenceError("%s: signature reserved bytes are not zero" % what)
    try:
        vcek_key.verify(encode_dss_signature(r, s), rep["raw"][:0x2A0], ec.ECDSA(hashes.SHA384()))
    except (InvalidSignature, AttributeError, TypeError):
        raise EvidenceError("%s: signature does not verify with the VCEK" % what)


def _der(data, pos):
    """(tag, content, next_pos) of one DER TLV."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    return tag, data[pos:pos + length], pos + length


_PSS_HASH_OIDS = {bytes.fromhex("608648016503040201"): hashes.SHA256, bytes.fromhex("608648016503040202"): hashes.SHA384,
                  bytes.fromhex("608648016503040203"): hashes.SHA512}


def _pss_params(cert):
    """(hash, salt length) from the certificate's RSASSA-PSS AlgorithmIdentifier parameters."""
    der = joseutil.cert_der(cert)
    _, certificate, _ = _der(der, 0)
    _, _, pos = _der(certificate, 0)                 # tbsCertificate
    _, alg, _ = _der(certificate, pos)               # signatureAlgorithm
    _, _, p = _der(alg, 0)                           # OID
    h, salt = hashes.SHA1, 20
    if p < len(alg):
        _, params, _ = _der(alg, p)
        q = 0
        while q < len(params):
            tag, content, q = _der(params, q)
            if tag == 0xA0:
                _, algid, _ = _der(content, 0)
                _, oid, _ = _der(algid, 0)
                h = _PSS_HASH_OIDS.get(oid)
                if h is None:
                    raise EvidenceError("certificate %s: unsupported RSASSA-PSS hash" % cert.subject.rfc4514_string())
            elif tag == 0xA2:
                _, sl, _ = _der(content, 0)
                salt = int.from_bytes(sl, "big")
    return h, salt


def verify_cert_signature(cert, issuer_cert):
    """True when cert is signed by issuer_cert's key (RSA PKCS#1 v1.5, RSA-PSS, ECDSA)."""
    key = issuer_cert.public_key()
    try:
        if cert.signature_algorithm_oid.dotted_string == "1.2.840.113549.1.1.10":
            h, salt = _pss_params(cert)
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PSS(padding.MGF1(h()), salt), h())
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), cert.signature_hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        else:
            return False
        return cert.issuer == issuer_cert.subject
    except (InvalidSignature, ValueError, TypeError):
        return False


def check_validity(cert, now, what):
    if now is None:
        return
    if cert.not_valid_before.replace(tzinfo=datetime.timezone.utc) > now or \
            cert.not_valid_after.replace(tzinfo=datetime.timezone.utc) < now:
        raise EvidenceError("%s (%s) is not valid at %s (valid %s to %s)"
                            % (what, cert.subject.rfc4514_string(), now.isoformat(), cert.not_valid_before,
                               cert.not_valid_after))


def _ext_int(value):
    tag, content, _ = _der(value, 0)
    if tag != 0x02:
        raise ValueError("not an INTEGER")
    return int.from_bytes(content, "big")


def vcek_extensions(cert):
    ext = {}
    for e in cert.extensions:
        oid = e.oid.dotted_string
        if not oid.startswith(OID_AMD) or not isinstance(e.value, x509.UnrecognizedExtension):
            continue
        raw = e.value.value
        key = oid[len(OID_AMD):]
        try:
            if key == "2":
                ext["product"] = _der(raw, 0)[1].decode("ascii", "replace")
            elif key == "4":
                ext["hwid"] = _der(raw, 0)[1] if raw[:1] == b"\x04" and len(raw) in (66, 67, 10) else raw
            elif key.startswith("3."):
                ext[{"3.1": "bootloader", "3.2": "tee", "3.3": "snp", "3.8": "microcode", "3.9": "fmc"}
                    .get(key, "spl" + key)] = _ext_int(raw)
        except (ValueError, IndexError):
            raise EvidenceError("VCEK extension %s is malformed" % oid)
    return ext


class AmdRoots:
    """Trusted AMD (or test) roots: each bundle holds an ARK and its ASK/ASVK, any order."""

    def __init__(self, pem_blobs):
        self.arks, self.intermediates = [], []
        for blob in pem_blobs:
            for c in joseutil.load_pem_certs(blob):
                if c.issuer == c.subject:
                    self.arks.append(c)
                else:
                    self.intermediates.append(c)
        if not self.arks:
            raise ValueError("no self-signed ARK in the configured AMD roots")

    @classmethod
    def from_files(cls, paths):
        blobs = []
        for p in paths:
            with open(p, "rb") as f:
                blobs.append(f.read())
        return cls(blobs)


def verify_vcek_chain(vcek, chain, roots, now=None, what="VCEK"):
    """VCEK -> ASK -> ARK where the ARK is one of roots.arks (byte-identical) and the ASK comes from
    chain (THIM certificateChain) or from the configured bundles. Returns the ARK's product name."""
    candidates = list(chain or []) + roots.intermediates
    ask = next((c for c in candidates if c.issuer != c.subject and verify_cert_signature(vcek, c)), None)
    if ask is None:
        raise EvidenceError("%s: not signed by any known ASK (issuer %s): foreign or tampered VCEK"
                            % (what, vcek.issuer.rfc4514_string()))
    trusted = {joseutil.cert_der(a) for a in roots.arks}
    ark = next((a for a in roots.arks if verify_cert_signature(ask, a)), None)
    if ark is None:
        raise EvidenceError("%s: ASK %s does not chain to a configured ARK" % (what, ask.subject.rfc4514_string()))
    if joseutil.cert_der(ark) not in trusted or not verify_cert_signature(ark, ark):
        raise EvidenceError("%s: ARK %s is not self-signed" % (what, ark.subject.rfc4514_string()))
    for c, w in ((vcek, what), (ask, "ASK"), (ark, "ARK")):
        check_validity(c, now, w)
    cn = ark.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return cn[0].value if cn else ""


def check_vcek_matches_report(vcek, rep, what="VCEK"):
    ext = vcek_extensions(vcek)
    product = (ext.get("product") or "").split("-")[0].lower()
    hwid = ext.get("hwid")
    if hwid is not None:
        want = rep["chip_id"][:8] if product == "turin" else rep["chip_id"]
        if hwid != want:
            raise EvidenceError("%s: hwID %s does not equal the report's chip_id %s (a foreign VCEK)"
                                % (what, hwid.hex(), rep["chip_id"].hex()))
    parts = tcb_parts(rep["reported_tcb"], product)
    for k, v in parts.items():
        if k in ext and ext[k] != v:
            raise EvidenceError("%s: %s SPL %d does not equal the report's reported_tcb %s SPL %d"
                                % (what, k, ext[k], k, v))
    return ext


def verify_snp(rep, vcek, chain, roots, now=None, what="SNP report"):
    """Report signature + VCEK chain + VCEK/report consistency. Returns the ARK common name."""
    ark = verify_vcek_chain(vcek, chain, roots, now)
    check_vcek_matches_report(vcek, rep)
    verify_snp_signature(rep, vcek.public_key(), what)
    return ark


# --- Azure HCL report -----------------------------------------------------------------------------------
def parse_hcl_report(data, what="HCL report"):
    if len(data) < 0x4D4:
        raise EvidenceError("%s: %d bytes, shorter than the fixed part (0x4d4)" % (what, len(data)))
    if data[0:4] != b"HCLA":
        raise EvidenceError("%s: signature %r is not HCLA" % (what, bytes(data[0:4])))
    report_type = _le(data[0x4C8:0x4CC])
    if report_type != 2:
        raise EvidenceError("%s: report_type %d is not SNP (2)" % (what, report_type))
    hash_type = _le(data[0x4CC:0x4D0])
    var_size = _le(data[0x4D0:0x4D4])
    if var_size > len(data) - 0x4D4:
        raise EvidenceError("%s: variable_data_size %d exceeds the %d bytes left" % (what, var_size, len(data) - 0x4D4))
    var = bytes(data[0x4D4:0x4D4 + var_size])
    return {"version": _le(data[4:8]), "snp": parse_snp_report(data[0x20:0x20 + SNP_REPORT_SIZE], what + " SNP part"),
            "hash_type": hash_type, "var_data": var}


def check_runtime_binding(report_data, var_data, what="runtime data"):
    """report_data[0:32] == SHA-256(var_data), report_data[32:64] == 0; returns the parsed JSON."""
    if hashlib.sha256(var_data).digest() != report_data[:32] or any(report_data[32:64]):
        raise EvidenceError("%s: SHA-256 does not equal the SNP report_data (runtime data not bound to the report)" % what)
    try:
        runtime = json.loads(var_data)
    except (ValueError, UnicodeDecodeError) as e:
        raise EvidenceError("%s: not JSON (%s)" % (what, e))
    if not isinstance(runtime, dict):
        raise EvidenceError("%s: not a JSON object" % what)
    return runtime


def runtime_key(runtime, kid, what="runtime data"):
    for k in runtime.get("keys") or []:
        if isinstance(k, dict) and k.get("kid") == kid:
            try:
                return joseutil.public_from_jwk(k, "%s key %s" % (what, kid))
            except joseutil.JoseError as e:
                raise EvidenceError(str(e))
    raise EvidenceError("%s: no key with kid %s" % (what, kid))


def check_snp_policy(rep, what="SNP report"):
    if rep["vmpl"] != 0:
        raise EvidenceError("%s: VMPL %d, the HCL report must come from VMPL 0" % (what, rep["vmpl"]))
    if rep["policy"] >> 19 & 1:
        raise EvidenceError("%s: guest policy allows debugging" % what)


# --- Trustee evidence ------------------------------------------------------------------------------------
def _hexfield(obj, key, what):
    v = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(v, list) and all(isinstance(b, int) and 0 <= b < 256 for b in v):
        return bytes(v)  # version 0 evidence: byte arrays
    try:
        return bytes.fromhex(v)
    except (TypeError, ValueError):
        raise EvidenceError("%s: %s is not a hex string" % (what, key))


def load_vcek(text, what="vcek"):
    """VCEK as PEM text, base64url DER or base64 DER."""
    if not isinstance(text, str):
        raise EvidenceError("%s: not a string" % what)
    try:
        if "BEGIN CERTIFICATE" in text:
            return x509.load_pem_x509_certificate(text.encode())
        return x509.load_der_x509_certificate(joseutil.b64_any_decode(text, what))
    except (ValueError, joseutil.JoseError) as e:
        raise EvidenceError("%s: not a certificate (%s)" % (what, e))


def verify_az_snp_vtpm(evidence, report_data, roots, now=None):
    """Trustee az-snp-vtpm evidence (version 0/1/2): the checks of kbs-protocol.md, in that order.
    report_data: the expected nonce bytes (quote extraData; HCL user-data, zero-padded to 64).
    Returns a claims dict."""
    what = "az-snp-vtpm evidence"
    if not isinstance(evidence, dict):
        raise EvidenceError("%s: not a JSON object" % what)
    version = evidence.get("version", 0)
    if version not in (0, 1, 2):
        raise EvidenceError("%s: unsupported version %r" % (what, version))
    quote = evidence.get("tpm_quote", evidence.get("quote"))
    if not isinstance(quote, dict):
        raise EvidenceError("%s: no tpm_quote object" % what)
    if "hcl_report" in evidence:
        try:
            hcl_bytes = joseutil.b64u_decode(evidence["hcl_report"], "hcl_report")
        except joseutil.JoseError as e:
            raise EvidenceError("%s: %s" % (what, e))
    elif isinstance(evidence.get("report"), list) and all(isinstance(b, int) and 0 <= b < 256 for b in evidence["report"]):
        hcl_bytes = bytes(evidence["report"])
    else:
        raise EvidenceError("%s: no hcl_report" % what)
    hcl = parse_hcl_report(hcl_bytes)
    snp = hcl["snp"]
    try:
        runtime = json.loads(hcl["var_data"])
    except (ValueError, UnicodeDecodeError):
        raise EvidenceError("HCL runtime data: not JSON")
    ak = runtime_key(runtime, "HCLAkPub", "HCL runtime data")
    message = _hexfield(quote, "message", "tpm_quote")
    signature = _hexfield(quote, "signature", "tpm_quote")
    pcrs_hex = quote.get("pcrs")
    if isinstance(pcrs_hex, list) and all(isinstance(p, list) for p in pcrs_hex):
        pcrs_hex = [bytes(p).hex() for p in pcrs_hex]
    if not isinstance(pcrs_hex, list) or not all(isinstance(p, str) for p in pcrs_hex):
        raise EvidenceError("tpm_quote: pcrs is not a list of hex strings")
    if all(isinstance(p, list) for p in pcrs_hex or []):
        pcrs_hex = [bytes(p).hex() for p in pcrs_hex]
    try:
        pcrs = {i: bytes.fromhex(p) for i, p in enumerate(pcrs_hex)}
    except ValueError:
        raise EvidenceError("tpm_quote: a PCR value is not hex")
    # 1. AK signature, 2. nonce, 3. PCR digest
    a = parse_attest(message, "tpm_quote message")
    verify_tpm_signature(ak, message, unwrap_tpmt_signature(signature), "sha256", "tpm_quote signature (HCLAkPub)")
    if a["type"] != TPM_ST_ATTEST_QUOTE:
        raise EvidenceError("tpm_quote message: not a quote")
    if a["extra_data"] != report_data:
        raise EvidenceError("tpm_quote: nonce %s does not equal the expected report_data %s"
                            % (a["extra_data"].hex(), report_data.hex()))
    check_quote(message, signature, ak, pcrs, report_data, "tpm_quote")
    # 4. HCL binding, 5. user-data
    check_runtime_binding(snp["report_data"], hcl["var_data"], "HCL runtime data")
    user = runtime.get("user-data")
    if user is not None and version >= 2:
        try:
            user_bytes = bytes.fromhex(user)
        except (TypeError, ValueError):
            raise EvidenceError("HCL runtime data: user-data is not hex")
        if user_bytes != report_data.ljust(64, b"\0")[:64]:
            raise EvidenceError("HCL runtime data: user-data does not equal the expected report_data")
    if version < 2:
        pass  # versions 0/1 carried the nonce in the quote only
    elif user is None:
        raise EvidenceError("HCL runtime data: no user-data in version 2 evidence")
    # 6. VCEK chain and report signature, 7. VMPL
    vcek = load_vcek(evidence.get("vcek"), "vcek")
    ark = verify_snp(snp, vcek, [], roots, now, "HCL SNP report")
    check_snp_policy(snp, "HCL SNP report")
    claims = snp_claims(snp)
    claims.update({"tpm.pcr%02d" % i: v.hex() for i, v in pcrs.items()})
    claims["report_data"] = report_data.hex()
    claims["ark"] = ark
    claims["runtime"] = runtime
    return claims


def snp_report_from_trustee_json(rep):
    """Rebuilds the 1184 raw bytes from Trustee's serde JSON of an AttestationReport."""
    raise EvidenceError("snp evidence: the serde-JSON report form is not supported; send the raw report "
                        "(base64) in attestation_report")


def verify_snp_evidence(evidence, report_data, roots, now=None):
    """`snp` evidence: {"attestation_report": base64(raw report), "cert_chain": [{"cert_type":"VCEK",
    "data": base64(DER)}, ...]}. The report's report_data must equal the expected value (zero-padded)."""
    what = "snp evidence"
    if not isinstance(evidence, dict):
        raise EvidenceError("%s: not a JSON object" % what)
    raw = evidence.get("attestation_report")
    if isinstance(raw, dict):
        snp_report_from_trustee_json(raw)
    try:
        rep = parse_snp_report(joseutil.b64_any_decode(raw, "attestation_report"))
    except joseutil.JoseError as e:
        raise EvidenceError("%s: %s" % (what, e))
    vcek, chain = None, []
    for i, entry in enumerate(evidence.get("cert_chain") or []):
        if not isinstance(entry, dict):
            raise EvidenceError("%s: cert_chain[%d] is not an object" % (what, i))
        try:
            cert = x509.load_der_x509_certificate(joseutil.b64_any_decode(entry.get("data"), "cert_chain data"))
        except (ValueError, joseutil.JoseError) as e:
            raise EvidenceError("%s: cert_chain[%d]: %s" % (what, i, e))
        if str(entry.get("cert_type", "")).upper() in ("VCEK", "VLEK"):
            vcek = cert
        else:
            chain.append(cert)
    if vcek is None:
        raise EvidenceError("%s: no VCEK in cert_chain" % what)
    if rep["report_data"] != report_data.ljust(64, b"\0")[:64]:
        raise EvidenceError("%s: report_data does not equal the expected value" % what)
    ark = verify_snp(rep, vcek, chain, roots, now)
    if rep["vmpl"] > 3:
        raise EvidenceError("%s: VMPL %d out of range" % (what, rep["vmpl"]))
    if rep["policy"] >> 19 & 1:
        raise EvidenceError("%s: guest policy allows debugging" % what)
    claims = snp_claims(rep)
    claims["report_data"] = report_data.hex()
    claims["ark"] = ark
    return claims


def snp_claims(rep):
    product = product_of_report(rep) or "milan"
    tcb = tcb_parts(rep["reported_tcb"], product)
    return {"snp.measurement": rep["measurement"].hex(), "snp.host_data": rep["host_data"].hex(),
            "snp.vmpl": rep["vmpl"], "snp.guest_svn": rep["guest_svn"], "snp.policy_debug": bool(rep["policy"] >> 19 & 1),
            "snp.policy_migrate_ma": bool(rep["policy"] >> 18 & 1), "snp.id_key_digest": rep["id_key_digest"].hex(),
            "snp.reported_tcb_bootloader": tcb.get("bootloader"), "snp.reported_tcb_tee": tcb.get("tee"),
            "snp.reported_tcb_snp": tcb.get("snp"), "snp.reported_tcb_microcode": tcb.get("microcode"),
            "snp.chip_id": rep["chip_id"].hex(), "snp.report_data": rep["report_data"].hex()}


def parse_time(text):
    """RFC 3339 or epoch seconds -> aware datetime (None stays None)."""
    if text is None:
        return None
    if isinstance(text, (int, float)) or str(text).isdigit():
        return datetime.datetime.fromtimestamp(int(text), datetime.timezone.utc)
    t = str(text).replace("Z", "+00:00")
    d = datetime.datetime.fromisoformat(t)
    return d if d.tzinfo else d.replace(tzinfo=datetime.timezone.utc)


def pubkey_der(key):
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
