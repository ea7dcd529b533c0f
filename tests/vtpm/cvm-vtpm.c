/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-vtpm: turns a running swtpm into a simulated Azure SEV-SNP CVM vTPM (test tool).
 *
 *   cvm-vtpm pki --dir DIR [--pki PKI]
 *   cvm-vtpm [--tcti SPEC] provision --dir DIR [--pki PKI] [--eventlog FILE] [--variant NAME]...
 *            [--ak-handle H]
 *   cvm-vtpm [--tcti SPEC] refresh --dir DIR [--pki PKI]
 *   cvm-vtpm make-eventlog FILE
 *
 * pki: creates (once; reused when present, under a lock) a test AMD-style hierarchy in PKI
 *   (default DIR): ARK and ASK
 *   (RSA-4096, RSA-PSS/SHA-384 signatures, self-signed ARK), a VCEK (EC P-384) carrying the AMD
 *   extensions 1.3.6.1.4.1.3704.1.x (struct version, product name, bl/tee/snp/ucode SPL, hwID),
 *   a test "virtual TPM CA", a foreign P-384 signer and a foreign RSA key for negative variants.
 * provision: makes sure an AK is at 0x81000003 (created under the EK), writes its certificate
 *   (issued by the test vTPM CA) to NV 0x01C101D0, replays the event log's digests into the PCRs,
 *   builds the runtime-claims JSON (HCLAkPub JWK, vm-configuration, user-data), an SNP report with
 *   report_data = SHA-256(JSON) and chip_id = hwID signed by the VCEK, wraps both into an HCL
 *   report with the Azure layout and writes it to NV 0x01400001 (zero-padded to 2048 bytes).
 *   Variants: ak-unbound (HCLAkPub is a foreign key), foreign-signer (report signed by a key that
 *   is not the VCEK), pcr-mismatch (one more extend of PCR 7 after the log), no-hcl-report and
 *   no-ak-cert (the NV index is left undefined).
 * refresh: emulates the paravisor: reads NV 0x01400002 and re-issues the HCL report with that
 *   user-data (re-signed by whichever key signed the current one, per DIR/signer).
 *
 * make-eventlog: a small synthetic crypto-agile TCG log (no real-data corpus needed).
 *
 * Files in PKI: ark.pem ask.pem chain.pem (ASK then ARK, like KDS cert_chain) vcek.pem vcek.der
 * vtpm-ca.pem and the private keys *.key (test keys only). Files written to DIR: ak-cert.der ak.pub
 * (TPM2B_PUBLIC) hcl-report.bin runtime.json snp-report.bin signer. swtpm caps an NV index at 2048 bytes, so the runtime
 * JSON carries HCLAkPub but no HCLEkPub (an RSA EK JWK would not fit next to the RSA AK JWK).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>

#include "cleanup.h"
#include "eventlog-replay.h"
#include "hashalg.h"
#include "tpm.h"
#include "util.h"

#define SNP_REPORT_SIZE 1184
#define HCL_HEADER_SIZE 32
#define IGVM_DATA_SIZE  20
#define HCL_FIXED_SIZE  (HCL_HEADER_SIZE + SNP_REPORT_SIZE + IGVM_DATA_SIZE)
#define HCL_NV_SIZE     2048
#define SNP_SIGNED_SIZE 0x2a0
/* reported TCB of the test platform: bl 3, tee 0, snp 8, ucode 115 (azure-protocol.md §3.3) */
#define TEST_TCB_BL    3
#define TEST_TCB_TEE   0
#define TEST_TCB_SNP   8
#define TEST_TCB_UCODE 115

DEFINE_TRIVIAL_CLEANUP_FUNC(X509_EXTENSION *, X509_EXTENSION_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(ECDSA_SIG *, ECDSA_SIG_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free)

static const char *arg_tcti;
static const char *arg_dir;
static const char *arg_pki;
static const char *pki_dir;
static const char *arg_eventlog;
static uint32_t arg_ak_handle = TPM_AZURE_AK_HANDLE;
static bool variant_ak_unbound, variant_foreign_signer, variant_pcr_mismatch, variant_no_hcl,
        variant_no_akcert;

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
        va_list ap;
        unsigned long e;

        fprintf(stderr, "cvm-vtpm: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        while ((e = ERR_get_error()) != 0)
                fprintf(stderr, "cvm-vtpm:   openssl: %s\n", ERR_error_string(e, NULL));
        return -1;
}

static char *path_in(const char *dir, const char *name)
{
        static char buf[8][4096];
        static unsigned n;
        char *p = buf[n++ % 8];

        snprintf(p, 4096, "%s/%s", dir, name);
        return p;
}

/* Outputs go to --dir; the (cached) test PKI lives in --pki, by default the same directory. */
static char *path_in_dir(const char *name)
{
        return path_in(arg_dir, name);
}

static char *pki_path(const char *name)
{
        return path_in(pki_dir, name);
}

static bool exists(const char *name)
{
        return access(pki_path(name), F_OK) == 0;
}

static int write_to(const char *path, const void *p, size_t n)
{
        _cleanup_(fclosep) FILE *f = fopen(path, "we");

        if (!f || fwrite(p, 1, n, f) != n)
                return fail("cannot write %s: %m", path);
        if (fflush(f) != 0)
                return fail("cannot write %s: %m", path);
        return 0;
}

static int write_bytes(const char *name, const void *p, size_t n)
{
        return write_to(path_in_dir(name), p, n);
}

static int read_bytes(const char *name, uint8_t **ret, size_t *ret_size)
{
        struct cvm_error err = {};
        int r;

        r = read_file(path_in_dir(name), 1 << 20, ret, ret_size, &err);
        if (r < 0)
                return fail("%s", cvm_error_message(&err, r));
        return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* keys and certificates */

static int save_key(const char *name, EVP_PKEY *key)
{
        _cleanup_(fclosep) FILE *f = NULL;
        int fd;

        fd = open(pki_path(name), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || !(f = fdopen(fd, "w")))
                return fail("cannot write %s: %m", pki_path(name));
        if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
                return fail("cannot write %s", pki_path(name));
        return 0;
}

static EVP_PKEY *load_key(const char *name)
{
        _cleanup_(fclosep) FILE *f = fopen(pki_path(name), "re");
        EVP_PKEY *k;

        if (!f) {
                fail("cannot open %s: %m", pki_path(name));
                return NULL;
        }
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        if (!k)
                fail("cannot parse %s", pki_path(name));
        return k;
}

static X509 *load_cert(const char *name)
{
        _cleanup_(fclosep) FILE *f = fopen(pki_path(name), "re");
        X509 *x;

        if (!f) {
                fail("cannot open %s: %m", pki_path(name));
                return NULL;
        }
        x = PEM_read_X509(f, NULL, NULL, NULL);
        if (!x)
                fail("cannot parse %s", pki_path(name));
        return x;
}

static int save_cert(const char *name, X509 *x)
{
        _cleanup_(fclosep) FILE *f = fopen(pki_path(name), "we");

        if (!f || !PEM_write_X509(f, x) || fflush(f) != 0)
                return fail("cannot write %s", pki_path(name));
        return 0;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
        _cleanup_(X509_EXTENSION_freep) X509_EXTENSION *ext = NULL;
        X509V3_CTX ctx;

        X509V3_set_ctx_nodb(&ctx);
        X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
        ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        if (!ext || !X509_add_ext(x, ext, -1))
                return fail("cannot add X.509 extension %s=%s", OBJ_nid2sn(nid), value);
        return 0;
}

/* An extension whose extnValue is @der (already DER-encoded content), as AMD encodes its OIDs. */
static int add_raw_ext(X509 *x, const char *oid, const uint8_t *der, size_t n)
{
        _cleanup_(X509_EXTENSION_freep) X509_EXTENSION *ext = NULL;
        ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
        ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
        int ok;

        ok = obj && os && ASN1_OCTET_STRING_set(os, der, (int)n);
        if (ok)
                ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
        ASN1_OBJECT_free(obj);
        ASN1_OCTET_STRING_free(os);
        if (!ext || !X509_add_ext(x, ext, -1))
                return fail("cannot add extension %s", oid);
        return 0;
}

static int add_int_ext(X509 *x, const char *oid, unsigned v)
{
        uint8_t der[4] = {0x02, 1, (uint8_t)v};

        if (v >= 0x80) { /* a positive INTEGER needs a leading zero byte */
                der[1] = 2;
                der[2] = 0;
                der[3] = (uint8_t)v;
                return add_raw_ext(x, oid, der, 4);
        }
        return add_raw_ext(x, oid, der, 3);
}

static int sign_cert(X509 *x, EVP_PKEY *key, bool pss)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        EVP_PKEY_CTX *pctx = NULL;

        if (!md || EVP_DigestSignInit(md, &pctx, pss ? EVP_sha384() : EVP_sha256(), NULL, key) != 1)
                return fail("cannot start certificate signature");
        if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 ||
                    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1))
                return fail("cannot configure RSA-PSS");
        if (X509_sign_ctx(x, md) <= 0)
                return fail("cannot sign certificate");
        return 0;
}

static X509 *new_cert(EVP_PKEY *pub, const char *cn, const char *org, X509 *issuer, long serial, long days)
{
        X509 *x = X509_new();
        X509_NAME *name;

        if (!x)
                return NULL;
        name = X509_get_subject_name(x);
        if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), serial) != 1 ||
            !X509_gmtime_adj(X509_getm_notBefore(x), -86400) ||
            !X509_gmtime_adj(X509_getm_notAfter(x), days * 86400) || X509_set_pubkey(x, pub) != 1 ||
            X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC, (const unsigned char *)"Engineering", -1,
                                       -1, 0) != 1 ||
            X509_NAME_add_entry_by_txt(name, "C", MBSTRING_ASC, (const unsigned char *)"US", -1, -1, 0) !=
                    1 ||
            X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)org, -1, -1, 0) !=
                    1 ||
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) !=
                    1 ||
            X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) != 1) {
                X509_free(x);
                fail("cannot build certificate %s", cn);
                return NULL;
        }
        return x;
}

static int make_ca(const char *cn, const char *org, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
                   bool pss, X509 **ret)
{
        _cleanup_(X509_freep) X509 *x = new_cert(key, cn, org, issuer, 1, 25 * 365);

        if (!x || add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
            add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
            add_ext(x, issuer, NID_subject_key_identifier, "hash") < 0 ||
            add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") < 0 ||
            sign_cert(x, issuer_key ? issuer_key : key, pss) < 0)
                return -1;
        *ret = TAKE_PTR(x);
        return 0;
}

static int generate_pki(void)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ark = NULL, *ask = NULL, *vcek = NULL, *ca = NULL,
                                           *foreign = NULL, *foreign_rsa = NULL;
        _cleanup_(X509_freep) X509 *ark_x = NULL, *ask_x = NULL, *vcek_x = NULL, *ca_x = NULL;
        const char *org = "cvm-agent test hierarchy (not AMD)";
        uint8_t hwid[64];
        unsigned char *der = NULL;
        int der_len, r;

        if (exists("vcek.pem") && exists("vcek.key") && exists("chain.pem") && exists("vtpm-ca.key") &&
            exists("foreign.key") && exists("foreign-rsa.key"))
                return 0;

        ark = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
        ask = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)4096);
        vcek = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        foreign = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
        ca = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        foreign_rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
        if (!ark || !ask || !vcek || !foreign || !ca || !foreign_rsa)
                return fail("key generation failed");

        if (make_ca("ARK-Milan", org, ark, NULL, NULL, true, &ark_x) < 0 ||
            make_ca("SEV-Milan", org, ask, ark_x, ark, true, &ask_x) < 0 ||
            make_ca("cvm-agent test Virtual TPM CA", "cvm-agent test vTPM CA", ca, NULL, NULL, false,
                    &ca_x) < 0)
                return -1;

        /* VCEK: like KDS issues it (serial 0, no key usage), with the AMD extensions. */
        if (RAND_bytes(hwid, sizeof(hwid)) != 1)
                return fail("RAND_bytes failed");
        vcek_x = new_cert(vcek, "SEV-VCEK", org, ask_x, 0, 7 * 365);
        if (!vcek_x)
                return -1;
        static const uint8_t product[] = {0x16, 8, 'M', 'i', 'l', 'a', 'n', '-', 'B', '0'};
        if (add_int_ext(vcek_x, "1.3.6.1.4.1.3704.1.1", 0) < 0 ||
            add_raw_ext(vcek_x, "1.3.6.1.4.1.3704.1.2", product, sizeof(product)) < 0 ||
            add_int_ext(vcek_x, "1.3.6.1.4.1.3704.1.3.1", TEST_TCB_BL) < 0 ||
            add_int_ext(vcek_x, "1.3.6.1.4.1.3704.1.3.2", TEST_TCB_TEE) < 0 ||
            add_int_ext(vcek_x, "1.3.6.1.4.1.3704.1.3.4", 0) < 0 ||
            add_int_ext(vcek_x, "1.3.6.1.4.1.3704.1.3.5", 0) < 0 ||
            add_int_ext(vcek_x, "1.3.6.1.4.1.3704.1.3.6", 0) < 0 ||
            add_int_ext(vcek_x, "1.3.6.1.4.1.3704.1.3.7", 0) < 0 ||
            add_int_ext(vcek_x, "1.3.6.1.4.1.3704.1.3.3", TEST_TCB_SNP) < 0 ||
            add_int_ext(vcek_x, "1.3.6.1.4.1.3704.1.3.8", TEST_TCB_UCODE) < 0 ||
            add_raw_ext(vcek_x, "1.3.6.1.4.1.3704.1.4", hwid, sizeof(hwid)) < 0 ||
            sign_cert(vcek_x, ask, true) < 0)
                return -1;

        der_len = i2d_X509(vcek_x, &der);
        if (der_len <= 0)
                return fail("cannot encode VCEK");
        r = write_to(pki_path("vcek.der"), der, (size_t)der_len);
        OPENSSL_free(der);
        if (r < 0)
                return r;

        if (save_key("ark.key", ark) < 0 || save_key("ask.key", ask) < 0 ||
            save_key("vtpm-ca.key", ca) < 0 || save_key("foreign.key", foreign) < 0 ||
            save_key("foreign-rsa.key", foreign_rsa) < 0 || save_cert("ark.pem", ark_x) < 0 ||
            save_cert("ask.pem", ask_x) < 0 || save_cert("vtpm-ca.pem", ca_x) < 0 ||
            save_cert("vcek.pem", vcek_x) < 0)
                return -1;
        {
                _cleanup_(fclosep) FILE *f = fopen(pki_path("chain.pem"), "we");

                if (!f || !PEM_write_X509(f, ask_x) || !PEM_write_X509(f, ark_x) || fflush(f) != 0)
                        return fail("cannot write chain.pem");
        }
        /* The VCEK key last: its presence marks a complete hierarchy. */
        return save_key("vcek.key", vcek);
}

/* Generates the PKI once; a lock serialises concurrent test suites sharing one --pki cache. */
static int make_pki(void)
{
        int fd, r;

        if (mkdir(pki_dir, 0700) < 0 && errno != EEXIST)
                return fail("cannot create %s: %m", pki_dir);
        fd = open(pki_path(".lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX) < 0)
                return fail("cannot lock %s: %m", pki_path(".lock"));
        r = generate_pki();
        close(fd);
        return r;
}

/* hwID of the VCEK (extension 1.3.6.1.4.1.3704.1.4), which the report's chip_id must equal. */
static int vcek_hwid(uint8_t hwid[64])
{
        _cleanup_(X509_freep) X509 *x = load_cert("vcek.pem");
        ASN1_OBJECT *obj;
        int idx;

        if (!x)
                return -1;
        obj = OBJ_txt2obj("1.3.6.1.4.1.3704.1.4", 1);
        idx = obj ? X509_get_ext_by_OBJ(x, obj, -1) : -1;
        ASN1_OBJECT_free(obj);
        if (idx < 0)
                return fail("vcek.pem has no hwID extension");
        ASN1_OCTET_STRING *os = X509_EXTENSION_get_data(X509_get_ext(x, idx));
        if (ASN1_STRING_length(os) != 64)
                return fail("vcek.pem hwID is not 64 bytes");
        memcpy(hwid, ASN1_STRING_get0_data(os), 64);
        return 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* the AK as seen by OpenSSL and as a JWK */

static int tpm_rsa_public(const struct tpm_blob *pub, uint8_t *n, size_t *n_size, uint32_t *e)
{
        TPM2B_PUBLIC p = {};
        size_t off = 0;

        if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub->data, pub->size, &off, &p) != TSS2_RC_SUCCESS ||
            p.publicArea.type != TPM2_ALG_RSA)
                return fail("AK public area is not an RSA key");
        memcpy(n, p.publicArea.unique.rsa.buffer, p.publicArea.unique.rsa.size);
        *n_size = p.publicArea.unique.rsa.size;
        *e = p.publicArea.parameters.rsaDetail.exponent ? p.publicArea.parameters.rsaDetail.exponent : 65537;
        return 0;
}

static EVP_PKEY *rsa_pkey(const uint8_t *n, size_t n_size, uint32_t e)
{
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(BN_freep) BIGNUM *bn = BN_bin2bn(n, (int)n_size, NULL), *be = BN_new();
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        EVP_PKEY *key = NULL;

        if (!bld || !bn || !be || !ctx || BN_set_word(be, e) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
            !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) {
                fail("cannot build an RSA public key");
                return NULL;
        }
        return key;
}

static char *b64url(const uint8_t *p, size_t n)
{
        size_t cap = 4 * ((n + 2) / 3) + 1;
        char *s = malloc(cap);
        int len;

        if (!s)
                return NULL;
        len = EVP_EncodeBlock((unsigned char *)s, p, (int)n);
        while (len > 0 && s[len - 1] == '=')
                len--;
        s[len] = '\0';
        for (char *c = s; *c; c++)
                if (*c == '+')
                        *c = '-';
                else if (*c == '/')
                        *c = '_';
        return s;
}

static json_object *rsa_jwk(const char *kid, const char *op, const uint8_t *n, size_t n_size, uint32_t e)
{
        _cleanup_(json_object_putp) json_object *jwk = json_object_new_object();
        _cleanup_free_ char *n64 = b64url(n, n_size), *e64 = NULL;
        uint8_t eb[4] = {(uint8_t)(e >> 24), (uint8_t)(e >> 16), (uint8_t)(e >> 8), (uint8_t)e};
        size_t skip = 0;
        json_object *ops;

        while (skip < 3 && eb[skip] == 0)
                skip++;
        e64 = b64url(eb + skip, 4 - skip);
        if (!jwk || !n64 || !e64 || !(ops = json_object_new_array()))
                return NULL;
        json_object_array_add(ops, json_object_new_string(op));
        json_object_object_add(jwk, "kid", json_object_new_string(kid));
        json_object_object_add(jwk, "key_ops", ops);
        json_object_object_add(jwk, "kty", json_object_new_string("RSA"));
        json_object_object_add(jwk, "e", json_object_new_string(e64));
        json_object_object_add(jwk, "n", json_object_new_string(n64));
        return TAKE_PTR(jwk);
}

static int make_ak_cert(struct tpm *t, const struct tpm_blob *ak_pub)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ca = load_key("vtpm-ca.key"), *ak = NULL;
        _cleanup_(X509_freep) X509 *ca_x = load_cert("vtpm-ca.pem"), *x = NULL;
        uint8_t n[512];
        size_t n_size;
        uint32_t e;
        unsigned char *der = NULL;
        int len, r;
        struct cvm_error err = {};

        if (!ca || !ca_x || tpm_rsa_public(ak_pub, n, &n_size, &e) < 0 || !(ak = rsa_pkey(n, n_size, e)))
                return -1;
        x = new_cert(ak, "cvm-agent-test.TrustedVM.invalid", "cvm-agent test vTPM", ca_x, 0x4b, 365);
        if (!x || add_ext(x, ca_x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
            add_ext(x, ca_x, NID_key_usage, "critical,digitalSignature") < 0 ||
            add_ext(x, ca_x, NID_ext_key_usage, "2.23.133.8.3") < 0 ||
            add_ext(x, ca_x, NID_authority_key_identifier, "keyid:always") < 0 ||
            sign_cert(x, ca, false) < 0)
                return -1;
        len = i2d_X509(x, &der);
        if (len <= 0)
                return fail("cannot encode the AK certificate");
        r = write_bytes("ak-cert.der", der, (size_t)len);
        if (r >= 0) {
                r = tpm_nv_write(t, TPM_AZURE_AK_CERT_NV, der, (size_t)len, &err);
                if (r < 0)
                        fail("%s", cvm_error_message(&err, r));
        }
        OPENSSL_free(der);
        return r;
}

/* ------------------------------------------------------------------------------------------------ */
/* SNP and HCL reports */

static void put_le32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

static void put_le64(uint8_t *p, uint64_t v)
{
        put_le32(p, (uint32_t)v);
        put_le32(p + 4, (uint32_t)(v >> 32));
}

static int sign_snp_report(uint8_t *report, EVP_PKEY *key)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *md = EVP_MD_CTX_new();
        _cleanup_(ECDSA_SIG_freep) ECDSA_SIG *sig = NULL;
        unsigned char der[160];
        const unsigned char *p = der;
        size_t der_len = sizeof(der);
        uint8_t be[72];

        if (!md || EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key) != 1 ||
            EVP_DigestSign(md, der, &der_len, report, SNP_SIGNED_SIZE) != 1)
                return fail("cannot sign the SNP report");
        sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        if (!sig)
                return fail("cannot decode the ECDSA signature");

        /* r and s: 72 bytes little-endian each at 0x2a0 and 0x2e8, rest of the 512 bytes zero. */
        memset(report + SNP_SIGNED_SIZE, 0, SNP_REPORT_SIZE - SNP_SIGNED_SIZE);
        for (int i = 0; i < 2; i++) {
                const BIGNUM *v = i == 0 ? ECDSA_SIG_get0_r(sig) : ECDSA_SIG_get0_s(sig);

                if (BN_bn2binpad(v, be, sizeof(be)) != sizeof(be))
                        return fail("ECDSA component too large");
                for (size_t k = 0; k < sizeof(be); k++)
                        report[SNP_SIGNED_SIZE + i * 72 + k] = be[sizeof(be) - 1 - k];
        }
        return 0;
}

static void fill_snp_report(uint8_t *r, const uint8_t hwid[64])
{
        uint64_t tcb = (uint64_t)TEST_TCB_BL | ((uint64_t)TEST_TCB_TEE << 8) |
                       ((uint64_t)TEST_TCB_SNP << 48) | ((uint64_t)TEST_TCB_UCODE << 56);

        memset(r, 0, SNP_REPORT_SIZE);
        put_le32(r + 0x000, 3);          /* version */
        put_le32(r + 0x004, 1);          /* guest_svn */
        put_le64(r + 0x008, 0x3001f);    /* policy: abi 0.31, SMT, reserved bit 17 */
        r[0x010] = 0x01;                 /* family_id */
        r[0x020] = 0x02;                 /* image_id */
        put_le32(r + 0x030, 0);          /* vmpl */
        put_le32(r + 0x034, 1);          /* signature_algo: ECDSA P-384 SHA-384 */
        put_le64(r + 0x038, tcb);        /* current_tcb */
        put_le64(r + 0x040, 0x1);        /* platform_info: SMT enabled */
        put_le32(r + 0x048, 0);          /* signed by the VCEK */
        (void)RAND_bytes(r + 0x090, 48); /* measurement */
        memset(r + 0x0e0, 0x5a, 48);     /* id_key_digest */
        (void)RAND_bytes(r + 0x140, 32); /* report_id */
        memset(r + 0x160, 0xff, 32);     /* report_id_ma */
        put_le64(r + 0x180, tcb);        /* reported_tcb */
        r[0x188] = 0x19;                 /* cpuid family: Milan */
        r[0x189] = 0x01;
        r[0x18a] = 0x01;
        memcpy(r + 0x1a0, hwid, 64); /* chip_id */
        put_le64(r + 0x1e0, tcb);    /* committed_tcb */
        r[0x1e8] = 40;               /* current build/minor/major: 1.55.40 */
        r[0x1e9] = 55;
        r[0x1ea] = 1;
        r[0x1ec] = 40;
        r[0x1ed] = 55;
        r[0x1ee] = 1;
        put_le64(r + 0x1f0, tcb); /* launch_tcb */
}

/* Builds the HCL report around @snp (report_data set here) and @json; signs with @signer. */
static int build_hcl(uint8_t *snp, const char *json, EVP_PKEY *signer, uint8_t out[HCL_NV_SIZE])
{
        size_t var = strlen(json);

        if (HCL_FIXED_SIZE + var > HCL_NV_SIZE)
                return fail("runtime JSON of %zu bytes does not fit swtpm's %u-byte NV index", var,
                            HCL_NV_SIZE);

        memset(snp + 0x050, 0, 64);
        if (!EVP_Digest(json, var, snp + 0x050, NULL, EVP_sha256(), NULL))
                return fail("SHA-256 failed");
        if (sign_snp_report(snp, signer) < 0)
                return -1;

        memset(out, 0, HCL_NV_SIZE);
        memcpy(out, "HCLA", 4);
        put_le32(out + 0x04, 1);                                /* version */
        put_le32(out + 0x08, (uint32_t)(HCL_FIXED_SIZE + var)); /* report_size */
        put_le32(out + 0x0c, 2);                                /* request_type: AkCertRequest */
        memcpy(out + HCL_HEADER_SIZE, snp, SNP_REPORT_SIZE);
        put_le32(out + 0x4c0, (uint32_t)(IGVM_DATA_SIZE + var)); /* data_size */
        put_le32(out + 0x4c4, 1);                                /* version */
        put_le32(out + 0x4c8, 2);                                /* report_type: SNP */
        put_le32(out + 0x4cc, 1);                                /* hash type: SHA-256 */
        put_le32(out + 0x4d0, (uint32_t)var);
        memcpy(out + HCL_FIXED_SIZE, json, var);
        return 0;
}

static int write_report(struct tpm *t, const uint8_t *snp, const uint8_t *hcl, const char *json)
{
        struct cvm_error err = {};
        int r;

        if (write_bytes("snp-report.bin", snp, SNP_REPORT_SIZE) < 0 ||
            write_bytes("hcl-report.bin", hcl, HCL_NV_SIZE) < 0 ||
            write_bytes("runtime.json", json, strlen(json)) < 0)
                return -1;
        r = tpm_nv_write(t, TPM_AZURE_HCL_REPORT_NV, hcl, HCL_NV_SIZE, &err);
        if (r < 0)
                return fail("%s", cvm_error_message(&err, r));
        return 0;
}

static char *user_data_hex(const uint8_t *data, size_t n)
{
        uint8_t padded[64] = {};
        char *s;

        memcpy(padded, data, n > 64 ? 64 : n);
        s = hex_encode(padded, sizeof(padded));
        for (char *c = s; c && *c; c++)
                if (*c >= 'a' && *c <= 'f')
                        *c = (char)(*c - 'a' + 'A');
        return s;
}

static const char *json_text(json_object *o)
{
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static EVP_PKEY *current_signer(void)
{
        _cleanup_free_ uint8_t *name = NULL;
        size_t n;

        if (access(path_in_dir("signer"), F_OK) == 0 && read_bytes("signer", &name, &n) == 0 && strcmp((char *)name, "foreign") == 0)
                return load_key("foreign.key");
        return load_key("vcek.key");
}

/* ------------------------------------------------------------------------------------------------ */
/* PCRs */

static int extend_one(void *userdata, unsigned pcr, size_t n, const uint16_t *algs,
                      const uint8_t *const *digests)
{
        struct tpm *t = userdata;
        struct cvm_error err = {};
        int r;

        r = tpm_pcr_extend(t, pcr, n, algs, digests, &err);
        if (r < 0)
                return fail("%s", cvm_error_message(&err, r));
        return 0;
}

static int tamper_pcr7(struct tpm *t)
{
        static const char tamper[] = "cvm-vtpm: pcr-mismatch variant";
        uint8_t d[32];
        const uint8_t *dp = d;
        uint16_t alg = TPM_ALG_SHA256;

        if (!EVP_Digest(tamper, sizeof(tamper) - 1, d, NULL, EVP_sha256(), NULL))
                return fail("SHA-256 failed");
        return extend_one(t, 7, 1, &alg, &dp);
}

/* ------------------------------------------------------------------------------------------------ */

/*
 * A small synthetic crypto-agile TCG event log (SHA-1 + SHA-256 banks), so tests do not need the
 * real-data corpus: S-CRTM version and a boot-application action in PCR 0 and 4, a separator in
 * each of PCRs 0-7, and a grub-like command line in PCR 8. Every digest is the hash of its data.
 */
struct logbuf {
        uint8_t data[4096];
        size_t size;
};

static void log_put(struct logbuf *l, const void *p, size_t n)
{
        if (l->size + n <= sizeof(l->data))
                memcpy(l->data + l->size, p, n);
        l->size += n;
}

static void log_u32(struct logbuf *l, uint32_t v)
{
        uint8_t b[4];

        put_le32(b, v);
        log_put(l, b, 4);
}

static void log_u16(struct logbuf *l, uint16_t v)
{
        uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

        log_put(l, b, 2);
}

/* A TCG_PCR_EVENT2 whose digests cover @hashed (which may differ from the logged @data, as grub's do). */
static void log_event2_hashed(struct logbuf *l, uint32_t pcr, uint32_t type, const void *data, size_t n,
                              const void *hashed, size_t hashed_n)
{
        uint8_t d1[20], d256[32];

        EVP_Digest(hashed, hashed_n, d1, NULL, EVP_sha1(), NULL);
        EVP_Digest(hashed, hashed_n, d256, NULL, EVP_sha256(), NULL);
        log_u32(l, pcr);
        log_u32(l, type);
        log_u32(l, 2);
        log_u16(l, TPM_ALG_SHA1);
        log_put(l, d1, sizeof(d1));
        log_u16(l, TPM_ALG_SHA256);
        log_put(l, d256, sizeof(d256));
        log_u32(l, (uint32_t)n);
        log_put(l, data, n);
}

static void log_event2(struct logbuf *l, uint32_t pcr, uint32_t type, const void *data, size_t n)
{
        log_event2_hashed(l, pcr, type, data, n, data, n);
}

static int cmd_make_eventlog(const char *path)
{
        static const uint8_t crtm[] = {'c', 0, 'v', 0, 'm', 0, '-', 0, 'v', 0, 't', 0, 'p', 0, 'm', 0, 0, 0};
        static const char action[] = "Calling EFI Application from Boot Option";
        static const char cmdline[] = "grub_cmd: linux /vmlinuz root=/dev/vda1 ro";
        static const char ebs_invocation[] = "Exit Boot Services Invocation";
        static const char ebs_returned[] = "Exit Boot Services Returned with Success";
        static const uint8_t sep[4] = {0, 0, 0, 0};
        uint8_t spec[16 + 4 + 4 + 4 + 2 * 4 + 1] = "Spec ID Event03";
        uint8_t *p = spec + 16;
        struct logbuf l = {};
        uint8_t zero[20] = {};

        /* Spec ID event: a TCG_PCR_EVENT (SHA-1 format) of type EV_NO_ACTION in PCR 0. */
        put_le32(p, 0);     /* platformClass */
        p[4] = 0;           /* specVersionMinor */
        p[5] = 2;           /* specVersionMajor */
        p[6] = 0;           /* specErrata */
        p[7] = 2;           /* uintnSize: 64-bit */
        put_le32(p + 8, 2); /* numberOfAlgorithms */
        p[12] = TPM_ALG_SHA1;
        p[13] = 0;
        p[14] = 20;
        p[15] = 0;
        p[16] = TPM_ALG_SHA256;
        p[17] = 0;
        p[18] = 32;
        p[19] = 0;
        p[20] = 0; /* vendorInfoSize */
        log_u32(&l, 0);
        log_u32(&l, 3);
        log_put(&l, zero, sizeof(zero));
        log_u32(&l, sizeof(spec));
        log_put(&l, spec, sizeof(spec));

        log_event2(&l, 0, 0x00000008, crtm, sizeof(crtm));         /* EV_S_CRTM_VERSION */
        log_event2(&l, 4, 0x80000007, action, sizeof(action) - 1); /* EV_EFI_ACTION */
        for (uint32_t pcr = 0; pcr < 8; pcr++)
                log_event2(&l, pcr, 0x00000004, sep, sizeof(sep));   /* EV_SEPARATOR */
        /* EV_IPL as grub logs it: the digest covers the command without its "grub_cmd: " prefix. */
        log_event2_hashed(&l, 8, 0x0000000d, cmdline, sizeof(cmdline) - 1, cmdline + 10, sizeof(cmdline) - 11);
        log_event2(&l, 5, 0x80000007, ebs_invocation, sizeof(ebs_invocation) - 1);
        log_event2(&l, 5, 0x80000007, ebs_returned, sizeof(ebs_returned) - 1);
        if (l.size > sizeof(l.data))
                return fail("synthetic event log overflows its buffer");
        return write_to(path, l.data, l.size);
}

static int cmd_provision(void)
{
        _cleanup_(tpm_closep) struct tpm *t = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *signer = NULL;
        _cleanup_(json_object_putp) json_object *rt = NULL;
        _cleanup_free_ char *ud = NULL;
        struct tpm_blob ak_pub = {};
        struct cvm_error err = {};
        uint8_t hwid[64], snp[SNP_REPORT_SIZE], hcl[HCL_NV_SIZE], n[512], zero[64] = {};
        size_t n_size, events = 0;
        uint32_t e;
        json_object *keys, *cfg, *jwk;
        int r, created;

        if (make_pki() < 0 || vcek_hwid(hwid) < 0)
                return -1;
        r = tpm_open(arg_tcti, &t, &err);
        if (r < 0)
                return fail("%s", cvm_error_message(&err, r));

        created = tpm_ak_provision(t, arg_ak_handle, &ak_pub, &err);
        if (created < 0)
                return fail("%s", cvm_error_message(&err, created));
        r = write_bytes("ak.pub", ak_pub.data, ak_pub.size);
        if (r >= 0)
                r = tpm_rsa_public(&ak_pub, n, &n_size, &e);
        if (r >= 0 && variant_no_akcert) {
                r = tpm_nv_undefine(t, TPM_AZURE_AK_CERT_NV, &err);
                if (r == -ENOENT)
                        r = 0;
                else if (r < 0)
                        fail("%s", cvm_error_message(&err, r));
                cvm_error_clear(&err);
        } else if (r >= 0)
                r = make_ak_cert(t, &ak_pub);
        tpm_blob_done(&ak_pub);
        if (r < 0)
                return r;

        if (arg_eventlog) {
                r = eventlog_replay_file(arg_eventlog, extend_one, t, &events, &err);
                if (r < 0)
                        return fail("%s: %s", arg_eventlog, cvm_error_message(&err, r));
        }
        if (variant_pcr_mismatch && tamper_pcr7(t) < 0)
                return -1;

        /* Runtime claims: HCLAkPub, vm-configuration, user-data (all zero until 0x01400002 is written). */
        if (variant_ak_unbound) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *other = load_key("foreign-rsa.key");
                _cleanup_(BN_freep) BIGNUM *bn = NULL;

                if (!other || EVP_PKEY_get_bn_param(other, OSSL_PKEY_PARAM_RSA_N, &bn) != 1)
                        return fail("cannot read foreign-rsa.key");
                n_size = (size_t)BN_bn2bin(bn, n);
                e = 65537;
        }
        rt = json_object_new_object();
        keys = json_object_new_array();
        cfg = json_object_new_object();
        jwk = rsa_jwk("HCLAkPub", "sign", n, n_size, e);
        ud = user_data_hex(zero, sizeof(zero));
        if (!rt || !keys || !cfg || !jwk || !ud)
                return fail("out of memory");
        json_object_array_add(keys, jwk);
        json_object_object_add(rt, "keys", keys);
        json_object_object_add(cfg, "console-enabled", json_object_new_boolean(0));
        json_object_object_add(cfg, "secure-boot", json_object_new_boolean(1));
        json_object_object_add(cfg, "tpm-enabled", json_object_new_boolean(1));
        json_object_object_add(cfg, "vmUniqueId",
                               json_object_new_string("5C4E3A2B-0D1F-4A6B-9C8D-7E6F5A4B3C2D"));
        json_object_object_add(rt, "vm-configuration", cfg);
        json_object_object_add(rt, "user-data", json_object_new_string(ud));

        if (write_bytes("signer", variant_foreign_signer ? "foreign" : "vcek",
                        strlen(variant_foreign_signer ? "foreign" : "vcek")) < 0)
                return -1;
        signer = current_signer();
        if (!signer)
                return -1;
        fill_snp_report(snp, hwid);
        if (build_hcl(snp, json_text(rt), signer, hcl) < 0)
                return -1;
        if (variant_no_hcl) {
                r = tpm_nv_undefine(t, TPM_AZURE_HCL_REPORT_NV, &err);
                if (r < 0 && r != -ENOENT)
                        return fail("%s", cvm_error_message(&err, r));
                if (write_bytes("snp-report.bin", snp, SNP_REPORT_SIZE) < 0)
                        return -1;
        } else if (write_report(t, snp, hcl, json_text(rt)) < 0)
                return -1;

        printf("{\"ak_handle\":\"0x%08x\",\"ak_created\":%s,\"eventlog_events_extended\":%zu,"
               "\"hcl_report\":%s,\"ak_cert\":%s,\"variants\":\"%s%s%s%s%s\"}\n",
               arg_ak_handle, created ? "true" : "false", events, variant_no_hcl ? "false" : "true",
               variant_no_akcert ? "false" : "true", variant_ak_unbound ? "ak-unbound " : "",
               variant_foreign_signer ? "foreign-signer " : "", variant_pcr_mismatch ? "pcr-mismatch " : "",
               variant_no_hcl ? "no-hcl-report " : "", variant_no_akcert ? "no-ak-cert" : "");
        return 0;
}

static int cmd_refresh(void)
{
        _cleanup_(tpm_closep) struct tpm *t = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *signer = NULL;
        _cleanup_(json_object_putp) json_object *rt = NULL;
        _cleanup_free_ char *ud = NULL, *json = NULL;
        struct tpm_blob cur = {}, user = {};
        struct cvm_error err = {};
        uint8_t snp[SNP_REPORT_SIZE], hcl[HCL_NV_SIZE];
        uint32_t var;
        int r;

        r = tpm_open(arg_tcti, &t, &err);
        if (r < 0)
                return fail("%s", cvm_error_message(&err, r));
        /* Without NV 0x01400002 the paravisor reports all-zero user data. */
        r = tpm_nv_read(t, TPM_AZURE_USER_DATA_NV, &user, &err);
        if (r == -ENOENT) {
                cvm_error_clear(&err);
                user.data = calloc(1, 1);
                user.size = 1;
                if (!user.data)
                        return fail("out of memory");
        } else if (r < 0)
                return fail("%s", cvm_error_message(&err, r));
        ud = user_data_hex(user.data, user.size);
        tpm_blob_done(&user);
        r = tpm_nv_read(t, TPM_AZURE_HCL_REPORT_NV, &cur, &err);
        if (r < 0)
                return fail("%s", cvm_error_message(&err, r));
        if (cur.size < HCL_FIXED_SIZE || (var = le32(cur.data + 0x4d0)) > cur.size - HCL_FIXED_SIZE) {
                tpm_blob_done(&cur);
                return fail("the HCL report in NV is not one this tool wrote");
        }
        memcpy(snp, cur.data + HCL_HEADER_SIZE, SNP_REPORT_SIZE);
        json = strndup((char *)cur.data + HCL_FIXED_SIZE, var);
        tpm_blob_done(&cur);
        if (!json || !ud)
                return fail("out of memory");
        rt = json_tokener_parse(json);
        if (!rt)
                return fail("the runtime JSON in NV does not parse");
        json_object_object_add(rt, "user-data", json_object_new_string(ud));

        signer = current_signer();
        if (!signer || build_hcl(snp, json_text(rt), signer, hcl) < 0)
                return -1;
        return write_report(t, snp, hcl, json_text(rt));
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: cvm-vtpm [--tcti SPEC] pki|provision|refresh --dir DIR [--pki DIR] [--eventlog "
                   "FILE]\n"
                   "                [--variant "
                   "ak-unbound|foreign-signer|pcr-mismatch|no-hcl-report|no-ak-cert]...\n"
                   "                [--ak-handle HANDLE]\n"
                   "       cvm-vtpm make-eventlog FILE\n");
}

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},          {"tcti", required_argument, NULL, 't'},
                {"dir", required_argument, NULL, 'd'},     {"eventlog", required_argument, NULL, 'e'},
                {"variant", required_argument, NULL, 'v'}, {"ak-handle", required_argument, NULL, 'a'},
                {"pki", required_argument, NULL, 'p'},     {},
        };
        const char *cmd;
        int c;

        arg_tcti = getenv("CVM_AGENT_TCTI");
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return 0;
                case 't':
                        arg_tcti = optarg;
                        break;
                case 'd':
                        arg_dir = optarg;
                        break;
                case 'p':
                        arg_pki = optarg;
                        break;
                case 'e':
                        arg_eventlog = optarg;
                        break;
                case 'a':
                        if (tpm_parse_handle(optarg, &arg_ak_handle) < 0) {
                                fprintf(stderr, "cvm-vtpm: bad handle '%s'\n", optarg);
                                return 2;
                        }
                        break;
                case 'v':
                        if (strcmp(optarg, "ak-unbound") == 0)
                                variant_ak_unbound = true;
                        else if (strcmp(optarg, "foreign-signer") == 0)
                                variant_foreign_signer = true;
                        else if (strcmp(optarg, "pcr-mismatch") == 0)
                                variant_pcr_mismatch = true;
                        else if (strcmp(optarg, "no-hcl-report") == 0)
                                variant_no_hcl = true;
                        else if (strcmp(optarg, "no-ak-cert") == 0)
                                variant_no_akcert = true;
                        else {
                                fprintf(stderr, "cvm-vtpm: unknown variant '%s'\n", optarg);
                                return 2;
                        }
                        break;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind + 2 == argc && strcmp(argv[optind], "make-eventlog") == 0)
                return cmd_make_eventlog(argv[optind + 1]) < 0 ? 1 : 0;
        if (optind + 1 != argc || !arg_dir) {
                usage(stderr);
                return 2;
        }
        if (mkdir(arg_dir, 0700) < 0 && errno != EEXIST) {
                fprintf(stderr, "cvm-vtpm: cannot create %s: %m\n", arg_dir);
                return 1;
        }
        pki_dir = arg_pki ? arg_pki : arg_dir;
        cmd = argv[optind];
        if (strcmp(cmd, "pki") == 0)
                return make_pki() < 0 ? 1 : 0;
        if (strcmp(cmd, "provision") == 0)
                return cmd_provision() < 0 ? 1 : 0;
        if (strcmp(cmd, "refresh") == 0)
                return cmd_refresh() < 0 ? 1 : 0;
        usage(stderr);
        return 2;
}
