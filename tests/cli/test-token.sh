#!/bin/sh
# cvm-agent token: JSON contract, exit codes and one-line errors, on the real MAA tokens and the
# Key Vault release response of the vector corpus, and on tokens made by an independent JOSE
# implementation (Debian's `jose` tool) when it is installed.
set -u

. "$(dirname "$0")/lib.sh"
V=${CVM_VECTORS:-../shared/vectors}
T=$TMP
OUT=$T/out
ERR=$T/err

# run EXPECTED_RC ARGS...: runs cvm-agent token, output in $T/out and $T/err, checks the exit code.
run() {
        want=$1
        shift
        expect_rc "$want" "$CVM_AGENT" token "$@"
}

# ---- usage and hostile input (no corpus needed) ---------------------------------------------
run 0 --help && grep -q -- "--jwks FILE" "$T/out" || fail "--help text"
run 2 && grep -q "missing FILE" "$T/err" || fail "missing FILE message"
run 2 --jwks a --trust b f
run 2 --host example.com f
run 2 --at yesterday f
run 2 --leeway 301 f
run 2 --bogus f
run 2 a b

run 5 "$T/does-not-exist" && one_line_error "cannot open"
: >"$T/empty"
run 3 "$T/empty" && one_line_error "empty input"
printf 'not a token at all' >"$T/garbage"
run 3 "$T/garbage" && one_line_error "not a compact JWS"
printf 'a.b.c.d.e' >"$T/jwe"
run 3 "$T/jwe" && one_line_error "compact JWE"
printf '{"something":"else"}' >"$T/json"
run 3 "$T/json" && one_line_error 'neither a "value"'
printf '{"token":"eyJKd3QiOiJ4In0"}' >"$T/envelope"
run 3 "$T/envelope" && one_line_error "encrypted AzureGuest envelope"
printf '{"value": ' >"$T/trunc"
run 3 "$T/trunc" && one_line_error "JSON parse error"
# {"alg":"RS256"}.["not","an","object"].sig
printf 'eyJhbGciOiJSUzI1NiJ9.WyJub3QiLCJhbiIsIm9iamVjdCJd.AAAA' >"$T/notobj"
run 3 "$T/notobj" && one_line_error "payload is not a JSON object"
# RFC 7515 A.5: "alg":"none" is refused even with a key set given.
printf 'eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.' >"$T/none"
printf '{"keys":[]}' >"$T/emptyset"
run 4 --json --jwks "$T/emptyset" --at 2011-01-01T00:00:00Z "$T/none" && json_eq .signature unchecked
printf '{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}' >"$T/p256.jwk"
run 4 --json --jwks "$T/p256.jwk" --at 2011-01-01T00:00:00Z "$T/none" && json_eq .signature invalid &&
        json_eq '.reasons[0] | test("none.*refused")' true
grep -q "refused" "$T/err" || fail "alg none: stderr should say refused"
# RFC 7515 A.3 (ES256) through the CLI, key given as a single JWK, valid before its exp.
printf 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q\n' >"$T/a3"
run 0 --json --jwks "$T/p256.jwk" --at 2011-03-22T18:00:00Z --issuer joe "$T/a3" &&
        json_eq .verified true && json_eq .issuer match && json_eq .time valid && json_eq .expires 2011-03-22T18:43:00Z &&
        json_eq .claims.iss joe && json_eq .header.alg ES256 && json_eq .key.source jwks && json_eq '.reasons | length' 0
[ ! -s "$T/err" ] || fail "stderr not empty on success: $(cat "$T/err")"
run 4 --json --jwks "$T/p256.jwk" --at 2011-03-22T18:43:00Z "$T/a3" && json_eq .time expired && json_eq .signature valid
run 0 --json --jwks "$T/p256.jwk" --at 2011-03-22T18:43:00Z --leeway 60 "$T/a3"
run 4 --json --jwks "$T/p256.jwk" --at 2011-03-22T18:00:00Z --issuer mallory "$T/a3" &&
        json_eq .issuer mismatch && json_eq .verified false
run 4 --jwks "$T/p256.jwk" --at 2011-03-22T18:00:00Z --issuer mallory "$T/a3" &&
        grep -q "Verified:   NO" "$T/out" || fail "text output should say Verified: NO"
cat "$T/a3" | run 0 --jwks "$T/p256.jwk" --at 2011-03-22T18:00:00Z - || true

# ---- real data ------------------------------------------------------------------------------
if [ -d "$V/azure-sdk-for-cpp-maa" ]; then
        M="$V/azure-sdk-for-cpp-maa"
        for tok in sgx_shared.token0.jwt openenclave_shared.token0.jwt openenclave_json_shared.token0.jwt; do
                run 0 --json --jwks "$M/sharedwus.jwks.json" --at 2022-06-01T00:00:00Z \
                        --issuer https://sharedwus.wus.attest.azure.net "$M/$tok" &&
                        json_eq .signature valid && json_eq .time valid && json_eq .issuer match && json_eq .verified true &&
                        json_eq .input jws && json_eq .header.kid XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE= &&
                        json_eq '.claims["x-ms-attestation-type"]' sgx && json_eq '.expires | startswith("2022-06-01T06:4")' true
                # The real "now": expired, exit 4, JSON still complete, one precise stderr line.
                run 4 --json --jwks "$M/sharedwus.jwks.json" "$M/$tok" && json_eq .time expired &&
                        json_eq .signature valid && json_eq '.reasons[0] | startswith("token expired at 2022-06-01T06:4")' true
                [ "$(wc -l <"$T/err")" -eq 1 ] || fail "expired: one stderr line expected"
        done
        for tok in tpm_aad.token0.jwt tpm_aad.token1.jwt; do
                run 0 --json --jwks "$M/cplarryoattestationaad.jwks.json" --at 2022-05-31T23:00:00Z "$M/$tok" &&
                        json_eq .verified true
        done
        # Tampered claims (re-encoded payload, original signature) and a key set whose entry for
        # this kid holds another certificate.
        "$CVM_AGENT" token --json "$M/sgx_shared.token0.jwt" 2>/dev/null | jq -c '.claims | .jti = "forged"' |
                base64 -w0 | tr '+/' '-_' | tr -d '=' >"$T/payload"
        printf '%s.%s.%s\n' "$(cut -d. -f1 "$M/sgx_shared.token0.jwt")" "$(cat "$T/payload")" \
                "$(cut -d. -f3 "$M/sgx_shared.token0.jwt")" >"$T/tampered.jwt"
        run 4 --json --jwks "$M/sharedwus.jwks.json" --at 2022-06-01T00:00:00Z "$T/tampered.jwt" &&
                json_eq .signature invalid && json_eq .claims.jti forged && json_eq '.reasons[0] | test("does not verify")' true
        jq '.keys[0].x5c = .keys[1].x5c' "$M/sharedwus.jwks.json" >"$T/swapped.jwks"
        run 4 --json --jwks "$T/swapped.jwks" --at 2022-06-01T00:00:00Z "$M/sgx_shared.token0.jwt" &&
                json_eq .signature invalid
        # An MAA response body {"token": "<JWT>"} (SevSnpVm shape).
        printf '{"token":"%s"}' "$(cat "$M/sgx_shared.token0.jwt")" >"$T/maa-response.json"
        run 0 --json --jwks "$M/sharedwus.jwks.json" --at 2022-06-01T00:00:00Z "$T/maa-response.json" &&
                json_eq .input maa-response
        # No key material: unchecked, which is not valid.
        run 4 --json --at 2022-06-01T00:00:00Z "$M/sgx_shared.token0.jwt" && json_eq .signature unchecked &&
                json_eq '.reasons[0] | test("jku https://sharedwus.wus.attest.azure.net/certs")' true && json_eq .verified false
else
        echo "SKIP part: real-data corpus not found at $V"
fi

if [ -f "$V/midnight-maa-cvm/attestation.jwt" ]; then
        MID="$V/midnight-maa-cvm/attestation.jwt"
        run 4 --json --at 2025-12-16T00:00:00Z "$MID" && json_eq .signature unchecked && json_eq .time valid &&
                json_eq '.claims["x-ms-isolation-tee"]["x-ms-attestation-type"]' sevsnpvm &&
                json_eq '.claims["x-ms-isolation-tee"]["x-ms-compliance-status"]' azure-compliant-cvm
        run 4 --json "$MID" && json_eq .time expired
        if [ -f "$V/azure-sdk-for-cpp-maa/sharedwus.jwks.json" ]; then
                run 4 --json --jwks "$V/azure-sdk-for-cpp-maa/sharedwus.jwks.json" --at 2025-12-16T00:00:00Z "$MID" &&
                        json_eq .signature unchecked && json_eq '.reasons[0] | test("no key with kid")' true
        fi
fi

KV="$V/thomvanl-skr/keyvault-release-key-reponse-body.json"
if [ -f "$KV" ]; then
        HOST=skr-kvq6srllol2jntw.vault.azure.net
        # The root as carried in x5c[2] (no dependency on the system store)...
        # (taken from our own JSON output: exit 4 "unchecked", but the header is printed in full).
        "$CVM_AGENT" token --json "$KV" 2>/dev/null | jq -r '.header.x5c[2]' | base64 -d |
                openssl x509 -inform DER -out "$T/root.pem" 2>/dev/null || fail "cannot extract x5c[2]"
        run 0 --json --trust "$T/root.pem" --host "$HOST" --at 2022-12-15T00:00:00Z "$KV" &&
                json_eq .input keyvault-release && json_eq .signature valid && json_eq .key.source x5c &&
                json_eq '.key.chain | length' 3 && json_eq '.key.chain[2] | startswith("CN=DigiCert Global Root G2")' true &&
                json_eq .claims.request.enc CKM_RSA_AES_KEY_WRAP && json_eq '.claims.response.key.key.kty' RSA-HSM &&
                json_eq .time valid && json_eq 'has("expires")' false
        run 4 --json --trust "$T/root.pem" --host evil.example.com --at 2022-12-15T00:00:00Z "$KV" &&
                json_eq .signature invalid && json_eq '.reasons[0] | test("not valid for host evil.example.com")' true
        run 4 --json --trust "$T/root.pem" --host "$HOST" "$KV" && json_eq .signature invalid &&
                json_eq '.reasons[0] | test("certificate has expired")' true
        # A root that did not issue this chain.
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=other -days 1 \
                -keyout "$T/other.key" -out "$T/other.pem" 2>/dev/null
        run 4 --json --trust "$T/other.pem" --at 2022-12-15T00:00:00Z "$KV" && json_eq .signature invalid
        run 3 --trust "$T/garbage" "$KV" && one_line_error "no PEM certificate"
        # ...and the operator's system copy, when ca-certificates has it.
        if [ -f /etc/ssl/certs/DigiCert_Global_Root_G2.pem ]; then
                run 0 --trust /etc/ssl/certs/DigiCert_Global_Root_G2.pem --host "$HOST" --at 2022-12-15T00:00:00Z "$KV" &&
                        grep -q "Signature:  valid (x5c chain: CN=vault.azure.net" "$T/out" || fail "KV text output"
        fi
        # The bare JWS is accepted as well as the {"value": ...} body.
        jq -r .value "$KV" >"$T/kv.jws"
        run 0 --json --trust "$T/root.pem" --at 2022-12-15T00:00:00Z "$T/kv.jws" && json_eq .input jws
fi

# ---- interoperability with Debian's jose tool -----------------------------------------------
if command -v jose >/dev/null 2>&1; then
        printf '{"iss":"https://issuer.example","iat":1700000000,"nbf":1700000000,"exp":1700003600,"nonce":"abc"}' >"$T/claims"
        for spec in "RS256 RSA bits 2048" "RS384 RSA bits 3072" "RS512 RSA bits 2048" "PS256 RSA bits 2048" \
                "PS384 RSA bits 2048" "PS512 RSA bits 2048" "ES256 EC crv P-256" "ES384 EC crv P-384" "ES512 EC crv P-521"; do
                set -- $spec
                if [ "$2" = RSA ]; then
                        jose jwk gen -i "{\"kty\":\"RSA\",\"bits\":$4}" -o "$T/k.jwk"
                else
                        jose jwk gen -i "{\"kty\":\"EC\",\"crv\":\"$4\"}" -o "$T/k.jwk"
                fi
                jose jwk pub -i "$T/k.jwk" -o "$T/pub.jwk"
                jq '{keys: [. + {kid: "interop"}]}' "$T/pub.jwk" >"$T/pub.jwks"
                jose jws sig -I "$T/claims" -k "$T/k.jwk" -s "{\"protected\":{\"alg\":\"$1\",\"kid\":\"interop\"}}" -c -o "$T/tok" ||
                        { fail "jose jws sig $1"; continue; }
                run 0 --json --jwks "$T/pub.jwks" --at 2023-11-14T23:00:00Z --issuer https://issuer.example "$T/tok" &&
                        json_eq .header.alg "$1" && json_eq .verified true
                jose jwk gen -i "{\"kty\":\"EC\",\"crv\":\"P-256\"}" -o "$T/other.jwk"
                jose jwk pub -i "$T/other.jwk" | jq '{keys: [. + {kid: "interop"}]}' >"$T/other.jwks"
                if [ "$2" = EC ] && [ "$4" != P-256 ]; then
                        run 4 --json --jwks "$T/other.jwks" --at 2023-11-14T23:00:00Z "$T/tok" && json_eq .signature invalid
                elif [ "$2" = RSA ]; then
                        run 4 --json --jwks "$T/other.jwks" --at 2023-11-14T23:00:00Z "$T/tok" &&
                                json_eq '.reasons[0] | test("needs an RSA key")' true
                fi
        done
        # HS256 from jose: refused, not "verified with a secret".
        jose jwk gen -i '{"alg":"HS256"}' -o "$T/h.jwk"
        jose jws sig -I "$T/claims" -k "$T/h.jwk" -c -o "$T/hs"
        run 4 --json --jwks "$T/pub.jwks" --at 2023-11-14T23:00:00Z "$T/hs" && json_eq .signature invalid &&
                json_eq '.reasons[0] | test("HS256.*refused")' true
else
        echo "SKIP part: Debian's jose tool is not installed (packaging/install-deps.sh installs it)"
fi

finish
