#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# cvm-agent quote: the JSON contract, text output, exit codes and one-line errors. Part 1 builds
# and signs its own quotes with the openssl CLI; part 2 runs on the real-data corpus when present.
set -u

. "$(dirname "$0")/lib.sh"
V=${CVM_VECTORS:-}
T=$TMP
OUT=$T/out
ERR=$T/err

# run EXPECTED_RC ARGS...: runs cvm-agent quote, keeping stdout/stderr in $T/out, $T/err.
run() {
        want=$1
        shift
        expect_rc "$want" "$CVM_AGENT" quote "$@"
}

# jqt FILTER: the JSON of the last run must satisfy FILTER.
jqt() {
        CHECKS=$((CHECKS + 1))
        if ! jq -e "$1" "$T/out" >/dev/null 2>&1; then
                fail "JSON check failed: $1"
                head -c 600 "$T/out" | sed 's/^/    /'
        fi
}

# grep_out PATTERN: text output contains PATTERN.
grep_out() {
        CHECKS=$((CHECKS + 1))
        grep -Eq "$1" "$T/out" || { fail "output lacks '$1'"; sed 's/^/    /' "$T/out"; }
}

hex2bin() {
        printf '%s' "$1" | xxd -r -p
}

for tool in jq openssl xxd; do
        command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done

# ---- part 1: own fixtures ----------------------------------------------------------------------

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/rsa.key" 2>/dev/null
openssl pkey -in "$T/rsa.key" -pubout -out "$T/rsa.pub"
openssl pkey -in "$T/rsa.key" -pubout -outform DER -out "$T/rsa.der"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/ec.key" 2>/dev/null
openssl pkey -in "$T/ec.key" -pubout -out "$T/ec.pub"

# PCR i (sha256 bank) = the byte i repeated 32 times; PCRs 0-23 selected.
pcrcat=""
: >"$T/pcrs.txt"
i=0
while [ $i -lt 24 ]; do
        b=$(printf '%02x' $i)
        v=$(printf "$b%.0s" 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
        echo "$i $v" >>"$T/pcrs.txt"
        pcrcat="$pcrcat$v"
        i=$((i + 1))
done
digest=$(hex2bin "$pcrcat" | openssl dgst -sha256 -binary | xxd -p -c 64)
signer="000b$(printf '11%.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)"
nonce_hex=6368616c6c656e6765 # "challenge"
attest="ff5443478018""0022$signer""0009$nonce_hex""00000000075bcd15""00000007""00000001""01" # magic type signer extra clock reset restart safe
attest="$attest""2020031200120003""00000001""000b03ffffff""0020$digest"                  # firmware, selection, digest
hex2bin "$attest" >"$T/quote.bin"
openssl dgst -sha256 -sign "$T/rsa.key" -out "$T/rsa.sig" "$T/quote.bin"
openssl dgst -sha256 -sign "$T/ec.key" -out "$T/ec.sig" "$T/quote.bin"
{ hex2bin "0014000b0100"; cat "$T/rsa.sig"; } >"$T/rsa.tpmt"
jq -R -n '[inputs | split(" ") | {(.[0]): .[1]}] | add | {pcrs: {sha256: .}}' "$T/pcrs.txt" >"$T/pcrs.json"

# Everything valid: JSON contract.
run 0 --json --ak "$T/rsa.pub" --pcrs "$T/pcrs.txt" --nonce "$nonce_hex" "$T/quote.bin" "$T/rsa.sig"
jqt '.signature == "valid" and .pcr_digest == "valid" and .nonce == "valid" and .valid == true'
jqt '.attest.type == "quote" and .attest.type_code == "0x8018" and .attest.magic == "0xff544347"'
jqt ".attest.qualified_signer == \"$signer\" and .attest.extra_data == \"$nonce_hex\""
jqt '.attest.extra_data_text == "challenge" and .attest.clock == 123456789'
jqt '.attest.reset_count == 7 and .attest.restart_count == 1 and .attest.safe == true'
jqt '.attest.firmware_version == "0x2020031200120003"'
jqt '.attest.pcr_select == [{"hash": "sha256", "pcrs": [range(0; 24)]}]'
jqt ".attest.pcr_digest == \"$digest\" and .pcr_digest_computed == \"$digest\""
jqt '.signature_format == "raw" and .signature_scheme == "rsassa" and .signature_hash == "sha256"'
jqt '.pcr_digest_hash == "sha256" and .ak.format == "pem" and .ak.key == "rsa-2048"'
jqt ".nonce_expected == \"$nonce_hex\" and .reasons == {}"
jq '.ak.jwk' "$T/out" >"$T/rsa.jwk"

# The same in text mode, other key/PCR formats, --nonce-string.
run 0 --ak "$T/rsa.der" --pcrs "$T/pcrs.json" --nonce-string challenge "$T/quote.bin" "$T/rsa.sig"
grep_out '^signature: +valid'
grep_out '^PCR digest: +valid \(sha256 over 24 PCR values\)'
grep_out '^nonce: +valid'
grep_out 'extra data: +6368616c6c656e6765 \("challenge"\)'
grep_out 'PCR selection: +sha256:0-23'
run 0 --json --ak "$T/rsa.jwk" --sig-format tpmt "$T/quote.bin" "$T/rsa.tpmt"
jqt '.signature == "valid" and .pcr_digest == "unchecked" and .nonce == "unchecked"'
jqt '.pcr_digest_computed == null and .signature_format == "tpmt" and .ak.format == "jwk"'
run 0 --json --ak "$T/ec.pub" --pcrs "$T/pcrs.txt" "$T/quote.bin" "$T/ec.sig"
jqt '.signature == "valid" and .signature_scheme == "ecdsa" and .ak.key == "ec-p256"'
run 0 --ak "$T/rsa.pub" --sig-format raw --sig-scheme rsassa --sig-hash sha256 "$T/quote.bin" "$T/rsa.sig"

# Wrong nonce: exit 4, complete output, both values shown.
run 4 --json --ak "$T/rsa.pub" --pcrs "$T/pcrs.txt" --nonce 01020304 "$T/quote.bin" "$T/rsa.sig"
jqt '.nonce == "invalid" and .signature == "valid" and .pcr_digest == "valid" and .valid == false'
jqt '.reasons.nonce | test("01020304.*6368616c6c656e6765")'
jqt '.attest.pcr_select | length == 1'
run 4 --ak "$T/rsa.pub" --nonce 0x01020304 "$T/quote.bin" "$T/rsa.sig"
grep_out '^nonce: +INVALID'
grep_out 'nonce given: +01020304'
grep_out 'extraData: +6368616c6c656e6765 \("challenge"\)'

# A PCR value that differs: exit 4, quoted and computed digests shown.
sed 's/^5 05/5 06/' "$T/pcrs.txt" >"$T/pcrs-bad.txt"
run 4 --json --ak "$T/rsa.pub" --pcrs "$T/pcrs-bad.txt" "$T/quote.bin" "$T/rsa.sig"
jqt ".pcr_digest == \"invalid\" and .pcr_digest_computed != \"$digest\" and (.reasons.pcr_digest | test(\"$digest\"))"
run 4 --ak "$T/rsa.pub" --pcrs "$T/pcrs-bad.txt" "$T/quote.bin" "$T/rsa.sig"
grep_out "quoted: +$digest"
grep_out 'computed: +[0-9a-f]{64} \(sha256\)'

# PCR values missing from the file are named.
head -n 16 "$T/pcrs.txt" >"$T/pcrs-part.txt"
run 4 --json --ak "$T/rsa.pub" --pcrs "$T/pcrs-part.txt" "$T/quote.bin" "$T/rsa.sig"
jqt '.pcr_digest == "invalid" and .pcrs_missing == [{"hash": "sha256", "pcrs": [range(16; 24)]}]'
jqt '.reasons.pcr_digest | test("sha256:16-23")'

# Tampered signature and a key that did not sign: signature invalid.
{ head -c 100 "$T/rsa.sig"; printf 'X'; tail -c 155 "$T/rsa.sig"; } >"$T/rsa-bad.sig"
run 4 --json --ak "$T/rsa.pub" "$T/quote.bin" "$T/rsa-bad.sig"
jqt '.signature == "invalid" and (.reasons.signature | test("does not verify"))'
run 4 --json --ak "$T/ec.pub" "$T/quote.bin" "$T/rsa.sig"
jqt '.signature == "invalid"'

# Malformed inputs: exit 3, one line naming the file, offset and field; nothing on stdout.
head -c 60 "$T/quote.bin" >"$T/short.bin"
run 3 --json --ak "$T/rsa.pub" "$T/short.bin" "$T/rsa.sig"
one_line_error "^cvm-agent: $T/short.bin: TPMS_ATTEST at offset 0x35 \(clockInfo.clock\): truncated"
{ cat "$T/quote.bin"; printf 'x'; } >"$T/long.bin"
run 3 --ak "$T/rsa.pub" "$T/long.bin" "$T/rsa.sig"
one_line_error "^cvm-agent: $T/long.bin: TPMS_ATTEST at offset 0x[0-9a-f]+ \(end\): 1 trailing bytes"
hex2bin "ff544348" >"$T/magic.bin"
tail -c +5 "$T/quote.bin" >>"$T/magic.bin"
run 3 --ak "$T/rsa.pub" "$T/magic.bin" "$T/rsa.sig"
one_line_error 'TPMS_ATTEST at offset 0x0 \(magic\): 0xff544348 is not TPM_GENERATED_VALUE'
hex2bin "ff5443478014" >"$T/type.bin"
tail -c +7 "$T/quote.bin" >>"$T/type.bin"
run 3 --ak "$T/rsa.pub" "$T/type.bin" "$T/rsa.sig"
one_line_error 'offset 0x4 \(type\): attestation type 0x8014 \(nv\) is not supported'
run 3 --ak "$T/rsa.pub" --sig-format tpmt "$T/quote.bin" "$T/rsa.sig"
one_line_error "^cvm-agent: $T/rsa.sig: TPMT_SIGNATURE at offset 0x0 \(sigAlg\)"
head -c 50 "$T/rsa.tpmt" >"$T/short.tpmt"
run 3 --ak "$T/rsa.pub" "$T/quote.bin" "$T/short.tpmt"
one_line_error "^cvm-agent: $T/short.tpmt: TPMT_SIGNATURE at offset 0x4 \(signature.sig\): truncated"
printf 'not a key' >"$T/junk.key"
run 3 --ak "$T/junk.key" "$T/quote.bin" "$T/rsa.sig"
one_line_error "^cvm-agent: $T/junk.key: unrecognised key format"
printf '0 zz\n' >"$T/junk.pcrs"
run 3 --ak "$T/rsa.pub" --pcrs "$T/junk.pcrs" "$T/quote.bin" "$T/rsa.sig"
one_line_error "^cvm-agent: $T/junk.pcrs: line 1: PCR 0: not a hex digest"

# I/O errors: exit 5.
run 5 --ak "$T/missing.pem" "$T/quote.bin" "$T/rsa.sig"
one_line_error "^cvm-agent: $T/missing.pem: cannot open"
run 5 --ak "$T/rsa.pub" "$T/quote.bin" "$T"
one_line_error "is a directory"

# Usage errors: exit 2.
run 2 "$T/quote.bin" "$T/rsa.sig"
run 2 --ak "$T/rsa.pub" "$T/quote.bin"
run 2 --ak "$T/rsa.pub" --nonce xyz "$T/quote.bin" "$T/rsa.sig"
run 2 --ak "$T/rsa.pub" --nonce 00 --nonce-string a "$T/quote.bin" "$T/rsa.sig"
run 2 --ak "$T/rsa.pub" --sig-format der "$T/quote.bin" "$T/rsa.sig"
run 2 --ak "$T/rsa.pub" --sig-hash md5 "$T/quote.bin" "$T/rsa.sig"
run 2 --ak "$T/rsa.pub" --sig-format tpmt --sig-hash sha1 "$T/quote.bin" "$T/rsa.sig"
run 2 --bogus
run 0 --help
grep_out '^Usage: cvm-agent quote'

# ---- part 2: the real-data corpus --------------------------------------------------------------

if [ -z "$V" ] || [ ! -d "$V" ]; then
        echo "SKIP part 2: real-data corpus not found (set CVM_VECTORS)"
else
        A=$V/azure-cvm-tooling
        run 0 --json --ak "$A/akpub.pem" --pcrs "$A/quote.decomposed.pcrs_sha256.txt" --nonce-string challenge \
                "$A/quote.decomposed.msg.tpms_attest.bin" "$A/quote.decomposed.sig.rsassa_sha256.bin"
        jqt '.valid and .signature_format == "raw"'
        jqt '.pcr_digest_computed == "04fabd988106412e438c1b93ad3b4b046c760f8f99ec557d87adf2ab02b7a4a0"'
        # Upstream negatives: reversed signature, nonce [1,2,3,4].
        xxd -p -c 1 "$A/quote.decomposed.sig.rsassa_sha256.bin" | tac | xxd -r -p >"$T/reversed.sig"
        run 4 --json --ak "$A/akpub.pem" "$A/quote.decomposed.msg.tpms_attest.bin" "$T/reversed.sig"
        jqt '.signature == "invalid"'
        run 4 --json --ak "$A/akpub.pem" --nonce 01020304 "$A/quote.decomposed.msg.tpms_attest.bin" \
                "$A/quote.decomposed.sig.rsassa_sha256.bin"
        jqt '.signature == "valid" and .nonce == "invalid"'

        G=$V/go-attestation/windows_gcp_shielded_vm.decomposed
        run 0 --json --ak "$G/ak.public.tpmt_public.bin" --pcrs "$V/go-attestation/windows_gcp_shielded_vm.json" \
                --nonce "" "$G/quote.tpms_attest.bin" "$G/quote.signature.tpmt_signature.bin"
        jqt '.valid and .signature_hash == "sha1" and .pcr_digest_hash == "sha1" and .ak.format == "tpmt_public"'
        jqt '.ak.name_alg == "sha256" and .ak.scheme == "rsassa" and .ak.scheme_hash == "sha1"'

        # The AK of the trustee vectors is the HCLAkPub in the HCL report's runtime data.
        Z=$V/trustee/az-snp-vtpm
        dd if="$Z/hcl-report.bin" of="$T/var-data.json" bs=1 skip=1236 count=1110 2>/dev/null
        jq -r .message "$Z/tpm-quote-v1.json" | xxd -r -p >"$T/v1.msg"
        jq -r .signature "$Z/tpm-quote-v1.json" | xxd -r -p >"$T/v1.sig"
        run 0 --json --ak "$T/var-data.json" --pcrs "$Z/tpm-quote-v1.json" --nonce-string challenge \
                "$T/v1.msg" "$T/v1.sig"
        jqt '.valid and .ak.kid == "HCLAkPub" and .ak.format == "jwk"'
        jqt '.pcr_digest_computed == "0daff74c2fca14910b1e9b54a384707434c3365db9f163cc73a39a9f7500833f"'
        # The orphan quote parses but verifies with no AK here.
        run 4 --json --ak "$T/var-data.json" --nonce-string challenge "$Z/tpm-quote.msg" "$Z/tpm-quote.sig"
        jqt '.signature == "invalid" and .nonce == "valid" and .attest.pcr_select[0].pcrs == [0,1,2,3,4,5,6,7,14]'
fi

finish
