/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: JWE parsing and decryption (compact, flattened and general JSON, as a KBS
 * resource response arrives). The keys are the published RFC 7516/7520 example keys, so the RFC
 * seeds decrypt completely and mutations reach every stage: header merge, epk validation, ECDH
 * and Concat KDF, RSA-OAEP, AES key unwrap, GCM and CBC-HMAC content decryption.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jose.h"

/* RFC 7516 A.1 RSA-2048 private key. */
static const char rsa_jwk[] =
        "{\"kty\":\"RSA\",\"d\":\"kLdtIj6GbDks_ApCSTYQtelcNttlKiOyPzMrXHeI-yk1F7-kpDxY4-WY5NWV5KntaEeXS1j"
        "82E375xxhWMHXyvjYecPT9fpwR_M9gV8n9Hrh2anTpTD93Dt62ypW3yDsJzBnTnrYu1iwWRgBKrEYY46qAZIrA2xAwnm2X7u"
        "GR1hghkqDp0Vqj3kbSCz1XyfCs6_LehBwtxHIyh8Ripy40p24moOAbgxVw3rxT_vlt3UVe4WO3JkJOzlpUf-KTVI2Ptgm-dA"
        "RxTEtE-id-4OJr0h-K-VFs3VSndVTIznSxfyrj8ILL6MG_Uv8YAu7VILSB3lOW085-4qE3DzgrTjgyQ\",\"n\":\"oahUIo"
        "Ww0K0usKNuOR6H4wkf4oBUXHTxRvgb48E-BVvxkeDNjbC4he8rUWcJoZmds2h7M70imEVhRU5djINXtqllXI4DFqcI1DgjT9"
        "LewND8MW2Krf3Spsk_ZkoFnilakGygTwpZ3uesH-PFABNIUYpOiN15dsQRkgr0vEhxN92i2asbOenSZeyaxziK72UwxrrKoE"
        "xv6kc5twXTq4h-QChLOln0_mtUZwfsRaMStPs6mS6XrgxnxbWhojf663tuEQueGC-FCMfra36C9knDFGzKsNa7LZK2djYgyD"
        "3JR_MB_4NUJW_TqOQtwHYbxevoJArm-L5StowjzGy-_bq6Gw\",\"e\":\"AQAB\",\"p\":\"1r52Xk46c-LsfB5P442p7a"
        "tdPUrxQSy4mti_tZI3Mgf2EuFVbUoDBvaRQ-SWxkbkmoEzL7JXroSBjSrK3YIQgYdMgyAEPTPjXv_hI2_1eTSPVZfzL0lffN"
        "n03IXqWF5MDFuoUYE0hzb2vhrlN_rKrbfDIwUbTrjjgieRbwC6Cl0\",\"q\":\"wLb35x7hmQWZsWJmB_vle87ihgZ19S8l"
        "BEROLIsZG4ayZVe9Hi9gDVCOBmUDdaDYVTSNx_8Fyw1YYa9XGrGnDew00J28cRUoeBB_jKI1oma0Orv1T9aXIWxKwd4gvxFI"
        "mOWr3QRL9KEBRzk2RatUBnmDZJTIAfwTs0g68UZHvtc\",\"dp\":\"ZK-YwE7diUh0qR1tR7w8WHtolDx3MZ_OTowiFvgfe"
        "Q3SiresXjm9gZ5KLhMXvo-uz-KUJWDxS5pFQ_M0evdo1dKiRTjVw_x4NyqyXPM5nULPkcpU827rnpZzAJKpdhWAgqrXGKAEC"
        "QH0Xt4taznjnd_zVpAmZZq60WPMBMfKcuE\",\"dq\":\"Dq0gfgJ1DdFGXiLvQEZnuKEN0UUmsJBxkjydc3j4ZYdBiMRAy8"
        "6x0vHCjywcMlYYg4yoC4YZa9hNVcsjqA3FeiL19rk8g6Qn29Tt0cj8qqyFpz9vNDBUfCAiJVeESOjJDZPYHdHY8v1b-o-Z2X"
        "5tvLx-TCekf7oxyeKDUqKWjis\",\"qi\":\"VIMpMYbPf47dT1w_zDUXfPimsSegnMOA1zTaX7aGk_8urY6R8-ZW1FxU7Al"
        "WAyLWybqq6t16VFd7hQd0y6flUK4SlOydB61gwanOsXGOAOv82cHq0E3eL4HrtZkUuKvnPrMnsUUFlfUdybVzxyjz9JF_Xya"
        "Y14ardLSjf4L_FNY\"}";

/* RFC 7520 5.4 P-384 private key. */
static const char p384_jwk[] =
        "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"YU4rRUzdmVqmRtWOs2OpDE_T5fsNIodcG8G5FWPrTPMyxpzsSOGaQL"
        "pe2FpxBmu2\",\"y\":\"A8-yxCHxkfBz3hKZfI1jUYMjUhsEveZ9THuwFjH2sCNdtksRJU7D5-SkgaFL1ETP\",\"d\":\""
        "iTx2pk7wW-GqJkHcEkFQb2EFyYcO7RugmaW3mRrQVAOUiPommT0IdnYK2xDlZh-j\"}";

/* RFC 7520 5.5 P-256 private key. */
static const char p256_jwk[] =
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"Ze2loSV3wrroKUN_4zhwGhCqo3Xhu1td4QjeQ5wIVR0\",\"y\":\""
        "HlLtdXARY_f55A3fnzQbPcm6hgr34Mp8p-nuzQCE0Zw\",\"d\":\"r_kHyZ-a06rmxM3yESK84r1otSg-aQcVStkRhA-iCM"
        "8\"}";

/* RFC 7520 5.6 ("dir") and 5.8 (A128KW) secret keys. */
static const char oct_dir[] = "XctOhJAkA-pD9Lh7ZgW_2A";
static const char oct_kw[] = "GZy6sIZ6wl9NJOKB-jnmVQ";

static EVP_PKEY *keys[3];
static uint8_t *octs[2];
static size_t oct_sizes[2];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        const char *const jwks[] = {rsa_jwk, p384_jwk, p256_jwk};

        (void)argc;
        (void)argv;
        for (size_t i = 0; i < 3; i++) {
                json_object *j = json_tokener_parse(jwks[i]);
                if (!j || jwk_to_pkey(j, &keys[i], NULL) < 0)
                        abort();
                json_object_put(j);
        }
        if (b64url_decode(oct_dir, SIZE_MAX, NULL, &octs[0], &oct_sizes[0], NULL) < 0 ||
            b64url_decode(oct_kw, SIZE_MAX, NULL, &octs[1], &oct_sizes[1], NULL) < 0)
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;

        for (size_t i = 0; i < 3; i++) {
                struct secret_buf pt = {};
                json_object *hdr = NULL;

                if (jwe_decrypt(text, size, keys[i], &pt, &hdr, NULL) >= 0) {
                        /* A success must hand out a consistent buffer and header. */
                        if (!pt.data || pt.data[pt.size] != '\0' ||
                            !json_object_is_type(hdr, json_type_object))
                                abort();
                }
                secret_buf_done(&pt);
                json_object_put(hdr);
        }
        for (size_t i = 0; i < 2; i++) {
                struct secret_buf pt = {};

                (void)jwe_decrypt_oct(text, size, octs[i], oct_sizes[i], &pt, NULL, NULL);
                secret_buf_done(&pt);
        }
        return 0;
}
