/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the KBS replies (challenge, attestation) and the resource path check. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *nonce = NULL, *token = NULL, *path;
        const char *hash;

        if (kbs_challenge_parse((const char *)data, size, &nonce, &hash, NULL) == 0)
                free(nonce);
        if (kbs_attest_parse((const char *)data, size, &token, NULL) == 0)
                free(token);
        path = strndup((const char *)data, size);
        if (path) {
                (void)kbs_resource_path_valid(path);
                free(path);
        }
        return 0;
}
