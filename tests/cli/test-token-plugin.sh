#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The token plugin through the real cryptsetup binary (2.6.1: no --external-tokens-path, so a
# test-only LD_PRELOAD shim redirects the plugin dlopen() to the build directory): dump shows
# our fields, import runs our validate(), open --token-only runs our open() — which refuses a
# hostile header and, when the attestation cannot run (no TPM here), reports the service as absent
# so cryptsetup falls back — and the recovery passphrase keeps working. The attested success path
# through the plugin is in test-unlock-e2e.sh.
set -u
. "$(dirname "$0")/lib.sh"

command -v cryptsetup >/dev/null || { echo "SKIP: cryptsetup not installed"; exit 77; }
command -v cc >/dev/null || { echo "SKIP: no C compiler for the dlopen shim"; exit 77; }
PLUGIN_DIR=${CVM_BUILDDIR:-$(dirname "$CVM_AGENT")}
[ -f "$PLUGIN_DIR/libcryptsetup-token-cvm-agent.so" ] || { echo "SKIP: plugin not built in $PLUGIN_DIR"; exit 77; }
cc -shared -fPIC -o "$TMP/shim.so" "$(dirname "$0")/token-path-shim.c" -ldl || { echo "SKIP: shim build failed"; exit 77; }

# cs ARGS: cryptsetup with our plugin directory.
cs() {
        CVM_TOKEN_DIR=$PLUGIN_DIR LD_PRELOAD=$TMP/shim.so cryptsetup "$@"
}

IMG=$TMP/p.img
truncate -s 32M "$IMG"
printf 'recovery' >"$TMP/pass"
cryptsetup luksFormat --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --batch-mode "$IMG" "$TMP/pass" ||
        fail "luksFormat"
head -c 32 /dev/urandom >"$TMP/res.bin"
expect_rc 0 "$CVM_AGENT" enroll "$IMG" --backend trustee --kbs-url https://kbs.example:8443 \
        --resource-path default/cvm-agent/p --resource-key "$TMP/res.bin" --unlock-key-file "$TMP/pass"

# Without the shim cryptsetup knows nothing of the type; with it, our dump() prints the config.
expect_rc 0 cryptsetup luksDump "$IMG"
grep -q 'kbs_url' "$OUT" && fail "plugin active without the shim?"
expect_rc 0 cs luksDump "$IMG"
grep -q 'backend:    trustee' "$OUT" || fail "dump: $(cat "$OUT")"
grep -q 'kbs_url:    https://kbs.example:8443' "$OUT" || fail "dump kbs_url"
grep -q '"ct"' "$OUT" && fail "dump shows the wrapped secret"

# import runs validate(): a malformed cvm-agent token is refused only with the plugin.
printf '%s' '{"type":"cvm-agent","keyslots":["0"],"version":1,"backend":"trustee"}' >"$TMP/bad.json"
expect_rc 1 cs token import --json-file "$TMP/bad.json" "$IMG"

# open --token-only runs open(): no TPM reachable -> the PCR guard cannot run -> cryptsetup gives
# up cleanly.
printf '[TPM]\nTCTI=swtpm:host=127.0.0.1,port=1\n' >"$TMP/conf"
export CVM_AGENT_CONFIG="$TMP/conf"
expect_rc 1 cs open --test-passphrase --token-only --debug "$IMG"
grep -q 'Token handler cvm-agent-1.0 cvm-agent' "$OUT" || fail "plugin not loaded: $(grep -i token "$OUT" | head -5)"
grep -q 'cvm-agent: no automatic unlock: PCR guard: ' "$OUT" || fail "open() reason missing"
grep -q 'open failed with -11' "$OUT" || fail "open() must return -EAGAIN"
# ...and the passphrase still works with the plugin loaded.
expect_rc 0 cs open --test-passphrase --key-file "$TMP/pass" "$IMG"

# A hostile header: the plugin refuses (-ENOENT after translation) before any key request.
python3 - "$IMG" <<'PY' || fail "patching the header"
import hashlib, json, sys
with open(sys.argv[1], "r+b") as f:
    d = bytearray(f.read(32768))
    hs = int.from_bytes(d[8:16], "big")
    j = json.loads(d[4096:hs].rstrip(b"\0"))
    j["segments"]["0"]["encryption"] = "cipher_null-ecb"
    t = json.dumps(j, separators=(",", ":")).encode()
    for c in (0, hs):
        d[c + 4096:c + hs] = t + b"\0" * (hs - 4096 - len(t))
        d[c + 448:c + 512] = b"\0" * 64
        d[c + 448:c + 480] = hashlib.sha256(bytes(d[c:c + hs])).digest()
    f.seek(0)
    f.write(d[:2 * hs])
PY
expect_rc 1 cs open --test-passphrase --token-only --debug "$IMG"
grep -q 'header rejected: segments.0.encryption: cipher_null' "$OUT" || fail "hostile header not reported"

finish
