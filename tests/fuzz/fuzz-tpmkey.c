/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes AK public key import in every format tpmkey_load() recognises, and JWK export. */
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "tpmkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct tpmkey_info info = {};
        struct cvm_error err = {};
        EVP_PKEY *k = NULL;
        json_object *j = NULL;

        if (tpmkey_load(data, size, &k, &info, &err) >= 0) {
                if (tpmkey_info_to_json(k, &info, &j, NULL) >= 0)
                        json_object_put(j);
                EVP_PKEY_free(k);
        }
        /* Both TPM framings explicitly, whatever the auto-detection chose. */
        k = NULL;
        if (tpmkey_from_tpm_public(data, size, false, &k, NULL, NULL) >= 0)
                EVP_PKEY_free(k);
        k = NULL;
        if (tpmkey_from_tpm_public(data, size, true, &k, NULL, NULL) >= 0)
                EVP_PKEY_free(k);
        return 0;
}
