/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "canonjson.h"
#include "cleanup.h"
#include "hashalg.h"
#include "jwk.h"
#include "tpmkey.h"
#include "tpmwire.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_DECODER_CTX *, OSSL_DECODER_CTX_free)

#define RSA_MIN_BITS 1024
#define RSA_MAX_BITS (TPMKEY_MAX_RSA_BYTES * 8)

/* Azure convention: in the HCL runtime data, the JWK with this kid is the vTPM AK. */
#define HCL_AK_KID "HCLAkPub"

struct curve {
        uint16_t tpm_id;
        const char *jwk_name;   /* "P-256" */
        const char *ossl_name;  /* group name OpenSSL reports */
        const char *short_name; /* for tpmkey_describe() */
        size_t field_size;      /* coordinate size in bytes */
};

static const struct curve curves[] = {
        {TPM_ECC_NIST_P256, "P-256", "prime256v1", "ec-p256", 32},
        {TPM_ECC_NIST_P384, "P-384", "secp384r1", "ec-p384", 48},
        {TPM_ECC_NIST_P521, "P-521", "secp521r1", "ec-p521", 66},
};

static const struct curve *curve_by_tpm_id(uint16_t id)
{
        for (size_t i = 0; i < ELEMENTSOF(curves); i++)
                if (curves[i].tpm_id == id)
                        return &curves[i];
        return NULL;
}

static const struct curve *curve_by_name(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(curves); i++)
                if (strcmp(curves[i].jwk_name, name) == 0 || strcmp(curves[i].ossl_name, name) == 0)
                        return &curves[i];
        return NULL;
}

/* The curve of an EC key, or NULL when it is not one we support. */
static const struct curve *pkey_curve(EVP_PKEY *pkey)
{
        char group[64];

        if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC)
                return NULL;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) !=
            1) {
                ERR_clear_error();
                return NULL;
        }
        return curve_by_name(group);
}

const char *tpmkey_format_name(enum tpmkey_format f)
{
        switch (f) {
        case TPMKEY_FORMAT_TPM2B_PUBLIC:
                return "tpm2b_public";
        case TPMKEY_FORMAT_TPMT_PUBLIC:
                return "tpmt_public";
        case TPMKEY_FORMAT_PEM:
                return "pem";
        case TPMKEY_FORMAT_DER:
                return "der";
        case TPMKEY_FORMAT_CERTIFICATE:
                return "certificate";
        case TPMKEY_FORMAT_JWK:
                return "jwk";
        }
        return "unknown";
}

void tpmkey_describe(EVP_PKEY *pkey, char *buf, size_t size)
{
        const struct curve *c;

        if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA)
                (void)snprintf(buf, size, "rsa-%d", EVP_PKEY_get_bits(pkey));
        else if ((c = pkey_curve(pkey)))
                (void)snprintf(buf, size, "%s", c->short_name);
        else
                (void)snprintf(buf, size, "unknown");
}

/*
 * Accept only key types and sizes a TPM AK can have; everything else (Ed25519, DSA, tiny RSA
 * keys, exotic curves) is refused here so verification never runs with a weak or odd key.
 */
static int check_key(EVP_PKEY *pkey, const char *what, struct cvm_error *err)
{
        if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA) {
                int bits = EVP_PKEY_get_bits(pkey);

                if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
                        return cvm_error_set(err, -EOPNOTSUPP,
                                             "%s: RSA key of %d bits is not supported (%d..%d)", what, bits,
                                             RSA_MIN_BITS, RSA_MAX_BITS);
                return 0;
        }
        if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
                if (!pkey_curve(pkey))
                        return cvm_error_set(err, -EOPNOTSUPP,
                                             "%s: EC key on a curve other than P-256, P-384, P-521", what);
                return 0;
        }
        return cvm_error_set(err, -EOPNOTSUPP, "%s: key type %s is not supported (RSA or EC only)", what,
                             OBJ_nid2sn(EVP_PKEY_get_base_id(pkey)));
}

static int pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret, const char *what,
                            struct cvm_error *err)
{
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL, *check = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;

        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
        if (!params || !ctx)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
                ERR_clear_error();
                return cvm_error_set(err, -EBADMSG, "%s: not a valid %s public key", what, type);
        }
        /* For EC this rejects points off the curve and the point at infinity. RSA keys were
         * checked by the caller: OpenSSL's RSA public check runs Miller-Rabin on the modulus,
         * seconds of work for a large hostile key, and adds nothing to signature verification. */
        if (strcmp(type, "EC") != 0) {
                *ret = TAKE_PTR(pkey);
                return 0;
        }
        check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (!check)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (EVP_PKEY_public_check(check) != 1) {
                ERR_clear_error();
                return cvm_error_set(err, -EBADMSG, "%s: %s public key fails the consistency check", what,
                                     type);
        }
        *ret = TAKE_PTR(pkey);
        return 0;
}

/* @n: big-endian modulus; @e: public exponent (the TPM's 0 already mapped to 65537). */
static int rsa_from_parts(const uint8_t *n, size_t n_size, const uint8_t *e, size_t e_size, EVP_PKEY **ret,
                          const char *what, struct cvm_error *err)
{
        _cleanup_(BN_freep) BIGNUM *bn_n = NULL, *bn_e = NULL;
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        int r;

        bn_n = BN_bin2bn(n, (int)n_size, NULL);
        bn_e = BN_bin2bn(e, (int)e_size, NULL);
        if (!bn_n || !bn_e)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (BN_num_bits(bn_n) < RSA_MIN_BITS || BN_num_bits(bn_n) > RSA_MAX_BITS)
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "%s: RSA modulus of %d bits is not supported (%d..%d)", what,
                                     BN_num_bits(bn_n), RSA_MIN_BITS, RSA_MAX_BITS);
        if (!BN_is_odd(bn_n))
                return cvm_error_set(err, -EBADMSG, "%s: RSA modulus is even", what);
        /* An exponent of 1 would make every "signature" verify. */
        if (!BN_is_odd(bn_e) || BN_is_one(bn_e) || BN_num_bits(bn_e) > 64)
                return cvm_error_set(err, -EBADMSG,
                                     "%s: RSA exponent must be odd, greater than 1 and at most 64 bits",
                                     what);
        bld = OSSL_PARAM_BLD_new();
        if (!bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r = pkey_from_params("RSA", bld, &pkey, what, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pkey);
        return 0;
}

/* @x, @y: big-endian coordinates, at most the field size (shorter ones are left-padded). */
static int ec_from_parts(const struct curve *c, const uint8_t *x, size_t x_size, const uint8_t *y,
                         size_t y_size, EVP_PKEY **ret, const char *what, struct cvm_error *err)
{
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        uint8_t point[1 + 2 * TPMKEY_MAX_ECC_BYTES] = {0x04};
        int r;

        if (x_size > c->field_size || y_size > c->field_size)
                return cvm_error_set(err, -EBADMSG,
                                     "%s: %s coordinate of %zu bytes exceeds the field size %zu", what,
                                     x_size > c->field_size ? "x" : "y",
                                     x_size > c->field_size ? x_size : y_size, c->field_size);
        memcpy(point + 1 + c->field_size - x_size, x, x_size);
        memcpy(point + 1 + 2 * c->field_size - y_size, y, y_size);
        bld = OSSL_PARAM_BLD_new();
        if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, c->ossl_name, 0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * c->field_size) !=
                    1)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r = pkey_from_params("EC", bld, &pkey, what, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pkey);
        return 0;
}

/* ---- TPMT_PUBLIC ---------------------------------------------------------------------------- */

static int parse_sym_def_object(struct tpmwire *w)
{
        size_t start = w->off;
        uint16_t alg, bits, mode;
        int r;

        r = tpmwire_u16(w, "symmetric.algorithm", &alg);
        if (r < 0 || alg == TPM_ALG_NULL)
                return r;
        if (alg != TPM_ALG_AES && alg != TPM_ALG_SM4 && alg != TPM_ALG_CAMELLIA)
                return tpmwire_fail(w, start, -EOPNOTSUPP, "symmetric.algorithm",
                                    "unknown symmetric algorithm 0x%04x", alg);
        r = tpmwire_u16(w, "symmetric.keyBits", &bits);
        if (r < 0)
                return r;
        return tpmwire_u16(w, "symmetric.mode", &mode);
}

enum scheme_kind { SCHEME_RSA, SCHEME_ECC, SCHEME_KDF };

/* TPMT_RSA_SCHEME / TPMT_ECC_SCHEME / TPMT_KDF_SCHEME: a selector and, for most, a hash. */
static int parse_scheme(struct tpmwire *w, const char *field, enum scheme_kind kind, uint16_t *ret_scheme,
                        uint16_t *ret_hash)
{
        size_t start = w->off;
        uint16_t scheme, hash = 0, count;
        bool known, has_hash = true;
        int r;

        r = tpmwire_u16(w, field, &scheme);
        if (r < 0)
                return r;
        switch (kind) {
        case SCHEME_RSA:
                known = scheme == TPM_ALG_NULL || scheme == TPM_ALG_RSASSA || scheme == TPM_ALG_RSAPSS ||
                        scheme == TPM_ALG_RSAES || scheme == TPM_ALG_OAEP;
                break;
        case SCHEME_ECC:
                known = scheme == TPM_ALG_NULL || scheme == TPM_ALG_ECDSA || scheme == TPM_ALG_ECDH ||
                        scheme == TPM_ALG_ECDAA || scheme == TPM_ALG_SM2 || scheme == TPM_ALG_ECSCHNORR ||
                        scheme == TPM_ALG_ECMQV;
                break;
        default:
                known = scheme == TPM_ALG_NULL || scheme == TPM_ALG_MGF1 ||
                        scheme == TPM_ALG_KDF1_SP800_56A || scheme == TPM_ALG_KDF2 ||
                        scheme == TPM_ALG_KDF1_SP800_108;
                break;
        }
        if (!known)
                return tpmwire_fail(w, start, -EOPNOTSUPP, field, "unknown scheme 0x%04x", scheme);
        /* Every scheme carries a hash algorithm, except NULL and RSAES (TPMS_EMPTY). */
        if (scheme == TPM_ALG_NULL || scheme == TPM_ALG_RSAES)
                has_hash = false;
        if (has_hash) {
                r = tpmwire_u16(w, "scheme.hashAlg", &hash);
                if (r < 0)
                        return r;
                if (scheme == TPM_ALG_ECDAA) {
                        r = tpmwire_u16(w, "scheme.count", &count);
                        if (r < 0)
                                return r;
                }
        }
        *ret_scheme = scheme;
        *ret_hash = hash;
        return 0;
}

static int parse_tpmt_public(struct tpmwire *w, EVP_PKEY **ret, struct tpmkey_info *info)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        size_t start = w->off, size, n_size, x_size, y_size;
        const uint8_t *p, *n, *x, *y;
        uint16_t type, name_alg, key_bits, curve_id, kdf, kdf_hash;
        uint32_t attrs, exponent;
        const struct curve *c;
        char what[96];
        int r;

        r = tpmwire_u16(w, "type", &type);
        if (r < 0)
                return r;
        if (type != TPM_ALG_RSA && type != TPM_ALG_ECC) {
                const char *name = tpmwire_alg_name(type);

                return tpmwire_fail(w, start, -EOPNOTSUPP, "type",
                                    "object type 0x%04x (%s) is not an RSA or ECC key", type,
                                    name ? name : "unknown");
        }
        r = tpmwire_u16(w, "nameAlg", &name_alg);
        if (r < 0)
                return r;
        r = tpmwire_u32(w, "objectAttributes", &attrs);
        if (r < 0)
                return r;
        r = tpmwire_tpm2b(w, "authPolicy", HASH_MAX_SIZE, &p, &size);
        if (r < 0)
                return r;
        r = parse_sym_def_object(w);
        if (r < 0)
                return r;
        r = parse_scheme(w, "scheme", type == TPM_ALG_ECC ? SCHEME_ECC : SCHEME_RSA, &info->scheme,
                         &info->scheme_hash);
        if (r < 0)
                return r;
        if (type == TPM_ALG_RSA) {
                static const uint8_t default_exponent[] = {0x01, 0x00, 0x01};
                uint8_t e[4];
                size_t unique_off;

                r = tpmwire_u16(w, "keyBits", &key_bits);
                if (r < 0)
                        return r;
                r = tpmwire_u32(w, "exponent", &exponent);
                if (r < 0)
                        return r;
                unique_off = w->off;
                r = tpmwire_tpm2b(w, "unique", TPMKEY_MAX_RSA_BYTES, &n, &n_size);
                if (r < 0)
                        return r;
                if (key_bits % 8 != 0 || n_size != key_bits / 8u)
                        return tpmwire_fail(w, unique_off, -EBADMSG, "unique",
                                            "modulus of %zu bytes does not match keyBits %u", n_size,
                                            key_bits);
                (void)snprintf(what, sizeof(what), "%s at offset 0x%zx (unique)", w->what, unique_off);
                if (exponent == 0)
                        r = rsa_from_parts(n, n_size, default_exponent, sizeof(default_exponent), &pkey,
                                           what, w->err);
                else {
                        e[0] = exponent >> 24, e[1] = exponent >> 16, e[2] = exponent >> 8, e[3] = exponent;
                        r = rsa_from_parts(n, n_size, e, sizeof(e), &pkey, what, w->err);
                }
                if (r < 0)
                        return r;
                info->curve = 0;
        } else {
                size_t curve_off = w->off, unique_off;

                r = tpmwire_u16(w, "curveID", &curve_id);
                if (r < 0)
                        return r;
                c = curve_by_tpm_id(curve_id);
                if (!c)
                        return tpmwire_fail(w, curve_off, -EOPNOTSUPP, "curveID",
                                            "curve 0x%04x is not supported (NIST P-256, P-384, P-521 only)",
                                            curve_id);
                r = parse_scheme(w, "kdf", SCHEME_KDF, &kdf, &kdf_hash);
                if (r < 0)
                        return r;
                unique_off = w->off;
                r = tpmwire_tpm2b(w, "unique.x", TPMKEY_MAX_ECC_BYTES, &x, &x_size);
                if (r < 0)
                        return r;
                r = tpmwire_tpm2b(w, "unique.y", TPMKEY_MAX_ECC_BYTES, &y, &y_size);
                if (r < 0)
                        return r;
                (void)snprintf(what, sizeof(what), "%s at offset 0x%zx (unique)", w->what, unique_off);
                r = ec_from_parts(c, x, x_size, y, y_size, &pkey, what, w->err);
                if (r < 0)
                        return r;
                info->curve = curve_id;
        }
        info->has_tpm_public = true;
        info->type = type;
        info->name_alg = name_alg;
        info->object_attributes = attrs;
        if (tpmkey_name(w->buf + start, w->off - start, name_alg, info->name, &info->name_size) < 0)
                info->name_size = 0;
        *ret = TAKE_PTR(pkey);
        return 0;
}

int tpmkey_from_tpm_public(const uint8_t *buf, size_t len, bool sized, EVP_PKEY **ret,
                           struct tpmkey_info *ret_info, struct cvm_error *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        struct tpmkey_info info = {};
        struct tpmwire w;
        int r;

        if (sized) {
                const uint8_t *inner;
                size_t inner_size;

                tpmwire_init(&w, buf, len, "TPM2B_PUBLIC", err);
                r = tpmwire_tpm2b(&w, "size", UINT16_MAX, &inner, &inner_size);
                if (r < 0)
                        return r;
                r = tpmwire_end(&w);
                if (r < 0)
                        return r;
                /* Offsets inside are reported relative to the file: skip the size here. */
                tpmwire_init(&w, buf, 2 + inner_size, "TPM2B_PUBLIC", err);
                w.off = 2;
                info.format = TPMKEY_FORMAT_TPM2B_PUBLIC;
        } else {
                tpmwire_init(&w, buf, len, "TPMT_PUBLIC", err);
                info.format = TPMKEY_FORMAT_TPMT_PUBLIC;
        }
        r = parse_tpmt_public(&w, &pkey, &info);
        if (r < 0)
                return r;
        r = tpmwire_end(&w);
        if (r < 0)
                return r;
        if (ret_info)
                *ret_info = info;
        *ret = TAKE_PTR(pkey);
        return 0;
}

int tpmkey_name(const uint8_t *tpmt_public, size_t len, uint16_t name_alg, uint8_t *ret_name,
                size_t *ret_size)
{
        const struct hash_alg *h = hash_alg_by_tpm_id(name_alg);
        int r;

        if (!h)
                return -EOPNOTSUPP;
        r = hash_digest(h, tpmt_public, len, ret_name + 2);
        if (r < 0)
                return r;
        ret_name[0] = name_alg >> 8;
        ret_name[1] = name_alg & 0xff;
        *ret_size = 2 + h->size;
        return 0;
}

/* ---- JWK ------------------------------------------------------------------------------------ */

int tpmkey_from_jwk(json_object *jwk, EVP_PKEY **ret, struct cvm_error *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        int r;

        r = jwk_to_pkey(jwk, &pkey, err);
        if (r < 0)
                return r;
        /* The same AK policy as for every other input format. */
        r = check_key(pkey, "JWK", err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pkey);
        return 0;
}

/* A JWK, or a JWK set ({"keys": [...]}, e.g. the Azure HCL runtime data) holding the AK. */
static int jwk_document(json_object *doc, EVP_PKEY **ret, struct tpmkey_info *info, struct cvm_error *err)
{
        json_object *keys, *chosen = NULL, *kid;
        size_t n;

        if (!json_object_is_type(doc, json_type_object))
                return cvm_error_set(err, -EBADMSG, "JSON key: not an object");
        if (!json_object_object_get_ex(doc, "keys", &keys))
                chosen = doc;
        else {
                if (!json_object_is_type(keys, json_type_array))
                        return cvm_error_set(err, -EBADMSG, "JWK set: \"keys\" is not an array");
                n = json_object_array_length(keys);
                for (size_t i = 0; i < n; i++) {
                        json_object *k = json_object_array_get_idx(keys, i);

                        if (json_object_object_get_ex(k, "kid", &kid) &&
                            json_object_is_type(kid, json_type_string) &&
                            strcmp(json_object_get_string(kid), HCL_AK_KID) == 0) {
                                chosen = k;
                                break;
                        }
                }
                if (!chosen && n == 1)
                        chosen = json_object_array_get_idx(keys, 0);
                if (!chosen)
                        return cvm_error_set(err, -EBADMSG,
                                             "JWK set: %zu keys and none has kid \"" HCL_AK_KID "\"", n);
        }
        if (json_object_object_get_ex(chosen, "kid", &kid) && json_object_is_type(kid, json_type_string))
                (void)snprintf(info->kid, sizeof(info->kid), "%s", json_object_get_string(kid));
        return tpmkey_from_jwk(chosen, ret, err);
}

static int parse_json(const uint8_t *buf, size_t len, json_object **ret, struct cvm_error *err)
{
        /* Blank space and the zero padding of an HCL runtime-data area may follow. */
        while (len > 0 && (buf[len - 1] == '\0' || isspace(buf[len - 1])))
                len--;
        return canonjson_parse((const char *)buf, len, "JSON key", ret, err);
}

int tpmkey_to_jwk(EVP_PKEY *pkey, json_object **ret, struct cvm_error *err)
{
        return jwk_from_pkey(pkey, 0, ret, err);
}

/* ---- PEM / DER ------------------------------------------------------------------------------ */

static int decode_pkey(const uint8_t *buf, size_t len, const char *input_type, EVP_PKEY **ret)
{
        _cleanup_(OSSL_DECODER_CTX_freep) OSSL_DECODER_CTX *dctx = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        const unsigned char *p = buf;
        size_t left = len;

        dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, input_type, NULL, NULL, EVP_PKEY_PUBLIC_KEY, NULL, NULL);
        if (!dctx)
                return -ENOMEM;
        if (OSSL_DECODER_from_data(dctx, &p, &left) != 1 || !pkey) {
                ERR_clear_error();
                return -EBADMSG;
        }
        *ret = TAKE_PTR(pkey);
        return 0;
}

static int load_pem(const uint8_t *buf, size_t len, EVP_PKEY **ret, struct tpmkey_info *info,
                    struct cvm_error *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        int r;

        if (len > INT32_MAX)
                return cvm_error_set(err, -EBADMSG, "PEM key: input too large");
        if (memmem(buf, len, "-----BEGIN CERTIFICATE-----", 27)) {
                bio = BIO_new_mem_buf(buf, (int)len);
                if (!bio)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                if (!cert) {
                        ERR_clear_error();
                        return cvm_error_set(err, -EBADMSG, "PEM certificate: cannot be decoded");
                }
                pkey = X509_get_pubkey(cert);
                if (!pkey) {
                        ERR_clear_error();
                        return cvm_error_set(err, -EBADMSG,
                                             "PEM certificate: its public key cannot be decoded");
                }
                info->format = TPMKEY_FORMAT_CERTIFICATE;
        } else {
                r = decode_pkey(buf, len, "PEM", &pkey);
                if (r == -ENOMEM)
                        return cvm_error_set(err, r, "out of memory");
                if (r < 0)
                        return cvm_error_set(
                                err, r, "PEM key: not a valid public key (PUBLIC KEY or RSA PUBLIC KEY)");
                info->format = TPMKEY_FORMAT_PEM;
        }
        r = check_key(pkey, info->format == TPMKEY_FORMAT_PEM ? "PEM key" : "PEM certificate", err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pkey);
        return 0;
}

static int load_der(const uint8_t *buf, size_t len, EVP_PKEY **ret, struct tpmkey_info *info,
                    struct cvm_error *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        const unsigned char *p = buf;
        int r;

        if (len > INT32_MAX)
                return cvm_error_set(err, -EBADMSG, "DER key: input too large");
        /* SubjectPublicKeyInfo and Certificate are both a DER SEQUENCE. */
        if (buf[0] != 0x30)
                return cvm_error_set(err, -EBADMSG,
                                     "unrecognised key format (expected TPM2B_PUBLIC, TPMT_PUBLIC, PEM, "
                                     "DER SubjectPublicKeyInfo, X.509 certificate or JWK)");
        r = decode_pkey(buf, len, "DER", &pkey);
        if (r == -ENOMEM)
                return cvm_error_set(err, r, "out of memory");
        if (r == 0)
                info->format = TPMKEY_FORMAT_DER;
        else {
                cert = d2i_X509(NULL, &p, (long)len);
                if (!cert || p != buf + len) {
                        ERR_clear_error();
                        return cvm_error_set(
                                err, -EBADMSG,
                                "unrecognised key format (expected TPM2B_PUBLIC, TPMT_PUBLIC, PEM, "
                                "DER SubjectPublicKeyInfo, X.509 certificate or JWK)");
                }
                pkey = X509_get_pubkey(cert);
                if (!pkey) {
                        ERR_clear_error();
                        return cvm_error_set(err, -EBADMSG,
                                             "DER certificate: its public key cannot be decoded");
                }
                info->format = TPMKEY_FORMAT_CERTIFICATE;
        }
        r = check_key(pkey, info->format == TPMKEY_FORMAT_DER ? "DER key" : "DER certificate", err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pkey);
        return 0;
}

int tpmkey_load(const uint8_t *buf, size_t len, EVP_PKEY **ret, struct tpmkey_info *ret_info,
                struct cvm_error *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        struct tpmkey_info info = {};
        size_t i = 0;
        int r;

        if (len == 0)
                return cvm_error_set(err, -EBADMSG, "empty key file");
        while (i < len && isspace(buf[i]))
                i++;
        if (len - i >= 10 && memcmp(buf + i, "-----BEGIN", 10) == 0)
                r = load_pem(buf, len, &pkey, &info, err);
        else if (i < len && buf[i] == '{') {
                r = parse_json(buf, len, &doc, err);
                if (r >= 0)
                        r = jwk_document(doc, &pkey, &info, err);
                info.format = TPMKEY_FORMAT_JWK;
        } else if (len >= 2 && be16(buf) == len - 2)
                return tpmkey_from_tpm_public(buf, len, true, ret, ret_info, err);
        else if (len >= 2 && (be16(buf) == TPM_ALG_RSA || be16(buf) == TPM_ALG_ECC))
                return tpmkey_from_tpm_public(buf, len, false, ret, ret_info, err);
        else
                r = load_der(buf, len, &pkey, &info, err);
        if (r < 0)
                return r;
        if (ret_info)
                *ret_info = info;
        *ret = TAKE_PTR(pkey);
        return 0;
}

/* ---- JSON description ----------------------------------------------------------------------- */

static int add_string(json_object *obj, const char *key, const char *value)
{
        json_object *v = json_object_new_string(value);

        if (!v || json_object_object_add(obj, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_alg(json_object *obj, const char *key, uint16_t alg)
{
        const char *name = tpmwire_alg_name(alg);
        char buf[8];

        if (!name) {
                (void)snprintf(buf, sizeof(buf), "0x%04x", alg);
                name = buf;
        }
        return add_string(obj, key, name);
}

int tpmkey_info_to_json(EVP_PKEY *pkey, const struct tpmkey_info *info, json_object **ret,
                        struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *obj = NULL;
        json_object *jwk = NULL;
        char desc[32], hex[16];
        int r;

        obj = json_object_new_object();
        if (!obj)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        tpmkey_describe(pkey, desc, sizeof(desc));
        if (add_string(obj, "format", tpmkey_format_name(info->format)) < 0 ||
            add_string(obj, "key", desc) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (info->kid[0] && add_string(obj, "kid", info->kid) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (info->has_tpm_public) {
                (void)snprintf(hex, sizeof(hex), "0x%08x", info->object_attributes);
                if (add_alg(obj, "name_alg", info->name_alg) < 0 ||
                    add_string(obj, "object_attributes", hex) < 0 ||
                    add_alg(obj, "scheme", info->scheme) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                if (info->scheme != TPM_ALG_NULL && info->scheme_hash &&
                    add_alg(obj, "scheme_hash", info->scheme_hash) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                if (info->name_size > 0) {
                        _cleanup_free_ char *name = hex_encode(info->name, info->name_size);

                        if (!name || add_string(obj, "name", name) < 0)
                                return cvm_error_set(err, -ENOMEM, "out of memory");
                }
        }
        r = tpmkey_to_jwk(pkey, &jwk, err);
        if (r < 0)
                return r;
        if (json_object_object_add(obj, "jwk", jwk) < 0) {
                json_object_put(jwk);
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        *ret = TAKE_PTR(obj);
        return 0;
}
