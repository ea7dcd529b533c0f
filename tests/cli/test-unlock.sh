#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cvm-agent unlock on image files: --test with key material given directly (--released-key,
# the stand-in for a backend until the Azure/Trustee backends land), --all over a crypttab,
# the JSON contract, stages and exit codes, the rescue-boot guard, and hostile headers refused
# before any key is requested (the key file is never even read).
set -u
. "$(dirname "$0")/lib.sh"

command -v cryptsetup >/dev/null || { echo "SKIP: cryptsetup not installed"; exit 77; }
A=$CVM_AGENT
printf 'recovery' >"$TMP/pass"
printf 'BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro quiet\n' >"$TMP/cmdline"
export CVM_AGENT_PROC_CMDLINE="$TMP/cmdline"

mkimg() {
        truncate -s 32M "$1"
        cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode "$1" \
                "$TMP/pass" || fail "luksFormat $1"
}

head -c 32 /dev/urandom >"$TMP/res.bin"
head -c 32 /dev/urandom >"$TMP/other.bin"
mkimg "$TMP/a.img"
mkimg "$TMP/b.img"
mkimg "$TMP/plain.img"
for i in a b; do
        expect_rc 0 "$A" enroll "$TMP/$i.img" --backend trustee --kbs-url https://kbs.example \
                --resource-path default/cvm-agent/$i --resource-key "$TMP/res.bin" --unlock-key-file "$TMP/pass"
done

# ---- usage -------------------------------------------------------------------------------------
expect_rc 0 "$A" unlock --help
expect_rc 2 "$A" unlock "$TMP/a.img"
expect_rc 2 "$A" unlock --all "$TMP/a.img"
expect_rc 2 "$A" unlock --test "$TMP/a.img" --deadline 0
expect_rc 2 "$A" unlock --test "$TMP/a.img" --token x
expect_rc 2 "$A" unlock --test "$TMP/a.img" --crypttab /etc/crypttab

# ---- --test with the released key ---------------------------------------------------------------
expect_rc 0 "$A" unlock --test "$TMP/a.img" --released-key "$TMP/res.bin"
grep -q 'keyslot 1 opens with token 0 (trustee); verified only' "$OUT" || fail "text: $(cat "$OUT")"
expect_rc 0 "$A" unlock --test "$TMP/a.img" cr --released-key "$TMP/res.bin" --json
json_eq '.volumes[0].result' verified
json_eq '.volumes[0].name' cr
json_eq '.volumes[0].token' 0
json_eq '.volumes[0].keyslot' 1
json_eq '.volumes[0].backend' trustee
json_eq '.volumes[0].uuid' "$(cryptsetup luksUUID "$TMP/a.img")"
json_eq '.volumes[0] | has("stage")' false
json_eq '.attestations' 1
json_eq '.measured' false

# Wrong key: unwrap fails, exit 4, one line.
expect_rc 4 "$A" unlock --test "$TMP/a.img" --released-key "$TMP/other.bin"
one_line_error
grep -q 'unwrap failed: .*authentication failed' "$ERR" || fail "reason: $(cat "$ERR")"
expect_rc 4 "$A" unlock --test "$TMP/a.img" --released-key "$TMP/other.bin" --json
json_eq '.volumes[0].stage' unwrap
json_eq '.volumes[0].exit' 4

# Attested unlock without a reachable TPM: the PCR guard refuses before any network traffic
# (the attested path itself is tested in test-unlock-e2e.sh).
CVM_AGENT_TCTI=swtpm:host=127.0.0.1,port=1 expect_rc 6 "$A" unlock --test "$TMP/a.img"
one_line_error
grep -q 'unlock refused: PCR guard: ' "$ERR" || fail "reason: $(cat "$ERR")"

# Not enrolled / not LUKS / missing.
expect_rc 10 "$A" unlock --test "$TMP/plain.img" --released-key "$TMP/res.bin"
grep -q 'no enrolled cvm-agent token' "$ERR" || fail "reason: $(cat "$ERR")"
expect_rc 10 "$A" unlock --test "$TMP/pass" --released-key "$TMP/res.bin"
expect_rc 5 "$A" unlock --test "$TMP/missing.img" --released-key "$TMP/res.bin"
one_line_error
expect_rc 10 "$A" unlock --test "$TMP/a.img" --token 3 --released-key "$TMP/res.bin"

# ---- --all over a crypttab --------------------------------------------------------------------------
cat >"$TMP/crypttab" <<EOF
# name  device           key   options
vola    $TMP/a.img       none  luks,discard
volb    $TMP/b.img       none  luks
plain   $TMP/plain.img   none  luks
skipme  $TMP/a.img       none  luks,noauto
EOF
expect_rc 0 "$A" unlock --all --test --crypttab "$TMP/crypttab" --released-key "$TMP/res.bin" --json
json_eq '.volumes | length' 3
json_eq '[.volumes[].result] | tostring' '["verified","verified","skipped"]'
json_eq '.volumes[1].name' volb
json_eq '.attestations' 1
expect_rc 5 "$A" unlock --all --test --crypttab "$TMP/missing" --released-key "$TMP/res.bin"
printf 'lonely\n' >"$TMP/badtab"
expect_rc 3 "$A" unlock --all --test --crypttab "$TMP/badtab" --released-key "$TMP/res.bin"
one_line_error

# ---- rescue and emergency boots never release ---------------------------------------------------------
for w in systemd.unit=rescue.target emergency single rd.emergency; do
        printf 'root=/dev/vda1 %s\n' "$w" >"$TMP/cmdline"
        expect_rc 9 "$A" unlock --test "$TMP/a.img"
        one_line_error
done
printf 'root=/dev/vda1\n' >"$TMP/cmdline"

# ---- hostile headers: refused before any key is requested ------------------------------------------
cp "$TMP/a.img" "$TMP/h.img"
python3 - "$TMP/h.img" <<'PY' || fail "patching"
import hashlib, json, sys
with open(sys.argv[1], "r+b") as f:
    d = bytearray(f.read(32768))
    hs = int.from_bytes(d[8:16], "big")
    j = json.loads(d[4096:hs].rstrip(b"\0"))
    j["segments"]["0"]["sector_size"] = 1024 if j["segments"]["0"]["sector_size"] != 1024 else 2048
    t = json.dumps(j, separators=(",", ":")).encode()
    for c in (0, hs):
        d[c + 4096:c + hs] = t + b"\0" * (hs - 4096 - len(t))
        d[c + 448:c + 512] = b"\0" * 64
        d[c + 448:c + 480] = hashlib.sha256(bytes(d[c:c + hs])).digest()
    f.seek(0)
    f.write(d[:2 * hs])
PY
# The key file does not exist: had the flow got as far as a release, the exit would be 5.
expect_rc 10 "$A" unlock --test "$TMP/h.img" --released-key "$TMP/never-read.bin" --json
json_eq '.volumes[0].stage' header
json_eq '.volumes[0].reason | test("tokens.0.binding: the header differs from the one enrolled in: segment")' true
json_eq '.attestations' 0
expect_rc 10 "$A" unlock --test "$TMP/h.img" --released-key "$TMP/never-read.bin"
one_line_error
# Documents a limit: b's complete metadata (header and keyslots) copied over a's is b's volume,
# self-consistent, so it opens (with b's volume key, over a's data). Telling volumes apart is the
# job of the volume identity measured into PCR 15 and of crypttab's UUID=, not of the binding.
cp "$TMP/a.img" "$TMP/s.img"
dd if="$TMP/b.img" of="$TMP/s.img" bs=1M count=16 conv=notrunc status=none
expect_rc 0 "$A" unlock --test "$TMP/s.img" --released-key "$TMP/res.bin" --json
json_eq '.volumes[0].uuid' "$(cryptsetup luksUUID "$TMP/b.img")"
# A token moved from b's header into a's is rejected before any key request.
cp "$TMP/a.img" "$TMP/t.img"
python3 - "$TMP/t.img" "$TMP/b.img" <<'PY' || fail "token swap"
import hashlib, json, sys
def load(p):
    d = bytearray(open(p, "rb").read(32768))
    hs = int.from_bytes(d[8:16], "big")
    return d, hs, json.loads(d[4096:hs].rstrip(b"\0"))
d, hs, j = load(sys.argv[1])
_, _, jb = load(sys.argv[2])
j["tokens"]["0"] = jb["tokens"]["0"]
t = json.dumps(j, separators=(",", ":")).encode()
for c in (0, hs):
    d[c + 4096:c + hs] = t + b"\0" * (hs - 4096 - len(t))
    d[c + 448:c + 512] = b"\0" * 64
    d[c + 448:c + 480] = hashlib.sha256(bytes(d[c:c + hs])).digest()
with open(sys.argv[1], "r+b") as f:
    f.write(d[:2 * hs])
PY
expect_rc 10 "$A" unlock --test "$TMP/t.img" --released-key "$TMP/never-read.bin" --json
json_eq '.volumes[0].reason | test("enrolled in: uuid, keyslot")' true

finish
