#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cvm-agent enroll / unenroll / list on LUKS2 image files (no root, no device-mapper): the JSON
# contract, exit codes, one-line errors, the recovery passphrase, coexistence with clevis and
# systemd-tpm2 tokens, and an independent check of the token format: Python's `cryptography`
# unwraps the secret with the documented algorithm and binding digests, and cryptsetup itself
# accepts the result as the keyslot passphrase.
set -u
. "$(dirname "$0")/lib.sh"

command -v cryptsetup >/dev/null || { echo "SKIP: cryptsetup not installed"; exit 77; }
A=$CVM_AGENT

mkimg() {
        rm -f "$1"
        truncate -s 32M "$1"
        printf 'recovery' | cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
                --batch-mode "$1" - >/dev/null 2>&1 || fail "luksFormat $1"
}

printf 'recovery' >"$TMP/pass"
IMG=$TMP/disk.img
mkimg "$IMG"
head -c 32 /dev/urandom >"$TMP/res.bin"
TRUSTEE="--backend trustee --kbs-url https://127.0.0.1:8443 --resource-path default/cvm-agent/disk0"

# ---- usage errors -----------------------------------------------------------------------------
expect_rc 0 "$A" enroll --help && grep -q 'print-resource' "$OUT" || fail "enroll --help"
expect_rc 0 "$A" unenroll --help
expect_rc 0 "$A" list --help
expect_rc 2 "$A" enroll "$IMG"
expect_rc 2 "$A" enroll "$IMG" --backend gcp
expect_rc 2 "$A" enroll "$IMG" --backend trustee --kbs-url https://k --resource-path a/b/c
expect_rc 2 "$A" enroll "$IMG" $TRUSTEE --print-resource --resource-key "$TMP/res.bin"
expect_rc 2 "$A" enroll "$IMG" --backend trustee --kbs-url http://k --resource-path a/b/c --print-resource
grep -q 'not an https:// URL' "$ERR" || fail "http URL reason: $(cat "$ERR")"
expect_rc 2 "$A" enroll "$IMG" --backend trustee --kbs-url https://k --resource-path ../b/c --print-resource
expect_rc 2 "$A" enroll "$IMG" --backend azure --maa-url https://m --key-id https://v/keys/k
expect_rc 2 "$A" enroll "$IMG" --backend azure --maa-url https://m --key-id https://v/secret/k --wrapping-key x
expect_rc 2 "$A" unenroll --token 40 "$IMG"
expect_rc 2 "$A" list

# ---- Trustee enrollment with --print-resource ---------------------------------------------------
expect_rc 0 "$A" enroll "$IMG" $TRUSTEE --print-resource --unlock-key-file "$TMP/pass"
CHECKS=$((CHECKS + 1))
[ "$(wc -l <"$OUT")" -eq 1 ] && [ "$(base64 -d <"$OUT" | wc -c)" -eq 32 ] ||
        fail "--print-resource must print exactly the base64 resource: $(cat "$OUT")"
grep -q 'Enrolled' "$ERR" || fail "summary expected on stderr with --print-resource"
base64 -d <"$OUT" >"$TMP/printed.bin"

expect_rc 0 "$A" list --json "$IMG"
json_eq '.header.valid' true
json_eq '.keyslots | length' 2
json_eq '.keyslots[1].kdf + "-" + .keyslots[1].hash + "-" + (.keyslots[1].iterations|tostring)' pbkdf2-sha512-1000
json_eq '.keyslots[1].tokens' '[
  0
]'
json_eq '.tokens[0].type' cvm-agent
json_eq '.tokens[0].state' enrolled
json_eq '.tokens[0].backend' trustee
json_eq '.tokens[0].wrap_alg' A256GCM
json_eq '.tokens[0].trustee.resource_path' default/cvm-agent/disk0
json_eq '.tokens[0] | has("wrap")' false
expect_rc 0 "$A" list "$IMG"
grep -q 'Header: accepted' "$OUT" || fail "text list: $(cat "$OUT")"

# Enrolling twice is refused; the recovery passphrase still opens the volume.
expect_rc 2 "$A" enroll "$IMG" $TRUSTEE --resource-key "$TMP/res.bin" --unlock-key-file "$TMP/pass"
one_line_error
grep -q 'already enrolled' "$ERR" || fail "already enrolled: $(cat "$ERR")"
cryptsetup open --test-passphrase --key-file "$TMP/pass" "$IMG" || fail "recovery passphrase after enroll"

# Wrong passphrase: exit 4, nothing written.
printf 'wrong' >"$TMP/wrong"
expect_rc 4 "$A" enroll "$IMG" $TRUSTEE --resource-key "$TMP/res.bin" --replace --unlock-key-file "$TMP/wrong"
one_line_error

# Replace with an existing resource key, JSON output.
expect_rc 0 "$A" enroll "$IMG" $TRUSTEE --resource-key "$TMP/res.bin" --replace --unlock-key-file "$TMP/pass" --json
json_eq '.replaced' 1
json_eq '.keyslot' 2
json_eq 'has("resource")' false
expect_rc 0 "$A" list --json "$IMG"
json_eq '[.tokens[] | select(.type == "cvm-agent")] | length' 1
json_eq '.keyslots | map(.id) | tostring' '[0,2]'

# ---- independent check of the token format ------------------------------------------------------
cat >"$TMP/check.py" <<'EOF'
import base64, hashlib, json, subprocess, sys
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
img, keyfile = sys.argv[1], sys.argv[2]
meta = json.loads(subprocess.check_output(["cryptsetup", "luksDump", "--dump-json-metadata", img]))
uuid = subprocess.check_output(["cryptsetup", "luksUUID", img]).decode().strip()
tid, tok = next((k, t) for k, t in meta["tokens"].items() if t["type"] == "cvm-agent")
slot = tok["keyslots"][0]
ks, seg = meta["keyslots"][slot], meta["segments"]["0"]
dig = next(d for d in meta["digests"].values() if slot in d["keyslots"])
def part(name, records):
    h = hashlib.sha256()
    for k, v in [("tag", "cvm-agent-luks2-binding-v1/" + name)] + records:
        v = str(v).encode()
        h.update(k.encode() + b"=" + str(len(v)).encode() + b":" + v + b"\n")
    return h.digest()
kdf = ks["kdf"]
kdf_rec = [("keyslot.kdf.type", kdf["type"])]
kdf_rec += ([("keyslot.kdf.hash", kdf["hash"]), ("keyslot.kdf.iterations", kdf["iterations"])]
            if kdf["type"] == "pbkdf2" else
            [("keyslot.kdf.time", kdf["time"]), ("keyslot.kdf.memory", kdf["memory"]), ("keyslot.kdf.cpus", kdf["cpus"])])
cfg = tok[tok["backend"]]
if tok["backend"] == "trustee":
    cfg_rec = [("token.trustee.kbs_url", cfg["kbs_url"]), ("token.trustee.resource_path", cfg["resource_path"]),
               ("token.trustee.kbs_ca", cfg.get("kbs_ca", ""))]
else:
    cfg_rec = [("token.azure.maa_url", cfg["maa_url"]), ("token.azure.key_id", cfg["key_id"]),
               ("token.azure.enc", cfg["enc"])]
parts = [
    part("uuid", [("uuid", uuid)]),
    part("segment", [("segment.type", "crypt"), ("segment.offset", seg["offset"]), ("segment.size", seg["size"]),
                     ("segment.iv_tweak", seg["iv_tweak"]), ("segment.encryption", seg["encryption"]),
                     ("segment.sector_size", seg["sector_size"])]),
    part("keyslot", [("keyslot", slot), ("keyslot.type", "luks2"), ("keyslot.key_size", ks["key_size"]),
                     ("keyslot.area.type", "raw"), ("keyslot.area.offset", ks["area"]["offset"]),
                     ("keyslot.area.size", ks["area"]["size"]), ("keyslot.area.encryption", ks["area"]["encryption"]),
                     ("keyslot.area.key_size", ks["area"]["key_size"])] + kdf_rec +
                    [("keyslot.kdf.salt", kdf["salt"]), ("keyslot.af.type", "luks1"),
                     ("keyslot.af.stripes", ks["af"]["stripes"]), ("keyslot.af.hash", ks["af"]["hash"]),
                     ("digest.type", "pbkdf2"), ("digest.hash", dig["hash"]), ("digest.iterations", dig["iterations"]),
                     ("digest.salt", dig["salt"]), ("digest.digest", dig["digest"])]),
    part("config", [("token.version", tok["version"]), ("token.backend", tok["backend"])] + cfg_rec +
                   [("token.wrap.alg", tok["wrap"]["alg"])]),
]
for name, d in zip(["uuid", "segment", "keyslot", "config"], parts):
    assert tok["binding"][name] == d.hex(), "binding." + name + " differs from the documented construction"
w = tok["wrap"]
key = open(keyfile, "rb").read()
if w["alg"] == "RSA-OAEP-256+A256GCM":
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    priv = serialization.load_pem_private_key(key, None)
    key = priv.decrypt(base64.b64decode(w["ek"]), padding.OAEP(mgf=padding.MGF1(hashes.SHA256()),
                                                               algorithm=hashes.SHA256(), label=None))
aad = b"cvm-agent-luks2-wrap-v1:" + w["alg"].encode() + b":" + b"".join(parts)
secret = AESGCM(key).decrypt(base64.b64decode(w["iv"]), base64.b64decode(w["ct"]) + base64.b64decode(w["tag"]), aad)
assert len(secret) == 32
sys.stdout.write(slot + " " + base64.b64encode(secret).decode())
EOF
if python3 -c 'import cryptography' 2>/dev/null; then
        expect_rc 0 python3 "$TMP/check.py" "$IMG" "$TMP/res.bin"
        slot=$(cut -d' ' -f1 "$OUT")
        cut -d' ' -f2 "$OUT" | tr -d '\n' >"$TMP/secret"
        CHECKS=$((CHECKS + 1))
        cryptsetup open --test-passphrase --key-slot "$slot" --key-file "$TMP/secret" "$IMG" ||
                fail "the unwrapped secret does not open keyslot $slot"
        # Another key does not unwrap.
        expect_rc 1 python3 "$TMP/check.py" "$IMG" "$TMP/printed.bin"

        # Azure: RSA wrapping key (public part as PEM), same independent check.
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$TMP/vault.pem" 2>/dev/null
        openssl pkey -in "$TMP/vault.pem" -pubout -out "$TMP/vault.pub" 2>/dev/null
        AZ=$TMP/az.img
        mkimg "$AZ"
        expect_rc 0 "$A" enroll "$AZ" --backend azure --maa-url https://sharedeus.eus.attest.azure.net \
                --key-id https://v.vault.azure.net/keys/disk --wrapping-key "$TMP/vault.pub" \
                --unlock-key-file "$TMP/pass" --json
        json_eq '.backend' azure
        expect_rc 0 "$A" list --json "$AZ"
        json_eq '.tokens[0].azure.enc' RSA_AES_KEY_WRAP_256
        json_eq '.tokens[0].wrap_alg' RSA-OAEP-256+A256GCM
        expect_rc 0 python3 "$TMP/check.py" "$AZ" "$TMP/vault.pem"
        slot=$(cut -d' ' -f1 "$OUT")
        cut -d' ' -f2 "$OUT" | tr -d '\n' >"$TMP/secret"
        CHECKS=$((CHECKS + 1))
        cryptsetup open --test-passphrase --key-slot "$slot" --key-file "$TMP/secret" "$AZ" ||
                fail "the RSA-unwrapped secret does not open keyslot $slot"
        expect_rc 3 "$A" enroll "$AZ" --backend azure --maa-url https://m --key-id https://v/keys/k \
                --wrapping-key "$TMP/pass" --unlock-key-file "$TMP/pass" --replace
        one_line_error
else
        echo "SKIP: python3-cryptography missing; independent format check skipped"
fi

# ---- coexistence with clevis and systemd-tpm2 tokens --------------------------------------------
CO=$TMP/co.img
mkimg "$CO"
printf '%s' '{"type":"systemd-tpm2","keyslots":["0"],"tpm2-blob":"AAAA","tpm2-pcrs":[7],"tpm2-pcr-bank":"sha256","tpm2-primary-alg":"ecc","tpm2-policy-hash":"00ff","tpm2-pin":false}' >"$TMP/tpm2.json"
printf '%s' '{"type":"clevis","keyslots":["0"],"jwe":{"ciphertext":"","encrypted_key":"","iv":"x","protected":"eyJhbGciOiJkaXIifQ","tag":"y"}}' >"$TMP/clevis.json"
cryptsetup token import --json-file "$TMP/tpm2.json" "$CO" || fail "token import tpm2"
cryptsetup token import --json-file "$TMP/clevis.json" "$CO" || fail "token import clevis"
expect_rc 0 "$A" enroll "$CO" $TRUSTEE --resource-key "$TMP/res.bin" --unlock-key-file "$TMP/pass" --json
json_eq '.token' 2
expect_rc 0 "$A" list --json "$CO"
json_eq '[.tokens[].type] | tostring' '["systemd-tpm2","clevis","cvm-agent"]'
json_eq '.header.valid' true
expect_rc 0 "$A" unenroll --json "$CO"
json_eq '.removed' 1
expect_rc 0 "$A" list --json "$CO"
json_eq '[.tokens[].type] | tostring' '["systemd-tpm2","clevis"]'
json_eq '.keyslots | length' 1

# ---- unenroll ------------------------------------------------------------------------------------
expect_rc 2 "$A" unenroll --token 5 "$IMG"
one_line_error
expect_rc 0 "$A" unenroll "$IMG"
grep -q 'Removed 1' "$OUT" || fail "unenroll text: $(cat "$OUT")"
expect_rc 0 "$A" unenroll "$IMG" --json
json_eq '.removed' 0
cryptsetup open --test-passphrase --key-file "$TMP/pass" "$IMG" || fail "recovery passphrase after unenroll"
expect_rc 0 "$A" enroll "$IMG" $TRUSTEE --resource-key "$TMP/res.bin" --unlock-key-file - <"$TMP/pass"

# ---- hostile and foreign input ---------------------------------------------------------------------
expect_rc 3 "$A" list "$TMP/pass"
one_line_error
expect_rc 5 "$A" list "$TMP/missing.img"
one_line_error
# A header outside the allowlist: listed with the reason; enrollment refused with exit 10.
BAD=$TMP/bad.img
mkimg "$BAD"
cryptsetup luksDump --dump-json-metadata "$BAD" >/dev/null
cat >"$TMP/patch.py" <<'EOF'
import hashlib, json, sys
img, field, value = sys.argv[1], sys.argv[2], sys.argv[3]
with open(img, "r+b") as f:
    data = bytearray(f.read(32768))
    hs = int.from_bytes(data[8:16], "big")
    j = json.loads(data[4096:hs].rstrip(b"\0"))
    path = field.split(".")
    o = j
    for k in path[:-1]:
        o = o[k]
    o[path[-1]] = value
    text = json.dumps(j, separators=(",", ":")).encode()
    for c in (0, hs):
        data[c + 4096:c + hs] = text + b"\0" * (hs - 4096 - len(text))
        data[c + 448:c + 512] = b"\0" * 64
        data[c + 448:c + 480] = hashlib.sha256(bytes(data[c:c + hs])).digest()
    f.seek(0)
    f.write(data[:2 * hs])
EOF
python3 "$TMP/patch.py" "$BAD" segments.0.encryption cipher_null-ecb
expect_rc 0 "$A" list --json "$BAD"
json_eq '.header.valid' false
json_eq '.header.reason | test("segments.0.encryption: cipher_null")' true
expect_rc 10 "$A" enroll "$BAD" $TRUSTEE --resource-key "$TMP/res.bin" --unlock-key-file "$TMP/pass"
one_line_error
grep -q 'cipher_null' "$ERR" || fail "reason: $(cat "$ERR")"

finish
