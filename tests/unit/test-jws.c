/* SPDX-License-Identifier: Apache-2.0 */
/*
 * JWS: RFC 7515 appendix A and RFC 7520 §4 vectors, refusal rules, malformed input, sign/verify
 * round trips, x5c chains (generated and the real Key Vault release response), and the real
 * MAA tokens of the vector corpus against their JWKS.
 */
#include <errno.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test-jose.h"

static const char *const KV_RELEASE = "thomvanl-skr/keyvault-release-key-reponse-body.json";
static const char *const KV_HOST = "skr-kvq6srllol2jntw.vault.azure.net";
static const char *const DIGICERT_G2 = "/etc/ssl/certs/DigiCert_Global_Root_G2.pem";

static int parse(const char *s, struct jws **ret, struct cvm_error *err)
{
        return jws_parse(s, strlen(s), ret, err);
}

/* Verifies @compact with the fixture key; returns the jws_verify() result. */
static int verify_with(const char *compact, EVP_PKEY *key, struct cvm_error *err)
{
        _cleanup_(jws_freep) struct jws *jws = NULL;
        int r = parse(compact, &jws, err);

        if (r < 0)
                return r;
        return jws_verify(jws, key, err);
}

/* The public half of @key, through a JWK export/import round trip. */
static EVP_PKEY *public_of(EVP_PKEY *key)
{
        _cleanup_(json_object_putp) json_object *jwk = NULL;
        EVP_PKEY *pub = NULL;

        assert_int_equal(jwk_from_pkey(key, 0, &jwk, NULL), 0);
        assert_false(json_object_object_get_ex(jwk, "d", NULL));
        assert_int_equal(jwk_to_pkey(jwk, &pub, NULL), 0);
        return pub;
}

static void check_vector(const char *name)
{
        _cleanup_(json_object_putp) json_object *fx = jose_fixture(name);
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = fx_key(fx), *pub = public_of(key);
        _cleanup_(jws_freep) struct jws *jws = NULL;
        struct cvm_error err = {};
        const char *payload = fx_str(fx, "payload");
        int r;

        r = parse(fx_str(fx, "compact"), &jws, &err);
        assert_int_equal(r, 0);
        assert_string_equal(jws->alg, fx_str(fx, "alg"));
        assert_int_equal(jws->payload_size, strlen(payload));
        assert_memory_equal(jws->payload, payload, strlen(payload));
        r = jws_verify(jws, pub, &err);
        if (r < 0)
                fail_msg("%s: %s", name, err.message);
}

static void test_rfc7515_a2_rs256(void **state)
{
        check_vector("rfc7515-A.2.json");
}

static void test_rfc7515_a3_es256(void **state)
{
        check_vector("rfc7515-A.3.json");
}

static void test_rfc7515_a4_es512(void **state)
{
        check_vector("rfc7515-A.4.json");
}

static void test_rfc7520_signatures(void **state)
{
        check_vector("rfc7520-4.1.json"); /* RS256 */
        check_vector("rfc7520-4.2.json"); /* PS384 */
        check_vector("rfc7520-4.3.json"); /* ES512 */
}

/* RS256 is deterministic: signing the RFC input with the RFC key reproduces the RFC token. */
static void test_sign_reproduces_rfc(void **state)
{
        static const char *const names[] = {"rfc7515-A.2.json", "rfc7520-4.1.json"};

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_(json_object_putp) json_object *fx = jose_fixture(names[i]),
                                                        *hdr = json_object_new_object();
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = fx_key(fx);
                _cleanup_free_ char *out = NULL;
                struct cvm_error err = {};
                const char *payload = fx_str(fx, "payload");
                json_object *kid;

                if (json_object_object_get_ex(fx_obj(fx, "key"), "kid", &kid))
                        json_object_object_add(hdr, "kid", json_object_get(kid));
                assert_int_equal(jws_sign("RS256", key, hdr, payload, strlen(payload), &out, &err), 0);
                assert_string_equal(out, fx_str(fx, "compact"));
        }
}

static void test_refused_algorithms(void **state)
{
        _cleanup_(json_object_putp) json_object *none = jose_fixture("rfc7515-A.5.json"),
                                                *hs = jose_fixture("rfc7520-4.4.json");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa = gen_key("RSA", NULL, 2048);
        _cleanup_free_ char *out = NULL;
        struct cvm_error err = {};

        assert_int_equal(verify_with(fx_str(none, "compact"), rsa, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "\"alg\":\"none\" refused"));
        cvm_error_clear(&err);
        assert_int_equal(verify_with(fx_str(hs, "compact"), rsa, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "HS256"));
        cvm_error_clear(&err);
        assert_int_equal(jws_sign("none", rsa, NULL, "x", 1, &out, &err), -EKEYREJECTED);
        assert_int_equal(jws_sign("HS512", rsa, NULL, "x", 1, &out, NULL), -EKEYREJECTED);
        assert_int_equal(jws_sign("EdDSA", rsa, NULL, "x", 1, &out, NULL), -EOPNOTSUPP);
        assert_null(out);
}

static void test_roundtrip_all_algorithms(void **state)
{
        static const struct {
                const char *alg, *type, *curve;
        } cases[] = {
                {"RS256", "RSA", NULL},   {"RS384", "RSA", NULL},   {"RS512", "RSA", NULL},
                {"PS256", "RSA", NULL},   {"PS384", "RSA", NULL},   {"PS512", "RSA", NULL},
                {"ES256", "EC", "P-256"}, {"ES384", "EC", "P-384"}, {"ES512", "EC", "P-521"},
        };
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa = gen_key("RSA", NULL, 2048);

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *ec =
                        cases[i].curve ? gen_key("EC", cases[i].curve, 0) : NULL;
                EVP_PKEY *key = ec ?: rsa;
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pub = public_of(key);
                _cleanup_(json_object_putp) json_object *hdr = json_object_new_object();
                _cleanup_free_ char *tok = NULL;
                _cleanup_(jws_freep) struct jws *jws = NULL;
                struct cvm_error err = {};
                static const char msg[] = "{\"iss\":\"me\"}";

                json_object_object_add(hdr, "kid", json_object_new_string("k1"));
                json_object_object_add(hdr, "alg", json_object_new_string("none")); /* overridden */
                assert_int_equal(jws_sign(cases[i].alg, key, hdr, msg, strlen(msg), &tok, &err), 0);
                assert_int_equal(parse(tok, &jws, &err), 0);
                assert_string_equal(jws->alg, cases[i].alg);
                assert_string_equal(jws->kid, "k1");
                if (jws_verify(jws, pub, &err) < 0)
                        fail_msg("%s: %s", cases[i].alg, err.message);

                /* The same token against a key of the wrong kind or curve. */
                if (ec) {
                        cvm_error_clear(&err);
                        assert_int_equal(jws_verify(jws, rsa, &err), -EKEYREJECTED);
                        assert_non_null(strstr(err.message, "needs an EC"));
                } else {
                        _cleanup_(EVP_PKEY_freep) EVP_PKEY *p256 = gen_key("EC", "P-256", 0);
                        assert_int_equal(jws_verify(jws, p256, NULL), -EKEYREJECTED);
                }
        }
}

static void test_es_wrong_curve_and_length(void **state)
{
        _cleanup_(json_object_putp) json_object *fx = jose_fixture("rfc7515-A.3.json");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *p384 = gen_key("EC", "P-384", 0), *key = fx_key(fx);
        _cleanup_(jws_freep) struct jws *jws = NULL;
        struct cvm_error err = {};

        assert_int_equal(verify_with(fx_str(fx, "compact"), p384, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "another curve"));
        /* A signature of the wrong size for ES256 (r||s is 64 bytes). */
        assert_int_equal(parse(fx_str(fx, "compact"), &jws, NULL), 0);
        jws->signature_size = 63;
        cvm_error_clear(&err);
        assert_int_equal(jws_verify(jws, key, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "expected 64"));
}

static void test_small_rsa_key_refused(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *small = gen_key("RSA", NULL, 1024);
        _cleanup_free_ char *tok = NULL;
        struct cvm_error err = {};

        assert_int_equal(jws_sign("RS256", small, NULL, "x", 1, &tok, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "1024 bits is too small"));
}

/* Changes one character of part @part (0 header, 1 payload, 2 signature) of a compact JWS. */
static char *tamper(const char *compact, int part)
{
        char *t = strdup(compact), *p = t;

        assert_non_null(t);
        for (int i = 0; i < part; i++)
                p = strchr(p, '.') + 1;
        /* The 3rd character is inside every part and is a full 6-bit symbol. */
        p[2] = p[2] == 'A' ? 'B' : 'A';
        return t;
}

static void test_tampered_rejected(void **state)
{
        _cleanup_(json_object_putp) json_object *fx = jose_fixture("rfc7520-4.1.json");
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = fx_key(fx);
        _cleanup_free_ char *p = tamper(fx_str(fx, "compact"), 1), *s = tamper(fx_str(fx, "compact"), 2);
        struct cvm_error err = {};

        assert_int_equal(verify_with(p, key, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "does not verify"));
        assert_int_equal(verify_with(s, key, NULL), -EKEYREJECTED);
}

static void test_malformed(void **state)
{
        static const struct {
                const char *token;
                int r;
                const char *msg;
        } cases[] = {
                {"abc.def", -EBADMSG, "expected 3 dot-separated parts, found 2"},
                {"a.b.c.d", -EBADMSG, "found 4"},
                {"a.b.c.d.e", -EBADMSG, "compact JWE"},
                {"eyJhbGciOiJSUzI1NiJ9!.e30.AAAA", -EBADMSG,
                 "JWS header: invalid base64url character 0x21 at offset 20"},
                {"eyJhbGciOiJSUzI1NiJ9=.e30.AAAA", -EBADMSG, "must not be padded"},
                {"bm90IGpzb24.e30.AAAA", -EBADMSG, "JWS header: JSON parse error"}, /* "not json" */
                {"WzFd.e30.AAAA", -EBADMSG, "JWS header is not a JSON object"},     /* [1] */
                {"eyJ0eXAiOiJKV1QifQ.e30.AAAA", -EBADMSG, "JWS header has no \"alg\" member"},
                {"eyJhbGciOjF9.e30.AAAA", -EBADMSG, "member \"alg\" is not a string"}, /* {"alg":1} */
                /* {"alg":"RS256","crit":["exp"]} */
                {"eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiZXhwIl19.e30.AAAA", -EOPNOTSUPP,
                 "critical extensions [\"exp\"]"},
                /* {"alg":"RS256","b64":false} */
                {"eyJhbGciOiJSUzI1NiIsImI2NCI6ZmFsc2V9.e30.AAAA", -EOPNOTSUPP, "RFC 7797"},
                {"eyJhbGciOiJSUzI1NiJ9.e30.AAB", -EBADMSG, "non-canonical base64url"},
                {"eyJhbGciOiJSUzI1NiJ9.e30.A", -EBADMSG, "dangling 6 bits"},
                {"", -EBADMSG, "found 1"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct jws *jws = NULL;
                struct cvm_error err = {};
                int r = parse(cases[i].token, &jws, &err);

                if (r != cases[i].r || !strstr(err.message, cases[i].msg))
                        fail_msg("case %zu: got %d \"%s\", want %d \"%s\"", i, r, err.message, cases[i].r,
                                 cases[i].msg);
                assert_null(jws);
        }
}

static void test_unknown_alg(void **state)
{
        /* {"alg":"XS999"}.{}.AAAA */
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *rsa = gen_key("RSA", NULL, 2048);
        struct cvm_error err = {};

        assert_int_equal(verify_with("eyJhbGciOiJYUzk5OSJ9.e30.AAAA", rsa, &err), -EOPNOTSUPP);
        assert_string_equal(err.message, "JWS algorithm \"XS999\" is not supported");
}

static void test_payload_json(void **state)
{
        _cleanup_(json_object_putp) json_object *fx = jose_fixture("rfc7515-A.2.json"), *claims = NULL;
        _cleanup_(json_object_putp) json_object *fx4 = jose_fixture("rfc7515-A.4.json");
        _cleanup_(jws_freep) struct jws *jws = NULL, *jws4 = NULL;
        json_object *v;

        assert_int_equal(parse(fx_str(fx, "compact"), &jws, NULL), 0);
        assert_int_equal(jws_payload_json(jws, &claims, NULL), 0);
        assert_true(json_object_object_get_ex(claims, "exp", &v));
        assert_int_equal(json_object_get_int64(v), 1300819380);
        /* "Payload" is not JSON. */
        assert_int_equal(parse(fx_str(fx4, "compact"), &jws4, NULL), 0);
        assert_int_equal(jws_payload_json(jws4, &v, NULL), -EBADMSG);
}

static void test_jwks_selection(void **state)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *k1 = gen_key("EC", "P-256", 0), *k2 = gen_key("EC", "P-256", 0);
        _cleanup_(json_object_putp) json_object *jwks = json_object_new_object(),
                                                *hdr = json_object_new_object();
        _cleanup_(jws_freep) struct jws *jws = NULL, *nokid = NULL;
        _cleanup_free_ char *tok = NULL, *tok2 = NULL;
        json_object *keys = json_object_new_array(), *j1, *j2;
        struct cvm_error err = {};

        assert_int_equal(jwk_from_pkey(k1, 0, &j1, NULL), 0);
        assert_int_equal(jwk_from_pkey(k2, 0, &j2, NULL), 0);
        json_object_object_add(j1, "kid", json_object_new_string("one"));
        json_object_object_add(j2, "kid", json_object_new_string("two"));
        json_object_array_add(keys, j1);
        json_object_array_add(keys, j2);
        json_object_object_add(jwks, "keys", keys);

        json_object_object_add(hdr, "kid", json_object_new_string("two"));
        assert_int_equal(jws_sign("ES256", k2, hdr, "{}", 2, &tok, NULL), 0);
        assert_int_equal(parse(tok, &jws, NULL), 0);
        assert_int_equal(jws_verify_jwks(jws, jwks, &err), 0);

        /* The key under that kid is marked for encryption, or for another algorithm. */
        json_object_object_add(j2, "use", json_object_new_string("enc"));
        assert_int_equal(jws_verify_jwks(jws, jwks, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "\"use\":\"enc\""));
        json_object_object_del(j2, "use");
        json_object_object_add(j2, "alg", json_object_new_string("ES384"));
        cvm_error_clear(&err);
        assert_int_equal(jws_verify_jwks(jws, jwks, &err), -EKEYREJECTED);
        json_object_object_del(j2, "alg");

        /* The kid now names the other key: wrong signature. */
        json_object_object_add(j1, "kid", json_object_new_string("two"));
        json_object_object_add(j2, "kid", json_object_new_string("one"));
        assert_int_equal(jws_verify_jwks(jws, jwks, NULL), -EKEYREJECTED);

        /* Unknown kid, duplicate kid, malformed set. */
        json_object_object_add(j1, "kid", json_object_new_string("three"));
        json_object_object_add(j2, "kid", json_object_new_string("four"));
        cvm_error_clear(&err);
        assert_int_equal(jws_verify_jwks(jws, jwks, &err), -ENOKEY);
        assert_string_equal(err.message, "no key with kid \"two\" in the JWKS (2 keys)");
        json_object_object_add(j1, "kid", json_object_new_string("two"));
        json_object_object_add(j2, "kid", json_object_new_string("two"));
        assert_int_equal(jws_verify_jwks(jws, jwks, NULL), -EBADMSG);
        {
                _cleanup_(json_object_putp) json_object *arr = json_object_new_array();
                assert_int_equal(jws_verify_jwks(jws, arr, NULL), -EBADMSG);
        }

        /* No kid in the token: only a one-key set is unambiguous. */
        assert_int_equal(jws_sign("ES256", k1, NULL, "{}", 2, &tok2, NULL), 0);
        assert_int_equal(parse(tok2, &nokid, NULL), 0);
        assert_int_equal(jws_verify_jwks(nokid, jwks, NULL), -ENOKEY);
        json_object_array_del_idx(keys, 1, 1);
        assert_int_equal(jws_verify_jwks(nokid, jwks, NULL), 0);
}

/* ---- x5c chains ---------------------------------------------------------------------------------- */

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
        X509V3_CTX ctx;
        X509_EXTENSION *ext;

        X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        assert_non_null(ext);
        assert_int_equal(X509_add_ext(cert, ext, -1), 1);
        X509_EXTENSION_free(ext);
}

static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, bool ca,
                       const char *san, long not_before_offset, long days)
{
        X509 *c = X509_new();
        X509_NAME *name = X509_NAME_new();

        assert_non_null(c);
        X509_set_version(c, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(c), (long)(random() & 0x7fffffff));
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
        X509_set_subject_name(c, name);
        X509_set_issuer_name(c, issuer ? X509_get_subject_name(issuer) : name);
        X509_NAME_free(name);
        X509_gmtime_adj(X509_getm_notBefore(c), not_before_offset);
        X509_gmtime_adj(X509_getm_notAfter(c), not_before_offset + days * 86400);
        X509_set_pubkey(c, key);
        add_ext(c, issuer ?: c, NID_subject_key_identifier, "hash");
        add_ext(c, issuer ?: c, NID_authority_key_identifier, "keyid:always");
        if (ca) {
                add_ext(c, issuer ?: c, NID_basic_constraints, "critical,CA:TRUE");
                add_ext(c, issuer ?: c, NID_key_usage, "critical,keyCertSign,cRLSign");
        } else {
                add_ext(c, issuer ?: c, NID_basic_constraints, "critical,CA:FALSE");
                add_ext(c, issuer ?: c, NID_key_usage, "critical,digitalSignature");
        }
        if (san)
                add_ext(c, issuer ?: c, NID_subject_alt_name, san);
        assert_true(X509_sign(c, issuer_key, EVP_sha256()) > 0);
        return c;
}

static char *cert_b64(X509 *c)
{
        unsigned char *der = NULL;
        int n = i2d_X509(c, &der);
        char *s;

        assert_true(n > 0);
        s = b64_encode(der, (size_t)n);
        OPENSSL_free(der);
        return s;
}

struct pki {
        EVP_PKEY *root_key, *leaf_key;
        X509 *root, *leaf;
};

static void pki_done(struct pki *p)
{
        EVP_PKEY_free(p->root_key);
        EVP_PKEY_free(p->leaf_key);
        X509_free(p->root);
        X509_free(p->leaf);
}

static void pki_make(struct pki *p, long leaf_offset)
{
        p->root_key = gen_key("EC", "P-384", 0);
        p->leaf_key = gen_key("RSA", NULL, 2048);
        p->root = make_cert("Test Root", p->root_key, NULL, p->root_key, true, NULL, -86400, 3650);
        p->leaf = make_cert("vault.example", p->leaf_key, p->root, p->root_key, false,
                            "DNS:vault.example,DNS:*.vault.example", leaf_offset, 30);
}

/* A release-style JWS: RS256 by the leaf with x5c [leaf, root]. */
static char *sign_x5c(struct pki *p, bool with_x5t, bool bad_x5t)
{
        _cleanup_(json_object_putp) json_object *hdr = json_object_new_object();
        _cleanup_free_ char *leaf = cert_b64(p->leaf), *root = cert_b64(p->root);
        json_object *x5c = json_object_new_array();
        char *tok = NULL;

        json_object_array_add(x5c, json_object_new_string(leaf));
        json_object_array_add(x5c, json_object_new_string(root));
        json_object_object_add(hdr, "x5c", x5c);
        if (with_x5t) {
                uint8_t md[32];
                unsigned n;

                X509_digest(p->leaf, EVP_sha256(), md, &n);
                if (bad_x5t)
                        md[0] ^= 1;
                assert_int_equal(jose_add_b64url(hdr, "x5t#S256", md, n), 0);
        }
        assert_int_equal(jws_sign("RS256", p->leaf_key, hdr, "{\"response\":{}}", 15, &tok, NULL), 0);
        return tok;
}

static void test_x5c_generated_chain(void **state)
{
        _cleanup_(pki_done) struct pki p = {}, other = {};
        _cleanup_(x509_stack_freep) STACK_OF(X509) *trust = sk_X509_new_null(), *wrong = sk_X509_new_null();
        _cleanup_(x509_stack_freep) STACK_OF(X509) *chain = NULL;
        _cleanup_(jws_freep) struct jws *jws = NULL, *badt = NULL;
        _cleanup_free_ char *tok = NULL, *bad = NULL, *tam = NULL;
        struct cvm_error err = {};
        time_t now = time(NULL);

        pki_make(&p, -3600);
        pki_make(&other, -3600);
        X509_up_ref(p.root);
        sk_X509_push(trust, p.root);
        X509_up_ref(other.root);
        sk_X509_push(wrong, other.root);

        tok = sign_x5c(&p, true, false);
        assert_int_equal(parse(tok, &jws, NULL), 0);
        assert_int_equal(jws_verify_x5c(jws, trust, "myvault.vault.example", now, &chain, &err), 0);
        assert_int_equal(sk_X509_num(chain), 2);
        assert_int_equal(jws_verify_x5c(jws, trust, NULL, now, NULL, NULL), 0);

        assert_int_equal(jws_verify_x5c(jws, trust, "vault.attacker.example", now, NULL, &err),
                         -EKEYREJECTED);
        assert_non_null(strstr(err.message, "is not valid for host vault.attacker.example"));
        cvm_error_clear(&err);
        assert_int_equal(jws_verify_x5c(jws, wrong, NULL, now, NULL, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "x5c chain: "));
        cvm_error_clear(&err);
        assert_int_equal(jws_verify_x5c(jws, trust, NULL, now + 40 * 86400, NULL, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "certificate has expired"));
        assert_int_equal(jws_verify_x5c(jws, trust, NULL, now - 2 * 86400, NULL, NULL), -EKEYREJECTED);
        assert_int_equal(jws_verify_x5c(jws, NULL, NULL, now, NULL, NULL), -EINVAL);

        /* x5t#S256 naming another certificate; payload tampered after signing. */
        bad = sign_x5c(&p, true, true);
        assert_int_equal(parse(bad, &badt, NULL), 0);
        cvm_error_clear(&err);
        assert_int_equal(jws_verify_x5c(badt, trust, NULL, now, NULL, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "x5t#S256"));
        tam = tamper(tok, 1);
        jws_free(jws);
        jws = NULL;
        assert_int_equal(parse(tam, &jws, NULL), 0);
        assert_int_equal(jws_verify_x5c(jws, trust, NULL, now, NULL, NULL), -EKEYREJECTED);

        /* A leaf that is itself a CA-less self-signed certificate, trusted directly (pinned). */
        {
                _cleanup_(x509_stack_freep) STACK_OF(X509) *pin = sk_X509_new_null();
                _cleanup_(jws_freep) struct jws *j = NULL;

                X509_up_ref(p.leaf);
                sk_X509_push(pin, p.leaf);
                assert_int_equal(parse(tok, &j, NULL), 0);
                assert_int_equal(jws_verify_x5c(j, pin, NULL, now, NULL, NULL), 0);
        }

        /* No x5c at all. */
        {
                _cleanup_(json_object_putp) json_object *fx = jose_fixture("rfc7520-4.1.json");
                _cleanup_(jws_freep) struct jws *j = NULL;

                assert_int_equal(parse(fx_str(fx, "compact"), &j, NULL), 0);
                assert_int_equal(jws_verify_x5c(j, trust, NULL, now, NULL, NULL), -EBADMSG);
        }
}

/* ---- real data: Key Vault release response ------------------------------------------------------- */

static char *kv_release_token(void)
{
        _cleanup_free_ char *text = read_vector_text(KV_RELEASE);
        _cleanup_(json_object_putp) json_object *body = NULL;
        json_object *v;
        char *tok;

        assert_int_equal(canonjson_parse(text, strlen(text), "release body", &body, NULL), 0);
        assert_true(json_object_object_get_ex(body, "value", &v));
        tok = strdup(json_object_get_string(v));
        assert_non_null(tok);
        return tok;
}

static STACK_OF(X509) * load_pem_certs(const char *path)
{
        STACK_OF(X509) *s = sk_X509_new_null();
        FILE *f = fopen(path, "re");
        X509 *c;

        assert_non_null(f);
        while ((c = PEM_read_X509(f, NULL, NULL, NULL)))
                sk_X509_push(s, c);
        fclose(f);
        ERR_clear_error();
        assert_true(sk_X509_num(s) > 0);
        return s;
}

static void test_keyvault_release_x5c(void **state)
{
        _cleanup_free_ char *tok = NULL, *tam = NULL;
        _cleanup_(jws_freep) struct jws *jws = NULL, *tj = NULL;
        _cleanup_(x509_stack_freep) STACK_OF(X509) *x5c = NULL, *anchor = sk_X509_new_null(), *chain = NULL;
        _cleanup_(json_object_putp) json_object *claims = NULL;
        struct cvm_error err = {};
        json_object *v, *x5c_json;
        time_t at, later;

        skip_without_vectors();
        tok = kv_release_token();
        assert_int_equal(parse(tok, &jws, &err), 0);
        assert_string_equal(jws->alg, "RS256");
        assert_string_equal(jws->kid, "88EAC2DB6BE4E051B0E05AEAF6CB79E675296121");
        assert_int_equal(jws_payload_json(jws, &claims, NULL), 0);
        assert_int_equal(jwt_claim_lookup(claims, "request.enc", &v), 0);
        assert_string_equal(json_object_get_string(v), "CKM_RSA_AES_KEY_WRAP");
        assert_int_equal(jwt_claim_lookup(claims, "response.key.key.kty", &v), 0);
        assert_string_equal(json_object_get_string(v), "RSA-HSM");
        assert_int_equal(jwt_claim_lookup(claims, "response.key.key.key_hsm", &v), 0);

        assert_int_equal(parse_rfc3339("2022-12-15T12:00:00Z", &at), 0);
        assert_int_equal(parse_rfc3339("2024-06-01T00:00:00Z", &later), 0);

        /* Anchor 1: the DigiCert Global Root G2 copy inside x5c itself (x5c[2]), pinned. */
        assert_true(json_object_object_get_ex(jws->header, "x5c", &x5c_json));
        assert_int_equal(jwk_parse_x5c(x5c_json, "x5c", &x5c, NULL), 0);
        assert_int_equal(sk_X509_num(x5c), 3);
        X509_up_ref(sk_X509_value(x5c, 2));
        sk_X509_push(anchor, sk_X509_value(x5c, 2));
        if (jws_verify_x5c(jws, anchor, KV_HOST, at, &chain, &err) < 0)
                fail_msg("%s", err.message);
        assert_int_equal(sk_X509_num(chain), 3);
        assert_int_equal(jws_verify_x5c(jws, anchor, "vault.azure.net", at, NULL, NULL), 0);
        cvm_error_clear(&err);
        assert_int_equal(jws_verify_x5c(jws, anchor, "example.com", at, NULL, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "not valid for host example.com"));
        cvm_error_clear(&err);
        assert_int_equal(jws_verify_x5c(jws, anchor, KV_HOST, later, NULL, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "certificate has expired"));

        tam = tamper(tok, 1);
        assert_int_equal(parse(tam, &tj, NULL), 0);
        cvm_error_clear(&err);
        assert_int_equal(jws_verify_x5c(tj, anchor, KV_HOST, at, NULL, &err), -EKEYREJECTED);
        assert_non_null(strstr(err.message, "does not verify"));

        /* Anchor 2: the system's copy of the root, as an operator would use it. */
        if (access(DIGICERT_G2, R_OK) == 0) {
                _cleanup_(x509_stack_freep) STACK_OF(X509) *sys = load_pem_certs(DIGICERT_G2);
                assert_int_equal(jws_verify_x5c(jws, sys, KV_HOST, at, NULL, NULL), 0);
        } else
                printf("note: %s absent (ca-certificates), system-root variant not run\n", DIGICERT_G2);
}

/* ---- real data: MAA tokens ----------------------------------------------------------------------- */

static void test_maa_tokens(void **state)
{
        _cleanup_(json_object_putp) json_object *manifest = NULL;
        json_object *list;
        size_t checked = 0;

        skip_without_vectors();
        manifest = load_manifest();
        assert_true(json_object_object_get_ex(manifest, "maa_jwts", &list));
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *e = json_object_array_get_idx(list, i), *v, *exp_v, *iss_v;
                _cleanup_free_ char *tok = NULL, *tp = NULL, *ts = NULL;
                _cleanup_(jws_freep) struct jws *jws = NULL, *j2 = NULL;
                _cleanup_(json_object_putp) json_object *claims = NULL, *jwks = NULL;
                enum jwt_time_status st;
                struct cvm_error err = {};
                const char *name = fx_str(e, "token");
                char want[160], stamp[21];
                time_t exp;

                tok = read_vector_text(name);
                if (parse(tok, &jws, &err) < 0)
                        fail_msg("%s: %s", name, err.message);
                assert_int_equal(jws_payload_json(jws, &claims, NULL), 0);
                assert_string_equal(jws->alg, "RS256");
                assert_true(json_object_object_get_ex(fx_obj(e, "header"), "kid", &v));
                assert_string_equal(jws->kid, json_object_get_string(v));
                assert_true(json_object_object_get_ex(claims, "iss", &iss_v));
                assert_string_equal(json_object_get_string(iss_v), fx_str(e, "iss"));
                assert_true(json_object_object_get_ex(claims, "exp", &exp_v));
                exp = (time_t)json_object_get_int64(exp_v);
                assert_int_equal(exp, json_object_get_int64(fx_obj(e, "exp")));

                /* Time: valid a minute before exp, expired at the real now. */
                assert_int_equal(jwt_check_time(claims, exp - 60, 0, true, &st, NULL), 0);
                assert_int_equal(st, JWT_TIME_VALID);
                assert_int_equal(jwt_check_time(claims, time(NULL), 60, true, &st, &err), -EKEYEXPIRED);
                assert_int_equal(st, JWT_TIME_EXPIRED);
                format_rfc3339(exp, stamp);
                snprintf(want, sizeof(want), "token expired at %s, now is ", stamp);
                assert_non_null(strstr(err.message, want));

                if (!json_object_object_get_ex(e, "jwks", &v)) {
                        /* midnight-maa-cvm: no public JWKS; its kid is in no set we have. */
                        _cleanup_free_ char *other =
                                read_vector_text("azure-sdk-for-cpp-maa/sharedwus.jwks.json");
                        _cleanup_(json_object_putp) json_object *set = json_tokener_parse(other);
                        assert_int_equal(jws_verify_jwks(jws, set, NULL), -ENOKEY);
                        assert_int_equal(
                                jwt_claim_lookup(claims, "x-ms-isolation-tee.x-ms-attestation-type", &v), 0);
                        assert_string_equal(json_object_get_string(v), "sevsnpvm");
                        assert_int_equal(
                                jwt_claim_lookup(claims, "x-ms-isolation-tee.x-ms-compliance-status", &v),
                                0);
                        assert_string_equal(json_object_get_string(v), "azure-compliant-cvm");
                        continue;
                }
                {
                        _cleanup_free_ char *text = read_vector_text(json_object_get_string(v));
                        assert_int_equal(canonjson_parse(text, strlen(text), "JWKS", &jwks, NULL), 0);
                }
                if (jws_verify_jwks(jws, jwks, &err) < 0)
                        fail_msg("%s: %s", name, err.message);

                tp = tamper(tok, 1);
                assert_int_equal(parse(tp, &j2, NULL), 0);
                assert_int_equal(jws_verify_jwks(j2, jwks, NULL), -EKEYREJECTED);
                jws_free(j2);
                j2 = NULL;
                ts = tamper(tok, 2);
                assert_int_equal(parse(ts, &j2, NULL), 0);
                assert_int_equal(jws_verify_jwks(j2, jwks, NULL), -EKEYREJECTED);
                checked++;
        }
        assert_int_equal(checked, 5);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc7515_a2_rs256),
                cmocka_unit_test(test_rfc7515_a3_es256),
                cmocka_unit_test(test_rfc7515_a4_es512),
                cmocka_unit_test(test_rfc7520_signatures),
                cmocka_unit_test(test_sign_reproduces_rfc),
                cmocka_unit_test(test_refused_algorithms),
                cmocka_unit_test(test_roundtrip_all_algorithms),
                cmocka_unit_test(test_es_wrong_curve_and_length),
                cmocka_unit_test(test_small_rsa_key_refused),
                cmocka_unit_test(test_tampered_rejected),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_unknown_alg),
                cmocka_unit_test(test_payload_json),
                cmocka_unit_test(test_jwks_selection),
                cmocka_unit_test(test_x5c_generated_chain),
                cmocka_unit_test(test_keyvault_release_x5c),
                cmocka_unit_test(test_maa_tokens),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
