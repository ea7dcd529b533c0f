/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Conformance on the real-data corpus: every quote of MANIFEST.json "tpm_quotes" (vectors
 * README §5) must parse to the recorded fields and give the recorded signature, PCR-digest and
 * nonce results, and the upstream negative cases must fail. The quotes come in many containers
 * (decomposed files, bincode quote.bin, hex/base64/byte-array JSON); each is unpacked here.
 * The AK of the Azure vectors is the HCLAkPub JWK in the HCL report's runtime data, taken from
 * the JSON at offset 1236 of the report (the HCL parser is not used on purpose).
 */
#include <errno.h>
#include <inttypes.h>

#include "testlib.h"

#include "cleanup.h"
#include "hashalg.h"
#include "tpmkey.h"
#include "tpmquote.h"
#include "tpmwire.h"

#define HCL_VAR_DATA_SIZE_OFFSET 1232
#define HCL_VAR_DATA_OFFSET      1236

/* One quote as unpacked from its container. */
struct loaded {
        uint8_t *msg, *sig;
        size_t msg_size, sig_size;
        EVP_PKEY *ak;
        struct tpm_pcr_values *doc_pcrs; /* PCR values read by tpm_pcr_values_parse() from the container */
};

static void loaded_done(struct loaded *l)
{
        free(l->msg);
        free(l->sig);
        EVP_PKEY_free(l->ak);
        tpm_pcr_values_free(l->doc_pcrs);
        memset(l, 0, sizeof(*l));
}

static EVP_PKEY *load_key(const uint8_t *buf, size_t len, const char *what)
{
        EVP_PKEY *k = NULL;
        struct cvm_error err = {};
        int r = tpmkey_load(buf, len, &k, NULL, &err);

        if (r < 0)
                fail_msg("%s: %s", what, cvm_error_message(&err, r));
        return k;
}

static EVP_PKEY *load_key_file(const char *rel)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;

        read_vector(rel, &buf, &n);
        return load_key(buf, n, rel);
}

/* The HCLAkPub of an HCL report: its runtime-data JSON, read straight from the report. */
static EVP_PKEY *hcl_ak(const uint8_t *report, size_t len)
{
        uint32_t var_size;

        assert_true(len > HCL_VAR_DATA_OFFSET);
        var_size = le32(report + HCL_VAR_DATA_SIZE_OFFSET);
        assert_true(var_size <= len - HCL_VAR_DATA_OFFSET);
        return load_key(report + HCL_VAR_DATA_OFFSET, var_size, "HCL runtime data");
}

static struct tpm_pcr_values *doc_pcrs(const uint8_t *buf, size_t len, const char *what)
{
        struct tpm_pcr_values *v = NULL;
        struct cvm_error err = {};
        int r = tpm_pcr_values_parse(buf, len, &v, &err);

        if (r < 0)
                fail_msg("%s: PCR values: %s", what, cvm_error_message(&err, r));
        return v;
}

static json_object *json_path(json_object *root, const char *path)
{
        char buf[128], *save = NULL;
        json_object *o = root;

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
                if (!json_object_object_get_ex(o, k, &o))
                        fail_msg("no member %s", path);
        return o;
}

/* A JSON member as bytes: hex string, base64(url) string (@b64), or an array of byte values. */
static uint8_t *json_bytes(json_object *root, const char *path, bool b64, size_t *ret_size)
{
        json_object *o = json_path(root, path);
        uint8_t *out = NULL;

        if (json_object_is_type(o, json_type_array)) {
                size_t n = json_object_array_length(o);

                out = malloc(n + 1);
                assert_non_null(out);
                for (size_t i = 0; i < n; i++)
                        out[i] = (uint8_t)json_object_get_int(json_object_array_get_idx(o, i));
                *ret_size = n;
        } else if (b64)
                assert_int_equal(tpmwire_base64_decode(json_object_get_string(o),
                                                       (size_t)json_object_get_string_len(o), &out,
                                                       ret_size),
                                 0);
        else
                assert_int_equal(hex_decode(json_object_get_string(o), SIZE_MAX, &out, ret_size), 0);
        return out;
}

static uint8_t *dup_bytes(const uint8_t *p, size_t n)
{
        uint8_t *d = malloc(n + 1);

        assert_non_null(d);
        memcpy(d, p, n);
        return d;
}

/* bincode quote.bin: u64-LE length + signature, u64 length + message, u64 count + 32-byte PCRs. */
static void unpack_bincode(const char *rel, struct loaded *l)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n, off = 0;
        uint64_t len, count;

        read_vector(rel, &buf, &n);
        assert_true(n >= 8);
        len = le64(buf);
        off = 8;
        assert_true(len <= n - off);
        l->sig = dup_bytes(buf + off, len);
        l->sig_size = len;
        off += len;
        assert_true(n - off >= 8);
        len = le64(buf + off);
        off += 8;
        assert_true(len <= n - off);
        l->msg = dup_bytes(buf + off, len);
        l->msg_size = len;
        off += len;
        assert_true(n - off >= 8);
        count = le64(buf + off);
        off += 8;
        assert_true(count <= 32 && n - off == count * 32);
        assert_int_equal(tpm_pcr_values_new(&l->doc_pcrs), 0);
        for (uint64_t i = 0; i < count; i++)
                assert_int_equal(tpm_pcr_values_set(l->doc_pcrs, TPM_ALG_SHA256, (unsigned)i,
                                                    buf + off + i * 32, 32, NULL),
                                 0);
}

static void load_windows(struct loaded *l)
{
        const char *d = "go-attestation/windows_gcp_shielded_vm.decomposed/";
        _cleanup_free_ uint8_t *json = NULL;
        char rel[256];
        size_t n;

        snprintf(rel, sizeof(rel), "%squote.tpms_attest.bin", d);
        read_vector(rel, &l->msg, &l->msg_size);
        snprintf(rel, sizeof(rel), "%squote.signature.tpmt_signature.bin", d);
        read_vector(rel, &l->sig, &l->sig_size);
        snprintf(rel, sizeof(rel), "%sak.public.tpmt_public.bin", d);
        l->ak = load_key_file(rel);
        /* go-attestation's own JSON: Log.PCRs [{Index, Digest (base64), DigestAlg}] */
        read_vector("go-attestation/windows_gcp_shielded_vm.json", &json, &n);
        l->doc_pcrs = doc_pcrs(json, n, "windows_gcp_shielded_vm.json");
}

static void load_azure_quote_bin(struct loaded *l)
{
        _cleanup_free_ uint8_t *msg = NULL, *sig = NULL, *txt = NULL;
        struct tpm_pcr_values *from_text;
        size_t msg_n, sig_n, txt_n;

        unpack_bincode("azure-cvm-tooling/quote.bin", l);
        l->ak = load_key_file("azure-cvm-tooling/akpub.pem");
        /* The decomposed files are the same quote. */
        read_vector("azure-cvm-tooling/quote.decomposed.msg.tpms_attest.bin", &msg, &msg_n);
        read_vector("azure-cvm-tooling/quote.decomposed.sig.rsassa_sha256.bin", &sig, &sig_n);
        assert_int_equal(msg_n, l->msg_size);
        assert_memory_equal(msg, l->msg, msg_n);
        assert_int_equal(sig_n, l->sig_size);
        assert_memory_equal(sig, l->sig, sig_n);
        /* ...and so are the PCRs of the text file. */
        read_vector("azure-cvm-tooling/quote.decomposed.pcrs_sha256.txt", &txt, &txt_n);
        from_text = doc_pcrs(txt, txt_n, "quote.decomposed.pcrs_sha256.txt");
        for (unsigned i = 0; i < 24; i++)
                assert_memory_equal(tpm_pcr_values_get(from_text, TPM_ALG_SHA256, i),
                                    tpm_pcr_values_get(l->doc_pcrs, TPM_ALG_SHA256, i), 32);
        tpm_pcr_values_free(from_text);
}

static EVP_PKEY *trustee_hcl_ak(void)
{
        _cleanup_free_ uint8_t *report = NULL;
        size_t n;

        read_vector("trustee/az-snp-vtpm/hcl-report.bin", &report, &n);
        return hcl_ak(report, n);
}

static void load_trustee_quote_bin(struct loaded *l)
{
        unpack_bincode("trustee/az-snp-vtpm/quote.bin", l);
        l->ak = trustee_hcl_ak();
}

/* A JSON container: @msg/@sig member paths, encoded as hex, base64 or byte arrays. */
static void load_json_container(struct loaded *l, const char *rel, const char *msg, const char *sig,
                                bool b64)
{
        _cleanup_free_ uint8_t *buf = NULL;
        json_object *root;
        size_t n;

        read_vector(rel, &buf, &n);
        root = json_tokener_parse((const char *)buf);
        assert_non_null(root);
        l->msg = json_bytes(root, msg, b64, &l->msg_size);
        l->sig = json_bytes(root, sig, b64, &l->sig_size);
        l->doc_pcrs = doc_pcrs(buf, n, rel);
        json_object_put(root);
}

static void load_quote_v1(struct loaded *l)
{
        load_json_container(l, "trustee/az-snp-vtpm/tpm-quote-v1.json", "message", "signature", false);
        l->ak = trustee_hcl_ak();
}

static void load_orphan(struct loaded *l)
{
        read_vector("trustee/az-snp-vtpm/tpm-quote.msg", &l->msg, &l->msg_size);
        read_vector("trustee/az-snp-vtpm/tpm-quote.sig", &l->sig, &l->sig_size);
        l->ak = trustee_hcl_ak();
}

/* trustee/lunal evidence: the quote plus an HCL report (byte array or base64url). */
static void load_evidence(struct loaded *l, const char *rel, const char *quote, const char *report, bool b64)
{
        _cleanup_free_ uint8_t *buf = NULL, *hcl = NULL;
        char msg[64], sig[64];
        json_object *root;
        size_t n, hcl_n;

        snprintf(msg, sizeof(msg), "%s.message", quote);
        snprintf(sig, sizeof(sig), "%s.signature", quote);
        load_json_container(l, rel, msg, sig, false);
        read_vector(rel, &buf, &n);
        root = json_tokener_parse((const char *)buf);
        assert_non_null(root);
        hcl = json_bytes(root, report, b64, &hcl_n);
        l->ak = hcl_ak(hcl, hcl_n);
        json_object_put(root);
}

static void load_ev_v0(struct loaded *l)
{
        load_evidence(l, "trustee/az-snp-vtpm/evidence-v0.json", "quote", "report", false);
}

static void load_ev_v1(struct loaded *l)
{
        load_evidence(l, "trustee/az-snp-vtpm/evidence-v1.json", "tpm_quote", "hcl_report", true);
}

static void load_ev_v2(struct loaded *l)
{
        load_evidence(l, "trustee/az-snp-vtpm/evidence-v2.json", "tpm_quote", "hcl_report", true);
}

static void load_ev_genoa(struct loaded *l)
{
        load_evidence(l, "trustee/az-snp-vtpm/evidence-genoa.json", "quote", "report", false);
}

static void load_lunal(struct loaded *l)
{
        load_evidence(l, "lunal-attestation-rs/az_snp/live-evidence.json", "evidence.tpm_quote",
                      "evidence.hcl_report", true);
}

static void load_trustee_tpm(struct loaded *l)
{
        _cleanup_free_ uint8_t *buf = NULL, *ak = NULL;
        json_object *root;
        size_t n, ak_n;

        load_json_container(l, "trustee/tpm/tpm_evidence.json", "tpm_quote.message", "tpm_quote.signature",
                            true);
        read_vector("trustee/tpm/tpm_evidence.json", &buf, &n);
        root = json_tokener_parse((const char *)buf);
        ak = json_bytes(root, "ak_public", true, &ak_n);
        l->ak = load_key(ak, ak_n, "ak_public");
        json_object_put(root);
}

static const struct vector {
        const char *label;
        void (*load)(struct loaded *l);
        const char *nonce;      /* the nonce the quote was made with (README §5) */
        const char *sig_format; /* expected "tpmt" or "raw" */
} vectors[] = {
        {"go-attestation/windows_gcp_shielded_vm.json", load_windows, "", "tpmt"},
        {"azure-cvm-tooling/quote.bin (+akpub.pem)", load_azure_quote_bin, "challenge", "raw"},
        {"trustee/az-snp-vtpm/quote.bin (AK=HCLAkPub from hcl-report.bin)", load_trustee_quote_bin,
         "challenge", "raw"},
        {"trustee/az-snp-vtpm/tpm-quote-v1.json (AK=HCLAkPub from hcl-report.bin)", load_quote_v1,
         "challenge", "raw"},
        {"trustee/az-snp-vtpm/tpm-quote.msg+.sig (AK=HCLAkPub from hcl-report.bin)", load_orphan,
         "challenge", "raw"},
        {"trustee/az-snp-vtpm/evidence-v0.json (AK=HCLAkPub from its hcl report)", load_ev_v0, "challenge",
         "raw"},
        {"trustee/az-snp-vtpm/evidence-v1.json (AK=HCLAkPub from its hcl report)", load_ev_v1, "challenge",
         "raw"},
        {"trustee/az-snp-vtpm/evidence-v2.json (AK=HCLAkPub from its hcl report)", load_ev_v2, NULL, "raw"},
        {"trustee/az-snp-vtpm/evidence-genoa.json (AK=HCLAkPub from its hcl report)", load_ev_genoa, NULL,
         "raw"},
        {"lunal-attestation-rs/az_snp/live-evidence.json", load_lunal, "attestation-test-fixture", "raw"},
        {"trustee/tpm/tpm_evidence.json (sig is TPMT_SIGNATURE)", load_trustee_tpm, NULL, "tpmt"},
};

static const struct vector *find_vector(const char *label)
{
        for (size_t i = 0; i < ELEMENTSOF(vectors); i++)
                if (strcmp(vectors[i].label, label) == 0)
                        return &vectors[i];
        return NULL;
}

static const char *jstr(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("manifest entry lacks %s", key);
        return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                fail_msg("manifest entry lacks %s", key);
        return json_object_get_int64(v);
}

static void check_hex(const char *label, const char *field, const uint8_t *p, size_t n, const char *want)
{
        _cleanup_free_ char *hex = hex_encode(p, n);

        if (strcmp(hex, want) != 0)
                fail_msg("%s: %s is %s, manifest says %s", label, field, hex, want);
}

/* Compares the parsed attest with the manifest's "attest" object. */
static void check_attest(const char *label, const struct tpm_attest *a, json_object *m)
{
        json_object *sel = json_object_object_get(m, "pcrSelect");
        char buf[32];

        snprintf(buf, sizeof(buf), "0x%08" PRIx32, a->magic);
        assert_string_equal(buf, jstr(m, "magic"));
        snprintf(buf, sizeof(buf), "0x%04x", a->type);
        assert_string_equal(buf, jstr(m, "type"));
        check_hex(label, "qualifiedSigner", a->qualified_signer, a->qualified_signer_size,
                  jstr(m, "qualifiedSigner"));
        check_hex(label, "extraData", a->extra_data, a->extra_data_size, jstr(m, "extraData"));
        assert_int_equal(a->clock, jint(m, "clock"));
        assert_int_equal(a->reset_count, jint(m, "resetCount"));
        assert_int_equal(a->restart_count, jint(m, "restartCount"));
        assert_int_equal(a->safe, jint(m, "safe"));
        snprintf(buf, sizeof(buf), "0x%016" PRIx64, a->firmware_version);
        assert_string_equal(buf, jstr(m, "firmwareVersion"));
        assert_int_equal(a->quote.n_selections, json_object_array_length(sel));
        for (size_t i = 0; i < a->quote.n_selections; i++) {
                json_object *e = json_object_array_get_idx(sel, i),
                            *pcrs = json_object_object_get(e, "pcrs");
                uint32_t mask = 0;

                assert_string_equal(hash_alg_by_tpm_id(a->quote.selections[i].hash_alg)->name,
                                    jstr(e, "hash"));
                for (size_t k = 0; k < json_object_array_length(pcrs); k++)
                        mask |= UINT32_C(1) << json_object_get_int(json_object_array_get_idx(pcrs, k));
                assert_int_equal(tpm_selection_mask(&a->quote.selections[i]), mask);
        }
        check_hex(label, "pcrDigest", a->quote.pcr_digest, a->quote.pcr_digest_size, jstr(m, "pcrDigest"));
        assert_int_equal(jint(m, "trailing_bytes"), 0);
}

/* The manifest's "pcrs" map as PCR values of the quote's (single) bank. */
static struct tpm_pcr_values *manifest_pcrs(json_object *pcrs, uint16_t bank)
{
        struct tpm_pcr_values *v = NULL;

        assert_int_equal(tpm_pcr_values_new(&v), 0);
        json_object_object_foreach (pcrs, key, val) {
                _cleanup_free_ uint8_t *bytes = NULL;
                size_t n;

                assert_int_equal(hex_decode(json_object_get_string(val), SIZE_MAX, &bytes, &n), 0);
                assert_int_equal(tpm_pcr_values_set(v, bank, (unsigned)atoi(key), bytes, n, NULL), 0);
        }
        return v;
}

static int verify(const struct loaded *l, const struct tpm_signature *sig)
{
        struct cvm_error err = {};
        int r = tpm_quote_verify_signature(l->msg, l->msg_size, sig, l->ak, &err);

        assert_true(r >= 0);
        return r;
}

static void test_manifest_quotes(void **state)
{
        _cleanup_(json_object_putp) json_object *manifest = NULL;
        json_object *quotes;
        size_t n, covered = 0;

        skip_without_vectors();
        manifest = load_manifest();
        assert_true(json_object_object_get_ex(manifest, "tpm_quotes", &quotes));
        n = json_object_array_length(quotes);
        assert_true(n >= ELEMENTSOF(vectors));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(quotes, i), *v;
                const char *label = jstr(e, "label");
                const struct vector *vec = find_vector(label);
                struct loaded l = {};
                struct tpm_attest a;
                struct tpm_signature sig;
                struct tpm_pcr_check pc;
                struct cvm_error err = {};
                bool sig_valid;
                int r;

                if (!vec)
                        fail_msg("manifest quote '%s' has no loader in this test", label);
                covered++;
                printf("vector: %s\n", label);
                vec->load(&l);
                r = tpm_attest_parse(l.msg, l.msg_size, &a, &err);
                if (r < 0)
                        fail_msg("%s: %s", label, err.message);
                check_attest(label, &a, json_object_object_get(e, "attest"));

                r = tpm_signature_load(l.sig, l.sig_size, TPM_SIG_FORMAT_AUTO, l.ak, 0,
                                       tpm_attest_guess_hash(&a), &sig, &err);
                if (r < 0)
                        fail_msg("%s: signature: %s", label, err.message);
                assert_string_equal(tpm_sig_format_name(sig.format), vec->sig_format);
                sig_valid = json_object_get_boolean(json_object_object_get(e, "signature_valid"));
                assert_int_equal(verify(&l, &sig), sig_valid ? 1 : 0);

                if (json_object_object_get_ex(e, "pcrs", &v)) {
                        struct tpm_pcr_values *mv = manifest_pcrs(v, a.quote.selections[0].hash_alg);
                        bool match =
                                json_object_get_boolean(json_object_object_get(e, "pcr_digest_matches"));

                        r = tpm_quote_check_pcrs(&a, sig.hash_alg, mv, &pc, &err);
                        assert_int_equal(r, match ? 1 : 0);
                        check_hex(label, "pcr_digest_recomputed", pc.computed, pc.computed_size,
                                  jstr(e, "pcr_digest_recomputed"));
                        /* The container's own PCR list, read by our document parser, agrees. */
                        if (l.doc_pcrs)
                                assert_int_equal(
                                        tpm_quote_check_pcrs(&a, sig.hash_alg, l.doc_pcrs, &pc, &err), r);

                        /* Upstream negative: pcrs[0][0] ^= 1 -> digest invalid. */
                        {
                                uint8_t p0[HASH_MAX_SIZE];
                                size_t sz = hash_alg_by_tpm_id(a.quote.selections[0].hash_alg)->size;
                                struct tpm_pcr_values *bad = NULL;

                                memcpy(p0, tpm_pcr_values_get(mv, a.quote.selections[0].hash_alg, 0), sz);
                                p0[0] ^= 1;
                                assert_int_equal(tpm_pcr_values_new(&bad), 0);
                                for (unsigned p = 0; p < TPM_MAX_PCRS; p++) {
                                        const uint8_t *val =
                                                tpm_pcr_values_get(mv, a.quote.selections[0].hash_alg, p);

                                        if (val)
                                                assert_int_equal(tpm_pcr_values_set(
                                                                         bad, a.quote.selections[0].hash_alg,
                                                                         p, p == 0 ? p0 : val, sz, NULL),
                                                                 0);
                                }
                                assert_int_equal(tpm_quote_check_pcrs(&a, sig.hash_alg, bad, &pc, NULL), 0);
                                tpm_pcr_values_free(bad);
                        }
                        tpm_pcr_values_free(mv);
                }

                /* The README names the nonce of every quote; the manifest records some results. */
                if (json_object_object_get_ex(e, "nonce_matches", &v))
                        assert_non_null(vec->nonce);
                if (vec->nonce) {
                        bool match = json_object_object_get_ex(e, "nonce_matches", &v)
                                             ? json_object_get_boolean(v)
                                             : true;

                        assert_int_equal(tpm_quote_check_nonce(&a, (const uint8_t *)vec->nonce,
                                                               strlen(vec->nonce), NULL),
                                         match ? 1 : 0);
                        /* Upstream negative: nonce [1,2,3,4]. */
                        assert_int_equal(tpm_quote_check_nonce(&a, (const uint8_t *)"\1\2\3\4", 4, NULL), 0);
                }

                if (sig_valid) {
                        /* Upstream negatives: sig[0] ^= 1, the reversed signature, a flipped bit in
                         * the message. */
                        struct tpm_signature bad = sig;
                        uint8_t *b = bad.sig_alg == TPM_ALG_ECDSA ? bad.r : bad.sig;
                        size_t bn = bad.sig_alg == TPM_ALG_ECDSA ? bad.r_size : bad.sig_size;

                        b[0] ^= 1;
                        assert_int_equal(verify(&l, &bad), 0);
                        bad = sig;
                        for (size_t k = 0; k < bn / 2; k++) {
                                uint8_t t = b[k];

                                b[k] = b[bn - 1 - k];
                                b[bn - 1 - k] = t;
                        }
                        assert_int_equal(verify(&l, &bad), 0);
                        l.msg[l.msg_size - 1] ^= 0x80;
                        assert_int_equal(verify(&l, &sig), 0);
                }
                loaded_done(&l);
        }
        assert_int_equal(covered, ELEMENTSOF(vectors));
}

/* The go-attestation AK certified its own creation: TPMS_ATTEST type creation, signed by the AK,
 * naming the AK (nameAlg || sha256(TPMT_PUBLIC)) and hashing its TPMS_CREATION_DATA. */
static void test_go_attestation_creation(void **state)
{
        const char *d = "go-attestation/windows_gcp_shielded_vm.decomposed/";
        _cleanup_free_ uint8_t *pub = NULL, *att = NULL, *sig_buf = NULL, *cdata = NULL;
        size_t pub_n, att_n, sig_n, cdata_n;
        struct tpmkey_info info = {};
        struct tpm_signature sig;
        struct tpm_attest a;
        uint8_t h[32];
        EVP_PKEY *k = NULL;
        char rel[256];

        skip_without_vectors();
        snprintf(rel, sizeof(rel), "%sak.public.tpmt_public.bin", d);
        read_vector(rel, &pub, &pub_n);
        snprintf(rel, sizeof(rel), "%sak.CreateAttestation.bin", d);
        read_vector(rel, &att, &att_n);
        snprintf(rel, sizeof(rel), "%sak.CreateSignature.bin", d);
        read_vector(rel, &sig_buf, &sig_n);
        snprintf(rel, sizeof(rel), "%sak.CreateData.bin", d);
        read_vector(rel, &cdata, &cdata_n);

        assert_int_equal(tpmkey_load(pub, pub_n, &k, &info, NULL), 0);
        assert_int_equal(info.format, TPMKEY_FORMAT_TPMT_PUBLIC);
        assert_int_equal(info.scheme, TPM_ALG_RSASSA);
        assert_int_equal(info.scheme_hash, TPM_ALG_SHA1);
        assert_int_equal(info.object_attributes, 0x00050472);
        assert_int_equal(tpm_attest_parse(att, att_n, &a, NULL), 0);
        assert_int_equal(a.type, TPM_ST_ATTEST_CREATION);
        assert_int_equal(a.creation.object_name_size, info.name_size);
        assert_memory_equal(a.creation.object_name, info.name, info.name_size);
        assert_int_equal(hash_digest(hash_alg_by_tpm_id(TPM_ALG_SHA256), cdata, cdata_n, h), 0);
        assert_int_equal(a.creation.creation_hash_size, 32);
        assert_memory_equal(a.creation.creation_hash, h, 32);
        assert_int_equal(tpm_signature_parse(sig_buf, sig_n, &sig, NULL), 0);
        assert_int_equal(tpm_quote_verify_signature(att, att_n, &sig, k, NULL), 1);
        EVP_PKEY_free(k);
}

/* The quote's pcrDigest hash is the signature scheme's (sha1 here), not the AK's nameAlg. */
static void test_digest_hash_is_signature_hash(void **state)
{
        struct loaded l = {};
        struct tpmkey_info info = {};
        struct tpm_signature sig;
        struct tpm_attest a;
        struct tpm_pcr_check pc;
        EVP_PKEY *k = NULL;
        _cleanup_free_ uint8_t *pub = NULL;
        size_t pub_n;

        skip_without_vectors();
        load_windows(&l);
        read_vector("go-attestation/windows_gcp_shielded_vm.decomposed/ak.public.tpmt_public.bin", &pub,
                    &pub_n);
        assert_int_equal(tpmkey_load(pub, pub_n, &k, &info, NULL), 0);
        assert_int_equal(info.name_alg, TPM_ALG_SHA256);
        assert_int_equal(tpm_attest_parse(l.msg, l.msg_size, &a, NULL), 0);
        assert_int_equal(tpm_signature_parse(l.sig, l.sig_size, &sig, NULL), 0);
        assert_int_equal(sig.hash_alg, TPM_ALG_SHA1);
        assert_int_equal(tpm_quote_check_pcrs(&a, sig.hash_alg, l.doc_pcrs, &pc, NULL), 1);
        assert_int_equal(tpm_quote_check_pcrs(&a, info.name_alg, l.doc_pcrs, &pc, NULL), 0);
        EVP_PKEY_free(k);
        loaded_done(&l);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_manifest_quotes),
                cmocka_unit_test(test_go_attestation_creation),
                cmocka_unit_test(test_digest_hash_is_signature_hash),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
