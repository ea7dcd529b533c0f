/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: JWS/JWT parsing and verification as `cvm-agent token` does it. The input is
 * a compact JWS or a JSON body {"value"|"token": "<JWS>"}; the token is parsed, its claims and
 * times read, and it is verified against a fixed EC key, a fixed RSA key, a JWKS holding both,
 * and (x5c) a fixed trusted certificate, so hostile headers reach every verification path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "jose.h"

static EVP_PKEY *ec_key, *rsa_key;
static json_object *jwks;
static STACK_OF(X509) * trusted;

/* RFC 7515 A.3 (P-256) and A.2 (RSA-2048) public keys, so the RFC examples verify. */
static const char ec_jwk[] = "{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\","
                             "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
                             "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}";
static const char rsa_jwk[] = "{\"kty\":\"RSA\",\"kid\":\"rsa\",\"e\":\"AQAB\",\"n\":"
                              "\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mP"
                              "ddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_"
                              "YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-"
                              "bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-"
                              "UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhy"
                              "xXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\"}";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        json_object *e = json_tokener_parse(ec_jwk), *r = json_tokener_parse(rsa_jwk), *keys;
        EVP_PKEY *ck = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
        X509 *cert = X509_new();

        (void)argc;
        (void)argv;
        if (jwk_to_pkey(e, &ec_key, NULL) < 0 || jwk_to_pkey(r, &rsa_key, NULL) < 0)
                abort();
        jwks = json_object_new_object();
        keys = json_object_new_array();
        json_object_array_add(keys, e);
        json_object_array_add(keys, r);
        json_object_object_add(jwks, "keys", keys);

        /* A self-signed anchor; hostile x5c chains are judged against it. */
        X509_set_version(cert, 2);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN", MBSTRING_ASC,
                                   (const unsigned char *)"fuzz", -1, -1, 0);
        X509_set_issuer_name(cert, X509_get_subject_name(cert));
        X509_gmtime_adj(X509_getm_notBefore(cert), 0);
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
        X509_set_pubkey(cert, ck);
        X509_sign(cert, ck, EVP_sha256());
        EVP_PKEY_free(ck);
        trusted = sk_X509_new_null();
        sk_X509_push(trusted, cert);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        json_object *doc = NULL, *claims = NULL, *v;
        const char *text = (const char *)data;
        struct jws *jws = NULL;
        struct jwt_times t;
        enum jwt_time_status st;

        if (size > 0 && data[0] == '{') {
                if (canonjson_parse(text, size, "body", &doc, NULL) < 0)
                        return 0;
                if (!(json_object_object_get_ex(doc, "value", &v) ||
                      json_object_object_get_ex(doc, "token", &v)) ||
                    !json_object_is_type(v, json_type_string))
                        goto out;
                text = json_object_get_string(v);
                size = (size_t)json_object_get_string_len(v);
        }
        if (jws_parse(text, size, &jws, NULL) < 0)
                goto out;
        if (jws_payload_json(jws, &claims, NULL) >= 0) {
                (void)jwt_get_times(claims, &t, NULL);
                (void)jwt_check_time(claims, 1700000000, 60, true, &st, NULL);
                (void)jwt_check_claim(claims, "x-ms-runtime.client-payload.nonce", "bm9uY2U=", NULL);
        }
        (void)jws_verify(jws, ec_key, NULL);
        (void)jws_verify(jws, rsa_key, NULL);
        (void)jws_verify_jwks(jws, jwks, NULL);
        (void)jws_verify_x5c(jws, trusted, "vault.azure.net", 1700000000, NULL, NULL);
out:
        jws_free(jws);
        json_object_put(claims);
        json_object_put(doc);
        return 0;
}
