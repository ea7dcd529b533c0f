/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "jose.h"

enum sig_kind { SIG_RSA_PKCS1, SIG_RSA_PSS, SIG_ECDSA };

struct sig_alg {
        const char *name;
        enum sig_kind kind;
        const char *md;
        const char *crv;   /* ECDSA: the JWK curve the algorithm is bound to */
        size_t field_size; /* ECDSA: bytes of r and of s */
};

static const struct sig_alg sig_algs[] = {
        {"RS256", SIG_RSA_PKCS1, "SHA256", NULL, 0}, {"RS384", SIG_RSA_PKCS1, "SHA384", NULL, 0},
        {"RS512", SIG_RSA_PKCS1, "SHA512", NULL, 0}, {"PS256", SIG_RSA_PSS, "SHA256", NULL, 0},
        {"PS384", SIG_RSA_PSS, "SHA384", NULL, 0},   {"PS512", SIG_RSA_PSS, "SHA512", NULL, 0},
        {"ES256", SIG_ECDSA, "SHA256", "P-256", 32}, {"ES384", SIG_ECDSA, "SHA384", "P-384", 48},
        {"ES512", SIG_ECDSA, "SHA512", "P-521", 66},
};

DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE *, X509_STORE_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE_CTX *, X509_STORE_CTX_free)

/* Finds @alg, or explains why it is refused or unknown. */
static int lookup_alg(const char *alg, const struct sig_alg **ret, struct cvm_error *err)
{
        for (size_t i = 0; i < ELEMENTSOF(sig_algs); i++)
                if (strcmp(sig_algs[i].name, alg) == 0) {
                        *ret = &sig_algs[i];
                        return 0;
                }
        if (strcmp(alg, "none") == 0)
                return cvm_error_set(err, -EKEYREJECTED,
                                     "JWS \"alg\":\"none\" refused: unsigned tokens are never accepted");
        if (strcmp(alg, "HS256") == 0 || strcmp(alg, "HS384") == 0 || strcmp(alg, "HS512") == 0)
                return cvm_error_set(err, -EKEYREJECTED,
                                     "JWS \"alg\":\"%s\" refused: only public-key signatures are accepted",
                                     alg);
        return cvm_error_set(err, -EOPNOTSUPP, "JWS algorithm \"%s\" is not supported", alg);
}

/* Checks that @key is the kind of key @a needs. */
static int check_key(const struct sig_alg *a, EVP_PKEY *key, struct cvm_error *err)
{
        if (a->kind == SIG_ECDSA) {
                const char *crv;
                size_t fs;

                if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
                        return cvm_error_set(err, -EKEYREJECTED, "JWS %s needs an EC %s key, the key is %s",
                                             a->name, a->crv, EVP_PKEY_get0_type_name(key) ?: "unknown");
                if (jwk_ec_curve(key, &crv, &fs) < 0 || strcmp(crv, a->crv) != 0)
                        return cvm_error_set(err, -EKEYREJECTED,
                                             "JWS %s needs an EC %s key, the key is on another curve",
                                             a->name, a->crv);
                return 0;
        }
        if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA_PSS)
                return cvm_error_set(err, -EKEYREJECTED, "JWS %s needs an RSA key, the key is %s", a->name,
                                     EVP_PKEY_get0_type_name(key) ?: "unknown");
        if (EVP_PKEY_get_bits(key) < JWS_RSA_MIN_BITS)
                return cvm_error_set(err, -EKEYREJECTED,
                                     "JWS %s: RSA key of %d bits is too small (minimum %d)", a->name,
                                     EVP_PKEY_get_bits(key), JWS_RSA_MIN_BITS);
        return 0;
}

static int digest_init(EVP_MD_CTX *ctx, const struct sig_alg *a, EVP_PKEY *key, bool sign)
{
        EVP_PKEY_CTX *pctx = NULL;
        int r;

        r = sign ? EVP_DigestSignInit_ex(ctx, &pctx, a->md, NULL, NULL, key, NULL)
                 : EVP_DigestVerifyInit_ex(ctx, &pctx, a->md, NULL, NULL, key, NULL);
        if (r != 1)
                return -1;
        if (a->kind == SIG_RSA_PSS && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                                       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                                       EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, a->md, NULL) != 1))
                return -1;
        if (a->kind == SIG_RSA_PKCS1 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
                return -1;
        return 0;
}

/* RFC 7518 §3.4: JWS carries r||s; OpenSSL wants a DER ECDSA-Sig-Value. */
static int ecdsa_raw_to_der(const uint8_t *sig, size_t n, size_t field_size, uint8_t **ret, size_t *ret_size)
{
        _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *es = NULL;
        BIGNUM *r = NULL, *s = NULL;
        unsigned char *der = NULL;
        int len;

        if (n != 2 * field_size)
                return -EKEYREJECTED;
        es = ECDSA_SIG_new();
        r = BN_bin2bn(sig, (int)field_size, NULL);
        s = BN_bin2bn(sig + field_size, (int)field_size, NULL);
        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
                BN_free(r);
                BN_free(s);
                return -ENOMEM;
        }
        len = i2d_ECDSA_SIG(es, &der);
        if (len <= 0)
                return -ENOMEM;
        *ret = der;
        *ret_size = (size_t)len;
        return 0;
}

static int ecdsa_der_to_raw(const uint8_t *der, size_t n, size_t field_size, uint8_t **ret, size_t *ret_size)
{
        _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *es = NULL;
        const unsigned char *p = der;
        const BIGNUM *r, *s;
        uint8_t *raw;

        es = d2i_ECDSA_SIG(NULL, &p, (long)n);
        if (!es)
                return -EIO;
        ECDSA_SIG_get0(es, &r, &s);
        raw = malloc(2 * field_size);
        if (!raw)
                return -ENOMEM;
        if (BN_bn2binpad(r, raw, (int)field_size) < 0 ||
            BN_bn2binpad(s, raw + field_size, (int)field_size) < 0) {
                free(raw);
                return -EIO;
        }
        *ret = raw;
        *ret_size = 2 * field_size;
        return 0;
}

int jws_parse(const char *compact, size_t len, struct jws **ret, struct cvm_error *err)
{
        _cleanup_(jws_freep) struct jws *jws = NULL;
        _cleanup_free_ uint8_t *header_raw = NULL;
        const char *dot1, *dot2, *end = compact + len;
        size_t dots = 0, header_size;
        json_object *crit;
        int r;

        if (len > JWS_MAX_SIZE)
                return cvm_error_set(err, -EBADMSG, "JWS of %zu bytes exceeds the limit of %u", len,
                                     JWS_MAX_SIZE);
        for (size_t i = 0; i < len; i++)
                if (compact[i] == '.')
                        dots++;
        if (dots == 4)
                return cvm_error_set(err, -EBADMSG,
                                     "not a JWS: five dot-separated parts make a compact JWE");
        if (dots != 2)
                return cvm_error_set(err, -EBADMSG,
                                     "not a compact JWS: expected 3 dot-separated parts, found %zu",
                                     dots + 1);
        dot1 = memchr(compact, '.', len);
        dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));

        jws = calloc(1, sizeof(*jws));
        if (!jws)
                return cvm_error_set(err, -ENOMEM, "out of memory");

        r = b64url_decode(compact, (size_t)(dot1 - compact), "JWS header", &header_raw, &header_size, err);
        if (r < 0)
                return r;
        r = canonjson_parse((const char *)header_raw, header_size, "JWS header", &jws->header, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(jws->header, json_type_object))
                return cvm_error_set(err, -EBADMSG, "JWS header is not a JSON object");
        if ((r = jose_get_string(jws->header, "alg", "JWS header", true, &jws->alg, err)) < 0 ||
            (r = jose_get_string(jws->header, "kid", "JWS header", false, &jws->kid, err)) < 0)
                return r;
        /* RFC 7515 §4.1.11: extensions we do not implement must make the token unacceptable. */
        if (json_object_object_get_ex(jws->header, "crit", &crit))
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "JWS header lists critical extensions %s, none is supported",
                                     json_object_to_json_string_ext(crit, JSON_C_TO_STRING_PLAIN));
        if (json_object_object_get_ex(jws->header, "b64", NULL))
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "JWS header \"b64\" (RFC 7797 unencoded payload) is not supported");

        r = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), "JWS payload", &jws->payload,
                          &jws->payload_size, err);
        if (r < 0)
                return r;
        r = b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), "JWS signature", &jws->signature,
                          &jws->signature_size, err);
        if (r < 0)
                return r;
        jws->signing_input_len = (size_t)(dot2 - compact);
        jws->signing_input = strndup(compact, jws->signing_input_len);
        if (!jws->signing_input)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(jws);
        return 0;
}

void jws_free(struct jws *jws)
{
        if (!jws)
                return;
        json_object_put(jws->header);
        free(jws->payload);
        free(jws->signature);
        free(jws->signing_input);
        free(jws);
}

int jws_verify(const struct jws *jws, EVP_PKEY *key, struct cvm_error *err)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        _cleanup_free_ uint8_t *der = NULL;
        const uint8_t *sig = jws->signature;
        size_t sig_size = jws->signature_size;
        const struct sig_alg *a;
        int r;

        if ((r = lookup_alg(jws->alg, &a, err)) < 0 || (r = check_key(a, key, err)) < 0)
                return r;

        if (a->kind == SIG_ECDSA) {
                r = ecdsa_raw_to_der(jws->signature, jws->signature_size, a->field_size, &der, &sig_size);
                if (r == -EKEYREJECTED)
                        return cvm_error_set(err, r, "JWS %s signature is %zu bytes, expected %zu (r||s)",
                                             a->name, jws->signature_size, 2 * a->field_size);
                if (r < 0)
                        return cvm_error_set(err, r, "out of memory");
                sig = der;
        } else if (sig_size != (size_t)EVP_PKEY_get_size(key))
                return cvm_error_set(err, -EKEYREJECTED,
                                     "JWS %s signature is %zu bytes, the %d-bit key needs %d", a->name,
                                     sig_size, EVP_PKEY_get_bits(key), EVP_PKEY_get_size(key));

        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (digest_init(ctx, a, key, false) < 0)
                return cvm_error_set(err, -EKEYREJECTED,
                                     "JWS %s: OpenSSL cannot set up verification with this key", a->name);
        if (EVP_DigestVerify(ctx, sig, sig_size, (const unsigned char *)jws->signing_input,
                             jws->signing_input_len) != 1)
                return cvm_error_set(err, -EKEYREJECTED, "JWS %s signature does not verify with the %s key",
                                     a->name, jws->kid ? "selected" : "given");
        return 0;
}

int jws_verify_jwks(const struct jws *jws, json_object *jwks, struct cvm_error *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
        const char *use, *alg;
        json_object *jwk;
        int r;

        if ((r = jwks_find(jwks, jws->kid, &jwk, err)) < 0)
                return r;
        if ((r = jose_get_string(jwk, "use", "JWK", false, &use, err)) < 0 ||
            (r = jose_get_string(jwk, "alg", "JWK", false, &alg, err)) < 0)
                return r;
        if (use && strcmp(use, "sig") != 0)
                return cvm_error_set(err, -EKEYREJECTED,
                                     "JWKS key \"%s\" is for \"use\":\"%s\", not signatures", jws->kid ?: "",
                                     use);
        if (alg && strcmp(alg, jws->alg) != 0)
                return cvm_error_set(err, -EKEYREJECTED,
                                     "JWKS key \"%s\" is for \"alg\":\"%s\", the token uses %s",
                                     jws->kid ?: "", alg, jws->alg);
        if ((r = jwk_to_pkey(jwk, &key, err)) < 0)
                return r;
        return jws_verify(jws, key, err);
}

static int check_x5t(const struct jws *jws, X509 *leaf, const char *member, const EVP_MD *md,
                     struct cvm_error *err)
{
        _cleanup_free_ uint8_t *want = NULL;
        uint8_t have[EVP_MAX_MD_SIZE];
        unsigned have_len;
        size_t want_len;
        int r;

        r = jose_get_b64url(jws->header, member, "JWS header", false, &want, &want_len, err);
        if (r < 0 || !want)
                return r;
        if (X509_digest(leaf, md, have, &have_len) != 1)
                return cvm_error_set(err, -ENOMEM, "cannot hash x5c[0]");
        if (want_len != have_len || memcmp(want, have, have_len) != 0)
                return cvm_error_set(err, -EBADMSG,
                                     "JWS header \"%s\" does not match the x5c[0] certificate", member);
        return 0;
}

/* RFC 2253 form ("CN=vault.azure.net,O=Microsoft Corporation,...") of the subject of @cert. */
static void subject_of(X509 *cert, char *buf, size_t size)
{
        BIO *bio = BIO_new(BIO_s_mem());
        int n;

        snprintf(buf, size, "(unknown)");
        if (!bio)
                return;
        if (cert && X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0 &&
            (n = BIO_read(bio, buf, (int)size - 1)) > 0)
                buf[n] = '\0';
        BIO_free(bio);
}

int jws_verify_x5c(const struct jws *jws, STACK_OF(X509) * trusted, const char *host, time_t now,
                   STACK_OF(X509) * *ret_chain, struct cvm_error *err)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL, *untrusted = NULL;
        _cleanup_(X509_STORE_freep) X509_STORE *store = NULL;
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = NULL;
        X509_VERIFY_PARAM *param;
        json_object *x5c;
        X509 *leaf;
        int r;

        if (!trusted || sk_X509_num(trusted) == 0)
                return cvm_error_set(err, -EINVAL, "no trusted root certificate given");
        if (!json_object_object_get_ex(jws->header, "x5c", &x5c))
                return cvm_error_set(err, -EBADMSG, "JWS header has no \"x5c\" certificate chain");
        if ((r = jwk_parse_x5c(x5c, "JWS header x5c", &certs, err)) < 0)
                return r;
        leaf = sk_X509_value(certs, 0);
        if ((r = check_x5t(jws, leaf, "x5t", EVP_sha1(), err)) < 0 ||
            (r = check_x5t(jws, leaf, "x5t#S256", EVP_sha256(), err)) < 0)
                return r;

        store = X509_STORE_new();
        untrusted = sk_X509_new_null();
        ctx = X509_STORE_CTX_new();
        if (!store || !untrusted || !ctx)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        for (int i = 0; i < sk_X509_num(trusted); i++)
                if (X509_STORE_add_cert(store, sk_X509_value(trusted, i)) != 1)
                        return cvm_error_set(err, -ENOMEM, "cannot add trusted certificate %d", i);
        for (int i = 1; i < sk_X509_num(certs); i++) {
                X509 *c = sk_X509_value(certs, i);

                if (!X509_up_ref(c))
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                if (!sk_X509_push(untrusted, c)) {
                        X509_free(c);
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                }
        }
        if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        param = X509_STORE_CTX_get0_param(ctx);
        X509_VERIFY_PARAM_set_time(param, now);
        /* The caller's anchors need not be self-signed roots (an intermediate may be pinned). */
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT);
        if (host && X509_VERIFY_PARAM_set1_host(param, host, 0) != 1)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (X509_verify_cert(ctx) != 1) {
                char subject[256];
                int e = X509_STORE_CTX_get_error(ctx);

                subject_of(X509_STORE_CTX_get_current_cert(ctx), subject, sizeof(subject));
                if (e == X509_V_ERR_HOSTNAME_MISMATCH)
                        return cvm_error_set(err, -EKEYREJECTED,
                                             "x5c chain: x5c[0] (%s) is not valid for host %s", subject,
                                             host);
                return cvm_error_set(err, -EKEYREJECTED, "x5c chain: %s (depth %d: %s)",
                                     X509_verify_cert_error_string(e), X509_STORE_CTX_get_error_depth(ctx),
                                     subject);
        }
        r = jws_verify(jws, X509_get0_pubkey(leaf), err);
        if (r < 0)
                return r;
        if (ret_chain) {
                STACK_OF(X509) *chain = X509_STORE_CTX_get1_chain(ctx);
                if (!chain)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                *ret_chain = chain;
        }
        return 0;
}

int jws_payload_json(const struct jws *jws, json_object **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *obj = NULL;
        int r;

        r = canonjson_parse((const char *)jws->payload, jws->payload_size, "JWS payload", &obj, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(obj, json_type_object))
                return cvm_error_set(err, -EBADMSG, "JWS payload is not a JSON object");
        *ret = TAKE_PTR(obj);
        return 0;
}

int jws_sign(const char *alg, EVP_PKEY *key, json_object *header, const void *payload, size_t payload_size,
             char **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *h = NULL;
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        _cleanup_free_ char *htext = NULL, *hb64 = NULL, *pb64 = NULL, *input = NULL, *sb64 = NULL;
        _cleanup_free_ uint8_t *sig = NULL, *raw = NULL;
        const struct sig_alg *a;
        size_t hlen, sig_size, raw_size, input_len;
        char *out;
        int r;

        if ((r = lookup_alg(alg, &a, err)) < 0 || (r = check_key(a, key, err)) < 0)
                return r;

        h = json_object_new_object();
        if (!h)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (header) {
                if (!json_object_is_type(header, json_type_object))
                        return cvm_error_set(err, -EINVAL, "JWS header to sign is not an object");
                json_object_object_foreach (header, k, v) {
                        if (strcmp(k, "alg") == 0)
                                continue;
                        if (json_object_object_add(h, k, json_object_get(v)) < 0)
                                return cvm_error_set(err, -ENOMEM, "out of memory");
                }
        }
        if (jose_add_string(h, "alg", alg) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if ((r = canonjson_serialize(h, &htext, &hlen, err)) < 0)
                return r;
        hb64 = b64url_encode(htext, hlen);
        pb64 = b64url_encode(payload, payload_size);
        if (!hb64 || !pb64 || asprintf(&input, "%s.%s", hb64, pb64) < 0) {
                input = NULL;
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        input_len = strlen(input);

        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (digest_init(ctx, a, key, true) < 0 ||
            EVP_DigestSign(ctx, NULL, &sig_size, (const unsigned char *)input, input_len) != 1)
                return cvm_error_set(err, -EKEYREJECTED,
                                     "JWS %s: cannot sign with this key (is it private?)", a->name);
        sig = malloc(sig_size);
        if (!sig)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (EVP_DigestSign(ctx, sig, &sig_size, (const unsigned char *)input, input_len) != 1)
                return cvm_error_set(err, -EKEYREJECTED, "JWS %s: signing failed", a->name);
        if (a->kind == SIG_ECDSA) {
                if (ecdsa_der_to_raw(sig, sig_size, a->field_size, &raw, &raw_size) < 0)
                        return cvm_error_set(err, -ENOMEM, "JWS %s: cannot convert the signature", a->name);
                sb64 = b64url_encode(raw, raw_size);
        } else
                sb64 = b64url_encode(sig, sig_size);
        if (!sb64 || asprintf(&out, "%s.%s", input, sb64) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        *ret = out;
        return 0;
}
