#!/bin/sh
# cvm-agent report: command line, JSON contract, exit codes and one-line errors, on fixtures
# built here and on the real-data corpus ($CVM_VECTORS) when present.
set -u
. "$(dirname "$0")/lib.sh"

A=$CVM_AGENT

# put_byte FILE OFFSET VALUE: overwrite one byte (VALUE decimal).
put_byte() {
        # shellcheck disable=SC2059
        printf "$(printf '\\%03o' "$3")" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
get_byte() {
        od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '
}
# flip FILE OFFSET MASK: XOR one byte.
flip() {
        put_byte "$1" "$2" $(($(get_byte "$1" "$2") ^ $3))
}
# zeros FILE SIZE
zeros() {
        head -c "$2" /dev/zero >"$1"
}

# ---- usage ------------------------------------------------------------------------------------------------
expect_rc 0 "$A" report --help
grep -q -- '--vcek FILE' "$OUT" || fail "--help does not document --vcek"
expect_rc 2 "$A" report
grep -q 'missing report FILE' "$ERR" || fail "no 'missing FILE' message: $(cat "$ERR")"
expect_rc 2 "$A" report --frobnicate x
grep -q "unknown option '--frobnicate'" "$ERR" || fail "unknown option not named: $(cat "$ERR")"
expect_rc 2 "$A" report --vcek
expect_rc 2 "$A" report a b
expect_rc 2 "$A" report --at yesterday x
grep -q "invalid --at time 'yesterday'" "$ERR" || fail "bad --at not explained: $(cat "$ERR")"

# ---- I/O and malformed input (own fixtures) ----------------------------------------------------------------
expect_rc 5 "$A" report "$TMP/does-not-exist"
one_line_error
grep -q "does-not-exist" "$ERR" || fail "missing file not named"

zeros "$TMP/short" 100
expect_rc 3 "$A" report --json "$TMP/short"
one_line_error
grep -q '100 bytes without an "HCLA" signature' "$ERR" || fail "short file: $(cat "$ERR")"

zeros "$TMP/empty" 0
expect_rc 3 "$A" report "$TMP/empty"
one_line_error

# A minimal SNP report: version 2, signature algorithm 1, everything else zero.
zeros "$TMP/min.bin" 1184
put_byte "$TMP/min.bin" 0 2
put_byte "$TMP/min.bin" 52 1
expect_rc 0 "$A" report --json "$TMP/min.bin"
json_eq .type snp
json_eq .version 2
json_eq .signature unchecked
json_eq .chain unchecked
json_eq .vek_match unchecked
json_eq .policy 0x0
json_eq .reported_tcb.raw 0x0
json_eq .reported_tcb_raw 0x0
json_eq .tcb_layout milan-genoa
json_eq '.problems | length' 0
json_eq '.chip_id | length' 128
json_eq '.measurement | length' 96
json_eq 'has("cpuid_fam_id")' false
# The same from standard input, in text form.
CHECKS=$((CHECKS + 1))
"$A" report - <"$TMP/min.bin" >"$OUT" 2>"$ERR" || fail "report - exited $?"
grep -q '^SNP attestation report, version 2' "$OUT" || fail "text output: $(head -3 "$OUT")"
grep -q 'signature: *unchecked' "$OUT" || fail "text output lacks the unchecked signature"

cp "$TMP/min.bin" "$TMP/v9.bin"
put_byte "$TMP/v9.bin" 0 9
expect_rc 3 "$A" report --json "$TMP/v9.bin"
one_line_error
grep -q 'offset 0x000: report version 9 is not supported' "$ERR" || fail "version: $(cat "$ERR")"

cp "$TMP/min.bin" "$TMP/algo.bin"
put_byte "$TMP/algo.bin" 52 2
expect_rc 3 "$A" report "$TMP/algo.bin"
one_line_error
grep -q 'offset 0x034: signature algorithm 2' "$ERR" || fail "algo: $(cat "$ERR")"

# A minimal HCL report around the minimal SNP report: 2-byte claims "{}".
{
        printf 'HCLA\001\000\000\000'
        printf '\326\004\000\000' # report_size 1238
        printf '\002\000\000\000'
        head -c 16 /dev/zero
        cat "$TMP/min.bin"
        printf '\026\000\000\000\001\000\000\000\002\000\000\000\001\000\000\000\002\000\000\000'
        printf '{}'
        head -c 300 /dev/zero
} >"$TMP/hcl.bin"
expect_rc 4 "$A" report --json "$TMP/hcl.bin"
json_eq .type hcl
json_eq .runtime_claims_bound false
json_eq '.hcl.header.report_size' 1238
json_eq '.hcl.igvm_request_data.variable_data_size' 2
json_eq '.hcl.file_size' 1538
json_eq '.runtime_claims | length' 0
json_eq '.problems[0] | startswith("runtime claims binding")' true
grep -q 'verification failed: runtime claims binding' "$ERR" || fail "binding failure not on stderr"
# Bind it: report_data = SHA-256("{}").
if command -v sha256sum >/dev/null; then
        printf '{}' | sha256sum | cut -c1-64 | sed 's/../& /g' | tr ' ' '\n' | grep . >"$TMP/digest"
        off=$((32 + 80))
        while read -r h; do
                put_byte "$TMP/hcl.bin" $off $((0x$h))
                off=$((off + 1))
        done <"$TMP/digest"
        expect_rc 0 "$A" report --json "$TMP/hcl.bin"
        json_eq .runtime_claims_bound true
        json_eq .hcl.var_data_hash 44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
fi

# Inconsistent sizes and overflowing var_data_size, TDX, bad JSON.
cp "$TMP/hcl.bin" "$TMP/bad.bin"
put_byte "$TMP/bad.bin" 8 200
expect_rc 3 "$A" report --json "$TMP/bad.bin"
one_line_error
grep -q 'offset 0x008: report_size' "$ERR" || fail "report_size: $(cat "$ERR")"
cp "$TMP/hcl.bin" "$TMP/bad.bin"
for o in 1232 1233 1234 1235; do put_byte "$TMP/bad.bin" $o 255; done
expect_rc 3 "$A" report "$TMP/bad.bin"
one_line_error
grep -q 'offset 0x4d0: variable_data_size 4294967295 exceeds' "$ERR" || fail "var size: $(cat "$ERR")"
cp "$TMP/hcl.bin" "$TMP/bad.bin"
put_byte "$TMP/bad.bin" 1224 4
expect_rc 3 "$A" report --json "$TMP/bad.bin"
one_line_error
grep -q 'Intel TDX report' "$ERR" || fail "TDX: $(cat "$ERR")"
cp "$TMP/hcl.bin" "$TMP/bad.bin"
put_byte "$TMP/bad.bin" 1237 91 # "{["
expect_rc 3 "$A" report "$TMP/bad.bin"
one_line_error
grep -q 'runtime claims' "$ERR" || fail "bad JSON: $(cat "$ERR")"
head -c 1000 "$TMP/hcl.bin" >"$TMP/bad.bin"
expect_rc 3 "$A" report "$TMP/bad.bin"
one_line_error
grep -q 'shorter than its 1236-byte fixed part' "$ERR" || fail "truncated HCL: $(cat "$ERR")"

# A certificate file that is not one.
printf 'not a certificate' >"$TMP/junk.pem"
expect_rc 3 "$A" report --vcek "$TMP/junk.pem" "$TMP/min.bin"
one_line_error
grep -q "junk.pem: neither a PEM nor a DER certificate" "$ERR" || fail "junk cert: $(cat "$ERR")"
expect_rc 5 "$A" report --vcek "$TMP/nope.pem" "$TMP/min.bin"
one_line_error
expect_rc 2 "$A" report --chain "$TMP/junk.pem" "$TMP/min.bin"

# ---- real data ----------------------------------------------------------------------------------------------
if have_vectors; then
        V=$CVM_VECTORS

        expect_rc 0 "$A" report --json --vcek "$V/virtee-sev/vcek_milan.der" "$V/virtee-sev/report_milan.bin"
        json_eq .type snp
        json_eq .signature valid
        json_eq .chain valid
        json_eq .vek_match valid
        json_eq .product Milan
        json_eq .signing_key VCEK
        json_eq .policy 0x30000
        json_eq .reported_tcb.microcode 115
        json_eq .reported_tcb.raw 0x7308000000000003
        json_eq .measurement 7a1e5c266c0108dbc9bb94fa926951320940915d0aafb42464bd88b579ea158d3e1a0dc39b2c60bd95b9c480cd81841f
        json_eq .chain_details.ark_sha256 69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd
        json_eq .vek.product_name Milan-B0
        json_eq .vek_match_details.hwid true

        # Flipping bit 7 of byte 21: signature invalid, exit 4, full output still printed.
        cp "$V/virtee-sev/report_milan.bin" "$TMP/flip.bin"
        flip "$TMP/flip.bin" 21 128
        expect_rc 4 "$A" report --json --vcek "$V/virtee-sev/vcek_milan.der" "$TMP/flip.bin"
        json_eq .signature invalid
        json_eq .chain valid
        json_eq '.measurement | length' 96
        json_eq '.problems | length' 1
        [ "$(wc -l <"$ERR")" -eq 1 ] || fail "verification failure should print one line on stderr"
        # Flipping byte 40 of the VCEK: the chain breaks.
        cp "$V/virtee-sev/vcek_milan.der" "$TMP/vcek.der"
        flip "$TMP/vcek.der" 40 255
        expect_rc 4 "$A" report --json --vcek "$TMP/vcek.der" "$V/virtee-sev/report_milan.bin"
        json_eq .chain invalid
        json_eq .chain_details.failed_depth 0

        # go-sev-guest with its DER VCEK and PEM ASK+ARK chain; policy as in MANIFEST.
        expect_rc 0 "$A" report --json --vcek "$V/go-sev-guest/vcek.testcer" --chain "$V/go-sev-guest/milan.testcer" \
                "$V/go-sev-guest/attestation.bin"
        json_eq .policy 0xb0000
        json_eq .policy_decoded.debug true
        json_eq .chain_details.supplied_intermediate false

        # The AWS VLEK expired on 2025-12-10: invalid now, valid at a time inside its validity.
        expect_rc 4 "$A" report --json --vcek "$V/constellation/aws-snp/vlek.pem" \
                --chain "$V/constellation/aws-snp/certchain.pem" "$V/constellation/aws-snp/report.bin"
        json_eq .signature valid
        json_eq .chain invalid
        json_eq '.chain_details.reason | test("has expired \\(not after 2025-12-10T22:30:16Z\\)")' true
        expect_rc 0 "$A" report --json --at 2025-06-01T00:00:00Z --vcek "$V/constellation/aws-snp/vlek.pem" \
                "$V/constellation/aws-snp/report.bin"
        json_eq .chain valid
        json_eq .chain_details.at 2025-06-01T00:00:00Z
        json_eq .signing_key VLEK
        json_eq .vek.type VLEK
        json_eq .vek_match_details.hwid null
        json_eq .version 3

        # Report version 5, Genoa CPUID.
        expect_rc 0 "$A" report --json --vcek "$V/lunal-attestation-rs/snp/live-vcek-genoa.der" \
                "$V/lunal-attestation-rs/snp/live-report-v5-genoa.bin"
        json_eq .version 5
        json_eq .product Genoa
        json_eq .cpuid_mod_id 160
        json_eq 'has("launch_mit_vector")' true

        # The VLEK report whose signature does not verify (MANIFEST: parse-only).
        expect_rc 4 "$A" report --json --at 2024-01-01T00:00:00Z --vcek "$V/constellation/azure-snp/vlek.pem" \
                "$V/constellation/azure-snp/attestation_vlek.bin"
        json_eq .signature invalid
        json_eq .chain valid

        # An HCL report with a VCEK+ASK+ARK bundle.
        expect_rc 0 "$A" report --json --vcek "$V/trustee/az-snp-vtpm/vcek.pem" "$V/trustee/az-snp-vtpm/hcl-report.bin"
        json_eq .type hcl
        json_eq .runtime_claims_bound true
        json_eq '.runtime_claims.keys[0].kid' HCLAkPub
        json_eq '.runtime_claims."vm-configuration"."secure-boot"' true
        json_eq .hcl.header.version 1
        json_eq .hcl.igvm_request_data.variable_data_size 1110
        json_eq .report_data b3fbad6514c83caeb0380882145e49f794229ef37c421b91fc47ff93556bafac0000000000000000000000000000000000000000000000000000000000000000
        json_eq .signature valid
        json_eq .chain valid
        expect_rc 0 "$A" report --vcek "$V/trustee/az-snp-vtpm/vcek.pem" "$V/trustee/az-snp-vtpm/hcl-report.bin"
        grep -q '^Azure HCL report, header version 1' "$OUT" || fail "HCL text output"
        grep -q 'keys: *HCLAkPub HCLEkPub' "$OUT" || fail "HCL text output lacks the keys"
        # Its runtime claims changed: unbound.
        cp "$V/trustee/az-snp-vtpm/hcl-report.bin" "$TMP/unbound.bin"
        flip "$TMP/unbound.bin" 1760 1
        expect_rc 4 "$A" report --json "$TMP/unbound.bin"
        json_eq .runtime_claims_bound false
        json_eq .signature unchecked

        # The wrong-chip pairing: chain fine, signature and hwID not (MANIFEST).
        expect_rc 4 "$A" report --json --vcek "$V/azure-cvm-tooling/certs.pem" "$V/azure-cvm-tooling/hcl-report-snp.bin"
        json_eq .signature invalid
        json_eq .chain valid
        json_eq .vek_match invalid
        json_eq .vek_match_details.hwid false
        json_eq .runtime_claims_bound true
        json_eq '.runtime_claims | has("user-data")' false

        # TDX HCL reports are recognised and refused.
        for f in azure-cvm-tooling/hcl-report-tdx.bin constellation/azure-tdx/hclreport.bin; do
                expect_rc 3 "$A" report --json "$V/$f"
                one_line_error
                grep -q 'TDX' "$ERR" || fail "$f: $(cat "$ERR")"
        done

        # Invalid VCEKs and a chain for another product.
        expect_rc 4 "$A" report --json --vcek "$V/trustee/snp/test-vcek-invalid-new.der" "$V/trustee/snp/test-report.bin"
        json_eq .chain invalid
        expect_rc 4 "$A" report --json --vcek "$V/virtee-sev/vcek_milan.der" \
                --chain "$V/trustee/amd-chains/turin_ask_ark_asvk.pem" "$V/virtee-sev/report_milan.bin"
        json_eq .chain invalid
        json_eq '.chain_details.reason | test("not the pinned ARK-Milan")' true
        # Repeated --chain with the IMDS-style DER files.
        expect_rc 0 "$A" report --json --vcek "$V/virtee-sev/vcek_milan.der" --chain "$V/virtee-sev/cert_chain_milan" \
                --chain "$V/lunal-attestation-rs/az_snp/imds-chain-1.der" "$V/virtee-sev/report_milan.bin"
        json_eq .chain valid
fi

finish
