/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <json-c/json_tokener.h>

#include "cleanup.h"
#include "hashalg.h"
#include "hcl.h"
#include "jwk.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hcl_report *, hcl_report_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(json_tokener *, json_tokener_free)

#define OFF_IGVM            (HCL_HEADER_SIZE + SNP_REPORT_SIZE) /* 0x4c0 */
#define HCL_AK_RSA_MIN_BITS 1024

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
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
        json_object *jwk = hcl_report_find_key(r, "HCLAkPub");
        int k;

        if (!jwk)
                return cvm_error_set(err, -ENOENT, "the runtime claims hold no \"HCLAkPub\" key");
        k = jwk_to_pkey(jwk, &pkey, err);
        if (k < 0)
                return k;
        /* jwk_to_pkey() takes RSA keys from 512 bits; a vTPM AK is never below 1024. */
        if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA && EVP_PKEY_get_bits(pkey) < HCL_AK_RSA_MIN_BITS)
                return cvm_error_set(err, -EBADMSG,
                                     "HCLAkPub: RSA modulus has %d bits (%d or more accepted)",
                                     EVP_PKEY_get_bits(pkey), HCL_AK_RSA_MIN_BITS);
        *ret = TAKE_PTR(pkey);
        return 0;
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
