/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-tpm-bench: times each operation of the tpm adapter against a TPM (swtpm in the benchmark),
 * as the baseline for the unlock latency budget. Needs an AK at 0x81000003 and an HCL report in
 * NV 0x01400001 (cvm-vtpm provision). Prints one line per operation: name, runs, median, min,
 * max in milliseconds.
 *
 *   cvm-tpm-bench [--tcti SPEC] [RUNS]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "hashalg.h"
#include "tpm.h"

#define MAX_RUNS 1000

static double now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;

        return x < y ? -1 : x > y;
}

static void report(const char *name, double *t, int n)
{
        qsort(t, (size_t)n, sizeof(double), cmp_double);
        printf("%-40s %5d %9.2f %9.2f %9.2f\n", name, n, t[n / 2], t[0], t[n - 1]);
}

static int die(const char *what, const struct cvm_error *err, int r)
{
        fprintf(stderr, "cvm-tpm-bench: %s: %s\n", what, cvm_error_message(err, r));
        exit(1);
}

/* RSA-OAEP-SHA256 encryption of @msg to the TPM2B_PUBLIC @pub, done in software. */
static size_t encrypt_to(const struct tpm_blob *pub, const uint8_t *msg, size_t n, uint8_t out[256])
{
        TPM2B_PUBLIC p = {};
        size_t off = 0, outlen = 256;
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        BIGNUM *bn = NULL, *be = BN_new();
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL), *enc = NULL;
        EVP_PKEY *key = NULL;

        if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(pub->data, pub->size, &off, &p) != 0 || !bld || !be || !ctx)
                return 0;
        bn = BN_bin2bn(p.publicArea.unique.rsa.buffer, p.publicArea.unique.rsa.size, NULL);
        if (!bn || BN_set_word(be, 65537) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
            !(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1 ||
            !(enc = EVP_PKEY_CTX_new(key, NULL)) || EVP_PKEY_encrypt_init(enc) != 1 ||
            EVP_PKEY_CTX_set_rsa_padding(enc, RSA_PKCS1_OAEP_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_oaep_md(enc, EVP_sha256()) != 1 ||
            EVP_PKEY_encrypt(enc, out, &outlen, msg, n) != 1)
                outlen = 0;
        EVP_PKEY_CTX_free(enc);
        EVP_PKEY_free(key);
        EVP_PKEY_CTX_free(ctx);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(bld);
        BN_free(bn);
        BN_free(be);
        return outlen;
}

#define TIME(name, runs, ...)                         \
        do {                                          \
                static double t_[MAX_RUNS];           \
                for (int i_ = 0; i_ < (runs); i_++) { \
                        double s_ = now_ms();         \
                        __VA_ARGS__;                  \
                        t_[i_] = now_ms() - s_;       \
                }                                     \
                report(name, t_, runs);               \
        } while (0)

int main(int argc, char *argv[])
{
        static const struct option options[] = {
                {"tcti", required_argument, NULL, 't'},
                {},
        };
        const char *tcti = getenv("CVM_AGENT_TCTI");
        struct cvm_error err = {};
        struct tpm *t = NULL;
        int runs = 20, c, r;
        uint8_t nonce[32] = {1}, ud[64] = {2}, d[32] = {3};
        const uint8_t *dp = d;
        uint16_t alg = TPM_ALG_SHA256;
        tpm_object key = TPM_OBJECT_NONE;
        struct tpm_blob pub = {};

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                if (c != 't')
                        return 2;
                tcti = optarg;
        }
        if (optind < argc)
                runs = atoi(argv[optind]);
        if (runs < 1 || runs > MAX_RUNS)
                return 2;

        printf("%-40s %5s %9s %9s %9s\n", "operation (ms)", "runs", "median", "min", "max");
        TIME("open+close (TCTI + ESAPI init)", runs, {
                r = tpm_open(tcti, &t, &err);
                if (r < 0)
                        die("tpm_open", &err, r);
                tpm_close(t);
        });
        r = tpm_open(tcti, &t, &err);
        if (r < 0)
                die("tpm_open", &err, r);

        TIME("PCR_Read sha256 0-7", runs, {
                struct tpm_pcrs p;
                r = tpm_pcr_read(t, TPM_ALG_SHA256, 0xff, &p, &err);
                if (r < 0)
                        die("pcr_read", &err, r);
        });
        TIME("PCR_Read sha256 0-23 (3 calls)", runs, {
                struct tpm_pcrs p;
                r = tpm_pcr_read(t, TPM_ALG_SHA256, 0xffffff, &p, &err);
                if (r < 0)
                        die("pcr_read", &err, r);
        });
        TIME("ReadPublic AK 0x81000003", runs, {
                struct tpm_blob b = {};
                r = tpm_read_public(t, TPM_AZURE_AK_HANDLE, &b, &err);
                if (r < 0)
                        die("read_public", &err, r);
                tpm_blob_done(&b);
        });
        TIME("Quote sha256 0-7 (AK, RSA-2048)", runs, {
                struct tpm_blob a = {}, s = {};
                r = tpm_quote(t, TPM_AZURE_AK_HANDLE, TPM_ALG_SHA256, 0xff, nonce, sizeof(nonce), &a, &s,
                              &err);
                if (r < 0)
                        die("quote", &err, r);
                tpm_blob_done(&a);
                tpm_blob_done(&s);
        });
        TIME("NV_Read HCL report (2048 B)", runs, {
                struct tpm_blob b = {};
                r = tpm_nv_read(t, TPM_AZURE_HCL_REPORT_NV, &b, &err);
                if (r < 0)
                        die("nv_read", &err, r);
                tpm_blob_done(&b);
        });
        TIME("NV_Read AK certificate", runs, {
                struct tpm_blob b = {};
                r = tpm_nv_read(t, TPM_AZURE_AK_CERT_NV, &b, &err);
                if (r < 0)
                        die("nv_read", &err, r);
                tpm_blob_done(&b);
        });
        TIME("NV_Write user data (64 B)", runs, {
                r = tpm_nv_write(t, TPM_AZURE_USER_DATA_NV, ud, sizeof(ud), &err);
                if (r < 0)
                        die("nv_write", &err, r);
        });
        TIME("PCR_Extend sha256 PCR 16", runs, {
                r = tpm_pcr_extend(t, 16, 1, &alg, &dp, &err);
                if (r < 0)
                        die("pcr_extend", &err, r);
        });
        TIME("CreatePrimary EK (RSA-2048)", runs < 5 ? runs : 5, {
                r = tpm_ek_create(t, &key, NULL, &err);
                if (r < 0)
                        die("ek_create", &err, r);
                tpm_flush(t, key);
        });
        TIME("CreatePrimary ephemeral key", runs < 5 ? runs : 5, {
                r = tpm_ephemeral_key_create(t, &key, NULL, &err);
                if (r < 0)
                        die("ephemeral_key_create", &err, r);
                tpm_flush(t, key);
        });
        r = tpm_ephemeral_key_create(t, &key, &pub, &err);
        if (r < 0)
                die("ephemeral_key_create", &err, r);
        TIME("Certify ephemeral key with AK", runs, {
                struct tpm_blob a = {}, s = {};
                r = tpm_certify(t, key, TPM_AZURE_AK_HANDLE, NULL, 0, &a, &s, &err);
                if (r < 0)
                        die("certify", &err, r);
                tpm_blob_done(&a);
                tpm_blob_done(&s);
        });
        uint8_t ct[256];
        size_t ct_size = encrypt_to(&pub, ud, 32, ct);
        if (ct_size == 0) {
                fprintf(stderr, "cvm-tpm-bench: cannot encrypt to the ephemeral key\n");
                return 1;
        }
        TIME("PolicyPCR + RSA_Decrypt (OAEP-SHA256)", runs, {
                struct secret_buf out = {};
                r = tpm_rsa_decrypt(t, key, TPM_RSA_OAEP_SHA256, ct, ct_size, &out, &err);
                if (r < 0)
                        die("rsa_decrypt", &err, r);
                secret_buf_done(&out);
        });
        tpm_flush(t, key);
        tpm_blob_done(&pub);
        tpm_close(t);
        return 0;
}
