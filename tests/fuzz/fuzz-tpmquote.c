/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzzes the TPMS_ATTEST and TPMT_SIGNATURE parsers and their JSON rendering. The whole input is
 * tried as each structure; then, split by its first two bytes (big-endian length of the attest
 * part), as an attest + signature pair that is verified with fixed RSA and EC keys, so the
 * verification and PCR-digest code paths see parsed data too.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "tpmkey.h"
#include "tpmquote.h"
#include "tpmwire.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static EVP_PKEY *rsa, *ec;
static struct tpm_pcr_values *pcrs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        uint8_t v[32] = {0};

        (void)argc;
        (void)argv;
        rsa = EVP_RSA_gen(2048);
        ec = EVP_EC_gen("P-256");
        if (!rsa || !ec || tpm_pcr_values_new(&pcrs) < 0)
                abort();
        for (unsigned i = 0; i < 24; i++) {
                v[0] = (uint8_t)i;
                if (tpm_pcr_values_set(pcrs, TPM_ALG_SHA256, i, v, 32, NULL) < 0 ||
                    tpm_pcr_values_set(pcrs, TPM_ALG_SHA1, i, v, 20, NULL) < 0)
                        abort();
        }
        return 0;
}

static void try_attest(const uint8_t *data, size_t size, struct tpm_attest *a, int *ok)
{
        struct cvm_error err = {};
        json_object *j = NULL;

        *ok = tpm_attest_parse(data, size, a, &err) >= 0;
        if (!*ok)
                return;
        if (tpm_attest_to_json(a, &j) >= 0)
                json_object_put(j);
}

static void try_signature(const uint8_t *data, size_t size, struct tpm_signature *sig, int *ok)
{
        struct cvm_error err = {};
        json_object *j = NULL;

        *ok = tpm_signature_load(data, size, TPM_SIG_FORMAT_AUTO, rsa, 0, TPM_ALG_SHA256, sig, &err) >= 0;
        if (*ok && tpm_signature_to_json(sig, &j) >= 0)
                json_object_put(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct tpm_attest a;
        static struct tpm_signature sig;
        struct tpm_pcr_check pc;
        int ok_a, ok_s;

        try_attest(data, size, &a, &ok_a);
        (void)tpm_signature_parse(data, size, &sig, NULL);
        try_signature(data, size, &sig, &ok_s);

        if (size >= 2) {
                size_t n = be16(data) % (size - 1);

                try_attest(data + 2, n, &a, &ok_a);
                try_signature(data + 2 + n, size - 2 - n, &sig, &ok_s);
                if (ok_a && ok_s) {
                        (void)tpm_quote_verify_signature(data + 2, n, &sig, rsa, NULL);
                        (void)tpm_quote_verify_signature(data + 2, n, &sig, ec, NULL);
                }
                if (ok_a) {
                        (void)tpm_quote_check_pcrs(&a, tpm_attest_guess_hash(&a), pcrs, &pc, NULL);
                        (void)tpm_quote_check_nonce(&a, data, size > 8 ? 8 : size, NULL);
                }
        }
        return 0;
}
