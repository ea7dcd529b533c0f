/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: JWK import from untrusted JSON (a JWKS as fetched from MAA /certs, a single
 * JWK, an "epk" or a "tee-pubkey"). Every key is imported, thumbprinted, exported and imported
 * again; a key that imports must survive its own export unchanged.
 */
#include <stdint.h>
#include <stdlib.h>

#include "jose.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one_key(json_object *jwk)
{
        EVP_PKEY *pkey = NULL, *back = NULL;
        json_object *out = NULL;
        struct secret_buf k = {};
        char *thp = NULL;

        (void)jwk_thumbprint_b64url(jwk, &thp, NULL);
        free(thp);
        if (jwk_oct_key(jwk, &k, NULL) >= 0)
                secret_buf_done(&k);
        if (jwk_to_pkey(jwk, &pkey, NULL) < 0)
                return;
        if (jwk_from_pkey(pkey, 0, &out, NULL) >= 0) {
                if (jwk_to_pkey(out, &back, NULL) < 0 || EVP_PKEY_eq(pkey, back) != 1)
                        abort();
                EVP_PKEY_free(back);
                json_object_put(out);
        }
        EVP_PKEY_free(pkey);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_object *doc = NULL, *keys, *found;

        if (canonjson_parse((const char *)data, size, NULL, &doc, NULL) < 0)
                return 0;
        if (json_object_object_get_ex(doc, "keys", &keys) && json_object_is_type(keys, json_type_array)) {
                size_t n = json_object_array_length(keys);

                for (size_t i = 0; i < n && i < 16; i++)
                        one_key(json_object_array_get_idx(keys, i));
                (void)jwks_find(doc, "XxRc2vLh1E5FrsNawnRH3PzuFgqg3q7NvCdnjoJHBGE=", &found, NULL);
                (void)jwks_find(doc, NULL, &found, NULL);
        } else
                one_key(doc);
        json_object_put(doc);
        return 0;
}
