/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <json-c/json_tokener.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "cleanup.h"
#include "hashalg.h"
#include "hcl.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hcl_report *, hcl_report_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free)

#define OFF_IGVM (HCL_HEADER_SIZE + SNP_REPORT_SIZE) /* 0x4c0 */

void hcl_report_free(struct hcl_report *r)
{
        if (!r)
                return;
        free(r->var_data);
        json_object_put(r->runtime_claims);
        free(r);
}

static int check_header(const uint8_t *buf, size_t len, struct cvm_error *err)
{
        uint32_t report_type, version;

        if (len < 4 || memcmp(buf, "HCLA", 4) != 0)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x000: no \"HCLA\" signature: not an HCL report");
        if (len < HCL_VAR_DATA_OFFSET)
                return cvm_error_set(err, -EBADMSG,
                                     "HCL report is %zu bytes, shorter than its %d-byte fixed part", len,
                                     HCL_VAR_DATA_OFFSET);
        /* The report type decides how to read the rest, so it is checked before anything else. */
        report_type = le32(buf + OFF_IGVM + 8);
        switch (report_type) {
        case HCL_REPORT_TYPE_SNP:
                break;
        case HCL_REPORT_TYPE_TDX:
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "offset 0x%x: report_type 4 is an Intel TDX report; only AMD SEV-SNP "
                                     "(2) HCL reports are supported",
                                     OFF_IGVM + 8);
        case HCL_REPORT_TYPE_TVM:
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "offset 0x%x: report_type 3 is a TVM report; only AMD SEV-SNP (2) HCL "
                                     "reports are supported",
                                     OFF_IGVM + 8);
        default:
                return cvm_error_set(err, -EOPNOTSUPP, "offset 0x%x: unknown report_type %" PRIu32,
                                     OFF_IGVM + 8, report_type);
        }
        version = le32(buf + 4);
        if (version < 1 || version > 2)
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "offset 0x004: HCL header version %" PRIu32
                                     " is not supported (1 and 2 are)",
                                     version);
        return 0;
}

static const struct hash_alg *hash_for_type(uint32_t type)
{
        switch (type) {
        case HCL_HASH_SHA256:
                return hash_alg_by_tpm_id(TPM_ALG_SHA256);
        case HCL_HASH_SHA384:
                return hash_alg_by_tpm_id(TPM_ALG_SHA384);
        case HCL_HASH_SHA512:
                return hash_alg_by_tpm_id(TPM_ALG_SHA512);
        default:
                return NULL;
        }
}

static int parse_claims(const uint8_t *p, size_t n, json_object **ret, struct cvm_error *err)
{
        _cleanup_(json_tokener_freep) json_tokener *tok = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        const uint8_t *nul = memchr(p, 0, n);
        enum json_tokener_error e;
        size_t end;

        if (n == 0)
                return cvm_error_set(err, -EBADMSG, "offset 0x%x: the runtime claims are empty",
                                     HCL_VAR_DATA_OFFSET);
        if (nul)
                return cvm_error_set(err, -EBADMSG, "offset 0x%zx: NUL byte inside the runtime claims JSON",
                                     HCL_VAR_DATA_OFFSET + (size_t)(nul - p));
        if (n > INT32_MAX)
                return cvm_error_set(err, -EBADMSG, "runtime claims too large");
        tok = json_tokener_new_ex(64);
        if (!tok)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        o = json_tokener_parse_ex(tok, (const char *)p, (int)n);
        e = json_tokener_get_error(tok);
        if (!o || e != json_tokener_success) {
                if (e == json_tokener_continue)
                        return cvm_error_set(err, -EBADMSG,
                                             "offset 0x%zx: the runtime claims JSON is truncated",
                                             HCL_VAR_DATA_OFFSET + n);
                return cvm_error_set(
                        err, -EBADMSG, "offset 0x%zx: the runtime claims are not valid JSON: %s",
                        HCL_VAR_DATA_OFFSET + json_tokener_get_parse_end(tok), json_tokener_error_desc(e));
        }
        for (end = json_tokener_get_parse_end(tok); end < n; end++)
                if (!strchr(" \t\r\n", p[end]))
                        return cvm_error_set(err, -EBADMSG,
                                             "offset 0x%zx: data after the runtime claims JSON",
                                             HCL_VAR_DATA_OFFSET + end);
        if (!json_object_is_type(o, json_type_object))
                return cvm_error_set(err, -EBADMSG, "offset 0x%x: the runtime claims are not a JSON object",
                                     HCL_VAR_DATA_OFFSET);
        *ret = TAKE_PTR(o);
        return 0;
}

int hcl_report_parse(const uint8_t *buf, size_t len, struct hcl_report **ret, struct cvm_error *err)
{
        _cleanup_(hcl_report_freep) struct hcl_report *r = NULL;
        const struct hash_alg *alg;
        struct cvm_error snp_err = {};
        size_t avail;
        int k;

        k = check_header(buf, len, err);
        if (k < 0)
                return k;
        r = calloc(1, sizeof(*r));
        if (!r)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r->file_size = len;
        r->version = le32(buf + 0x04);
        r->report_size = le32(buf + 0x08);
        r->request_type = le32(buf + 0x0c);
        r->status = le32(buf + 0x10);
        r->data_size = le32(buf + OFF_IGVM);
        r->igvm_version = le32(buf + OFF_IGVM + 4);
        r->report_type = le32(buf + OFF_IGVM + 8);
        r->hash_type = le32(buf + OFF_IGVM + 12);
        r->var_data_size = le32(buf + OFF_IGVM + 16);

        if (r->igvm_version != 1)
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "offset 0x%x: IGVM request data version %" PRIu32
                                     " is not supported (1 is)",
                                     OFF_IGVM + 4, r->igvm_version);
        alg = hash_for_type(r->hash_type);
        if (!alg)
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "offset 0x%x: report_data_hash_type %" PRIu32
                                     " is not supported (1 SHA-256, 2 SHA-384, 3 SHA-512)",
                                     OFF_IGVM + 12, r->hash_type);
        avail = len - HCL_VAR_DATA_OFFSET;
        if (r->var_data_size > avail)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x%x: variable_data_size %" PRIu32
                                     " exceeds the %zu bytes left in the file",
                                     OFF_IGVM + 16, r->var_data_size, avail);
        /* 64-bit sums: a hostile size near UINT32_MAX must not wrap around. */
        if ((uint64_t)r->data_size != (uint64_t)HCL_IGVM_HEADER_SIZE + r->var_data_size)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x%x: data_size %" PRIu32
                                     " is not %d + variable_data_size (%" PRIu32 ")",
                                     OFF_IGVM, r->data_size, HCL_IGVM_HEADER_SIZE, r->var_data_size);
        if ((uint64_t)r->report_size != (uint64_t)HCL_VAR_DATA_OFFSET + r->var_data_size)
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x008: report_size %" PRIu32
                                     " is not %d + variable_data_size (%" PRIu32 ")",
                                     r->report_size, HCL_VAR_DATA_OFFSET, r->var_data_size);

        k = snp_report_parse(buf + HCL_HEADER_SIZE, SNP_REPORT_SIZE, &r->snp, &snp_err);
        if (k < 0)
                return cvm_error_set(err, k, "SNP report at offset 0x%x: %s", HCL_HEADER_SIZE,
                                     cvm_error_message(&snp_err, k));

        r->var_data = malloc(r->var_data_size ? r->var_data_size : 1);
        if (!r->var_data)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        memcpy(r->var_data, buf + HCL_VAR_DATA_OFFSET, r->var_data_size);
        k = parse_claims(r->var_data, r->var_data_size, &r->runtime_claims, err);
        if (k < 0)
                return k;

        k = hash_digest(alg, r->var_data, r->var_data_size, r->var_data_hash);
        if (k < 0)
                return cvm_error_set(err, k, "cannot compute %s of the runtime claims", alg->name);
        r->hash_name = alg->name;
        r->var_data_hash_size = alg->size;
        r->runtime_claims_bound = memcmp(r->snp.report_data, r->var_data_hash, alg->size) == 0;
        *ret = TAKE_PTR(r);
        return 0;
}

json_object *hcl_report_runtime_claims(const struct hcl_report *r)
{
        return r->runtime_claims;
}

json_object *hcl_report_find_key(const struct hcl_report *r, const char *kid)
{
        json_object *keys, *k, *id;
        size_t n;

        if (!json_object_object_get_ex(r->runtime_claims, "keys", &keys) ||
            !json_object_is_type(keys, json_type_array))
                return NULL;
        n = json_object_array_length(keys);
        for (size_t i = 0; i < n; i++) {
                k = json_object_array_get_idx(keys, i);
                if (json_object_is_type(k, json_type_object) && json_object_object_get_ex(k, "kid", &id) &&
                    json_object_is_type(id, json_type_string) &&
                    strcmp(json_object_get_string(id), kid) == 0)
                        return k;
        }
        return NULL;
}

int hcl_report_ak_pub(const struct hcl_report *r, EVP_PKEY **ret, struct cvm_error *err)
{
        json_object *jwk = hcl_report_find_key(r, "HCLAkPub");

        if (!jwk)
                return cvm_error_set(err, -ENOENT, "the runtime claims hold no \"HCLAkPub\" key");
        return hcl_jwk_to_pkey(jwk, ret, err);
}

/* ---- JWK import ---------------------------------------------------------------------------------------- */

static int b64url_value(char c)
{
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        return -1;
}

/* Strict base64url (RFC 4648 §5); trailing '=' padding is tolerated. */
static int b64url_decode(const char *s, uint8_t **ret, size_t *ret_size)
{
        size_t len = strlen(s), n = 0;
        _cleanup_free_ uint8_t *out = NULL;
        uint32_t acc = 0;
        int bits = 0;

        while (len > 0 && s[len - 1] == '=')
                len--;
        if (len % 4 == 1)
                return -EBADMSG;
        out = malloc(len * 3 / 4 + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                int v = b64url_value(s[i]);

                if (v < 0)
                        return -EBADMSG;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (uint8_t)(acc >> bits);
                }
        }
        /* Leftover bits must be zero, so each value has exactly one encoding. */
        if (acc & ((1u << bits) - 1))
                return -EBADMSG;
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

static int jwk_member(json_object *jwk, const char *name, uint8_t **ret, size_t *ret_size,
                      struct cvm_error *err)
{
        _cleanup_free_ uint8_t *data = NULL;
        json_object *v;
        size_t size = 0;
        int r;

        if (!json_object_object_get_ex(jwk, name, &v) || !json_object_is_type(v, json_type_string))
                return cvm_error_set(err, -EBADMSG, "JWK member \"%s\" is missing or not a string", name);
        r = b64url_decode(json_object_get_string(v), &data, &size);
        if (r == -ENOMEM)
                return cvm_error_set(err, r, "out of memory");
        if (r < 0 || size == 0)
                return cvm_error_set(err, -EBADMSG, "JWK member \"%s\" is not non-empty base64url", name);
        *ret = TAKE_PTR(data);
        *ret_size = size;
        return 0;
}

static int pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **ret, struct cvm_error *err)
{
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
        EVP_PKEY *pkey = NULL;

        if (!params || !ctx) {
                ERR_clear_error();
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        if (EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
                ERR_clear_error();
                return cvm_error_set(err, -EBADMSG, "the JWK does not describe a valid %s public key", type);
        }
        *ret = pkey;
        return 0;
}

static int jwk_rsa(json_object *jwk, EVP_PKEY **ret, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *n = NULL, *e = NULL;
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(BN_freep) BIGNUM *bn_n = NULL, *bn_e = NULL;
        size_t n_size, e_size;
        int r, bits;

        r = jwk_member(jwk, "n", &n, &n_size, err);
        if (r < 0)
                return r;
        r = jwk_member(jwk, "e", &e, &e_size, err);
        if (r < 0)
                return r;
        bn_n = BN_bin2bn(n, (int)n_size, NULL);
        bn_e = BN_bin2bn(e, (int)e_size, NULL);
        if (!bn_n || !bn_e)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        bits = BN_num_bits(bn_n);
        if (bits < 1024 || bits > 16384)
                return cvm_error_set(err, -EBADMSG, "JWK RSA modulus has %d bits (1024 to 16384 accepted)",
                                     bits);
        if (e_size > 8 || !BN_is_odd(bn_e) || BN_is_one(bn_e))
                return cvm_error_set(err, -EBADMSG,
                                     "JWK RSA exponent is not an odd number above 1 of at most 64 bits");
        bld = OSSL_PARAM_BLD_new();
        if (!bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1) {
                ERR_clear_error();
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        return pkey_from_params("RSA", bld, ret, err);
}

static int jwk_ec(json_object *jwk, EVP_PKEY **ret, struct cvm_error *err)
{
        static const struct {
                const char *jwk;
                const char *ossl;
                size_t size;
        } curves[] = {
                {"P-256", "prime256v1", 32},
                {"P-384", "secp384r1", 48},
                {"P-521", "secp521r1", 66},
        };
        _cleanup_free_ uint8_t *x = NULL, *y = NULL, *point = NULL;
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        json_object *crv;
        size_t x_size, y_size, i;
        int r;

        if (!json_object_object_get_ex(jwk, "crv", &crv) || !json_object_is_type(crv, json_type_string))
                return cvm_error_set(err, -EBADMSG, "JWK member \"crv\" is missing or not a string");
        for (i = 0; i < ELEMENTSOF(curves); i++)
                if (strcmp(json_object_get_string(crv), curves[i].jwk) == 0)
                        break;
        if (i == ELEMENTSOF(curves))
                return cvm_error_set(err, -EOPNOTSUPP, "JWK curve \"%s\" is not supported",
                                     json_object_get_string(crv));
        r = jwk_member(jwk, "x", &x, &x_size, err);
        if (r < 0)
                return r;
        r = jwk_member(jwk, "y", &y, &y_size, err);
        if (r < 0)
                return r;
        if (x_size != curves[i].size || y_size != curves[i].size)
                return cvm_error_set(err, -EBADMSG, "JWK EC coordinates must be %zu bytes for %s",
                                     curves[i].size, curves[i].jwk);
        point = malloc(1 + 2 * curves[i].size);
        if (!point)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        point[0] = 0x04; /* uncompressed */
        memcpy(point + 1, x, x_size);
        memcpy(point + 1 + x_size, y, y_size);
        bld = OSSL_PARAM_BLD_new();
        if (!bld ||
            OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curves[i].ossl, 0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * curves[i].size) !=
                    1) {
                ERR_clear_error();
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        return pkey_from_params("EC", bld, ret, err);
}

int hcl_jwk_to_pkey(json_object *jwk, EVP_PKEY **ret, struct cvm_error *err)
{
        json_object *kty;
        const char *s;

        if (!json_object_is_type(jwk, json_type_object))
                return cvm_error_set(err, -EBADMSG, "the JWK is not a JSON object");
        if (!json_object_object_get_ex(jwk, "kty", &kty) || !json_object_is_type(kty, json_type_string))
                return cvm_error_set(err, -EBADMSG, "JWK member \"kty\" is missing or not a string");
        s = json_object_get_string(kty);
        if (strcmp(s, "RSA") == 0)
                return jwk_rsa(jwk, ret, err);
        if (strcmp(s, "EC") == 0)
                return jwk_ec(jwk, ret, err);
        return cvm_error_set(err, -EOPNOTSUPP, "JWK key type \"%s\" is not supported", s);
}

/* ---- JSON ---------------------------------------------------------------------------------------------- */

static int add(json_object *o, const char *key, json_object *v)
{
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static json_object *hcl_header_to_json(const struct hcl_report *r)
{
        _cleanup_(json_object_putp) json_object *h = json_object_new_object(),
                                                *hdr = json_object_new_object(),
                                                *igvm = json_object_new_object();
        _cleanup_free_ char *hash = hex_encode(r->var_data_hash, r->var_data_hash_size);

        if (!h || !hdr || !igvm || !hash)
                return NULL;
        if (add(hdr, "signature", json_object_new_string("HCLA")) < 0 ||
            add(hdr, "version", json_object_new_int64(r->version)) < 0 ||
            add(hdr, "report_size", json_object_new_int64(r->report_size)) < 0 ||
            add(hdr, "request_type", json_object_new_int64(r->request_type)) < 0 ||
            add(hdr, "status", json_object_new_int64(r->status)) < 0)
                return NULL;
        if (add(igvm, "data_size", json_object_new_int64(r->data_size)) < 0 ||
            add(igvm, "version", json_object_new_int64(r->igvm_version)) < 0 ||
            add(igvm, "report_type", json_object_new_int64(r->report_type)) < 0 ||
            add(igvm, "report_data_hash_type", json_object_new_int64(r->hash_type)) < 0 ||
            add(igvm, "variable_data_size", json_object_new_int64(r->var_data_size)) < 0)
                return NULL;
        if (add(h, "header", TAKE_PTR(hdr)) < 0 || add(h, "igvm_request_data", TAKE_PTR(igvm)) < 0 ||
            add(h, "file_size", json_object_new_int64((int64_t)r->file_size)) < 0 ||
            add(h, "var_data_hash_alg", json_object_new_string(r->hash_name)) < 0 ||
            add(h, "var_data_hash", json_object_new_string(hash)) < 0)
                return NULL;
        return TAKE_PTR(h);
}

int hcl_report_to_json(const struct hcl_report *r, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *claims = NULL;
        int k;

        k = snp_report_to_json(&r->snp, &o);
        if (k < 0)
                return k;
        if (json_object_deep_copy(r->runtime_claims, &claims, NULL) < 0)
                return -ENOMEM;
        if (add(o, "type", json_object_new_string("hcl")) < 0 || add(o, "hcl", hcl_header_to_json(r)) < 0 ||
            add(o, "runtime_claims", claims) < 0 ||
            add(o, "runtime_claims_bound", json_object_new_boolean(r->runtime_claims_bound)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
