/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "cleanup.h"
#include "jose.h"
#include "skr.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free)

static const struct {
        const char *enc, *hash;
} wraps[] = {
        {"CKM_RSA_AES_KEY_WRAP", "sha1"},
        {"RSA_AES_KEY_WRAP_256", "sha256"},
        {"RSA_AES_KEY_WRAP_384", "sha384"},
};

const char *skr_oaep_hash(const char *enc)
{
        for (size_t i = 0; enc && i < ELEMENTSOF(wraps); i++)
                if (strcmp(wraps[i].enc, enc) == 0)
                        return wraps[i].hash;
        return NULL;
}

int skr_request_build(const char *token, const char *enc, const char *nonce, char **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        const char *text;
        char *s;

        if (!o || jose_add_string(o, "target", token) < 0 || (enc && jose_add_string(o, "enc", enc) < 0) ||
            (nonce && jose_add_string(o, "nonce", nonce) < 0))
                return -ENOMEM;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        s = text ? strdup(text) : NULL;
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

void skr_release_done(struct skr_release *r)
{
        free(r->enc);
        free(r->wrap_kid);
        free(r->key_kid);
        free(r->kty);
        if (r->ciphertext)
                erase_and_free(r->ciphertext, r->ciphertext_size);
        *r = (struct skr_release){};
}

static int get_obj(json_object *o, const char *name, const char *what, json_object **ret,
                   struct cvm_error *err)
{
        if (!json_object_object_get_ex(o, name, ret) || !json_object_is_type(*ret, json_type_object))
                return cvm_error_set(err, -EBADMSG, "%s: member \"%s\" missing or not an object", what,
                                     name);
        return 0;
}

static int dup_member(json_object *o, const char *name, const char *what, bool required, char **ret,
                      struct cvm_error *err)
{
        const char *s;
        int r;

        r = jose_get_string(o, name, what, required, &s, err);
        if (r < 0)
                return r;
        if (!s)
                return 0;
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int parse_key_hsm(const char *k, const char *enc_want, struct skr_release *rel, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *text = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        json_object *hdr;
        const char *s;
        size_t n;
        int r;

        r = b64_decode_flags(k, SIZE_MAX, B64_URL | B64_PAD_OPTIONAL, "key_hsm", &text, &n, err);
        if (r < 0)
                return r;
        r = canonjson_parse((const char *)text, n, "key_hsm", &o, err);
        if (r < 0)
                return r;
        r = jose_get_string(o, "schema_version", "key_hsm", true, &s, err);
        if (r < 0)
                return r;
        if (strcmp(s, "1.0") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "key_hsm: schema_version \"%.16s\" is not 1.0", s);
        r = get_obj(o, "header", "key_hsm", &hdr, err);
        if (r >= 0)
                r = dup_member(hdr, "enc", "key_hsm header", true, &rel->enc, err);
        if (r >= 0)
                r = dup_member(hdr, "kid", "key_hsm header", false, &rel->wrap_kid, err);
        if (r >= 0)
                r = jose_get_string(hdr, "alg", "key_hsm header", true, &s, err);
        if (r < 0)
                return r;
        if (strcmp(s, "dir") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "key_hsm header: alg \"%.16s\" is not dir", s);
        if (!skr_oaep_hash(rel->enc))
                return cvm_error_set(err, -EOPNOTSUPP, "key_hsm header: unknown enc \"%.40s\"", rel->enc);
        if (enc_want && strcmp(rel->enc, enc_want) != 0)
                return cvm_error_set(err, -EPROTO, "key_hsm header: enc \"%.40s\", requested \"%s\"",
                                     rel->enc, enc_want);
        return jose_get_b64url(o, "ciphertext", "key_hsm", true, &rel->ciphertext, &rel->ciphertext_size,
                               err);
}

int skr_release_parse(const char *body, size_t len, STACK_OF(X509) * trusted, const char *host, time_t now,
                      const char *nonce, const char *enc, struct skr_release *ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *outer = NULL, *payload = NULL;
        _cleanup_(jws_freep) struct jws *jws = NULL;
        _cleanup_(skr_release_done) struct skr_release rel = {};
        json_object *req, *resp, *bundle, *key;
        const char *value, *s, *k;
        int r;

        r = canonjson_parse(body, len, "release response", &outer, err);
        if (r < 0)
                return r;
        r = jose_get_string(outer, "value", "release response", true, &value, err);
        if (r < 0)
                return r;
        r = jws_parse(value, strlen(value), &jws, err);
        if (r < 0)
                return r;
        r = jws_verify_x5c(jws, trusted, host, now, NULL, err);
        if (r < 0)
                return r;
        r = jws_payload_json(jws, &payload, err);
        if (r < 0)
                return r;
        r = get_obj(payload, "request", "release payload", &req, err);
        if (r >= 0)
                r = get_obj(payload, "response", "release payload", &resp, err);
        if (r >= 0)
                r = get_obj(resp, "key", "release payload response", &bundle, err);
        if (r >= 0)
                r = get_obj(bundle, "key", "release payload response.key", &key, err);
        if (r < 0)
                return r;
        if (nonce) {
                r = jose_get_string(req, "nonce", "release payload request", false, &s, err);
                if (r < 0)
                        return r;
                if (!s || strcmp(s, nonce) != 0)
                        return cvm_error_set(err, -EPROTO,
                                             "release payload: request.nonce %s%.80s%s, expected "
                                             "\"%s\"",
                                             s ? "\"" : "", s ? s : "missing", s ? "\"" : "", nonce);
        }
        if (enc) {
                r = jose_get_string(req, "enc", "release payload request", true, &s, err);
                if (r < 0)
                        return r;
                if (strcmp(s, enc) != 0)
                        return cvm_error_set(err, -EPROTO,
                                             "release payload: request.enc \"%.40s\", expected \"%s\"", s,
                                             enc);
        }
        r = dup_member(key, "kid", "released key", false, &rel.key_kid, err);
        if (r >= 0)
                r = dup_member(key, "kty", "released key", true, &rel.kty, err);
        if (r >= 0)
                r = jose_get_string(key, "key_hsm", "released key", true, &k, err);
        if (r >= 0)
                r = parse_key_hsm(k, enc, &rel, err);
        if (r < 0)
                return r;
        *ret = rel;
        rel = (struct skr_release){};
        return 0;
}

int skr_unwrap(const uint8_t *kek, size_t kek_size, const uint8_t *wrapped, size_t wrapped_size,
               struct secret_buf *ret, struct cvm_error *err)
{
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = NULL;
        const EVP_CIPHER *c;
        unsigned char *out;
        int n = 0, fin = 0;

        switch (kek_size) {
        case 16:
                c = EVP_aes_128_wrap_pad();
                break;
        case 24:
                c = EVP_aes_192_wrap_pad();
                break;
        case 32:
                c = EVP_aes_256_wrap_pad();
                break;
        default:
                return cvm_error_set(err, -EINVAL, "key unwrap: KEK of %zu bytes", kek_size);
        }
        if (wrapped_size < 16 || wrapped_size % 8 != 0 || wrapped_size > INT32_MAX)
                return cvm_error_set(err, -EBADMSG,
                                     "key unwrap: wrapped key of %zu bytes is not a multiple of 8 "
                                     "of at least 16",
                                     wrapped_size);
        ctx = EVP_CIPHER_CTX_new();
        out = malloc(wrapped_size + 8);
        if (!ctx || !out) {
                free(out);
                return -ENOMEM;
        }
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        if (EVP_DecryptInit_ex(ctx, c, NULL, kek, NULL) != 1 ||
            EVP_DecryptUpdate(ctx, out, &n, wrapped, (int)wrapped_size) != 1 || n <= 0 ||
            EVP_DecryptFinal_ex(ctx, out + n, &fin) != 1) {
                erase_and_free(out, wrapped_size + 8);
                return cvm_error_set(
                        err, -EKEYREJECTED,
                        "key unwrap: AES key wrap integrity check failed (wrapped to another key?)");
        }
        ret->data = out;
        ret->size = (size_t)(n + fin);
        return 0;
}
