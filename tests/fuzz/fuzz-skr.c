/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the Key Vault release response parser ({"value": JWS with x5c}, payload,
 * key_hsm) against an empty trust store, so hostile headers and chains reach the x5c code, and
 * the RFC 5649 unwrap of the input with a fixed KEK.
 */
#include <stdint.h>
#include <stdlib.h>

#include "skr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const uint8_t kek[32] = {7};
        STACK_OF(X509) *trusted = sk_X509_new_null();
        struct skr_release rel = {};
        struct secret_buf out = {};

        if (trusted && skr_release_parse((const char *)data, size, trusted, "vault.azure.net", 1700000000,
                                         "n", NULL, &rel, NULL) == 0)
                skr_release_done(&rel);
        sk_X509_free(trusted);
        if (skr_unwrap(kek, sizeof(kek), data, size, &out, NULL) == 0)
                secret_buf_done(&out);
        return 0;
}
