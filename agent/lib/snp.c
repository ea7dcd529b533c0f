/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "snp.h"
#include "util.h"

#define streq(a, b) (strcmp((a), (b)) == 0)

DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE *, X509_STORE_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(X509_STORE_CTX *, X509_STORE_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_INTEGER *, ASN1_INTEGER_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(ASN1_IA5STRING *, ASN1_IA5STRING_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct snp_vek *, snp_vek_free)

static void x509_stack_freep(STACK_OF(X509) * *s)
{
        if (*s)
                sk_X509_pop_free(*s, X509_free);
}

/* ---- the report ---------------------------------------------------------------------------------------- */

enum amd_product snp_product_from_cpuid(uint8_t family, uint8_t model)
{
        if (family == 0x19) {
                if (model <= 0x0f)
                        return AMD_PRODUCT_MILAN;
                /* Genoa proper, and Bergamo/Siena which use Genoa's keys and TCB layout. */
                if ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf))
                        return AMD_PRODUCT_GENOA;
        } else if (family == 0x1a && model <= 0x11)
                return AMD_PRODUCT_TURIN;
        return AMD_PRODUCT_UNKNOWN;
}

int snp_report_parse(const uint8_t *buf, size_t len, struct snp_report *ret, struct cvm_error *err)
{
        struct snp_report r = {};
        unsigned key;

        if (len != SNP_REPORT_SIZE)
                return cvm_error_set(err, -EBADMSG, "SNP report is %zu bytes, expected %d", len,
                                     SNP_REPORT_SIZE);

        r.version = le32(buf + 0x000);
        if (r.version < 2 || r.version > 5)
                return cvm_error_set(
                        err, -EOPNOTSUPP,
                        "offset 0x000: report version %" PRIu32 " is not supported (2 to 5 are)", r.version);
        r.guest_svn = le32(buf + 0x004);
        r.policy = le64(buf + 0x008);
        memcpy(r.family_id, buf + 0x010, sizeof(r.family_id));
        memcpy(r.image_id, buf + 0x020, sizeof(r.image_id));
        r.vmpl = le32(buf + 0x030);
        r.signature_algo = le32(buf + 0x034);
        r.current_tcb = le64(buf + 0x038);
        r.platform_info = le64(buf + 0x040);
        r.flags = le32(buf + 0x048);

        /* Bits 31:5 of the signer info are reserved in every known version. */
        if (r.flags & ~UINT32_C(0x1f))
                return cvm_error_set(err, -EBADMSG,
                                     "offset 0x048: reserved signer-info bits are set (0x%08" PRIx32 ")",
                                     r.flags);
        key = SNP_FLAG_SIGNING_KEY(r.flags);
        if (key != SNP_SIGNING_KEY_VCEK && key != SNP_SIGNING_KEY_VLEK && key != SNP_SIGNING_KEY_NONE)
                return cvm_error_set(err, -EOPNOTSUPP, "offset 0x048: SIGNING_KEY value %u is reserved",
                                     key);
        if (r.signature_algo != SNP_SIG_ALGO_ECDSA_P384_SHA384 &&
            !(r.signature_algo == 0 && key == SNP_SIGNING_KEY_NONE))
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "offset 0x034: signature algorithm %" PRIu32
                                     " is not supported (1 = ECDSA P-384 with SHA-384)",
                                     r.signature_algo);

        memcpy(r.report_data, buf + 0x050, sizeof(r.report_data));
        memcpy(r.measurement, buf + 0x090, sizeof(r.measurement));
        memcpy(r.host_data, buf + 0x0c0, sizeof(r.host_data));
        memcpy(r.id_key_digest, buf + 0x0e0, sizeof(r.id_key_digest));
        memcpy(r.author_key_digest, buf + 0x110, sizeof(r.author_key_digest));
        memcpy(r.report_id, buf + 0x140, sizeof(r.report_id));
        memcpy(r.report_id_ma, buf + 0x160, sizeof(r.report_id_ma));
        r.reported_tcb = le64(buf + 0x180);
        if (r.version >= 3) {
                r.has_cpuid = true;
                r.cpuid_fam_id = buf[0x188];
                r.cpuid_mod_id = buf[0x189];
                r.cpuid_step = buf[0x18a];
        }
        memcpy(r.chip_id, buf + 0x1a0, sizeof(r.chip_id));
        r.committed_tcb = le64(buf + 0x1e0);
        r.current_build = buf[0x1e8];
        r.current_minor = buf[0x1e9];
        r.current_major = buf[0x1ea];
        r.committed_build = buf[0x1ec];
        r.committed_minor = buf[0x1ed];
        r.committed_major = buf[0x1ee];
        r.launch_tcb = le64(buf + 0x1f0);
        if (r.version >= 5) {
                r.has_mit_vectors = true;
                r.launch_mit_vector = le64(buf + 0x1f8);
                r.current_mit_vector = le64(buf + 0x200);
        }
        memcpy(r.signature_r, buf + 0x2a0, SNP_SIG_COMPONENT_SIZE);
        memcpy(r.signature_s, buf + 0x2a0 + SNP_SIG_COMPONENT_SIZE, SNP_SIG_COMPONENT_SIZE);

        if (r.has_cpuid) {
                r.product = snp_product_from_cpuid(r.cpuid_fam_id, r.cpuid_mod_id);
                r.product_from_cpuid = r.product != AMD_PRODUCT_UNKNOWN;
        }
        memcpy(r.raw, buf, SNP_REPORT_SIZE);
        *ret = r;
        return 0;
}

void snp_report_set_product(struct snp_report *r, enum amd_product p)
{
        if (!r->product_from_cpuid)
                r->product = p;
}

static bool cpuid_present(const struct snp_report *r)
{
        return r->has_cpuid && (r->cpuid_fam_id | r->cpuid_mod_id | r->cpuid_step) != 0;
}

enum snp_tcb_layout snp_report_tcb_layout(const struct snp_report *r)
{
        switch (r->product) {
        case AMD_PRODUCT_MILAN:
        case AMD_PRODUCT_GENOA:
                return SNP_TCB_LAYOUT_MILAN_GENOA;
        case AMD_PRODUCT_TURIN:
                return SNP_TCB_LAYOUT_TURIN;
        default:
                /* Reports without CPUID come from firmware older than Turin support. */
                return cpuid_present(r) ? SNP_TCB_LAYOUT_UNKNOWN : SNP_TCB_LAYOUT_MILAN_GENOA;
        }
}

static enum snp_tcb_layout layout_for_product(enum amd_product p)
{
        switch (p) {
        case AMD_PRODUCT_MILAN:
        case AMD_PRODUCT_GENOA:
                return SNP_TCB_LAYOUT_MILAN_GENOA;
        case AMD_PRODUCT_TURIN:
                return SNP_TCB_LAYOUT_TURIN;
        default:
                return SNP_TCB_LAYOUT_UNKNOWN;
        }
}

void snp_tcb_decode(uint64_t raw, enum snp_tcb_layout layout, struct snp_tcb *ret)
{
        struct snp_tcb t = {.raw = raw, .layout = layout};
        uint8_t b[8];

        for (int i = 0; i < 8; i++)
                b[i] = (uint8_t)(raw >> (8 * i));
        switch (layout) {
        case SNP_TCB_LAYOUT_MILAN_GENOA:
                t.bootloader = b[0];
                t.tee = b[1];
                t.snp = b[6];
                t.microcode = b[7];
                break;
        case SNP_TCB_LAYOUT_TURIN:
                t.fmc = b[0];
                t.bootloader = b[1];
                t.tee = b[2];
                t.snp = b[3];
                t.microcode = b[7];
                break;
        default:
                break;
        }
        *ret = t;
}

const char *snp_signing_key_name(unsigned key)
{
        switch (key) {
        case SNP_SIGNING_KEY_VCEK:
                return "VCEK";
        case SNP_SIGNING_KEY_VLEK:
                return "VLEK";
        case SNP_SIGNING_KEY_NONE:
                return "none";
        default:
                return "reserved";
        }
}

const char *snp_check_name(enum snp_check c)
{
        switch (c) {
        case SNP_CHECK_VALID:
                return "valid";
        case SNP_CHECK_INVALID:
                return "invalid";
        default:
                return "unchecked";
        }
}

/* ---- JSON rendering ------------------------------------------------------------------------------------ */

/* Collects members; the first allocation failure sticks and later adds are dropped. */
struct jbuild {
        json_object *obj;
        int r;
};

static void jb_add(struct jbuild *b, const char *key, json_object *v)
{
        if (b->r < 0 || !v || json_object_object_add(b->obj, key, v) < 0) {
                json_object_put(v);
                b->r = -ENOMEM;
        }
}

/* json-c represents JSON null as a NULL object pointer. */
static void jb_null(struct jbuild *b, const char *key)
{
        if (b->r >= 0 && json_object_object_add(b->obj, key, NULL) < 0)
                b->r = -ENOMEM;
}

static void jb_hex(struct jbuild *b, const char *key, const void *p, size_t n)
{
        _cleanup_free_ char *s = hex_encode(p, n);

        jb_add(b, key, s ? json_object_new_string(s) : NULL);
}

static void jb_u64hex(struct jbuild *b, const char *key, uint64_t v)
{
        char s[2 + 16 + 1];

        snprintf(s, sizeof(s), "0x%" PRIx64, v);
        jb_add(b, key, json_object_new_string(s));
}

static void jb_int(struct jbuild *b, const char *key, int64_t v)
{
        jb_add(b, key, json_object_new_int64(v));
}

static void jb_bool(struct jbuild *b, const char *key, bool v)
{
        jb_add(b, key, json_object_new_boolean(v));
}

static void jb_str(struct jbuild *b, const char *key, const char *s)
{
        if (s)
                jb_add(b, key, json_object_new_string(s));
        else
                jb_null(b, key);
}

/* true/false for 1/0, null for -1 (not applicable). */
static void jb_tristate(struct jbuild *b, const char *key, int v)
{
        if (v < 0)
                jb_null(b, key);
        else
                jb_add(b, key, json_object_new_boolean(v > 0));
}

static int jb_start(struct jbuild *b)
{
        b->obj = json_object_new_object();
        b->r = b->obj ? 0 : -ENOMEM;
        return b->r;
}

/* Hands the object over on success; frees it on failure. */
static int jb_finish(struct jbuild *b, json_object **ret)
{
        if (b->r < 0) {
                json_object_put(b->obj);
                return b->r;
        }
        *ret = b->obj;
        return 0;
}

static const char *layout_name(enum snp_tcb_layout l)
{
        switch (l) {
        case SNP_TCB_LAYOUT_MILAN_GENOA:
                return "milan-genoa";
        case SNP_TCB_LAYOUT_TURIN:
                return "turin";
        default:
                return "unknown";
        }
}

static json_object *tcb_to_json(uint64_t raw, enum snp_tcb_layout layout)
{
        struct jbuild b;
        struct snp_tcb t;
        json_object *o = NULL;

        if (jb_start(&b) < 0)
                return NULL;
        snp_tcb_decode(raw, layout, &t);
        if (layout != SNP_TCB_LAYOUT_UNKNOWN) {
                jb_int(&b, "bootloader", t.bootloader);
                jb_int(&b, "tee", t.tee);
                jb_int(&b, "snp", t.snp);
                jb_int(&b, "microcode", t.microcode);
                if (layout == SNP_TCB_LAYOUT_TURIN)
                        jb_int(&b, "fmc", t.fmc);
        }
        jb_u64hex(&b, "raw", raw);
        (void)jb_finish(&b, &o);
        return o;
}

/* Adds "NAME" (decoded object) and "NAME_raw" (hex string, as in MANIFEST.json). */
static void jb_tcb(struct jbuild *b, const char *name, uint64_t raw, enum snp_tcb_layout layout)
{
        char key[64];

        jb_add(b, name, tcb_to_json(raw, layout));
        snprintf(key, sizeof(key), "%s_raw", name);
        jb_u64hex(b, key, raw);
}

static json_object *policy_to_json(uint64_t p)
{
        struct jbuild b;
        json_object *o = NULL;

        if (jb_start(&b) < 0)
                return NULL;
        jb_int(&b, "abi_minor", p & 0xff);
        jb_int(&b, "abi_major", (p >> 8) & 0xff);
        jb_bool(&b, "smt", p & SNP_POLICY_SMT);
        jb_bool(&b, "reserved_must_be_one", p & SNP_POLICY_RESERVED_ONE);
        jb_bool(&b, "migrate_ma", p & SNP_POLICY_MIGRATE_MA);
        jb_bool(&b, "debug", p & SNP_POLICY_DEBUG);
        jb_bool(&b, "single_socket", p & SNP_POLICY_SINGLE_SOCKET);
        jb_bool(&b, "cxl_allow", p & SNP_POLICY_CXL_ALLOW);
        jb_bool(&b, "mem_aes_256_xts", p & SNP_POLICY_MEM_AES_256_XTS);
        jb_bool(&b, "rapl_dis", p & SNP_POLICY_RAPL_DIS);
        jb_bool(&b, "ciphertext_hiding", p & SNP_POLICY_CIPHERTEXT_HIDING);
        jb_bool(&b, "page_swap_disable", p & SNP_POLICY_PAGE_SWAP_DISABLE);
        jb_u64hex(&b, "reserved_bits", p & ~UINT64_C(0x3ffffff));
        (void)jb_finish(&b, &o);
        return o;
}

static json_object *platform_info_to_json(uint64_t p)
{
        struct jbuild b;
        json_object *o = NULL;

        if (jb_start(&b) < 0)
                return NULL;
        jb_bool(&b, "smt_en", p & SNP_PLATFORM_SMT_EN);
        jb_bool(&b, "tsme_en", p & SNP_PLATFORM_TSME_EN);
        jb_bool(&b, "ecc_en", p & SNP_PLATFORM_ECC_EN);
        jb_bool(&b, "rapl_dis", p & SNP_PLATFORM_RAPL_DIS);
        jb_bool(&b, "ciphertext_hiding_en", p & SNP_PLATFORM_CIPHERTEXT_HIDING_EN);
        jb_bool(&b, "alias_check_complete", p & SNP_PLATFORM_ALIAS_CHECK_COMPLETE);
        jb_bool(&b, "tio_en", p & SNP_PLATFORM_TIO_EN);
        (void)jb_finish(&b, &o);
        return o;
}

/* r and s are stored little-endian; show them as the big-endian integers they are. */
static void jb_sig_component(struct jbuild *b, const char *key, const uint8_t *le)
{
        uint8_t be[SNP_SIG_COMPONENT_SIZE];

        for (size_t i = 0; i < SNP_SIG_COMPONENT_SIZE; i++)
                be[i] = le[SNP_SIG_COMPONENT_SIZE - 1 - i];
        jb_hex(b, key, be, sizeof(be));
}

int snp_report_to_json(const struct snp_report *r, json_object **ret)
{
        enum snp_tcb_layout layout = snp_report_tcb_layout(r);
        struct jbuild b;

        if (jb_start(&b) < 0)
                return -ENOMEM;
        jb_str(&b, "type", "snp");
        jb_int(&b, "version", r->version);
        jb_str(&b, "product", amd_product_name(r->product));
        jb_str(&b, "tcb_layout", layout_name(layout));
        jb_int(&b, "guest_svn", r->guest_svn);
        jb_u64hex(&b, "policy", r->policy);
        jb_add(&b, "policy_decoded", policy_to_json(r->policy));
        jb_hex(&b, "family_id", r->family_id, sizeof(r->family_id));
        jb_hex(&b, "image_id", r->image_id, sizeof(r->image_id));
        jb_int(&b, "vmpl", r->vmpl);
        jb_int(&b, "signature_algo", r->signature_algo);
        jb_tcb(&b, "current_tcb", r->current_tcb, layout);
        jb_u64hex(&b, "platform_info", r->platform_info);
        jb_add(&b, "platform_info_decoded", platform_info_to_json(r->platform_info));
        jb_u64hex(&b, "flags", r->flags);
        jb_bool(&b, "author_key_en", r->flags & SNP_FLAG_AUTHOR_KEY_EN);
        jb_bool(&b, "mask_chip_key", r->flags & SNP_FLAG_MASK_CHIP_KEY);
        jb_str(&b, "signing_key", snp_signing_key_name(SNP_FLAG_SIGNING_KEY(r->flags)));
        jb_hex(&b, "report_data", r->report_data, sizeof(r->report_data));
        jb_hex(&b, "measurement", r->measurement, sizeof(r->measurement));
        jb_hex(&b, "host_data", r->host_data, sizeof(r->host_data));
        jb_hex(&b, "id_key_digest", r->id_key_digest, sizeof(r->id_key_digest));
        jb_hex(&b, "author_key_digest", r->author_key_digest, sizeof(r->author_key_digest));
        jb_hex(&b, "report_id", r->report_id, sizeof(r->report_id));
        jb_hex(&b, "report_id_ma", r->report_id_ma, sizeof(r->report_id_ma));
        jb_tcb(&b, "reported_tcb", r->reported_tcb, layout);
        if (r->has_cpuid) {
                jb_int(&b, "cpuid_fam_id", r->cpuid_fam_id);
                jb_int(&b, "cpuid_mod_id", r->cpuid_mod_id);
                jb_int(&b, "cpuid_step", r->cpuid_step);
        }
        jb_hex(&b, "chip_id", r->chip_id, sizeof(r->chip_id));
        jb_tcb(&b, "committed_tcb", r->committed_tcb, layout);
        jb_int(&b, "current_build", r->current_build);
        jb_int(&b, "current_minor", r->current_minor);
        jb_int(&b, "current_major", r->current_major);
        jb_int(&b, "committed_build", r->committed_build);
        jb_int(&b, "committed_minor", r->committed_minor);
        jb_int(&b, "committed_major", r->committed_major);
        jb_tcb(&b, "launch_tcb", r->launch_tcb, layout);
        if (r->has_mit_vectors) {
                jb_u64hex(&b, "launch_mit_vector", r->launch_mit_vector);
                jb_u64hex(&b, "current_mit_vector", r->current_mit_vector);
        }
        jb_sig_component(&b, "signature_r", r->signature_r);
        jb_sig_component(&b, "signature_s", r->signature_s);
        return jb_finish(&b, ret);
}

/* ---- certificates -------------------------------------------------------------------------------------- */

/* The CN of @name as UTF-8 into @out ("" when absent). */
static void name_cn(const X509_NAME *name, char *out, size_t size)
{
        int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
        unsigned char *utf8 = NULL;
        int n;

        out[0] = '\0';
        if (i < 0)
                return;
        n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)));
        if (n < 0)
                return;
        snprintf(out, size, "%.*s", n, (const char *)utf8);
        OPENSSL_free(utf8);
}

/* One-line RFC 2253 form of @name into @out. */
static void name_oneline(const X509_NAME *name, char *out, size_t size)
{
        _cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
        char *p;
        long n;

        out[0] = '\0';
        if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0)
                return;
        n = BIO_get_mem_data(bio, &p);
        if (n > 0)
                snprintf(out, size, "%.*s", (int)n, p);
}

static void cert_subject(const X509 *x, char *out, size_t size)
{
        name_oneline(X509_get_subject_name(x), out, size);
}

static time_t asn1_time_to_time(const ASN1_TIME *t)
{
        struct tm tm = {};

        if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
                return (time_t)-1;
        return timegm(&tm);
}

static void format_asn1_time(const ASN1_TIME *t, char out[static 21])
{
        time_t v = asn1_time_to_time(t);

        if (v == (time_t)-1)
                strcpy(out, "invalid-time");
        else
                format_rfc3339(v, out);
}

static void cert_sha256_hex(const X509 *x, char out[static 65])
{
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;

        if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32) {
                out[0] = '\0';
                return;
        }
        hex_encode_to(out, md, 32);
}

static bool buf_is_pem(const uint8_t *buf, size_t len)
{
        return memmem(buf, len, "-----BEGIN ", 11) != NULL;
}

int snp_certs_load(const uint8_t *buf, size_t len, STACK_OF(X509) * *ret, struct cvm_error *err)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        _cleanup_(BIO_free_allp) BIO *bio = NULL;

        if (len > INT_MAX)
                return cvm_error_set(err, -EBADMSG, "certificate file is too large");
        certs = sk_X509_new_null();
        if (!certs)
                return cvm_error_set(err, -ENOMEM, "out of memory");

        if (!buf_is_pem(buf, len)) {
                const unsigned char *p = buf;
                X509 *x = d2i_X509(NULL, &p, (long)len);

                ERR_clear_error();
                if (!x)
                        return cvm_error_set(err, -EBADMSG, "neither a PEM nor a DER certificate");
                if (p != buf + len) {
                        X509_free(x);
                        return cvm_error_set(err, -EBADMSG,
                                             "offset 0x%zx: trailing data after the DER certificate",
                                             (size_t)(p - buf));
                }
                if (!sk_X509_push(certs, x)) {
                        X509_free(x);
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                }
                *ret = TAKE_PTR(certs);
                return 0;
        }

        bio = BIO_new_mem_buf(buf, (int)len);
        if (!bio)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        for (;;) {
                X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                unsigned long e;

                if (!x) {
                        e = ERR_peek_last_error();
                        ERR_clear_error();
                        /* Running out of PEM blocks is the normal end. */
                        if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                                break;
                        return cvm_error_set(err, -EBADMSG, "PEM certificate %d does not decode",
                                             sk_X509_num(certs) + 1);
                }
                if (!sk_X509_push(certs, x)) {
                        X509_free(x);
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                }
        }
        if (sk_X509_num(certs) == 0)
                return cvm_error_set(err, -EBADMSG, "no PEM CERTIFICATE block found");
        *ret = TAKE_PTR(certs);
        return 0;
}

void snp_vek_free(struct snp_vek *v)
{
        if (!v)
                return;
        X509_free(v->cert);
        if (v->bundle)
                sk_X509_pop_free(v->bundle, X509_free);
        free(v);
}

#define AMD_OID_PREFIX "1.3.6.1.4.1.3704.1."

static int parse_spl(const ASN1_OCTET_STRING *data, const char *what, int *ret, struct cvm_error *err)
{
        const unsigned char *p = ASN1_STRING_get0_data(data);
        int len = ASN1_STRING_length(data);
        _cleanup_(ASN1_INTEGER_freep) ASN1_INTEGER *i = d2i_ASN1_INTEGER(NULL, &p, len);
        int64_t v;

        ERR_clear_error();
        if (!i || p != ASN1_STRING_get0_data(data) + len || ASN1_INTEGER_get_int64(&v, i) != 1 || v < 0 ||
            v > 255)
                return cvm_error_set(err, -EBADMSG, "VEK extension %s is not an INTEGER from 0 to 255",
                                     what);
        *ret = (int)v;
        return 0;
}

static int parse_product_name(const ASN1_OCTET_STRING *data, struct snp_vek *v, struct cvm_error *err)
{
        const unsigned char *p = ASN1_STRING_get0_data(data);
        int len = ASN1_STRING_length(data);
        _cleanup_(ASN1_IA5STRING_freep) ASN1_IA5STRING *s = d2i_ASN1_IA5STRING(NULL, &p, len);
        const unsigned char *c;
        int n;

        ERR_clear_error();
        if (!s || p != ASN1_STRING_get0_data(data) + len)
                return cvm_error_set(err, -EBADMSG,
                                     "VEK extension productName (" AMD_OID_PREFIX "2) is not an IA5String");
        c = ASN1_STRING_get0_data(s);
        n = ASN1_STRING_length(s);
        if (n <= 0 || (size_t)n >= sizeof(v->product_name))
                return cvm_error_set(err, -EBADMSG, "VEK extension productName has a bad length %d", n);
        for (int i = 0; i < n; i++)
                if (c[i] < 0x20 || c[i] > 0x7e)
                        return cvm_error_set(err, -EBADMSG,
                                             "VEK extension productName has a non-printable byte");
        memcpy(v->product_name, c, (size_t)n);
        v->product_name[n] = '\0';
        return 0;
}

static int parse_hwid(const ASN1_OCTET_STRING *data, struct snp_vek *v, struct cvm_error *err)
{
        const unsigned char *p = ASN1_STRING_get0_data(data);
        size_t len = (size_t)ASN1_STRING_length(data);

        /* KDS puts the raw bytes in the extension; some issuers wrap them in an OCTET STRING. */
        if ((len == 66 && p[0] == 0x04 && p[1] == 64) || (len == 10 && p[0] == 0x04 && p[1] == 8)) {
                p += 2;
                len -= 2;
        }
        if (len != 64 && len != 8)
                return cvm_error_set(
                        err, -EBADMSG,
                        "VEK extension hwID (" AMD_OID_PREFIX "4) is %zu bytes, expected 64 or 8", len);
        memcpy(v->hwid, p, len);
        v->hwid_size = len;
        return 0;
}

static int parse_amd_extensions(struct snp_vek *v, struct cvm_error *err)
{
        int n = X509_get_ext_count(v->cert);
        int r;

        for (int i = 0; i < n; i++) {
                X509_EXTENSION *ext = X509_get_ext(v->cert, i);
                const ASN1_OCTET_STRING *data = X509_EXTENSION_get_data(ext);
                char oid[80];
                const char *sub;
                int *spl = NULL;

                if (OBJ_obj2txt(oid, sizeof(oid), X509_EXTENSION_get_object(ext), 1) <= 0)
                        continue;
                if (strncmp(oid, AMD_OID_PREFIX, strlen(AMD_OID_PREFIX)) != 0)
                        continue;
                sub = oid + strlen(AMD_OID_PREFIX);
                if (streq(sub, "2"))
                        r = parse_product_name(data, v, err);
                else if (streq(sub, "4"))
                        r = parse_hwid(data, v, err);
                else {
                        if (streq(sub, "3.1"))
                                spl = &v->spl_bl;
                        else if (streq(sub, "3.2"))
                                spl = &v->spl_tee;
                        else if (streq(sub, "3.3"))
                                spl = &v->spl_snp;
                        else if (streq(sub, "3.8"))
                                spl = &v->spl_ucode;
                        else if (streq(sub, "3.9"))
                                spl = &v->spl_fmc;
                        if (!spl)
                                continue; /* struct version, reserved SPLs, CSP id */
                        r = parse_spl(data, oid, spl, err);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

/* "SEV-Milan" -> VCEK issuer for Milan; "SEV-VLEK-Genoa" -> VLEK issuer for Genoa. */
static enum amd_product product_from_issuer_cn(const char *cn, bool *ret_vlek)
{
        *ret_vlek = false;
        if (strncmp(cn, "SEV-", 4) != 0)
                return AMD_PRODUCT_UNKNOWN;
        cn += 4;
        if (strncmp(cn, "VLEK-", 5) == 0) {
                *ret_vlek = true;
                cn += 5;
        }
        /* The exact name, not a prefix: "SEV-Milanese" is no AMD CA. */
        for (int p = AMD_PRODUCT_UNKNOWN + 1; p < _AMD_PRODUCT_MAX; p++)
                if (streq(cn, amd_product_name((enum amd_product)p)))
                        return (enum amd_product)p;
        return AMD_PRODUCT_UNKNOWN;
}

int snp_vek_load(const uint8_t *buf, size_t len, struct snp_vek **ret, struct cvm_error *err)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *certs = NULL;
        _cleanup_(snp_vek_freep) struct snp_vek *v = NULL;
        char cn[128];
        bool issuer_vlek;
        int r;

        r = snp_certs_load(buf, len, &certs, err);
        if (r < 0)
                return r;
        v = calloc(1, sizeof(*v));
        if (!v)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        v->spl_bl = v->spl_tee = v->spl_snp = v->spl_ucode = v->spl_fmc = -1;
        v->cert = sk_X509_shift(certs);
        if (sk_X509_num(certs) > 0)
                v->bundle = TAKE_PTR(certs);

        name_cn(X509_get_issuer_name(v->cert), cn, sizeof(cn));
        v->product = product_from_issuer_cn(cn, &issuer_vlek);
        name_cn(X509_get_subject_name(v->cert), cn, sizeof(cn));
        if (streq(cn, "SEV-VLEK"))
                v->type = SNP_SIGNING_KEY_VLEK;
        else if (streq(cn, "SEV-VCEK"))
                v->type = SNP_SIGNING_KEY_VCEK;
        else
                v->type = issuer_vlek ? SNP_SIGNING_KEY_VLEK : SNP_SIGNING_KEY_VCEK;

        r = parse_amd_extensions(v, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(v);
        return 0;
}

int snp_vek_to_json(const struct snp_vek *v, json_object **ret)
{
        char s[256], t[21];
        struct jbuild b;

        if (jb_start(&b) < 0)
                return -ENOMEM;
        jb_str(&b, "type", snp_signing_key_name(v->type));
        jb_str(&b, "product", amd_product_name(v->product));
        jb_str(&b, "product_name", v->product_name[0] ? v->product_name : NULL);
        cert_subject(v->cert, s, sizeof(s));
        jb_str(&b, "subject", s);
        name_oneline(X509_get_issuer_name(v->cert), s, sizeof(s));
        jb_str(&b, "issuer", s);
        format_asn1_time(X509_get0_notBefore(v->cert), t);
        jb_str(&b, "not_before", t);
        format_asn1_time(X509_get0_notAfter(v->cert), t);
        jb_str(&b, "not_after", t);
        cert_sha256_hex(v->cert, s);
        jb_str(&b, "sha256", s);
        if (v->hwid_size > 0)
                jb_hex(&b, "hwid", v->hwid, v->hwid_size);
        else
                jb_null(&b, "hwid");
        if (b.r == 0) {
                struct jbuild tb;

                if (jb_start(&tb) < 0)
                        b.r = -ENOMEM;
                else {
                        const struct {
                                const char *name;
                                int v;
                        } spls[] = {{"bootloader", v->spl_bl},
                                    {"tee", v->spl_tee},
                                    {"snp", v->spl_snp},
                                    {"microcode", v->spl_ucode},
                                    {"fmc", v->spl_fmc}};
                        json_object *o = NULL;

                        for (size_t i = 0; i < ELEMENTSOF(spls); i++)
                                if (spls[i].v >= 0)
                                        jb_int(&tb, spls[i].name, spls[i].v);
                        if (jb_finish(&tb, &o) < 0)
                                b.r = -ENOMEM;
                        else
                                jb_add(&b, "tcb", o);
                }
        }
        return jb_finish(&b, ret);
}

/* ---- the report signature ------------------------------------------------------------------------------ */

static void set_reason(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(char *out, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(out, SNP_REASON_MAX, fmt, ap);
        va_end(ap);
}

/* Appends "; MESSAGE" (or MESSAGE when empty) to a reason buffer. */
static void add_reason(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_reason(char *out, const char *fmt, ...)
{
        size_t used = strlen(out);
        va_list ap;

        if (used > 0 && used + 2 < SNP_REASON_MAX) {
                memcpy(out + used, "; ", 3);
                used += 2;
        }
        if (used + 1 >= SNP_REASON_MAX)
                return;
        va_start(ap, fmt);
        (void)vsnprintf(out + used, SNP_REASON_MAX - used, fmt, ap);
        va_end(ap);
}

static bool key_is_p384(EVP_PKEY *key)
{
        char group[64];

        if (!key || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
                return false;
        if (EVP_PKEY_get_group_name(key, group, sizeof(group), NULL) != 1)
                return false;
        return streq(group, "secp384r1") || streq(group, "P-384");
}

int snp_report_verify_signature(const struct snp_report *r, const struct snp_vek *vek,
                                struct snp_check_result *ret, struct cvm_error *err)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = NULL;
        _cleanup_(BN_freep) BIGNUM *bn_r = NULL, *bn_s = NULL;
        _cleanup_free_ unsigned char *der = NULL;
        struct snp_check_result res = {.status = SNP_CHECK_INVALID};
        EVP_PKEY *key = X509_get0_pubkey(vek->cert);
        int der_len, v;

        if (SNP_FLAG_SIGNING_KEY(r->flags) == SNP_SIGNING_KEY_NONE) {
                set_reason(res.reason, "the report is not signed (SIGNING_KEY is none)");
                goto done;
        }
        if (!key_is_p384(key)) {
                set_reason(res.reason, "the %s public key is not an EC P-384 key",
                           snp_signing_key_name(vek->type));
                goto done;
        }

        bn_r = BN_lebin2bn(r->signature_r, SNP_SIG_COMPONENT_SIZE, NULL);
        bn_s = BN_lebin2bn(r->signature_s, SNP_SIG_COMPONENT_SIZE, NULL);
        sig = ECDSA_SIG_new();
        if (!bn_r || !bn_s || !sig)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (ECDSA_SIG_set0(sig, bn_r, bn_s) != 1)
                return cvm_error_set(err, -EIO, "cannot build the ECDSA signature");
        bn_r = bn_s = NULL; /* owned by sig now */
        der_len = i2d_ECDSA_SIG(sig, &der);
        if (der_len <= 0)
                return cvm_error_set(err, -ENOMEM, "cannot encode the ECDSA signature");

        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha384(), NULL, key) != 1) {
                ERR_clear_error();
                return cvm_error_set(err, -EIO, "cannot set up ECDSA verification");
        }
        v = EVP_DigestVerify(ctx, der, (size_t)der_len, r->raw, SNP_REPORT_SIGNED_SIZE);
        ERR_clear_error();
        if (v == 1)
                res.status = SNP_CHECK_VALID;
        else
                set_reason(res.reason,
                           "the ECDSA P-384 signature at offset 0x2a0 does not verify with the %s",
                           snp_signing_key_name(vek->type));
done:
        *ret = res;
        return 0;
}

/* ---- VEK <-> report ------------------------------------------------------------------------------------ */

static int compare_spl(const char *what, int cert, uint8_t report, char *reason)
{
        if (cert < 0) {
                add_reason(reason, "the certificate has no %s extension", what);
                return 0;
        }
        if (cert != report) {
                add_reason(reason, "reported_tcb %s is %u but the certificate says %d", what, report, cert);
                return 0;
        }
        return 1;
}

int snp_vek_match_report(const struct snp_vek *vek, const struct snp_report *r, struct snp_vek_match *ret)
{
        struct snp_vek_match m = {.status = SNP_CHECK_VALID, .hwid = -1, .product = -1};
        unsigned key = SNP_FLAG_SIGNING_KEY(r->flags);
        enum amd_product product = r->product_from_cpuid ? r->product : vek->product;
        enum snp_tcb_layout layout;
        struct snp_tcb t;

        m.signing_key = key == (unsigned)vek->type;
        if (key == SNP_SIGNING_KEY_NONE)
                add_reason(m.reason, "the report is not signed (SIGNING_KEY is none)");
        else if (!m.signing_key)
                add_reason(m.reason, "the report is signed by a %s but the certificate is a %s",
                           snp_signing_key_name(key), snp_signing_key_name(vek->type));

        if (r->product_from_cpuid && vek->product != AMD_PRODUCT_UNKNOWN) {
                m.product = r->product == vek->product;
                if (!m.product)
                        add_reason(m.reason, "the report comes from a %s CPU but the certificate is for %s",
                                   amd_product_name(r->product), amd_product_name(vek->product));
        }

        if (vek->type == SNP_SIGNING_KEY_VCEK) {
                if (vek->hwid_size == 0) {
                        m.hwid = 0;
                        add_reason(m.reason, "the VCEK has no hwID extension");
                } else if (is_all_zero(r->chip_id, sizeof(r->chip_id))) {
                        m.hwid = 0;
                        add_reason(m.reason, "the report's chip_id is masked (all zero)");
                } else if (product != AMD_PRODUCT_UNKNOWN &&
                           vek->hwid_size != (product == AMD_PRODUCT_TURIN ? 8u : 64u)) {
                        /* A short hwID must not weaken the comparison on products with 64-byte IDs. */
                        m.hwid = 0;
                        add_reason(m.reason, "the VCEK hwID is %zu bytes; %s uses %u", vek->hwid_size,
                                   amd_product_name(product), product == AMD_PRODUCT_TURIN ? 8u : 64u);
                } else {
                        /* Turin hwIDs are the first 8 bytes of CHIP_ID. */
                        m.hwid = memcmp(r->chip_id, vek->hwid, vek->hwid_size) == 0;
                        if (!m.hwid)
                                add_reason(m.reason,
                                           "chip_id does not match the VCEK hwID (a different chip)");
                }
        }

        layout = layout_for_product(product);
        if (layout == SNP_TCB_LAYOUT_UNKNOWN && !r->product_from_cpuid)
                layout = snp_report_tcb_layout(r);
        if (layout == SNP_TCB_LAYOUT_UNKNOWN) {
                m.tcb = 0;
                add_reason(m.reason, "reported_tcb cannot be decoded: unknown product line");
        } else {
                snp_tcb_decode(r->reported_tcb, layout, &t);
                m.tcb = compare_spl("blSPL", vek->spl_bl, t.bootloader, m.reason) &
                        compare_spl("teeSPL", vek->spl_tee, t.tee, m.reason) &
                        compare_spl("snpSPL", vek->spl_snp, t.snp, m.reason) &
                        compare_spl("ucodeSPL", vek->spl_ucode, t.microcode, m.reason);
                if (layout == SNP_TCB_LAYOUT_TURIN)
                        m.tcb &= compare_spl("fmcSPL", vek->spl_fmc, t.fmc, m.reason);
        }

        if (!m.signing_key || m.product == 0 || m.hwid == 0 || m.tcb == 0)
                m.status = SNP_CHECK_INVALID;
        *ret = m;
        return 0;
}

int snp_vek_match_to_json(const struct snp_vek_match *m, json_object **ret)
{
        struct jbuild b;

        if (jb_start(&b) < 0)
                return -ENOMEM;
        jb_tristate(&b, "signing_key", m->signing_key);
        jb_tristate(&b, "product", m->product);
        jb_tristate(&b, "hwid", m->hwid);
        jb_tristate(&b, "tcb", m->tcb);
        if (m->status == SNP_CHECK_INVALID)
                jb_str(&b, "reason", m->reason);
        return jb_finish(&b, ret);
}

/* ---- the certificate chain ----------------------------------------------------------------------------- */

static bool is_self_signed(X509 *x)
{
        return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0;
}

/* Adds a reference to @x to @s. */
static int push_ref(STACK_OF(X509) * s, X509 *x)
{
        if (X509_up_ref(x) != 1)
                return -ENOMEM;
        if (!sk_X509_push(s, x)) {
                X509_free(x);
                return -ENOMEM;
        }
        return 0;
}

/* Adds the caller's intermediates; a self-signed one must be the trusted root itself. */
static int add_supplied(STACK_OF(X509) * untrusted, STACK_OF(X509) * supplied, const struct snp_vek *vek,
                        X509 *ark, struct snp_chain_result *res)
{
        for (int i = 0; supplied && i < sk_X509_num(supplied); i++) {
                X509 *x = sk_X509_value(supplied, i);
                char s[256], fp[65];

                if (X509_cmp(x, vek->cert) == 0)
                        continue;
                if (is_self_signed(x)) {
                        if (X509_cmp(x, ark) == 0)
                                continue;
                        char root[128];

                        name_cn(X509_get_subject_name(ark), root, sizeof(root));
                        cert_subject(x, s, sizeof(s));
                        cert_sha256_hex(x, fp);
                        set_reason(res->reason,
                                   "the self-signed certificate '%s' (sha256 %s) supplied with the chain is "
                                   "not the pinned %s",
                                   s, fp, root);
                        res->failed_depth = 2;
                        return 0;
                }
                if (push_ref(untrusted, x) < 0)
                        return -ENOMEM;
        }
        return 1;
}

static void describe_failure(X509_STORE_CTX *ctx, struct snp_chain_result *res)
{
        int e = X509_STORE_CTX_get_error(ctx);
        int depth = X509_STORE_CTX_get_error_depth(ctx);
        X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
        char s[256] = "", t[21];

        if (cur)
                cert_subject(cur, s, sizeof(s));
        res->failed_depth = depth;
        switch (e) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
                format_asn1_time(X509_get0_notAfter(cur), t);
                set_reason(res->reason, "certificate at depth %d (%s) has expired (not after %s)", depth, s,
                           t);
                break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
                format_asn1_time(X509_get0_notBefore(cur), t);
                set_reason(res->reason, "certificate at depth %d (%s) is not yet valid (not before %s)",
                           depth, s, t);
                break;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
                set_reason(res->reason,
                           "certificate at depth %d (%s): its issuer is neither the pinned AMD root nor a "
                           "certificate issued by it",
                           depth, s);
                break;
        default:
                set_reason(res->reason, "certificate at depth %d (%s): %s", depth, s,
                           X509_verify_cert_error_string(e));
        }
}

static int chain_verify(const struct snp_vek *vek, STACK_OF(X509) * chain, X509 *ark,
                        X509 *const *pinned_inter, size_t n_pinned, const time_t *at,
                        struct snp_chain_result *ret, struct cvm_error *err)
{
        _cleanup_(x509_stack_freep) STACK_OF(X509) *untrusted = NULL;
        _cleanup_(X509_STORE_CTX_freep) X509_STORE_CTX *ctx = NULL;
        _cleanup_(X509_STORE_freep) X509_STORE *store = NULL;
        struct snp_chain_result res = {
                .status = SNP_CHECK_INVALID, .product = vek->product, .failed_depth = -1};
        STACK_OF(X509) * built;
        char cn[128];
        bool vlek_issuer;
        int r, ok;

        res.at = at ? *at : time(NULL);
        cert_subject(vek->cert, res.vek_subject, sizeof(res.vek_subject));

        untrusted = sk_X509_new_null();
        store = X509_STORE_new();
        ctx = X509_STORE_CTX_new();
        if (!untrusted || !store || !ctx)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        /* Pinned intermediates first: name lookup takes the first match. */
        for (size_t i = 0; i < n_pinned; i++)
                if (push_ref(untrusted, pinned_inter[i]) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
        r = add_supplied(untrusted, vek->bundle, vek, ark, &res);
        if (r > 0)
                r = add_supplied(untrusted, chain, vek, ark, &res);
        if (r < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (r == 0)
                goto done;

        if (X509_STORE_add_cert(store, ark) != 1 ||
            X509_STORE_CTX_init(ctx, store, vek->cert, untrusted) != 1) {
                ERR_clear_error();
                return cvm_error_set(err, -ENOMEM, "cannot set up certificate verification");
        }
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx), res.at);
        /* Also check the root's self-signature, which OpenSSL skips for trust anchors by default. */
        X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), X509_V_FLAG_CHECK_SS_SIGNATURE);

        ok = X509_verify_cert(ctx);
        ERR_clear_error();
        if (ok != 1) {
                describe_failure(ctx, &res);
                goto done;
        }
        built = X509_STORE_CTX_get0_chain(ctx);
        if (sk_X509_num(built) != 3) {
                set_reason(res.reason, "the chain has %d certificates; expected VEK, ASK or ASVK, and ARK",
                           sk_X509_num(built));
                goto done;
        }
        cert_subject(sk_X509_value(built, 1), res.ask_subject, sizeof(res.ask_subject));
        cert_subject(sk_X509_value(built, 2), res.ark_subject, sizeof(res.ark_subject));
        cert_sha256_hex(sk_X509_value(built, 2), res.ark_sha256);
        res.user_chain_used = true;
        for (size_t i = 0; i < n_pinned; i++)
                if (X509_cmp(sk_X509_value(built, 1), pinned_inter[i]) == 0)
                        res.user_chain_used = false;

        /* A VLEK must come from the ASVK and a VCEK from the ASK, never crosswise. */
        name_cn(X509_get_subject_name(sk_X509_value(built, 1)), cn, sizeof(cn));
        (void)product_from_issuer_cn(cn, &vlek_issuer);
        if (vlek_issuer != (vek->type == SNP_SIGNING_KEY_VLEK)) {
                res.failed_depth = 1;
                set_reason(res.reason, "a %s issued by '%s' (expected the %s)",
                           snp_signing_key_name(vek->type), cn,
                           vek->type == SNP_SIGNING_KEY_VLEK ? "ASVK" : "ASK");
                goto done;
        }
        res.status = SNP_CHECK_VALID;
done:
        *ret = res;
        return 0;
}

int snp_chain_verify(const struct snp_vek *vek, STACK_OF(X509) * chain, const time_t *at,
                     struct snp_chain_result *ret, struct cvm_error *err)
{
        _cleanup_(X509_freep) X509 *ark = NULL, *ask = NULL, *asvk = NULL;
        X509 *inter[2];
        int r;

        if (vek->product == AMD_PRODUCT_UNKNOWN) {
                struct snp_chain_result res = {.status = SNP_CHECK_INVALID, .failed_depth = 0};
                char issuer[256];

                res.at = at ? *at : time(NULL);
                cert_subject(vek->cert, res.vek_subject, sizeof(res.vek_subject));
                name_oneline(X509_get_issuer_name(vek->cert), issuer, sizeof(issuer));
                set_reason(res.reason,
                           "the issuer '%s' is not an AMD SEV-SNP product CA (SEV-Milan, SEV-Genoa, "
                           "SEV-Turin or SEV-VLEK-*)",
                           issuer);
                *ret = res;
                return 0;
        }
        r = amd_roots_load(vek->product, AMD_CERT_ARK, &ark, err);
        if (r >= 0)
                r = amd_roots_load(vek->product, AMD_CERT_ASK, &ask, err);
        if (r >= 0)
                r = amd_roots_load(vek->product, AMD_CERT_ASVK, &asvk, err);
        if (r < 0)
                return r;
        inter[0] = ask;
        inter[1] = asvk;
        return chain_verify(vek, chain, ark, inter, ELEMENTSOF(inter), at, ret, err);
}

int snp_chain_verify_with_ark(const struct snp_vek *vek, STACK_OF(X509) * chain, X509 *ark, const time_t *at,
                              struct snp_chain_result *ret, struct cvm_error *err)
{
        return chain_verify(vek, chain, ark, NULL, 0, at, ret, err);
}

int snp_chain_result_to_json(const struct snp_chain_result *c, json_object **ret)
{
        char t[21];
        struct jbuild b;

        if (jb_start(&b) < 0)
                return -ENOMEM;
        jb_str(&b, "product", amd_product_name(c->product));
        format_rfc3339(c->at, t);
        jb_str(&b, "at", t);
        jb_str(&b, "vek_subject", c->vek_subject);
        if (c->status == SNP_CHECK_VALID) {
                jb_str(&b, "ask_subject", c->ask_subject);
                jb_str(&b, "ark_subject", c->ark_subject);
                jb_str(&b, "ark_sha256", c->ark_sha256);
                jb_bool(&b, "supplied_intermediate", c->user_chain_used);
        } else {
                jb_int(&b, "failed_depth", c->failed_depth);
                jb_str(&b, "reason", c->reason);
        }
        return jb_finish(&b, ret);
}
