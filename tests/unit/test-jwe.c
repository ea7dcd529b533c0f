/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWE: RFC 7516 appendix A and RFC 7520 §5 vectors in all their serializations, refused and
 * unsupported algorithms, encrypt/decrypt round trips over every supported alg x enc pair, wrong
 * keys, tampering, hostile "epk" values and malformed input.
 */
#include <errno.h>

#include "test-jose.h"

static int decrypt_fx(json_object *fx, const char *input, struct secret_buf *pt, json_object **hdr,
                      struct cvm_error *err)
{
        json_object *key = fx_obj(fx, "key");
        const char *kty;

        assert_int_equal(jose_get_string(key, "kty", "JWK", true, &kty, NULL), 0);
        if (strcmp(kty, "oct") == 0) {
                _cleanup_(secret_buf_done) struct secret_buf k = {};
                assert_int_equal(jwk_oct_key(key, &k, NULL), 0);
                return jwe_decrypt_oct(input, strlen(input), k.data, k.size, pt, hdr, err);
        } else {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = fx_key(fx);
                return jwe_decrypt(input, strlen(input), pkey, pt, hdr, err);
        }
}

/* Decrypts every serialization the fixture offers; returns how many were checked. */
static int check_vector(const char *name)
{
        static const char *const forms[] = {"compact", "flattened", "general"};
        _cleanup_(json_object_putp) json_object *fx = jose_fixture(name);
        const char *plaintext = fx_str(fx, "plaintext");
        int checked = 0;

        for (size_t i = 0; i < ELEMENTSOF(forms); i++) {
                _cleanup_(secret_buf_done) struct secret_buf pt = {};
                _cleanup_(json_object_putp) json_object *hdr = NULL;
                struct cvm_error err = {};
                json_object *v;
                const char *input;
                const char *alg;
                int r;

                if (!json_object_object_get_ex(fx, forms[i], &v))
                        continue;
                input = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                 : json_object_to_json_string(v);
                r = decrypt_fx(fx, input, &pt, &hdr, &err);
                if (r < 0)
                        fail_msg("%s %s: %s", name, forms[i], cvm_error_message(&err, r));
                assert_int_equal(pt.size, strlen(plaintext));
                assert_memory_equal(pt.data, plaintext, pt.size);
                assert_int_equal(pt.data[pt.size], '\0');
                assert_int_equal(jose_get_string(hdr, "alg", "hdr", true, &alg, NULL), 0);
                assert_string_equal(alg, fx_str(fx, "alg"));
                checked++;
        }
        return checked;
}

static void test_rfc7516_a1_rsa_oaep_a256gcm(void **state)
{
        assert_int_equal(check_vector("rfc7516-A.1.json"), 1);
}

static void test_rfc7516_a3_a128kw_cbc_hs256(void **state)
{
        assert_int_equal(check_vector("rfc7516-A.3.json"), 1);
}

static void test_rfc7520_vectors(void **state)
{
        assert_int_equal(check_vector("rfc7520-5.2.json"), 3);  /* RSA-OAEP + A256GCM */
        assert_int_equal(check_vector("rfc7520-5.4.json"), 3);  /* ECDH-ES+A128KW + A128GCM, P-384 */
        assert_int_equal(check_vector("rfc7520-5.5.json"), 3);  /* ECDH-ES + A128CBC-HS256, P-256 */
        assert_int_equal(check_vector("rfc7520-5.6.json"), 3);  /* dir + A128GCM */
        assert_int_equal(check_vector("rfc7520-5.8.json"), 3);  /* A128KW + A128GCM */
        assert_int_equal(check_vector("rfc7520-5.10.json"), 2); /* JSON "aad" */
        assert_int_equal(check_vector("rfc7520-5.11.json"), 2); /* per-recipient + shared headers */
        assert_int_equal(check_vector("rfc7520-5.12.json"), 2); /* nothing protected */
        assert_int_equal(check_vector("rfc7520-5.13.json"), 1); /* three recipients, ours is #1 */
}

static void expect_refused(const char *name, const char *form, int want, const char *msg)
{
        _cleanup_(json_object_putp) json_object *fx = jose_fixture(name);
        _cleanup_(secret_buf_done) struct secret_buf pt = {};
        struct cvm_error err = {};
        json_object *v = fx_obj(fx, form);
        const char *input = json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                     : json_object_to_json_string(v);
        int r;

        if (json_object_object_get_ex(fx, "key", NULL))
                r = decrypt_fx(fx, input, &pt, NULL, &err);
        else {
                _cleanup_(json_object_putp) json_object *a1 = jose_fixture("rfc7516-A.1.json");
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *k = fx_key(a1);
                r = jwe_decrypt(input, strlen(input), k, &pt, NULL, &err);
        }
        if (r != want || !strstr(err.message, msg))
                fail_msg("%s: got %d \"%s\", want %d \"%s\"", name, r, err.message, want, msg);
        assert_null(pt.data);
}

static void test_refused_and_unsupported(void **state)
{
        expect_refused("rfc7516-A.2.json", "compact", -EOPNOTSUPP, "\"RSA1_5\" refused");
        expect_refused("rfc7520-5.1.json", "compact", -EOPNOTSUPP, "padding-oracle");
        expect_refused("rfc7520-5.7.json", "compact", -EOPNOTSUPP, "\"A256GCMKW\" is not supported");
        expect_refused("rfc7520-5.9.json", "compact", -EOPNOTSUPP, "\"zip\"");
}

struct combo {
        const char *alg, *type, *curve;
};

static const struct combo combos[] = {
        {"RSA-OAEP", "RSA", NULL},         {"RSA-OAEP-256", "RSA", NULL},
        {"ECDH-ES", "EC", "P-256"},        {"ECDH-ES", "EC", "P-521"},
        {"ECDH-ES+A128KW", "EC", "P-256"}, {"ECDH-ES+A192KW", "EC", "P-384"},
        {"ECDH-ES+A256KW", "EC", "P-256"}, {"ECDH-ES+A256KW", "EC", "P-384"},
        {"ECDH-ES+A256KW", "EC", "P-521"},
};
static const char *const encs[] = {"A128GCM",       "A192GCM",       "A256GCM",
                                   "A128CBC-HS256", "A192CBC-HS384", "A256CBC-HS512"};

static void test_roundtrip(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa = gen_key("RSA", NULL, 2048);
        static const char msg[] = "a 256-bit disk key, or any resource";

        for (size_t c = 0; c < ELEMENTSOF(combos); c++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec =
                        combos[c].curve ? gen_key("EC", combos[c].curve, 0) : NULL;
                EVP_PKEY *key = ec ?: rsa;

                for (size_t e = 0; e < ELEMENTSOF(encs); e++)
                        for (int fmt = JWE_COMPACT; fmt <= JWE_JSON_FLATTENED; fmt++) {
                                _cleanup_free_ char *out = NULL;
                                _cleanup_(secret_buf_done) struct secret_buf pt = {};
                                _cleanup_(json_object_putp) json_object *hdr = NULL,
                                                                        *extra = json_object_new_object();
                                struct cvm_error err = {};
                                const char *s;

                                json_object_object_add(extra, "kid", json_object_new_string("tee"));
                                if (jwe_encrypt(combos[c].alg, encs[e], key, extra, msg, strlen(msg), fmt,
                                                &out, &err) < 0)
                                        fail_msg("encrypt %s %s: %s", combos[c].alg, encs[e], err.message);
                                assert_true(fmt == JWE_COMPACT ? out[0] != '{' : out[0] == '{');
                                if (jwe_decrypt(out, strlen(out), key, &pt, &hdr, &err) < 0)
                                        fail_msg("decrypt %s %s: %s", combos[c].alg, encs[e], err.message);
                                assert_int_equal(pt.size, strlen(msg));
                                assert_memory_equal(pt.data, msg, pt.size);
                                assert_int_equal(jose_get_string(hdr, "enc", "h", true, &s, NULL), 0);
                                assert_string_equal(s, encs[e]);
                                assert_int_equal(jose_get_string(hdr, "kid", "h", true, &s, NULL), 0);
                                assert_string_equal(s, "tee");
                        }
        }
}

static void test_empty_plaintext(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = gen_key("EC", "P-256", 0);
        _cleanup_free_ char *a = NULL, *b = NULL;
        _cleanup_(secret_buf_done) struct secret_buf pa = {}, pb = {};

        assert_int_equal(jwe_encrypt("ECDH-ES+A256KW", "A256GCM", ec, NULL, "", 0, JWE_COMPACT, &a, NULL),
                         0);
        assert_int_equal(jwe_decrypt(a, strlen(a), ec, &pa, NULL, NULL), 0);
        assert_int_equal(pa.size, 0);
        assert_int_equal(jwe_encrypt("ECDH-ES", "A128CBC-HS256", ec, NULL, "", 0, JWE_COMPACT, &b, NULL), 0);
        assert_int_equal(jwe_decrypt(b, strlen(b), ec, &pb, NULL, NULL), 0);
        assert_int_equal(pb.size, 0);
}

static void expect_fail(const char *input, EVP_PKEY *key, int want, const char *msg)
{
        _cleanup_(secret_buf_done) struct secret_buf pt = {};
        struct cvm_error err = {};
        int r = jwe_decrypt(input, strlen(input), key, &pt, NULL, &err);

        if (r != want || !strstr(err.message, msg))
                fail_msg("got %d \"%s\", want %d \"%s\" (input %.60s...)", r, err.message, want, msg, input);
        assert_null(pt.data);
}

static void test_wrong_key(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa1 = gen_key("RSA", NULL, 2048),
                                           *rsa2 = gen_key("RSA", NULL, 2048);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec1 = gen_key("EC", "P-256", 0),
                                           *ec2 = gen_key("EC", "P-256", 0);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa3k = gen_key("RSA", NULL, 3072);
        _cleanup_free_ char *r = NULL, *e = NULL, *d = NULL;

        assert_int_equal(jwe_encrypt("RSA-OAEP-256", "A256GCM", rsa1, NULL, "s", 1, JWE_COMPACT, &r, NULL),
                         0);
        assert_int_equal(
                jwe_encrypt("ECDH-ES+A256KW", "A256GCM", ec1, NULL, "s", 1, JWE_JSON_FLATTENED, &e, NULL),
                0);
        assert_int_equal(jwe_encrypt("ECDH-ES", "A256GCM", ec1, NULL, "s", 1, JWE_COMPACT, &d, NULL), 0);

        expect_fail(r, rsa2, -EKEYREJECTED, "cannot be decrypted with our key");
        expect_fail(r, rsa3k, -EKEYREJECTED, "encrypted key is 256 bytes, our 3072-bit key decrypts 384");
        expect_fail(r, ec1, -EKEYREJECTED, "needs an RSA private key");
        expect_fail(e, ec2, -EKEYREJECTED, "does not unwrap");
        expect_fail(e, rsa1, -EKEYREJECTED, "needs an EC private key");
        expect_fail(d, ec2, -EKEYREJECTED, "authentication tag does not verify");
        {
                /* A public key cannot decrypt. */
                _cleanup_(json_object_putp) json_object *jwk = NULL;
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = NULL;
                assert_int_equal(jwk_from_pkey(ec1, 0, &jwk, NULL), 0);
                assert_int_equal(jwk_to_pkey(jwk, &pub, NULL), 0);
                expect_fail(e, pub, -EKEYREJECTED, "not an EC private key");
        }
}

/* Replaces part @idx (0..4) of a compact JWE with @with. */
static char *replace_part(const char *jwe, int idx, const char *with)
{
        char *parts[5], *copy = strdup(jwe), *p = copy, *out;

        for (int i = 0; i < 5; i++) {
                parts[i] = p;
                p = strchr(p, '.');
                if (p)
                        *p++ = '\0';
        }
        parts[idx] = (char *)with;
        assert_true(asprintf(&out, "%s.%s.%s.%s.%s", parts[0], parts[1], parts[2], parts[3], parts[4]) > 0);
        free(copy);
        return out;
}

static char *flip(const char *jwe, int idx)
{
        char *copy = strdup(jwe), *p = copy;

        for (int i = 0; i < idx; i++)
                p = strchr(p, '.') + 1;
        p[1] = p[1] == 'A' ? 'B' : 'A';
        return copy;
}

static void test_tampering(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa = gen_key("RSA", NULL, 2048);
        _cleanup_free_ char *cbc = NULL, *gcm = NULL;

        assert_int_equal(jwe_encrypt("RSA-OAEP", "A256GCM", rsa, NULL, "0123456789abcdefXYZ", 19,
                                     JWE_COMPACT, &gcm, NULL),
                         0);
        assert_int_equal(jwe_encrypt("RSA-OAEP", "A128CBC-HS256", rsa, NULL, "0123456789abcdefXYZ", 19,
                                     JWE_COMPACT, &cbc, NULL),
                         0);
        for (int part = 2; part <= 4; part++) {
                _cleanup_free_ char *g = flip(gcm, part), *c = flip(cbc, part);
                expect_fail(g, rsa, -EKEYREJECTED, "authentication tag does not verify");
                expect_fail(c, rsa, -EKEYREJECTED, "authentication tag does not verify");
        }
        {
                /* The protected header is the AAD: {"alg":"RSA-OAEP","enc":"A256GCM","x":1} differs. */
                _cleanup_free_ char *hb =
                        b64url_encode("{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"x\":1}", 40);
                _cleanup_free_ char *h = replace_part(gcm, 0, hb);
                expect_fail(h, rsa, -EKEYREJECTED, "authentication tag does not verify");
        }
        {
                _cleanup_free_ char *iv = replace_part(gcm, 2, "AAAAAAAAAAAAAAAAAAAA"),
                                    *tag = replace_part(gcm, 4, "AAAA");
                _cleanup_free_ char *cbciv = replace_part(cbc, 2, "AAAAAAAAAAAAAAAA");
                expect_fail(iv, rsa, -EBADMSG, "JWE iv is 15 bytes, A256GCM needs 12");
                expect_fail(tag, rsa, -EBADMSG, "JWE tag is 3 bytes, A256GCM needs 16");
                expect_fail(cbciv, rsa, -EBADMSG, "JWE iv is 12 bytes, A128CBC-HS256 needs 16");
        }
        {
                /* An encrypted key of the wrong length for the RSA key. */
                _cleanup_free_ char *ek = replace_part(gcm, 1, "AAAA");
                expect_fail(ek, rsa, -EKEYREJECTED, "encrypted key is 3 bytes");
        }
}

/* Re-encodes the protected header of a flattened JWE after @edit changed it. */
static char *edit_protected(const char *flat, void (*edit)(json_object *hdr, void *data), void *data)
{
        _cleanup_(json_object_putp) json_object *doc = json_tokener_parse(flat), *hdr = NULL;
        _cleanup_free_ uint8_t *raw = NULL;
        _cleanup_free_ char *text = NULL;
        size_t n, tl;
        const char *p;
        char *out;

        assert_int_equal(jose_get_string(doc, "protected", "doc", true, &p, NULL), 0);
        assert_int_equal(b64url_decode(p, SIZE_MAX, "p", &raw, &n, NULL), 0);
        hdr = json_tokener_parse((const char *)raw);
        edit(hdr, data);
        assert_int_equal(canonjson_serialize(hdr, &text, &tl, NULL), 0);
        assert_int_equal(jose_add_b64url(doc, "protected", text, tl), 0);
        out = strdup(json_object_to_json_string(doc));
        return out;
}

static void set_epk_coord(json_object *hdr, void *data)
{
        json_object *epk;
        const char *y;
        char *copy;

        assert_true(json_object_object_get_ex(hdr, "epk", &epk));
        assert_int_equal(jose_get_string(epk, "y", "epk", true, &y, NULL), 0);
        copy = strdup(y);
        copy[5] = copy[5] == 'A' ? 'B' : 'A';
        json_object_object_add(epk, "y", json_object_new_string(copy));
        free(copy);
        (void)data;
}

static void replace_epk(json_object *hdr, void *data)
{
        json_object_object_add(hdr, "epk", json_object_get(data));
}

static void add_private_d(json_object *hdr, void *data)
{
        json_object *epk;

        assert_true(json_object_object_get_ex(hdr, "epk", &epk));
        json_object_object_add(epk, "d", json_object_new_string("AAAA"));
        (void)data;
}

static void drop_epk(json_object *hdr, void *data)
{
        json_object_object_del(hdr, "epk");
        (void)data;
}

static void add_crit(json_object *hdr, void *data)
{
        json_object_object_add(hdr, "crit", json_object_new_array());
        (void)data;
}

static void test_hostile_epk(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = gen_key("EC", "P-256", 0),
                                           *p384 = gen_key("EC", "P-384", 0);
        _cleanup_(json_object_putp) json_object *p384_jwk = NULL;
        _cleanup_free_ char *flat = NULL, *off = NULL, *other = NULL, *withd = NULL, *none = NULL,
                            *crit = NULL;

        assert_int_equal(
                jwe_encrypt("ECDH-ES+A256KW", "A256GCM", ec, NULL, "k", 1, JWE_JSON_FLATTENED, &flat, NULL),
                0);
        assert_int_equal(jwk_from_pkey(p384, 0, &p384_jwk, NULL), 0);

        off = edit_protected(flat, set_epk_coord, NULL);
        expect_fail(off, ec, -EBADMSG, "not on the curve");
        other = edit_protected(flat, replace_epk, p384_jwk);
        expect_fail(other, ec, -EBADMSG, "not on our key's curve P-256");
        withd = edit_protected(flat, add_private_d, NULL);
        expect_fail(withd, ec, -EBADMSG, "\"epk\" contains a private key");
        none = edit_protected(flat, drop_epk, NULL);
        expect_fail(none, ec, -EBADMSG, "has no \"epk\" object");
        crit = edit_protected(flat, add_crit, NULL);
        expect_fail(crit, ec, -EOPNOTSUPP, "critical extensions");
}

/* The shape a Trustee KBS returns for /kbs/v0/resource (kbs_types::Response). */
static void test_trustee_shape(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = gen_key("EC", "P-256", 0),
                                           *rsa = gen_key("RSA", NULL, 2048);
        _cleanup_free_ char *a = NULL, *b = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL, *hdr = NULL;
        _cleanup_(secret_buf_done) struct secret_buf pt = {}, pt2 = {};
        static const char secret[] = "0123456789abcdef0123456789abcdef";
        const char *s;
        json_object *epk;

        assert_int_equal(
                jwe_encrypt("ECDH-ES+A256KW", "A256GCM", ec, NULL, secret, 32, JWE_JSON_FLATTENED, &a, NULL),
                0);
        doc = json_tokener_parse(a);
        assert_non_null(doc);
        for (const char *const *m =
                     (const char *const[]){"protected", "encrypted_key", "iv", "ciphertext", "tag", NULL};
             *m; m++)
                assert_true(json_object_object_get_ex(doc, *m, NULL));
        assert_int_equal(jwe_decrypt(a, strlen(a), ec, &pt, &hdr, NULL), 0);
        assert_memory_equal(pt.data, secret, 32);
        assert_true(json_object_object_get_ex(hdr, "epk", &epk));
        assert_int_equal(jose_get_string(epk, "crv", "epk", true, &s, NULL), 0);
        assert_string_equal(s, "P-256");
        assert_int_equal(
                jwe_encrypt("RSA-OAEP-256", "A256GCM", rsa, NULL, secret, 32, JWE_JSON_FLATTENED, &b, NULL),
                0);
        assert_int_equal(jwe_decrypt(b, strlen(b), rsa, &pt2, NULL, NULL), 0);
        assert_memory_equal(pt2.data, secret, 32);
}

static void test_malformed(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa = gen_key("RSA", NULL, 2048);
        static const struct {
                const char *input;
                int r;
                const char *msg;
        } cases[] = {
                {"a.b.c.d", -EBADMSG, "expected 5 dot-separated parts, found 4"},
                {"a.b.c.d.e.f", -EBADMSG, "more than 5"},
                {".a.b.c.d", -EBADMSG, "empty protected header"},
                {"e30.AAAA.AAAA.AAAA.AAAA", -EBADMSG, "JWE header has no \"alg\""},
                {"eyJhbGciOiJSU0EtT0FFUCJ9.AAAA.AAAA.AAAA.AAAA", -EBADMSG, "no \"enc\""},
                {"eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkExMjhYWVoifQ.AAAA.AAAA.AAAA.AAAA", -EOPNOTSUPP,
                 "\"A128XYZ\""},
                {"eyJhbGciOiJQQkVTMi1IUzI1NitBMTI4S1ciLCJlbmMiOiJBMTI4R0NNIn0.AAAA.AAAA.AAAA.AAAA",
                 -EOPNOTSUPP, "PBES2-HS256+A128KW"},
                {"W10.AAAA.AAAA.AAAA.AAAA", -EBADMSG, "protected header is not a JSON object"},
                {"e30.A.AAAA.AAAA.AAAA", -EBADMSG, "JWE encrypted key: truncated"},
                {"{\"protected\":\"e30\"}", -EBADMSG, "JWE JSON has no \"iv\" member"},
                {"{\"protected\":1}", -EBADMSG, "\"protected\" is not a string"},
                {"{\"iv\":\"AAAA\",\"ciphertext\":\"\",\"tag\":\"AAAA\",\"recipients\":[]}", -EBADMSG,
                 "0 recipients"},
                {"{\"iv\":\"AAAA\",\"ciphertext\":\"\",\"tag\":\"AAAA\",\"recipients\":[{}],\"encrypted_"
                 "key\":\"\"}",
                 -EBADMSG, "mixes"},
                {"{\"iv\":\"AAAA\",\"ciphertext\":\"\",\"tag\":\"AAAA\",\"header\":[]}", -EBADMSG,
                 "\"header\" is not a JSON object"},
                {"{\"protected\":\"eyJhbGciOiJkaXIifQ\",\"header\":{\"alg\":\"dir\"},\"iv\":\"AAAA\","
                 "\"ciphertext\":\"\",\"tag\":\"AAAA\"}",
                 -EBADMSG, "\"alg\" appears in more than one header"},
                {"{\"protected\":\"e30\",\"aad\":\"!\",\"iv\":\"AAAA\",\"ciphertext\":\"\",\"tag\":"
                 "\"AAAA\"}",
                 -EBADMSG, "\"aad\": invalid base64url"},
                {"{\"protected\":\"e30\"} x", -EBADMSG, "trailing data after the JSON value at offset 20"},
                {"", -EBADMSG, "found 1"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(secret_buf_done) struct secret_buf pt = {};
                struct cvm_error err = {};
                int r = jwe_decrypt(cases[i].input, strlen(cases[i].input), rsa, &pt, NULL, &err);

                if (r != cases[i].r || !strstr(err.message, cases[i].msg))
                        fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, r, err.message, cases[i].r,
                                 cases[i].msg);
        }
}

static void test_oct_key_rules(void **state)
{
        _cleanup_(json_object_putp) json_object *a3 = jose_fixture("rfc7516-A.3.json"),
                                                *d = jose_fixture("rfc7520-5.6.json");
        _cleanup_(secret_buf_done) struct secret_buf pt = {};
        static const uint8_t k24[24] = {0}, k16[16] = {0};
        const char *c = fx_str(a3, "compact"), *dc = fx_str(d, "compact");
        struct cvm_error err = {};
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = gen_key("EC", "P-256", 0);

        assert_int_equal(jwe_decrypt_oct(c, strlen(c), k24, sizeof(k24), &pt, NULL, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "needs a 16-byte secret key"));
        cvm_error_clear(&err);
        assert_int_equal(jwe_decrypt_oct(c, strlen(c), k16, sizeof(k16), &pt, NULL, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "does not unwrap"));
        cvm_error_clear(&err);
        assert_int_equal(jwe_decrypt_oct(dc, strlen(dc), k24, sizeof(k24), &pt, NULL, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "content key is 24 bytes, A128GCM needs 16"));
        assert_int_equal(jwe_decrypt_oct(c, strlen(c), k16, 0, &pt, NULL, NULL), -EINVAL);
        expect_fail(c, ec, -EKEYREJECTED, "needs a 16-byte secret key");
        expect_fail(dc, ec, -EKEYREJECTED, "\"dir\" needs a secret (oct) key");
}

static void test_encrypt_rejects(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec = gen_key("EC", "P-256", 0),
                                           *small = gen_key("RSA", NULL, 1024);
        _cleanup_free_ char *out = NULL;

        assert_int_equal(jwe_encrypt("RSA-OAEP", "A256GCM", ec, NULL, "x", 1, JWE_COMPACT, &out, NULL),
                         -EKEYREJECTED);
        assert_int_equal(jwe_encrypt("RSA-OAEP", "A256GCM", small, NULL, "x", 1, JWE_COMPACT, &out, NULL),
                         -EKEYREJECTED);
        assert_int_equal(jwe_encrypt("ECDH-ES", "A256GCM", small, NULL, "x", 1, JWE_COMPACT, &out, NULL),
                         -EKEYREJECTED);
        assert_int_equal(jwe_encrypt("RSA1_5", "A256GCM", small, NULL, "x", 1, JWE_COMPACT, &out, NULL),
                         -EOPNOTSUPP);
        assert_int_equal(jwe_encrypt("dir", "A256GCM", small, NULL, "x", 1, JWE_COMPACT, &out, NULL),
                         -EOPNOTSUPP);
        assert_int_equal(jwe_encrypt("ECDH-ES", "A999GCM", ec, NULL, "x", 1, JWE_COMPACT, &out, NULL),
                         -EOPNOTSUPP);
        assert_null(out);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc7516_a1_rsa_oaep_a256gcm),
                cmocka_unit_test(test_rfc7516_a3_a128kw_cbc_hs256),
                cmocka_unit_test(test_rfc7520_vectors),
                cmocka_unit_test(test_refused_and_unsupported),
                cmocka_unit_test(test_roundtrip),
                cmocka_unit_test(test_empty_plaintext),
                cmocka_unit_test(test_wrong_key),
                cmocka_unit_test(test_tampering),
                cmocka_unit_test(test_hostile_epk),
                cmocka_unit_test(test_trustee_shape),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_oct_key_rules),
                cmocka_unit_test(test_encrypt_rejects),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
