# SPDX-License-Identifier: Apache-2.0
"""Synthetic (TEST-ONLY) Azure CVM evidence for driving the emulators without hardware: a test AMD
chain (ARK -> ASK with RSA-PSS/SHA-384, P-384 VCEK with the AMD extensions, made with the openssl CLI
because python3-cryptography 38 cannot sign certificates with PSS), SNP reports signed by the VCEK,
HCL reports, and a software "vTPM" with an AK, SHA-256 PCRs, a TCG crypto-agile event log, quotes,
the PCR-bound ephemeral key and TPM2_Certify. Also builds the MAA AzureGuest request and the
Trustee az-snp-vtpm evidence from them. Nothing here is a real key; every run makes fresh ones."""
import hashlib
import json
import os
import struct
import subprocess

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

import evidence as ev
import joseutil

_CNF = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[vcek_ext]
1.3.6.1.4.1.3704.1.1 = ASN1:INTEGER:0
1.3.6.1.4.1.3704.1.2 = ASN1:IA5STRING:{product}
1.3.6.1.4.1.3704.1.3.1 = ASN1:INTEGER:{bl}
1.3.6.1.4.1.3704.1.3.2 = ASN1:INTEGER:{tee}
1.3.6.1.4.1.3704.1.3.3 = ASN1:INTEGER:{snp}
1.3.6.1.4.1.3704.1.3.8 = ASN1:INTEGER:{ucode}
1.3.6.1.4.1.3704.1.4 = DER:{hwid}
"""

PSS = ("-sha384", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:48")
TCB = 0x7308000000000003  # ucode 0x73, snp 8, tee 0, bl 3 (Milan layout)


def _openssl(cwd, *args):
    p = subprocess.run(("openssl",) + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False,
                       timeout=60)
    if p.returncode:
        raise RuntimeError("openssl %s: %s" % (args[0], p.stderr.decode(errors="replace")))


class AmdChain:
    """A TEST-ONLY ARK/ASK and any number of VCEKs under them, in directory d."""

    def __init__(self, d, name="Milan"):
        self.dir, self.name = d, name
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "amd.cnf"), "w", encoding="ascii") as f:
            f.write(_CNF.format(product="unused", bl=0, tee=0, snp=0, ucode=0, hwid="00"))
        subj = "/O=cvm-agent TEST-ONLY/CN=%%s-%s" % name
        for stem in ("ark", "ask"):
            _openssl(d, "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", stem + ".key")
        _openssl(d, "req", "-x509", "-new", "-config", "amd.cnf", "-key", "ark.key", "-subj", subj % "ARK", "-days", "3",
                 "-extensions", "ca_ext", "-out", "ark.pem", *PSS)
        _openssl(d, "req", "-new", "-config", "amd.cnf", "-key", "ask.key", "-subj", subj % "SEV", "-out", "ask.csr")
        _openssl(d, "x509", "-req", "-in", "ask.csr", "-CA", "ark.pem", "-CAkey", "ark.key", "-set_serial", "2",
                 "-days", "3", "-extfile", "amd.cnf", "-extensions", "ca_ext", "-out", "ask.pem", *PSS)
        self.ark_pem = open(os.path.join(d, "ark.pem")).read()
        self.ask_pem = open(os.path.join(d, "ask.pem")).read()
        self.bundle = os.path.join(d, "roots.pem")  # ARK + ASK, like agent/amd/<product>.pem
        with open(self.bundle, "w", encoding="ascii") as f:
            f.write(self.ark_pem + self.ask_pem)
        self.count = 0

    def vcek(self, chip_id, tcb=TCB):
        """(private key, PEM) of a VCEK for chip_id (64 bytes) at tcb."""
        self.count += 1
        stem = "vcek%d" % self.count
        key = ec.generate_private_key(ec.SECP384R1())
        with open(os.path.join(self.dir, stem + ".key"), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        parts = ev.tcb_parts(tcb, "milan")
        with open(os.path.join(self.dir, stem + ".cnf"), "w", encoding="ascii") as f:
            f.write(_CNF.format(product=self.name + "-B0", bl=parts["bootloader"], tee=parts["tee"], snp=parts["snp"],
                                ucode=parts["microcode"], hwid=chip_id.hex()))
        _openssl(self.dir, "req", "-new", "-config", stem + ".cnf", "-key", stem + ".key",
                 "-subj", "/O=cvm-agent TEST-ONLY/CN=SEV-VCEK", "-out", stem + ".csr")
        _openssl(self.dir, "x509", "-req", "-in", stem + ".csr", "-CA", "ask.pem", "-CAkey", "ask.key", "-set_serial",
                 str(100 + self.count), "-days", "3", "-extfile", stem + ".cnf", "-extensions", "vcek_ext",
                 "-out", stem + ".pem", *PSS)
        return key, open(os.path.join(self.dir, stem + ".pem")).read()


def snp_report(vcek_key, report_data, chip_id, tcb=TCB, vmpl=0, policy=0x3001F, measurement=None, version=3):
    r = bytearray(ev.SNP_REPORT_SIZE)
    struct.pack_into("<IIQ", r, 0, version, 4, policy)
    r[0x10] = 1
    r[0x20] = 2
    struct.pack_into("<IIQQ", r, 0x30, vmpl, 1, tcb, 1)
    r[0x50:0x90] = report_data.ljust(64, b"\0")
    r[0x90:0xC0] = measurement or hashlib.sha384(b"TEST-ONLY launch measurement").digest()
    r[0x140:0x160] = os.urandom(32)
    r[0x160:0x180] = b"\xff" * 32
    struct.pack_into("<Q", r, 0x180, tcb)
    r[0x188:0x18B] = b"\x19\x01\x01"
    r[0x1A0:0x1E0] = chip_id
    struct.pack_into("<Q", r, 0x1E0, tcb)
    struct.pack_into("<Q", r, 0x1F0, tcb)
    rr, ss = decode_dss_signature(vcek_key.sign(bytes(r[:0x2A0]), ec.ECDSA(hashes.SHA384())))
    r[0x2A0:0x2E8] = rr.to_bytes(72, "little")
    r[0x2E8:0x330] = ss.to_bytes(72, "little")
    return bytes(r)


def hcl_report(snp, var_data):
    head = struct.pack("<4sIIII12x", b"HCLA", 1, 0x20 + len(snp) + 20 + len(var_data), 2, 0)
    igvm = struct.pack("<IIIII", 20 + len(var_data), 1, 2, 1, len(var_data))
    return (head + snp + igvm + var_data).ljust(2600, b"\0")


def tpmt_public_rsa(key, attributes, scheme=ev.TPM_ALG_NULL, scheme_hash=None, auth_policy=b"", symmetric=False):
    n = key.public_key().public_numbers().n.to_bytes(key.key_size // 8, "big") if hasattr(key, "private_numbers") \
        else key.public_numbers().n.to_bytes(key.key_size // 8, "big")
    out = struct.pack(">HHI", ev.TPM_ALG_RSA, 0x000B, attributes) + struct.pack(">H", len(auth_policy)) + auth_policy
    out += struct.pack(">HHH", 0x0006, 128, 0x0043) if symmetric else struct.pack(">H", ev.TPM_ALG_NULL)
    out += struct.pack(">H", scheme) + (struct.pack(">H", scheme_hash) if scheme != ev.TPM_ALG_NULL else b"")
    out += struct.pack(">HI", key.key_size, 0) + struct.pack(">H", len(n)) + n
    return out


def tpm2b(b):
    return struct.pack(">H", len(b)) + b


AK_ATTRIBUTES = 0x00050472
ENC_KEY_ATTRIBUTES = 0x00020432


class SoftVtpm:
    """A software model of the Azure vTPM, enough to produce verifiable evidence."""

    def __init__(self, amd, chip_id=None):
        self.amd = amd
        self.chip_id = chip_id or os.urandom(64)
        self.vcek_key, self.vcek_pem = amd.vcek(self.chip_id)
        self.ak = rsa.generate_private_key(65537, 2048)
        self.ak_public = tpmt_public_rsa(self.ak, AK_ATTRIBUTES, 0x0014, 0x000B, os.urandom(32))
        self.ek = rsa.generate_private_key(65537, 2048)
        self.pcrs = [bytes(32) for _ in range(24)]
        self.events = []  # (pcr, type, sha1, sha256, data)
        self.clock = 1000
        self._startup_locality(0)
        self.measure(0, 0x80000008, b"TEST-ONLY firmware blob")   # EV_EFI_PLATFORM_FIRMWARE_BLOB
        self.measure(7, ev.EV_EFI_VARIABLE_DRIVER_CONFIG, self._efi_var("SecureBoot", b"\x01"))
        for pcr in range(8):
            self.measure(pcr, ev.EV_SEPARATOR, b"\0\0\0\0")
        self.measure(4, 0x80000003, b"TEST-ONLY shim")            # EV_EFI_BOOT_SERVICES_APPLICATION
        self.new_ephemeral_key()
        self.user_data = bytes(64)
        self.vm_id = "00000000-TEST-ONLY-0000-000000000000"

    @staticmethod
    def _efi_var(name, value):
        guid = bytes.fromhex("61dfe48bca93d211aa0d00e098032b8c")
        n = name.encode("utf-16-le")
        return guid + struct.pack("<QQ", len(name), len(value)) + n + value

    def _startup_locality(self, loc):
        self.events.append((0, ev.EV_NO_ACTION, bytes(20), bytes(32), ev.STARTUP_LOCALITY_SIGNATURE + bytes([loc])))
        self.pcrs[0] = bytes(31) + bytes([loc])

    def measure(self, pcr, etype, data):
        d1, d256 = hashlib.sha1(data).digest(), hashlib.sha256(data).digest()
        self.events.append((pcr, etype, d1, d256, data))
        self.pcrs[pcr] = hashlib.sha256(self.pcrs[pcr] + d256).digest()

    def event_log(self):
        spec = ev.SPEC_ID_SIGNATURE + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, 2) + struct.pack("<HHHH", 0x4, 20, 0xB, 32) + b"\0"
        out = struct.pack("<II", 0, ev.EV_NO_ACTION) + bytes(20) + struct.pack("<I", len(spec)) + spec
        for pcr, etype, d1, d256, data in self.events:
            out += struct.pack("<III", pcr, etype, 2) + struct.pack("<H", 4) + d1 + struct.pack("<H", 0xB) + d256
            out += struct.pack("<I", len(data)) + data
        return out

    def _sign(self, data):
        return self.ak.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def _attest(self, st, extra, body):
        self.clock += 1
        return (struct.pack(">IH", ev.TPM_GENERATED, st) + tpm2b(b"\0\x0b" + bytes(32)) + tpm2b(extra) +
                struct.pack(">QIIB", self.clock, 1, 0, 1) + struct.pack(">Q", 0x2020031200120003) + body)

    def quote(self, pcrs, extra=b""):
        sel = ev.encode_pcr_selection([(0x000B, pcrs, 3)])
        digest = hashlib.sha256(b"".join(self.pcrs[p] for p in pcrs)).digest()
        msg = self._attest(ev.TPM_ST_ATTEST_QUOTE, extra, sel + tpm2b(digest))
        return msg, self._sign(msg)

    def new_ephemeral_key(self):
        self.enc_key = rsa.generate_private_key(65537, 2048)
        policy = ev.policy_pcr_digest(list(range(8)), self.pcrs[:8])
        self.enc_public = tpmt_public_rsa(self.enc_key, ENC_KEY_ATTRIBUTES, auth_policy=policy)

    def certify(self, public):
        name = b"\0\x0b" + hashlib.sha256(public).digest()
        msg = self._attest(ev.TPM_ST_ATTEST_CERTIFY, b"", tpm2b(name) + tpm2b(name))
        return msg, self._sign(msg)

    def runtime_json(self):
        return json.dumps({
            "keys": [joseutil.jwk_from_public(self.ak.public_key(), kid="HCLAkPub", key_ops=["sign"]),
                     joseutil.jwk_from_public(self.ek.public_key(), kid="HCLEkPub", key_ops=["encrypt"])],
            "vm-configuration": {"console-enabled": True, "secure-boot": True, "tpm-enabled": True,
                                 "vmUniqueId": self.vm_id},
            "user-data": self.user_data.hex().upper()}, separators=(",", ":")).encode()

    def hcl(self, vmpl=0, policy=0x3001F, vcek_key=None):
        var = self.runtime_json()
        rd = hashlib.sha256(var).digest()
        return hcl_report(snp_report(vcek_key or self.vcek_key, rd, self.chip_id, vmpl=vmpl, policy=policy), var)

    def thim(self):
        return {"vcekCert": self.vcek_pem, "certificateChain": self.amd.ask_pem + self.amd.ark_pem,
                "tcbm": "%016X" % TCB, "cacheControl": "86400"}

    # --- protocol messages ---------------------------------------------------------------------------
    def maa_request(self, client_payload, quote_nonce=b"", hcl=None, pcr_override=None, vcek_chain=None):
        """The AzureGuest inner JSON dict (before base64url into AttestationInfo)."""
        hcl = hcl or self.hcl()
        parsed = ev.parse_hcl_report(hcl)
        pcrs = list(range(8))
        qmsg, qsig = self.quote(pcrs, quote_nonce)
        cmsg, csig = self.certify(self.enc_public)
        values = dict(enumerate(self.pcrs))
        values.update(pcr_override or {})
        thim = self.thim()
        proof = {"SnpReport": joseutil.b64u(parsed["snp"]["raw"]),
                 "VcekCertChain": joseutil.b64std((vcek_chain or (thim["vcekCert"] + thim["certificateChain"])).encode())}
        return {
            "AttestationProtocolVersion": "2.0",
            "OSType": joseutil.b64std(b"Linux"), "OSDistro": joseutil.b64std(b"Debian GNU/Linux"),
            "OSVersionMajor": 12, "OSVersionMinor": 0, "OSBuild": joseutil.b64std(b"NotApplication"),
            "TcgLogs": joseutil.b64std(self.event_log()),
            "ClientPayload": {k: joseutil.b64std(v.encode() if isinstance(v, str) else v) for k, v in client_payload.items()},
            "TpmInfo": {
                "AikCert": joseutil.b64std(self.ak_cert_der()), "AikPub": joseutil.b64std(tpm2b(self.ak_public)),
                "PcrQuote": joseutil.b64std(qmsg), "PcrSignature": joseutil.b64std(qsig), "PcrSet": pcrs,
                "PCRs": [{"Index": i, "Digest": joseutil.b64std(values[i])} for i in pcrs],
                "EncKeyPub": joseutil.b64std(tpm2b(self.enc_public)),
                "EncKeyCertifyInfo": joseutil.b64std(cmsg), "EncKeyCertifyInfoSignature": joseutil.b64std(csig)},
            "IsolationInfo": {"Type": "SevSnp", "Evidence": {
                "Proof": joseutil.b64std(json.dumps(proof).encode()),
                "RunTimeData": joseutil.b64std(parsed["var_data"])}},
        }

    def ak_cert_der(self):
        if not hasattr(self, "_ak_cert"):
            import datetime
            from cryptography import x509
            from cryptography.x509.oid import NameOID
            ca = ec.generate_private_key(ec.SECP256R1())
            now = datetime.datetime.utcnow()
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TEST-ONLY Global Virtual TPM CA")])
            cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(
                NameOID.COMMON_NAME, "TEST-ONLY.TrustedVM.Azure.Microsoft")])).issuer_name(name)
                .public_key(self.ak.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
                .sign(ca, hashes.SHA256()))
            self._ak_cert = cert.public_bytes(serialization.Encoding.DER)
        return self._ak_cert

    def az_snp_vtpm_evidence(self, report_data, hcl=None):
        """Trustee az-snp-vtpm evidence version 2 for report_data (written to NV 0x01400002 first)."""
        self.user_data = report_data.ljust(64, b"\0")
        hcl = hcl or self.hcl()
        msg, sig = self.quote(list(range(24)), report_data)
        from cryptography import x509
        vcek = x509.load_pem_x509_certificate(self.vcek_pem.encode())
        return {"version": 2, "tpm_quote": {"signature": sig.hex(), "message": msg.hex(),
                                            "pcrs": [p.hex() for p in self.pcrs]},
                "hcl_report": joseutil.b64u(hcl),
                "vcek": joseutil.b64u(vcek.public_bytes(serialization.Encoding.DER))}

    def snp_evidence(self, report_data):
        """Trustee `snp` evidence with the raw report (base64) and a certificate table."""
        from cryptography import x509
        rep = snp_report(self.vcek_key, report_data, self.chip_id)
        der = lambda pem: x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.DER)
        return {"attestation_report": joseutil.b64std(rep),
                "cert_chain": [{"cert_type": "VCEK", "data": joseutil.b64std(der(self.vcek_pem))},
                               {"cert_type": "ASK", "data": joseutil.b64std(der(self.amd.ask_pem))},
                               {"cert_type": "ARK", "data": joseutil.b64std(der(self.amd.ark_pem))}]}
