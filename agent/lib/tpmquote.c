/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "canonjson.h"
#include "cleanup.h"
#include "hashalg.h"
#include "tpmquote.h"
#include "tpmwire.h"
#include "util.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free)

#define PCRS_SEARCH_DEPTH 3
#define PCR_BANKS         8 /* every hash algorithm hashalg.h knows */

/* A check that does not hold: record why, return 0. */
static int reject(struct cvm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int reject(struct cvm_error *err, const char *fmt, ...)
{
        char msg[CVM_ERROR_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        (void)cvm_error_set(err, -EKEYREJECTED, "%s", msg);
        return 0;
}

const char *tpm_check_name(enum tpm_check c)
{
        switch (c) {
        case TPM_CHECK_VALID:
                return "valid";
        case TPM_CHECK_INVALID:
                return "invalid";
        default:
                return "unchecked";
        }
}

const char *tpm_attest_type_name(uint16_t type)
{
        switch (type) {
        case TPM_ST_ATTEST_NV:
                return "nv";
        case TPM_ST_ATTEST_COMMAND_AUDIT:
                return "command_audit";
        case TPM_ST_ATTEST_SESSION_AUDIT:
                return "session_audit";
        case TPM_ST_ATTEST_CERTIFY:
                return "certify";
        case TPM_ST_ATTEST_QUOTE:
                return "quote";
        case TPM_ST_ATTEST_TIME:
                return "time";
        case TPM_ST_ATTEST_CREATION:
                return "creation";
        case TPM_ST_ATTEST_NV_DIGEST:
                return "nv_digest";
        }
        return NULL;
}

const char *tpm_sig_format_name(enum tpm_sig_format f)
{
        switch (f) {
        case TPM_SIG_FORMAT_TPMT:
                return "tpmt";
        case TPM_SIG_FORMAT_RAW:
                return "raw";
        default:
                return "auto";
        }
}

/* ---- TPMS_ATTEST ---------------------------------------------------------------------------- */

/* A TPM2B copied into a fixed array of @max bytes. */
static int read_tpm2b_copy(struct tpmwire *w, const char *field, uint8_t *out, size_t max, size_t *ret_size)
{
        const uint8_t *p = NULL;
        size_t n = 0;
        int r;

        r = tpmwire_tpm2b(w, field, max, &p, &n);
        if (r < 0)
                return r;
        memcpy(out, p, n);
        *ret_size = n;
        return 0;
}

static int parse_quote_info(struct tpmwire *w, struct tpm_attest *a)
{
        size_t start = w->off;
        uint32_t count;
        int r;

        r = tpmwire_u32(w, "pcrSelect.count", &count);
        if (r < 0)
                return r;
        if (count > TPM_MAX_PCR_BANKS)
                return tpmwire_fail(w, start, -EBADMSG, "pcrSelect.count",
                                    "%" PRIu32 " banks exceed the maximum of %d", count, TPM_MAX_PCR_BANKS);
        a->quote.n_selections = count;
        for (uint32_t i = 0; i < count; i++) {
                struct tpm_pcr_selection *s = &a->quote.selections[i];
                size_t off = w->off;
                const uint8_t *bits = NULL;
                char field[48];

                (void)snprintf(field, sizeof(field), "pcrSelect[%" PRIu32 "].hash", i);
                r = tpmwire_u16(w, field, &s->hash_alg);
                if (r < 0)
                        return r;
                if (!hash_alg_by_tpm_id(s->hash_alg))
                        return tpmwire_fail(w, off, -EOPNOTSUPP, field, "unknown hash algorithm 0x%04x",
                                            s->hash_alg);
                off = w->off;
                (void)snprintf(field, sizeof(field), "pcrSelect[%" PRIu32 "].sizeofSelect", i);
                r = tpmwire_u8(w, field, &s->size_of_select);
                if (r < 0)
                        return r;
                if (s->size_of_select > TPM_PCR_SELECT_MAX)
                        return tpmwire_fail(w, off, -EBADMSG, field, "%u bytes exceed the maximum of %d",
                                            s->size_of_select, TPM_PCR_SELECT_MAX);
                (void)snprintf(field, sizeof(field), "pcrSelect[%" PRIu32 "].pcrSelect", i);
                r = tpmwire_bytes(w, field, s->size_of_select, &bits);
                if (r < 0)
                        return r;
                memset(s->select, 0, sizeof(s->select));
                memcpy(s->select, bits, s->size_of_select);
        }
        return read_tpm2b_copy(w, "pcrDigest", a->quote.pcr_digest, HASH_MAX_SIZE,
                               &a->quote.pcr_digest_size);
}

int tpm_attest_parse(const uint8_t *buf, size_t len, struct tpm_attest *ret, struct cvm_error *err)
{
        struct tpm_attest a = {};
        struct tpmwire w;
        uint8_t safe;
        size_t off;
        int r;

        tpmwire_init(&w, buf, len, "TPMS_ATTEST", err);
        r = tpmwire_u32(&w, "magic", &a.magic);
        if (r < 0)
                return r;
        if (a.magic != TPM_GENERATED_VALUE)
                return tpmwire_fail(&w, 0, -EBADMSG, "magic",
                                    "0x%08" PRIx32 " is not TPM_GENERATED_VALUE 0xff544347", a.magic);
        off = w.off;
        r = tpmwire_u16(&w, "type", &a.type);
        if (r < 0)
                return r;
        if (a.type != TPM_ST_ATTEST_QUOTE && a.type != TPM_ST_ATTEST_CERTIFY &&
            a.type != TPM_ST_ATTEST_CREATION) {
                const char *name = tpm_attest_type_name(a.type);

                if (name)
                        return tpmwire_fail(&w, off, -EOPNOTSUPP, "type",
                                            "attestation type 0x%04x (%s) is not supported", a.type, name);
                return tpmwire_fail(&w, off, -EBADMSG, "type", "0x%04x is not a TPM_ST_ATTEST_* type",
                                    a.type);
        }
        r = read_tpm2b_copy(&w, "qualifiedSigner", a.qualified_signer, sizeof(a.qualified_signer),
                            &a.qualified_signer_size);
        if (r < 0)
                return r;
        r = read_tpm2b_copy(&w, "extraData", a.extra_data, sizeof(a.extra_data), &a.extra_data_size);
        if (r < 0)
                return r;
        r = tpmwire_u64(&w, "clockInfo.clock", &a.clock);
        if (r < 0)
                return r;
        r = tpmwire_u32(&w, "clockInfo.resetCount", &a.reset_count);
        if (r < 0)
                return r;
        r = tpmwire_u32(&w, "clockInfo.restartCount", &a.restart_count);
        if (r < 0)
                return r;
        off = w.off;
        r = tpmwire_u8(&w, "clockInfo.safe", &safe);
        if (r < 0)
                return r;
        if (safe > 1)
                return tpmwire_fail(&w, off, -EBADMSG, "clockInfo.safe", "%u is not TPMI_YES_NO (0 or 1)",
                                    safe);
        a.safe = safe;
        r = tpmwire_u64(&w, "firmwareVersion", &a.firmware_version);
        if (r < 0)
                return r;
        switch (a.type) {
        case TPM_ST_ATTEST_QUOTE:
                r = parse_quote_info(&w, &a);
                break;
        case TPM_ST_ATTEST_CERTIFY:
                r = read_tpm2b_copy(&w, "attested.name", a.certify.name, sizeof(a.certify.name),
                                    &a.certify.name_size);
                if (r >= 0)
                        r = read_tpm2b_copy(&w, "attested.qualifiedName", a.certify.qualified_name,
                                            sizeof(a.certify.qualified_name),
                                            &a.certify.qualified_name_size);
                break;
        default: /* TPM_ST_ATTEST_CREATION */
                r = read_tpm2b_copy(&w, "attested.objectName", a.creation.object_name,
                                    sizeof(a.creation.object_name), &a.creation.object_name_size);
                if (r >= 0)
                        r = read_tpm2b_copy(&w, "attested.creationHash", a.creation.creation_hash,
                                            sizeof(a.creation.creation_hash),
                                            &a.creation.creation_hash_size);
                break;
        }
        if (r < 0)
                return r;
        r = tpmwire_end(&w);
        if (r < 0)
                return r;
        *ret = a;
        return 0;
}

uint32_t tpm_selection_mask(const struct tpm_pcr_selection *s)
{
        uint32_t mask = 0;

        for (size_t i = 0; i < s->size_of_select && i < TPM_PCR_SELECT_MAX; i++)
                mask |= (uint32_t)s->select[i] << (8 * i);
        return mask;
}

void tpm_pcr_list_format(uint32_t mask, char *buf, size_t size)
{
        size_t used = 0;
        int i = 0;

        if (size == 0)
                return;
        buf[0] = '\0';
        while (i < TPM_MAX_PCRS) {
                int j;
                int n;

                if (!(mask & (UINT32_C(1) << i))) {
                        i++;
                        continue;
                }
                for (j = i; j + 1 < TPM_MAX_PCRS && (mask & (UINT32_C(1) << (j + 1))); j++)
                        ;
                if (j == i)
                        n = snprintf(buf + used, size - used, "%s%d", used ? "," : "", i);
                else
                        n = snprintf(buf + used, size - used, "%s%d-%d", used ? "," : "", i, j);
                if (n < 0 || (size_t)n >= size - used)
                        return;
                used += (size_t)n;
                i = j + 1;
        }
}

uint16_t tpm_attest_guess_hash(const struct tpm_attest *a)
{
        static const uint16_t by_size[] = {TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384, TPM_ALG_SHA512};

        if (a->type == TPM_ST_ATTEST_QUOTE)
                for (size_t i = 0; i < ELEMENTSOF(by_size); i++)
                        if (hash_alg_by_tpm_id(by_size[i])->size == a->quote.pcr_digest_size)
                                return by_size[i];
        return TPM_ALG_SHA256;
}

/* ---- JSON ----------------------------------------------------------------------------------- */

static int json_add(json_object *obj, const char *key, json_object *v)
{
        if (!v || json_object_object_add(obj, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int json_add_hex(json_object *obj, const char *key, const uint8_t *p, size_t n)
{
        _cleanup_free_ char *hex = hex_encode(p, n);

        if (!hex)
                return -ENOMEM;
        return json_add(obj, key, json_object_new_string(hex));
}

static int json_add_fmt(json_object *obj, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int json_add_fmt(json_object *obj, const char *key, const char *fmt, ...)
{
        char buf[64];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return json_add(obj, key, json_object_new_string(buf));
}

static bool is_printable(const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (p[i] < 0x20 || p[i] > 0x7e)
                        return false;
        return n > 0;
}

static int selection_to_json(const struct tpm_attest *a, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *arr = json_object_new_array();

        if (!arr)
                return -ENOMEM;
        for (size_t i = 0; i < a->quote.n_selections; i++) {
                const struct tpm_pcr_selection *s = &a->quote.selections[i];
                json_object *entry = json_object_new_object(), *pcrs = json_object_new_array();
                uint32_t mask = tpm_selection_mask(s);

                if (!entry || !pcrs || json_object_array_add(arr, entry) < 0) {
                        json_object_put(entry);
                        json_object_put(pcrs);
                        return -ENOMEM;
                }
                if (json_add(entry, "hash", json_object_new_string(hash_alg_by_tpm_id(s->hash_alg)->name)) <
                            0 ||
                    json_add(entry, "pcrs", pcrs) < 0)
                        return -ENOMEM;
                for (int p = 0; p < TPM_MAX_PCRS; p++)
                        if (mask & (UINT32_C(1) << p)) {
                                json_object *n = json_object_new_int(p);

                                if (!n || json_object_array_add(pcrs, n) < 0) {
                                        json_object_put(n);
                                        return -ENOMEM;
                                }
                        }
        }
        *ret = TAKE_PTR(arr);
        return 0;
}

int tpm_attest_to_json(const struct tpm_attest *a, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *obj = json_object_new_object();
        const char *type = tpm_attest_type_name(a->type);
        json_object *sel = NULL;
        int r;

        if (!obj)
                return -ENOMEM;
        r = json_add(obj, "type", json_object_new_string(type ? type : "unknown"));
        if (r >= 0)
                r = json_add_fmt(obj, "type_code", "0x%04x", a->type);
        if (r >= 0)
                r = json_add_fmt(obj, "magic", "0x%08" PRIx32, a->magic);
        if (r >= 0)
                r = json_add_hex(obj, "qualified_signer", a->qualified_signer, a->qualified_signer_size);
        if (r >= 0)
                r = json_add_hex(obj, "extra_data", a->extra_data, a->extra_data_size);
        if (r >= 0 && is_printable(a->extra_data, a->extra_data_size))
                r = json_add(
                        obj, "extra_data_text",
                        json_object_new_string_len((const char *)a->extra_data, (int)a->extra_data_size));
        if (r >= 0)
                r = json_add(obj, "clock", json_object_new_uint64(a->clock));
        if (r >= 0)
                r = json_add(obj, "reset_count", json_object_new_int64(a->reset_count));
        if (r >= 0)
                r = json_add(obj, "restart_count", json_object_new_int64(a->restart_count));
        if (r >= 0)
                r = json_add(obj, "safe", json_object_new_boolean(a->safe));
        if (r >= 0)
                r = json_add_fmt(obj, "firmware_version", "0x%016" PRIx64, a->firmware_version);
        if (r < 0)
                return r;
        switch (a->type) {
        case TPM_ST_ATTEST_QUOTE:
                r = selection_to_json(a, &sel);
                if (r >= 0)
                        r = json_add(obj, "pcr_select", sel);
                if (r >= 0)
                        r = json_add_hex(obj, "pcr_digest", a->quote.pcr_digest, a->quote.pcr_digest_size);
                break;
        case TPM_ST_ATTEST_CERTIFY:
                r = json_add_hex(obj, "name", a->certify.name, a->certify.name_size);
                if (r >= 0)
                        r = json_add_hex(obj, "qualified_name", a->certify.qualified_name,
                                         a->certify.qualified_name_size);
                break;
        case TPM_ST_ATTEST_CREATION:
                r = json_add_hex(obj, "object_name", a->creation.object_name, a->creation.object_name_size);
                if (r >= 0)
                        r = json_add_hex(obj, "creation_hash", a->creation.creation_hash,
                                         a->creation.creation_hash_size);
                break;
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(obj);
        return 0;
}

/* ---- TPMT_SIGNATURE ------------------------------------------------------------------------- */

static bool sig_alg_supported(uint16_t alg)
{
        return alg == TPM_ALG_RSASSA || alg == TPM_ALG_RSAPSS || alg == TPM_ALG_ECDSA;
}

int tpm_signature_parse(const uint8_t *buf, size_t len, struct tpm_signature *ret, struct cvm_error *err)
{
        _cleanup_free_ struct tpm_signature *sig = calloc(1, sizeof(*sig));
        struct tpmwire w;
        uint16_t alg;
        int r;

        if (!sig)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        tpmwire_init(&w, buf, len, "TPMT_SIGNATURE", err);
        r = tpmwire_u16(&w, "sigAlg", &alg);
        if (r < 0)
                return r;
        if (!sig_alg_supported(alg)) {
                const char *name = tpmwire_alg_name(alg);

                if (alg == TPM_ALG_ECDAA || alg == TPM_ALG_SM2 || alg == TPM_ALG_ECSCHNORR ||
                    alg == TPM_ALG_HMAC || alg == TPM_ALG_NULL)
                        return tpmwire_fail(
                                &w, 0, -EOPNOTSUPP, "sigAlg",
                                "signature algorithm %s is not supported (rsassa, rsapss, ecdsa)", name);
                return tpmwire_fail(&w, 0, -EBADMSG, "sigAlg", "0x%04x is not a signature algorithm", alg);
        }
        sig->format = TPM_SIG_FORMAT_TPMT;
        sig->sig_alg = alg;
        r = tpmwire_u16(&w, "signature.hash", &sig->hash_alg);
        if (r < 0)
                return r;
        if (!hash_alg_by_tpm_id(sig->hash_alg))
                return tpmwire_fail(&w, 2, -EOPNOTSUPP, "signature.hash", "unknown hash algorithm 0x%04x",
                                    sig->hash_alg);
        if (alg == TPM_ALG_ECDSA) {
                r = read_tpm2b_copy(&w, "signature.signatureR", sig->r, sizeof(sig->r), &sig->r_size);
                if (r < 0)
                        return r;
                r = read_tpm2b_copy(&w, "signature.signatureS", sig->s, sizeof(sig->s), &sig->s_size);
        } else
                r = read_tpm2b_copy(&w, "signature.sig", sig->sig, sizeof(sig->sig), &sig->sig_size);
        if (r < 0)
                return r;
        r = tpmwire_end(&w);
        if (r < 0)
                return r;
        *ret = *sig;
        return 0;
}

static int signature_from_raw(const uint8_t *buf, size_t len, uint16_t sig_alg, uint16_t hash_alg,
                              struct tpm_signature *ret, struct cvm_error *err)
{
        _cleanup_free_ struct tpm_signature *sig = calloc(1, sizeof(*sig));

        if (!sig)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (!sig_alg_supported(sig_alg))
                return cvm_error_set(err, -EOPNOTSUPP, "raw signature: scheme 0x%04x is not supported",
                                     sig_alg);
        if (!hash_alg_by_tpm_id(hash_alg))
                return cvm_error_set(err, -EINVAL, "raw signature: no or unknown hash algorithm");
        sig->format = TPM_SIG_FORMAT_RAW;
        sig->sig_alg = sig_alg;
        sig->hash_alg = hash_alg;
        if (len == 0)
                return cvm_error_set(err, -EBADMSG, "raw signature: empty");
        if (sig_alg != TPM_ALG_ECDSA) {
                if (len > sizeof(sig->sig))
                        return cvm_error_set(err, -EBADMSG,
                                             "raw signature: %zu bytes exceed the maximum of %zu", len,
                                             sizeof(sig->sig));
                memcpy(sig->sig, buf, len);
                sig->sig_size = len;
        } else {
                _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *der = NULL;
                const unsigned char *p = buf;

                /* DER ECDSA-Sig-Value (OpenSSL, most tools) or fixed-size r||s (JOSE, PKCS#11). */
                der = len <= LONG_MAX ? d2i_ECDSA_SIG(NULL, &p, (long)len) : NULL;
                if (der && p == buf + len) {
                        const BIGNUM *r, *s;

                        ECDSA_SIG_get0(der, &r, &s);
                        if (BN_num_bytes(r) > (int)sizeof(sig->r) || BN_num_bytes(s) > (int)sizeof(sig->s))
                                return cvm_error_set(err, -EBADMSG, "raw ECDSA signature: r or s too large");
                        sig->r_size = (size_t)BN_bn2bin(r, sig->r);
                        sig->s_size = (size_t)BN_bn2bin(s, sig->s);
                } else {
                        ERR_clear_error();
                        if (len % 2 != 0 || len / 2 > sizeof(sig->r))
                                return cvm_error_set(
                                        err, -EBADMSG,
                                        "raw ECDSA signature: %zu bytes are neither DER nor r||s", len);
                        memcpy(sig->r, buf, len / 2);
                        memcpy(sig->s, buf + len / 2, len / 2);
                        sig->r_size = sig->s_size = len / 2;
                }
        }
        *ret = *sig;
        return 0;
}

int tpm_signature_load(const uint8_t *buf, size_t len, enum tpm_sig_format format, EVP_PKEY *pkey,
                       uint16_t raw_sig_alg, uint16_t raw_hash_alg, struct tpm_signature *ret,
                       struct cvm_error *err)
{
        bool rsa_key = pkey && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA;
        struct cvm_error parse_err = {};
        int r;

        if (format == TPM_SIG_FORMAT_TPMT)
                return tpm_signature_parse(buf, len, ret, err);
        if (format == TPM_SIG_FORMAT_AUTO) {
                bool looks_tpmt =
                        len >= 4 && sig_alg_supported(be16(buf)) && hash_alg_by_tpm_id(be16(buf + 2));

                if (looks_tpmt) {
                        r = tpm_signature_parse(buf, len, ret, &parse_err);
                        if (r >= 0)
                                return r;
                        /* A bare RSA signature has exactly the modulus size; anything else is a
                         * TPMT_SIGNATURE that failed to parse. */
                        if (r == -ENOMEM || !rsa_key || len != (size_t)EVP_PKEY_get_size(pkey)) {
                                cvm_error_set(err, parse_err.code, "%s", parse_err.message);
                                return r;
                        }
                }
        }
        if (raw_sig_alg == 0) {
                if (!pkey)
                        return cvm_error_set(err, -EINVAL,
                                             "raw signature: no scheme given and no key to infer it");
                raw_sig_alg = rsa_key ? TPM_ALG_RSASSA : TPM_ALG_ECDSA;
        }
        return signature_from_raw(buf, len, raw_sig_alg, raw_hash_alg, ret, err);
}

int tpm_signature_to_json(const struct tpm_signature *sig, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *obj = json_object_new_object();
        int r;

        if (!obj)
                return -ENOMEM;
        r = json_add(obj, "format", json_object_new_string(tpm_sig_format_name(sig->format)));
        if (r >= 0)
                r = json_add(obj, "scheme", json_object_new_string(tpmwire_alg_name(sig->sig_alg)));
        if (r >= 0)
                r = json_add(obj, "hash", json_object_new_string(hash_alg_by_tpm_id(sig->hash_alg)->name));
        if (r >= 0)
                r = json_add(obj, "size",
                             json_object_new_int64((int64_t)(sig->sig_alg == TPM_ALG_ECDSA
                                                                     ? sig->r_size + sig->s_size
                                                                     : sig->sig_size)));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(obj);
        return 0;
}

/* DER ECDSA-Sig-Value from r and s; caller frees *ret with OPENSSL_free(). */
static int ecdsa_der(const struct tpm_signature *sig, unsigned char **ret, size_t *ret_size)
{
        _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig->r, (int)sig->r_size, NULL),
               *s = BN_bin2bn(sig->s, (int)sig->s_size, NULL);
        unsigned char *der = NULL;
        int n;

        if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
                BN_free(r);
                BN_free(s);
                return -ENOMEM;
        }
        n = i2d_ECDSA_SIG(es, &der);
        if (n <= 0)
                return -ENOMEM;
        *ret = der;
        *ret_size = (size_t)n;
        return 0;
}

int tpm_quote_verify_signature(const uint8_t *attest, size_t len, const struct tpm_signature *sig,
                               EVP_PKEY *pkey, struct cvm_error *err)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        const struct hash_alg *h = hash_alg_by_tpm_id(sig->hash_alg);
        const char *scheme = tpmwire_alg_name(sig->sig_alg);
        bool want_rsa = sig->sig_alg != TPM_ALG_ECDSA;
        int key_type = EVP_PKEY_get_base_id(pkey);
        unsigned char *der = NULL;
        const unsigned char *sig_bytes = sig->sig;
        size_t sig_size = sig->sig_size;
        EVP_PKEY_CTX *pctx = NULL;
        const EVP_MD *md;
        char desc[32];
        int r, ok;

        tpmkey_describe(pkey, desc, sizeof(desc));
        if (!h || !sig_alg_supported(sig->sig_alg))
                return cvm_error_set(err, -EOPNOTSUPP, "signature scheme or hash not supported");
        md = h->evp_name ? EVP_get_digestbyname(h->evp_name) : NULL;
        if (!md)
                return cvm_error_set(err, -EOPNOTSUPP, "hash %s is not available in OpenSSL", h->name);
        if ((want_rsa && key_type != EVP_PKEY_RSA) || (!want_rsa && key_type != EVP_PKEY_EC))
                return reject(err, "a %s signature cannot come from the AK, a %s key", scheme, desc);
        if (!want_rsa) {
                r = ecdsa_der(sig, &der, &sig_size);
                if (r < 0)
                        return cvm_error_set(err, r, "out of memory");
                sig_bytes = der;
        }
        ctx = EVP_MD_CTX_new();
        if (!ctx) {
                OPENSSL_free(der);
                return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        ok = EVP_DigestVerifyInit(ctx, &pctx, md, NULL, pkey) == 1;
        if (ok && sig->sig_alg == TPM_ALG_RSAPSS)
                ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1 &&
                     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1;
        else if (ok && sig->sig_alg == TPM_ALG_RSASSA)
                ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
        if (!ok) {
                OPENSSL_free(der);
                ERR_clear_error();
                return cvm_error_set(err, -EOPNOTSUPP, "OpenSSL cannot set up %s-%s verification", scheme,
                                     h->name);
        }
        ok = EVP_DigestVerify(ctx, sig_bytes, sig_size, attest, len) == 1;
        OPENSSL_free(der);
        ERR_clear_error();
        if (!ok)
                return reject(err, "the %s-%s signature does not verify with the AK (%s)", scheme, h->name,
                              desc);
        return 1;
}

/* ---- PCR values ----------------------------------------------------------------------------- */

struct pcr_bank {
        uint16_t hash_alg;
        size_t size;
        uint32_t present;
        uint8_t value[TPM_MAX_PCRS][HASH_MAX_SIZE];
};

struct tpm_pcr_values {
        size_t n_banks;
        struct pcr_bank banks[PCR_BANKS];
};

int tpm_pcr_values_new(struct tpm_pcr_values **ret)
{
        struct tpm_pcr_values *v = calloc(1, sizeof(*v));

        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

void tpm_pcr_values_free(struct tpm_pcr_values *v)
{
        free(v);
}

static const struct pcr_bank *find_bank(const struct tpm_pcr_values *v, uint16_t hash_alg)
{
        for (size_t i = 0; i < v->n_banks; i++)
                if (v->banks[i].hash_alg == hash_alg)
                        return &v->banks[i];
        return NULL;
}

int tpm_pcr_values_set(struct tpm_pcr_values *v, uint16_t hash_alg, unsigned index, const uint8_t *value,
                       size_t size, struct cvm_error *err)
{
        const struct hash_alg *h = hash_alg_by_tpm_id(hash_alg);
        struct pcr_bank *b = (struct pcr_bank *)find_bank(v, hash_alg);

        if (!h)
                return cvm_error_set(err, -EOPNOTSUPP, "unknown hash algorithm 0x%04x", hash_alg);
        if (index >= TPM_MAX_PCRS)
                return cvm_error_set(err, -EBADMSG, "PCR index %u out of range (0..%d)", index,
                                     TPM_MAX_PCRS - 1);
        if (size != h->size)
                return cvm_error_set(err, -EBADMSG, "%s PCR %u: %zu bytes, expected %zu", h->name, index,
                                     size, h->size);
        if (!b) {
                if (v->n_banks >= PCR_BANKS)
                        return cvm_error_set(err, -EBADMSG, "too many PCR banks");
                b = &v->banks[v->n_banks++];
                b->hash_alg = hash_alg;
                b->size = h->size;
        }
        if ((b->present & (UINT32_C(1) << index)) && memcmp(b->value[index], value, size) != 0)
                return cvm_error_set(err, -EBADMSG, "%s PCR %u given twice with different values", h->name,
                                     index);
        memcpy(b->value[index], value, size);
        b->present |= UINT32_C(1) << index;
        return 0;
}

const uint8_t *tpm_pcr_values_get(const struct tpm_pcr_values *v, uint16_t hash_alg, unsigned index)
{
        const struct pcr_bank *b = find_bank(v, hash_alg);

        if (!b || index >= TPM_MAX_PCRS || !(b->present & (UINT32_C(1) << index)))
                return NULL;
        return b->value[index];
}

size_t tpm_pcr_values_count(const struct tpm_pcr_values *v)
{
        size_t n = 0;

        for (size_t i = 0; i < v->n_banks; i++)
                n += (size_t)__builtin_popcount(v->banks[i].present);
        return n;
}

/* The bank a digest of @size bytes belongs to when the document does not say. */
static uint16_t hash_for_size(size_t size)
{
        static const uint16_t algs[] = {TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384, TPM_ALG_SHA512};

        for (size_t i = 0; i < ELEMENTSOF(algs); i++)
                if (hash_alg_by_tpm_id(algs[i])->size == size)
                        return algs[i];
        return 0;
}

/* Sets one value; @alg 0 means "infer from the size". @where names the place for messages. */
static int set_value(struct tpm_pcr_values *v, uint16_t alg, unsigned long index, const uint8_t *value,
                     size_t size, const char *where, struct cvm_error *err)
{
        struct cvm_error e = {};
        int r;

        if (alg == 0) {
                alg = hash_for_size(size);
                if (alg == 0)
                        return cvm_error_set(err, -EBADMSG, "%s: a %zu-byte value fits no hash algorithm",
                                             where, size);
        }
        if (index >= TPM_MAX_PCRS)
                return cvm_error_set(err, -EBADMSG, "%s: PCR index %lu out of range (0..%d)", where, index,
                                     TPM_MAX_PCRS - 1);
        r = tpm_pcr_values_set(v, alg, (unsigned)index, value, size, &e);
        if (r < 0)
                return cvm_error_set(err, r, "%s: %s", where, e.message);
        return 0;
}

/* Hex with an optional 0x prefix; at most HASH_MAX_SIZE bytes. */
static int decode_hex_value(const char *s, size_t len, uint8_t *out, size_t *ret_size)
{
        _cleanup_free_ uint8_t *bytes = NULL;
        size_t n;

        if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                s += 2, len -= 2;
        if (len == 0 || len > 2 * HASH_MAX_SIZE)
                return -EBADMSG;
        if (hex_decode(s, len, &bytes, &n) < 0)
                return -EBADMSG;
        memcpy(out, bytes, n);
        *ret_size = n;
        return 0;
}

static bool parse_index(const char *s, unsigned long *ret)
{
        char *end;
        unsigned long n;

        if (!isdigit((unsigned char)s[0]) || strlen(s) > 3)
                return false;
        errno = 0;
        n = strtoul(s, &end, 10);
        if (errno != 0 || *end != '\0')
                return false;
        *ret = n;
        return true;
}

/* go-attestation's crypto.Hash numbering in its PCR objects. */
static uint16_t go_crypto_hash(int64_t h)
{
        switch (h) {
        case 3:
                return TPM_ALG_SHA1;
        case 5:
                return TPM_ALG_SHA256;
        case 6:
                return TPM_ALG_SHA384;
        case 7:
                return TPM_ALG_SHA512;
        }
        return 0;
}

static json_object *get_ci(json_object *obj, const char *key)
{
        json_object_object_foreach (obj, k, val)
                if (strcasecmp(k, key) == 0)
                        return val;
        return NULL;
}

/* One PCR value from JSON: a hex string, or an array of byte values. */
static int json_value(struct tpm_pcr_values *v, uint16_t alg, unsigned long index, json_object *val,
                      const char *where, struct cvm_error *err)
{
        uint8_t bytes[HASH_MAX_SIZE];
        size_t n = 0;

        if (json_object_is_type(val, json_type_string)) {
                if (decode_hex_value(json_object_get_string(val), (size_t)json_object_get_string_len(val),
                                     bytes, &n) < 0)
                        return cvm_error_set(err, -EBADMSG, "%s: not a hex digest", where);
        } else if (json_object_is_type(val, json_type_array)) {
                n = json_object_array_length(val);
                if (n == 0 || n > HASH_MAX_SIZE)
                        return cvm_error_set(err, -EBADMSG, "%s: byte array of %zu items", where, n);
                for (size_t i = 0; i < n; i++) {
                        json_object *b = json_object_array_get_idx(val, i);
                        int64_t x;

                        if (!json_object_is_type(b, json_type_int) || (x = json_object_get_int64(b)) < 0 ||
                            x > 255)
                                return cvm_error_set(err, -EBADMSG, "%s: item %zu is not a byte", where, i);
                        bytes[i] = (uint8_t)x;
                }
        } else
                return cvm_error_set(err, -EBADMSG, "%s: expected a hex string or a byte array", where);
        return set_value(v, alg, index, bytes, n, where, err);
}

/* go-attestation: {"Index": 0, "Digest": "<base64>", "DigestAlg": 3}. */
static int json_go_pcr(struct tpm_pcr_values *v, uint16_t alg, json_object *item, const char *where,
                       struct cvm_error *err)
{
        _cleanup_free_ uint8_t *bytes = NULL;
        json_object *idx = get_ci(item, "index"), *dig = get_ci(item, "digest"),
                    *dalg = get_ci(item, "digestalg");
        size_t n;
        int64_t i;

        if (!idx || !json_object_is_type(idx, json_type_int) || !dig ||
            !json_object_is_type(dig, json_type_string))
                return cvm_error_set(err, -EBADMSG, "%s: expected {\"Index\", \"Digest\"}", where);
        i = json_object_get_int64(idx);
        if (i < 0 || i >= TPM_MAX_PCRS)
                return cvm_error_set(err, -EBADMSG, "%s: PCR index %" PRId64 " out of range", where, i);
        if (dalg && json_object_is_type(dalg, json_type_int)) {
                uint16_t a = go_crypto_hash(json_object_get_int64(dalg));

                if (a == 0)
                        return cvm_error_set(err, -EBADMSG, "%s: unknown DigestAlg %" PRId64, where,
                                             json_object_get_int64(dalg));
                if (alg != 0 && alg != a)
                        return cvm_error_set(err, -EBADMSG, "%s: DigestAlg does not match the bank", where);
                alg = a;
        }
        if (tpmwire_base64_decode(json_object_get_string(dig), (size_t)json_object_get_string_len(dig),
                                  &bytes, &n) < 0)
                return cvm_error_set(err, -EBADMSG, "%s: Digest is not base64", where);
        return set_value(v, alg, (unsigned long)i, bytes, n, where, err);
}

static int json_bank(struct tpm_pcr_values *v, uint16_t alg, json_object *bank, const char *where,
                     struct cvm_error *err)
{
        char place[160];
        int r;

        if (json_object_is_type(bank, json_type_object)) {
                json_object_object_foreach (bank, key, val) {
                        unsigned long index;

                        (void)snprintf(place, sizeof(place), "%s.\"%.16s\"", where, key);
                        if (!parse_index(key, &index))
                                return cvm_error_set(err, -EBADMSG, "%s: member name is not a PCR index",
                                                     place);
                        r = json_value(v, alg, index, val, place, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (json_object_is_type(bank, json_type_array)) {
                size_t n = json_object_array_length(bank);

                for (size_t i = 0; i < n; i++) {
                        json_object *item = json_object_array_get_idx(bank, i);

                        (void)snprintf(place, sizeof(place), "%s[%zu]", where, i);
                        if (!item) /* null: this PCR's value is not given */
                                continue;
                        if (json_object_is_type(item, json_type_object))
                                r = json_go_pcr(v, alg, item, place, err);
                        else
                                r = json_value(v, alg, i, item, place, err);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        return cvm_error_set(err, -EBADMSG, "%s: expected an object or an array of PCR values", where);
}

/* The first member named "pcrs" at exactly @depth objects below @obj. */
static json_object *find_pcrs_at(json_object *obj, int depth, char *path, size_t path_size)
{
        size_t used = strlen(path);

        if (!json_object_is_type(obj, json_type_object))
                return NULL;
        json_object_object_foreach (obj, key, val) {
                json_object *found;

                (void)snprintf(path + used, path_size - used, ".%.24s", key);
                if (depth == 0) {
                        if (strcasecmp(key, "pcrs") == 0)
                                return val;
                } else if ((found = find_pcrs_at(val, depth - 1, path, path_size)))
                        return found;
                path[used] = '\0';
        }
        return NULL;
}

static int json_document(struct tpm_pcr_values *v, json_object *doc, struct cvm_error *err)
{
        json_object *pcrs = NULL;
        char path[160] = "";
        bool bank_map = false;

        for (int d = 0; d <= PCRS_SEARCH_DEPTH && !pcrs; d++) {
                path[0] = '\0';
                pcrs = find_pcrs_at(doc, d, path, sizeof(path));
        }
        if (!pcrs) {
                pcrs = doc;
                (void)snprintf(path, sizeof(path), "JSON");
        } else
                memmove(path, path + 1, strlen(path)); /* drop the leading '.' */

        if (json_object_is_type(pcrs, json_type_object)) {
                json_object_object_foreach (pcrs, key, val) {
                        (void)val;
                        if (hash_alg_by_name(key)) {
                                bank_map = true;
                                break;
                        }
                }
        }
        if (!bank_map)
                return json_bank(v, 0, pcrs, path, err);
        json_object_object_foreach (pcrs, key, val) {
                const struct hash_alg *h = hash_alg_by_name(key);
                char place[200];
                int r;

                (void)snprintf(place, sizeof(place), "%s.%.24s", path, key);
                if (!h)
                        return cvm_error_set(err, -EBADMSG, "%s: not a hash algorithm name", place);
                r = json_bank(v, h->tpm_id, val, place, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_json_values(struct tpm_pcr_values *v, const uint8_t *buf, size_t len, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *doc = NULL;
        int r;

        /* Untrusted input: strict parse (no NaN, comments, control characters; big integers kept). */
        r = canonjson_parse((const char *)buf, len, NULL, &doc, err);
        if (r < 0)
                return r;
        return json_document(v, doc, err);
}

static int parse_text_values(struct tpm_pcr_values *v, const uint8_t *buf, size_t len, struct cvm_error *err)
{
        uint16_t bank = 0;
        size_t line_no = 0, pos = 0;

        while (pos < len) {
                const char *line = (const char *)buf + pos, *nl = memchr(line, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - line) : len - pos, a = 0, b, idx_end;
                char field[160], where[32];
                unsigned long index;
                uint8_t value[HASH_MAX_SIZE];
                size_t value_size;
                int r;

                pos += n + (nl ? 1 : 0);
                line_no++;
                if (memchr(line, '#', n))
                        n = (size_t)((const char *)memchr(line, '#', n) - line);
                if (memchr(line, '\0', n))
                        return cvm_error_set(err, -EBADMSG, "line %zu: NUL byte in a text file", line_no);
                while (a < n && isspace((unsigned char)line[a]))
                        a++;
                b = n;
                while (b > a && isspace((unsigned char)line[b - 1]))
                        b--;
                if (a == b)
                        continue;
                if (b - a >= sizeof(field))
                        return cvm_error_set(err, -EBADMSG, "line %zu: too long", line_no);
                memcpy(field, line + a, b - a);
                field[b - a] = '\0';

                /* "sha256:" starts a bank. */
                if (field[b - a - 1] == ':') {
                        size_t k = b - a - 1;
                        const struct hash_alg *h;

                        while (k > 0 && isspace((unsigned char)field[k - 1]))
                                k--;
                        field[k] = '\0';
                        h = hash_alg_by_name(field);
                        if (!h)
                                return cvm_error_set(err, -EBADMSG,
                                                     "line %zu: \"%s\" is not a hash algorithm", line_no,
                                                     field);
                        bank = h->tpm_id;
                        continue;
                }
                /* "INDEX [:|=] [0x]HEX" */
                for (idx_end = 0; isdigit((unsigned char)field[idx_end]); idx_end++)
                        ;
                if (idx_end == 0 || idx_end > 3)
                        return cvm_error_set(err, -EBADMSG, "line %zu: expected \"INDEX HEX\" or \"ALG:\"",
                                             line_no);
                index = strtoul(field, NULL, 10);
                a = idx_end;
                while (isspace((unsigned char)field[a]))
                        a++;
                if (field[a] == ':' || field[a] == '=')
                        a++;
                while (isspace((unsigned char)field[a]))
                        a++;
                if (a == idx_end && field[a] != '\0')
                        return cvm_error_set(err, -EBADMSG, "line %zu: expected \"INDEX HEX\" or \"ALG:\"",
                                             line_no);
                if (decode_hex_value(field + a, strlen(field + a), value, &value_size) < 0)
                        return cvm_error_set(err, -EBADMSG, "line %zu: PCR %lu: not a hex digest", line_no,
                                             index);
                (void)snprintf(where, sizeof(where), "line %zu", line_no);
                r = set_value(v, bank, index, value, value_size, where, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int tpm_pcr_values_parse(const uint8_t *buf, size_t len, struct tpm_pcr_values **ret, struct cvm_error *err)
{
        _cleanup_(tpm_pcr_values_freep) struct tpm_pcr_values *v = NULL;
        size_t i = 0;
        int r;

        r = tpm_pcr_values_new(&v);
        if (r < 0)
                return cvm_error_set(err, r, "out of memory");
        while (i < len && isspace(buf[i]))
                i++;
        if (i < len && (buf[i] == '{' || buf[i] == '['))
                r = parse_json_values(v, buf, len, err);
        else
                r = parse_text_values(v, buf, len, err);
        if (r < 0)
                return r;
        if (tpm_pcr_values_count(v) == 0)
                return cvm_error_set(err, -EBADMSG, "no PCR values found");
        *ret = TAKE_PTR(v);
        return 0;
}

/* ---- checks --------------------------------------------------------------------------------- */

int tpm_quote_check_pcrs(const struct tpm_attest *a, uint16_t hash_alg, const struct tpm_pcr_values *v,
                         struct tpm_pcr_check *ret, struct cvm_error *err)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        const struct hash_alg *h = hash_alg_by_tpm_id(hash_alg);
        struct tpm_pcr_check c = {};
        const EVP_MD *md;
        unsigned int n = 0;
        char list[200] = "";

        if (a->type != TPM_ST_ATTEST_QUOTE)
                return cvm_error_set(err, -EINVAL, "attestation type 0x%04x carries no PCR digest", a->type);
        md = h && h->evp_name ? EVP_get_digestbyname(h->evp_name) : NULL;
        if (!md)
                return cvm_error_set(err, -EOPNOTSUPP, "cannot compute the PCR digest with hash 0x%04x",
                                     hash_alg);
        ctx = EVP_MD_CTX_new();
        if (!ctx || EVP_DigestInit_ex(ctx, md, NULL) != 1)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < a->quote.n_selections; i++) {
                const struct tpm_pcr_selection *s = &a->quote.selections[i];
                const struct hash_alg *bank = hash_alg_by_tpm_id(s->hash_alg);
                uint32_t mask = tpm_selection_mask(s);

                for (unsigned p = 0; p < TPM_MAX_PCRS; p++) {
                        const uint8_t *val;

                        if (!(mask & (UINT32_C(1) << p)))
                                continue;
                        val = tpm_pcr_values_get(v, s->hash_alg, p);
                        if (!val) {
                                c.missing[i] |= UINT32_C(1) << p;
                                c.n_missing++;
                                continue;
                        }
                        if (EVP_DigestUpdate(ctx, val, bank->size) != 1)
                                return cvm_error_set(err, -ENOMEM, "digest update failed");
                }
        }
        if (EVP_DigestFinal_ex(ctx, c.computed, &n) != 1)
                return cvm_error_set(err, -ENOMEM, "digest final failed");
        c.computed_size = n;
        *ret = c;
        if (c.n_missing > 0) {
                size_t used = 0;

                ret->computed_size = 0;
                for (size_t i = 0; i < a->quote.n_selections && used < sizeof(list); i++) {
                        char pcrs[100];
                        int k;

                        if (!c.missing[i])
                                continue;
                        tpm_pcr_list_format(c.missing[i], pcrs, sizeof(pcrs));
                        k = snprintf(list + used, sizeof(list) - used, "%s%s:%s", used ? " " : "",
                                     hash_alg_by_tpm_id(a->quote.selections[i].hash_alg)->name, pcrs);
                        if (k < 0)
                                break;
                        used += (size_t)k;
                }
                return reject(err, "no value given for %zu selected PCRs: %s", c.n_missing, list);
        }
        if (c.computed_size != a->quote.pcr_digest_size ||
            memcmp(c.computed, a->quote.pcr_digest, c.computed_size) != 0) {
                _cleanup_free_ char *q = hex_encode(a->quote.pcr_digest, a->quote.pcr_digest_size),
                                    *k = hex_encode(c.computed, c.computed_size);

                return reject(err, "quoted pcrDigest %s, computed %s (%s) from the PCR values", q ? q : "?",
                              k ? k : "?", h->name);
        }
        return 1;
}

int tpm_quote_check_nonce(const struct tpm_attest *a, const uint8_t *nonce, size_t size,
                          struct cvm_error *err)
{
        if (size == a->extra_data_size && (size == 0 || memcmp(nonce, a->extra_data, size) == 0))
                return 1;
        {
                _cleanup_free_ char *given = hex_encode(nonce, size),
                                    *extra = hex_encode(a->extra_data, a->extra_data_size);

                return reject(err, "nonce %s (%zu bytes) differs from extraData %s (%zu bytes)",
                              given ? given : "?", size, extra ? extra : "?", a->extra_data_size);
        }
}
