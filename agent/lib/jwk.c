/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

#include "cleanup.h"
#include "jose.h"

struct curve {
        const char *jwk_name;
        const char *ossl_name;
        size_t field_size;
};

static const struct curve curves[] = {
        {"P-256", "prime256v1", 32},
        {"P-384", "secp384r1", 48},
        {"P-521", "secp521r1", 66},
};

static const struct curve *curve_by_jwk_name(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(curves); i++)
                if (strcmp(curves[i].jwk_name, name) == 0)
                        return &curves[i];
        return NULL;
}

static void bn_clear_freep(BIGNUM **b)
{
        if (*b)
                BN_clear_free(*b);
}
static void bn_array_clear_free(BIGNUM *(*a)[5])
{
        for (size_t i = 0; i < 5; i++)
                BN_clear_free((*a)[i]);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free)

int jwk_ec_curve(EVP_PKEY *pkey, const char **ret_crv, size_t *ret_field_size)
{
        char group[64];

        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
                return -EOPNOTSUPP;
        if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL))
                return -EOPNOTSUPP;
        for (size_t i = 0; i < ELEMENTSOF(curves); i++)
                if (strcmp(curves[i].ossl_name, group) == 0) {
                        *ret_crv = curves[i].jwk_name;
                        *ret_field_size = curves[i].field_size;
                        return 0;
                }
        return -EOPNOTSUPP;
}

int jwk_parse_x5c(json_object *x5c, const char *what, STACK_OF(X509) * *ret, struct cvm_error *err)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        size_t n;

        if (!json_object_is_type(x5c, json_type_array))
                return cvm_error_set(err, -EBADMSG, "%s is not an array", what);
        n = json_object_array_length(x5c);
        if (n == 0)
                return cvm_error_set(err, -EBADMSG, "%s is empty", what);
        if (n > JWK_X5C_MAX_CERTS)
                return cvm_error_set(err, -EBADMSG, "%s holds %zu certificates, more than %d", what, n,
                                     JWK_X5C_MAX_CERTS);
        certs = sk_X509_new_null();
        if (!certs)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(x5c, i);
                _cleanup_free_ uint8_t *der = NULL;
                const unsigned char *p;
                char field[160];
                size_t der_size;
                X509 *cert;
                int r;

                snprintf(field, sizeof(field), "%s[%zu]", what, i);
                if (!json_object_is_type(e, json_type_string))
                        return cvm_error_set(err, -EBADMSG, "%s is not a string", field);
                /* RFC 7517 §4.7: standard base64 with padding, not base64url. */
                r = b64_decode(json_object_get_string(e), (size_t)json_object_get_string_len(e), field, &der,
                               &der_size, err);
                if (r < 0)
                        return r;
                if (der_size > LONG_MAX)
                        return cvm_error_set(err, -EBADMSG, "%s is too large", field);
                p = der;
                cert = d2i_X509(NULL, &p, (long)der_size);
                if (!cert)
                        return cvm_error_set(err, -EBADMSG, "%s is not a DER X.509 certificate", field);
                if (p != der + der_size) {
                        X509_free(cert);
                        return cvm_error_set(err, -EBADMSG,
                                             "%s has %zu bytes of trailing data after the certificate",
                                             field, (size_t)(der + der_size - p));
                }
                if (!sk_X509_push(certs, cert)) {
                        X509_free(cert);
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                }
        }
        *ret = TAKE_PTR(certs);
        return 0;
}

/* Decodes a base64url big-endian integer member into a BIGNUM. */
static int get_bn(json_object *jwk, const char *name, bool required, bool secret, size_t max_bytes,
                  BIGNUM **ret, struct cvm_error *err)
{
        uint8_t *raw = NULL;
        size_t n = 0;
        BIGNUM *bn;
        int r;

        r = jose_get_b64url(jwk, name, "JWK", required, &raw, &n, err);
        if (r < 0)
                return r;
        if (!raw) {
                *ret = NULL;
                return 0;
        }
        if (n == 0 || n > max_bytes) {
                erase_and_free(raw, n);
                return cvm_error_set(err, -EBADMSG, "JWK member \"%s\" has %zu bytes (expected 1..%zu)",
                                     name, n, max_bytes);
        }
        bn = secret ? BN_secure_new() : BN_new();
        if (bn && !BN_bin2bn(raw, (int)n, bn)) {
                BN_free(bn);
                bn = NULL;
        }
        if (secret)
                erase_and_free(raw, n);
        else
                free(raw);
        if (!bn)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (secret)
                BN_set_flags(bn, BN_FLG_CONSTTIME);
        *ret = bn;
        return 0;
}

static int build_pkey(const char *type, int selection, OSSL_PARAM_BLD *bld, EVP_PKEY **ret,
                      struct cvm_error *err)
{
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        EVP_PKEY *pkey = NULL;

        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
        if (!params || !ctx)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        /* The caller names the problem: no message here. */
        if (EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pkey, selection, params) <= 0)
                return -EBADMSG;
        *ret = pkey;
        return 0;
}

static int rsa_from_jwk(json_object *jwk, EVP_PKEY **ret, struct cvm_error *err)
{
        static const char *const crt_names[] = {"p", "q", "dp", "dq", "qi"};
        static const char *const crt_params[] = {
                OSSL_PKEY_PARAM_RSA_FACTOR1,      OSSL_PKEY_PARAM_RSA_FACTOR2,
                OSSL_PKEY_PARAM_RSA_EXPONENT1,    OSSL_PKEY_PARAM_RSA_EXPONENT2,
                OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
        };
        const size_t max = JWK_RSA_MAX_BITS / 8;
        _cleanup_(bn_clear_freep) BIGNUM *n = NULL, *e = NULL, *d = NULL;
        _cleanup_(bn_array_clear_free) BIGNUM *crt[5] = {};
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        size_t n_crt = 0;
        int r;

        if ((r = get_bn(jwk, "n", true, false, max, &n, err)) < 0 ||
            (r = get_bn(jwk, "e", true, false, 8, &e, err)) < 0 ||
            (r = get_bn(jwk, "d", false, true, max, &d, err)) < 0)
                return r;
        if (!BN_is_odd(n) || BN_num_bits(n) < 512)
                return cvm_error_set(err, -EBADMSG, "JWK: RSA modulus of %d bits is not a valid modulus",
                                     BN_num_bits(n));
        if (!BN_is_odd(e) || BN_is_one(e))
                return cvm_error_set(err, -EBADMSG,
                                     "JWK: RSA public exponent is not odd and greater than 1");
        if (d)
                for (size_t i = 0; i < ELEMENTSOF(crt); i++) {
                        if ((r = get_bn(jwk, crt_names[i], false, true, max, &crt[i], err)) < 0)
                                return r;
                        if (crt[i])
                                n_crt++;
                }
        if (n_crt != 0 && n_crt != ELEMENTSOF(crt))
                return cvm_error_set(err, -EBADMSG,
                                     "JWK: RSA private key has %zu of the 5 CRT members p, q, dp, dq, qi",
                                     n_crt);

        bld = OSSL_PARAM_BLD_new();
        if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
            !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
            (d && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d)))
                return cvm_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n_crt; i++)
                if (!OSSL_PARAM_BLD_push_BN(bld, crt_params[i], crt[i]))
                        return cvm_error_set(err, -ENOMEM, "out of memory");
        r = build_pkey("RSA", d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, &pkey, err);
        if (r < 0)
                return cvm_error_set(err, r, "JWK: OpenSSL rejects the RSA key parameters");
        if (n_crt) {
                _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx =
                        EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

                if (!ctx)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                if (EVP_PKEY_pairwise_check(ctx) != 1)
                        return cvm_error_set(err, -EBADMSG,
                                             "JWK: RSA private members do not match the public key");
        }
        *ret = TAKE_PTR(pkey);
        return 0;
}

static int ec_from_jwk(json_object *jwk, EVP_PKEY **ret, struct cvm_error *err)
{
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(bn_clear_freep) BIGNUM *d = NULL;
        _cleanup_free_ uint8_t *x = NULL, *y = NULL, *point = NULL;
        uint8_t *draw = NULL;
        size_t xn, yn, dn = 0;
        const struct curve *c;
        const char *crv;
        int r;

        if ((r = jose_get_string(jwk, "crv", "JWK", true, &crv, err)) < 0)
                return r;
        c = curve_by_jwk_name(crv);
        if (!c)
                return cvm_error_set(err, -EOPNOTSUPP, "JWK: unsupported EC curve \"%s\"", crv);
        if ((r = jose_get_b64url(jwk, "x", "JWK", true, &x, &xn, err)) < 0 ||
            (r = jose_get_b64url(jwk, "y", "JWK", true, &y, &yn, err)) < 0)
                return r;
        /* RFC 7518 §6.2.1.2: coordinates are exactly the field size, leading zeros included. */
        if (xn != c->field_size || yn != c->field_size)
                return cvm_error_set(err, -EBADMSG,
                                     "JWK: %s coordinates must be %zu bytes, got x %zu and y %zu", crv,
                                     c->field_size, xn, yn);
        if ((r = jose_get_b64url(jwk, "d", "JWK", false, &draw, &dn, err)) < 0)
                return r;
        if (draw) {
                if (dn != c->field_size) {
                        erase_and_free(draw, dn);
                        return cvm_error_set(err, -EBADMSG,
                                             "JWK: %s private key \"d\" must be %zu bytes, got %zu", crv,
                                             c->field_size, dn);
                }
                d = BN_secure_new();
                if (d && !BN_bin2bn(draw, (int)dn, d)) {
                        BN_free(d);
                        d = NULL;
                }
                erase_and_free(draw, dn);
                if (!d)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
        }

        point = malloc(1 + 2 * c->field_size);
        if (!point)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        point[0] = 0x04; /* uncompressed SEC1 point */
        memcpy(point + 1, x, xn);
        memcpy(point + 1 + xn, y, yn);

        bld = OSSL_PARAM_BLD_new();
        if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->ossl_name, 0) ||
            !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * c->field_size) ||
            (d && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r = build_pkey("EC", d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, &pkey, err);
        if (r < 0)
                return cvm_error_set(err, -EBADMSG, "JWK: the %s point (x, y) is not on the curve", crv);
        if (d) {
                _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx =
                        EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

                if (!ctx)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                if (EVP_PKEY_pairwise_check(ctx) != 1)
                        return cvm_error_set(err, -EBADMSG,
                                             "JWK: EC private key \"d\" does not match x and y");
        }
        *ret = TAKE_PTR(pkey);
        return 0;
}

int jwk_to_pkey(json_object *jwk, EVP_PKEY **ret, struct cvm_error *err)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        EVP_PKEY *cert_key = NULL;
        json_object *x5c;
        const char *kty;
        bool has_members;
        int r, want_id;

        if ((r = jose_get_string(jwk, "kty", "JWK", true, &kty, err)) < 0)
                return r;
        if (strcmp(kty, "RSA") == 0) {
                want_id = EVP_PKEY_RSA;
                has_members = json_object_object_get_ex(jwk, "n", NULL) ||
                              json_object_object_get_ex(jwk, "e", NULL);
        } else if (strcmp(kty, "EC") == 0) {
                want_id = EVP_PKEY_EC;
                has_members = json_object_object_get_ex(jwk, "x", NULL) ||
                              json_object_object_get_ex(jwk, "y", NULL);
        } else if (strcmp(kty, "oct") == 0)
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "JWK: \"kty\":\"oct\" is a secret key, not a public-key pair");
        else
                return cvm_error_set(err, -EOPNOTSUPP, "JWK: unsupported key type \"%s\"", kty);

        if (json_object_object_get_ex(jwk, "x5c", &x5c)) {
                r = jwk_parse_x5c(x5c, "JWK x5c", &certs, err);
                if (r < 0)
                        return r;
                cert_key = X509_get0_pubkey(sk_X509_value(certs, 0));
                if (!cert_key)
                        return cvm_error_set(err, -EBADMSG,
                                             "JWK x5c[0]: cannot decode the certificate's public key");
                if (EVP_PKEY_get_base_id(cert_key) != want_id)
                        return cvm_error_set(err, -EBADMSG, "JWK x5c[0]: certificate key is not of type %s",
                                             kty);
        } else if (!has_members)
                return cvm_error_set(err, -EBADMSG, "JWK of type %s has neither key members nor x5c", kty);

        if (has_members || json_object_object_get_ex(jwk, "d", NULL)) {
                r = want_id == EVP_PKEY_RSA ? rsa_from_jwk(jwk, &pkey, err) : ec_from_jwk(jwk, &pkey, err);
                if (r < 0)
                        return r;
                if (cert_key && EVP_PKEY_eq(pkey, cert_key) != 1)
                        return cvm_error_set(err, -EBADMSG,
                                             "JWK: key members do not match the x5c[0] certificate key");
        } else {
                if (!EVP_PKEY_up_ref(cert_key))
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                pkey = cert_key;
        }
        if (want_id == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) > JWK_RSA_MAX_BITS)
                return cvm_error_set(err, -EBADMSG, "JWK: RSA key of %d bits exceeds %d",
                                     EVP_PKEY_get_bits(pkey), JWK_RSA_MAX_BITS);
        *ret = TAKE_PTR(pkey);
        return 0;
}

int jwk_oct_key(json_object *jwk, struct secret_buf *ret, struct cvm_error *err)
{
        const char *kty;
        uint8_t *k;
        size_t n;
        int r;

        if ((r = jose_get_string(jwk, "kty", "JWK", true, &kty, err)) < 0)
                return r;
        if (strcmp(kty, "oct") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "JWK: expected \"kty\":\"oct\", got \"%s\"", kty);
        if ((r = jose_get_b64url(jwk, "k", "JWK", true, &k, &n, err)) < 0)
                return r;
        if (n == 0) {
                free(k);
                return cvm_error_set(err, -EBADMSG, "JWK: oct key \"k\" is empty");
        }
        ret->data = k;
        ret->size = n;
        return 0;
}

/* Adds member @name = base64url of the BIGNUM parameter @param of @pkey, left-padded to @pad bytes
   (0: minimal length). */
static int add_bn_param(json_object *obj, EVP_PKEY *pkey, const char *param, const char *name, size_t pad,
                        bool required)
{
        _cleanup_(bn_clear_freep) BIGNUM *bn = NULL;
        uint8_t *buf;
        size_t n;
        int r;

        if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
                return required ? -EOPNOTSUPP : 0;
        n = pad ? pad : (size_t)BN_num_bytes(bn);
        if (n == 0)
                n = 1;
        buf = malloc(n);
        if (!buf)
                return -ENOMEM;
        if (BN_bn2binpad(bn, buf, (int)n) < 0) {
                erase_and_free(buf, n);
                return -EOPNOTSUPP;
        }
        r = jose_add_b64url(obj, name, buf, n);
        erase_and_free(buf, n);
        return r;
}

int jwk_from_pkey(EVP_PKEY *pkey, unsigned flags, json_object **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *jwk = NULL;
        bool private = flags & JWK_EXPORT_PRIVATE;
        int r;

        jwk = json_object_new_object();
        if (!jwk)
                return cvm_error_set(err, -ENOMEM, "out of memory");

        switch (EVP_PKEY_get_base_id(pkey)) {
        case EVP_PKEY_RSA:
                if ((r = jose_add_string(jwk, "kty", "RSA")) < 0 ||
                    (r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_RSA_N, "n", 0, true)) < 0 ||
                    (r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_RSA_E, "e", 0, true)) < 0)
                        goto fail;
                if (private) {
                        if ((r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_RSA_D, "d", 0, true)) < 0) {
                                if (r == -EOPNOTSUPP)
                                        return cvm_error_set(err, -EINVAL,
                                                             "JWK export: the RSA key has no private part");
                                goto fail;
                        }
                        if ((r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, "p", 0, false)) < 0 ||
                            (r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, "q", 0, false)) < 0 ||
                            (r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, "dp", 0, false)) <
                                    0 ||
                            (r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2, "dq", 0, false)) <
                                    0 ||
                            (r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, "qi", 0, false)) <
                                    0)
                                goto fail;
                }
                break;
        case EVP_PKEY_EC: {
                const char *crv;
                size_t fs;

                if (jwk_ec_curve(pkey, &crv, &fs) < 0)
                        return cvm_error_set(err, -EOPNOTSUPP, "JWK export: unsupported EC curve");
                if ((r = jose_add_string(jwk, "kty", "EC")) < 0 ||
                    (r = jose_add_string(jwk, "crv", crv)) < 0 ||
                    (r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_EC_PUB_X, "x", fs, true)) < 0 ||
                    (r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_EC_PUB_Y, "y", fs, true)) < 0)
                        goto fail;
                if (private && (r = add_bn_param(jwk, pkey, OSSL_PKEY_PARAM_PRIV_KEY, "d", fs, true)) < 0) {
                        if (r == -EOPNOTSUPP)
                                return cvm_error_set(err, -EINVAL,
                                                     "JWK export: the EC key has no private part");
                        goto fail;
                }
                break;
        }
        default:
                return cvm_error_set(err, -EOPNOTSUPP, "JWK export: unsupported key type %s",
                                     EVP_PKEY_get0_type_name(pkey) ?: "unknown");
        }
        *ret = TAKE_PTR(jwk);
        return 0;
fail:
        if (r == -ENOMEM)
                return cvm_error_set(err, r, "out of memory");
        return cvm_error_set(err, r, "JWK export: cannot read the key parameters");
}

static int copy_member(json_object *dst, json_object *src, const char *name, struct cvm_error *err)
{
        const char *s;
        int r;

        if ((r = jose_get_string(src, name, "JWK", true, &s, err)) < 0)
                return r;
        if (jose_add_string(dst, name, s) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

int jwk_thumbprint(json_object *jwk, const EVP_MD *md, uint8_t *out, unsigned *ret_len,
                   struct cvm_error *err)
{
        static const char *const rsa[] = {"e", "kty", "n", NULL};
        static const char *const ec[] = {"crv", "kty", "x", "y", NULL};
        static const char *const oct[] = {"k", "kty", NULL};
        _cleanup_(json_object_putp) json_object *req = NULL;
        _cleanup_free_ char *text = NULL;
        const char *const *names;
        const char *kty;
        size_t len;
        int r;

        if ((r = jose_get_string(jwk, "kty", "JWK", true, &kty, err)) < 0)
                return r;
        if (strcmp(kty, "RSA") == 0)
                names = rsa;
        else if (strcmp(kty, "EC") == 0)
                names = ec;
        else if (strcmp(kty, "oct") == 0)
                names = oct;
        else
                return cvm_error_set(err, -EOPNOTSUPP, "JWK thumbprint: unsupported key type \"%s\"", kty);

        /* RFC 7638 §3.2: exactly the required members, which JCS orders and formats for us. */
        req = json_object_new_object();
        if (!req)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; names[i]; i++)
                if ((r = copy_member(req, jwk, names[i], err)) < 0)
                        return r;
        if ((r = canonjson_serialize(req, &text, &len, err)) < 0)
                return r;
        if (EVP_Digest(text, len, out, ret_len, md, NULL) != 1)
                return cvm_error_set(err, -ENOMEM, "JWK thumbprint: digest failed");
        return 0;
}

int jwk_thumbprint_b64url(json_object *jwk, char **ret, struct cvm_error *err)
{
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned n;
        char *s;
        int r;

        r = jwk_thumbprint(jwk, EVP_sha256(), md, &n, err);
        if (r < 0)
                return r;
        s = b64url_encode(md, n);
        if (!s)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        *ret = s;
        return 0;
}

int jwks_find(json_object *jwks, const char *kid, json_object **ret, struct cvm_error *err)
{
        json_object *keys, *found = NULL;
        size_t n;

        if (!json_object_is_type(jwks, json_type_object) ||
            !json_object_object_get_ex(jwks, "keys", &keys) || !json_object_is_type(keys, json_type_array))
                return cvm_error_set(err, -EBADMSG, "JWKS is not an object with a \"keys\" array");
        n = json_object_array_length(keys);
        if (!kid) {
                if (n != 1)
                        return cvm_error_set(err, -ENOKEY,
                                             "the token names no \"kid\" and the JWKS holds %zu keys", n);
                *ret = json_object_array_get_idx(keys, 0);
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                json_object *k = json_object_array_get_idx(keys, i), *v;

                if (!json_object_is_type(k, json_type_object))
                        return cvm_error_set(err, -EBADMSG, "JWKS keys[%zu] is not an object", i);
                if (!json_object_object_get_ex(k, "kid", &v) || !json_object_is_type(v, json_type_string) ||
                    strcmp(json_object_get_string(v), kid) != 0)
                        continue;
                if (found)
                        return cvm_error_set(err, -EBADMSG, "JWKS holds more than one key with kid \"%s\"",
                                             kid);
                found = k;
        }
        if (!found)
                return cvm_error_set(err, -ENOKEY, "no key with kid \"%s\" in the JWKS (%zu keys)", kid, n);
        *ret = found;
        return 0;
}
