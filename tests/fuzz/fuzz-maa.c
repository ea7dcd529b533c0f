/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the MAA AzureGuest response parsers — the envelope ({"token": base64url
 * (envelope JSON)}) and its AES-GCM decryption with a fixed key, the THIM answer, the error-body
 * summariser, and the token checks against a fixed JWKS.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose.h"
#include "maa.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const uint8_t key[32] = {1, 2, 3};
        struct maa_envelope env = {};
        char *s = NULL, buf[128];
        json_object *jwks = NULL, *claims = NULL;

        if (maa_envelope_parse((const char *)data, size, &env, NULL) == 0) {
                if (maa_envelope_decrypt(&env, key, sizeof(key), &s, NULL) == 0)
                        free(s);
                maa_envelope_done(&env);
        }
        if (maa_thim_parse((const char *)data, size, &s, NULL) == 0)
                free(s);
        maa_error_describe((const char *)data, size, buf, sizeof(buf));
        if (canonjson_parse("{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k\",\"crv\":\"P-256\","
                            "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                            "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}]}",
                            SIZE_MAX, NULL, &jwks, NULL) == 0) {
                struct maa_expect x = {.issuer = "https://maa", .now = 1700000000, .tee_type = "sevsnpvm"};

                if (maa_token_verify((const char *)data, size, jwks, &x, &claims, NULL) == 0)
                        json_object_put(claims);
                json_object_put(jwks);
        }
        return 0;
}
