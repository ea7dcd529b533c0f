/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "cleanup.h"
#include "jose.h"
#include "util.h"

#define MAX_RECIPIENTS 16

struct enc_alg {
        const char *name;
        const char *cipher;
        size_t cek_size;
        size_t iv_size;
        size_t tag_size;
        const char *mac_md; /* AES-CBC + HMAC (RFC 7518 §5.2); NULL for GCM */
};

static const struct enc_alg enc_algs[] = {
        {"A128GCM", "AES-128-GCM", 16, 12, 16, NULL},
        {"A192GCM", "AES-192-GCM", 24, 12, 16, NULL},
        {"A256GCM", "AES-256-GCM", 32, 12, 16, NULL},
        {"A128CBC-HS256", "AES-128-CBC", 32, 16, 16, "SHA256"},
        {"A192CBC-HS384", "AES-192-CBC", 48, 16, 24, "SHA384"},
        {"A256CBC-HS512", "AES-256-CBC", 64, 16, 32, "SHA512"},
};

enum key_mgmt { KM_RSA_OAEP, KM_ECDH_ES, KM_ECDH_ES_KW, KM_DIR, KM_AES_KW };

struct key_alg {
        const char *name;
        enum key_mgmt kind;
        const char *oaep_md; /* RSA-OAEP: hash for OAEP and MGF1 */
        size_t kw_size;      /* AES key wrap: KEK bytes */
};

static const struct key_alg key_algs[] = {
        {"RSA-OAEP", KM_RSA_OAEP, "SHA1", 0},
        {"RSA-OAEP-256", KM_RSA_OAEP, "SHA256", 0},
        {"ECDH-ES", KM_ECDH_ES, NULL, 0},
        {"ECDH-ES+A128KW", KM_ECDH_ES_KW, NULL, 16},
        {"ECDH-ES+A192KW", KM_ECDH_ES_KW, NULL, 24},
        {"ECDH-ES+A256KW", KM_ECDH_ES_KW, NULL, 32},
        {"dir", KM_DIR, NULL, 0},
        {"A128KW", KM_AES_KW, NULL, 16},
        {"A192KW", KM_AES_KW, NULL, 24},
        {"A256KW", KM_AES_KW, NULL, 32},
};

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER *, EVP_CIPHER_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MAC *, EVP_MAC_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_MAC_CTX *, EVP_MAC_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF *, EVP_KDF_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_KDF_CTX *, EVP_KDF_CTX_free)

static const struct enc_alg *enc_by_name(const char *name)
{
        for (size_t i = 0; i < ELEMENTSOF(enc_algs); i++)
                if (strcmp(enc_algs[i].name, name) == 0)
                        return &enc_algs[i];
        return NULL;
}

static int lookup_key_alg(const char *name, const struct key_alg **ret, struct cvm_error *err)
{
        for (size_t i = 0; i < ELEMENTSOF(key_algs); i++)
                if (strcmp(key_algs[i].name, name) == 0) {
                        *ret = &key_algs[i];
                        return 0;
                }
        if (strcmp(name, "RSA1_5") == 0)
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "JWE \"alg\":\"RSA1_5\" refused: PKCS#1 v1.5 key transport is open to "
                                     "padding-oracle attacks");
        return cvm_error_set(err, -EOPNOTSUPP, "JWE key management algorithm \"%s\" is not supported", name);
}

static int lookup_enc(const char *name, const struct enc_alg **ret, struct cvm_error *err)
{
        const struct enc_alg *e = enc_by_name(name);

        if (!e)
                return cvm_error_set(err, -EOPNOTSUPP, "JWE content encryption \"%s\" is not supported",
                                     name);
        *ret = e;
        return 0;
}

static void secret_freep(struct secret_buf *s)
{
        secret_buf_done(s);
}

static int secret_alloc(struct secret_buf *s, size_t n)
{
        s->data = malloc(n + 1);
        if (!s->data)
                return -ENOMEM;
        s->size = n;
        return 0;
}

/* Shortens @s to @n bytes, wiping the dropped tail first (secret_buf_done() wipes only .size). */
static void secret_shrink(struct secret_buf *s, size_t n)
{
        if (n < s->size)
                OPENSSL_cleanse(s->data + n, s->size - n);
        s->size = n;
}

/* ---- content encryption ---------------------------------------------------------------- */

static int gcm_crypt(bool encrypt, const struct enc_alg *e, const uint8_t *key, const uint8_t *iv,
                     const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t n, uint8_t *out,
                     uint8_t *tag)
{
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        _cleanup_(EVP_CIPHER_freep) EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, e->cipher, NULL);
        int len = 0, fin = 0, aad_out = 0;

        if (!ctx || !cipher)
                return -ENOMEM;
        if (n > INT32_MAX || aad_len > INT32_MAX)
                return -EBADMSG;
        if (EVP_CipherInit_ex2(ctx, cipher, NULL, NULL, encrypt, NULL) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, (int)e->iv_size, NULL) != 1 ||
            EVP_CipherInit_ex2(ctx, NULL, key, iv, encrypt, NULL) != 1)
                return -ENOMEM;
        if (aad_len && EVP_CipherUpdate(ctx, NULL, &aad_out, aad, (int)aad_len) != 1)
                return -ENOMEM;
        if (n && EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1)
                return -ENOMEM;
        if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, (int)e->tag_size, tag) != 1)
                return -ENOMEM;
        if (EVP_CipherFinal_ex(ctx, out + len, &fin) != 1)
                return -EKEYREJECTED; /* tag mismatch */
        if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, (int)e->tag_size, tag) != 1)
                return -ENOMEM;
        return len + fin;
}

/* RFC 7518 §5.2.2.1: T = first half of HMAC(MAC_KEY, A || IV || C || AL). */
static int cbc_hs_tag(const struct enc_alg *e, const uint8_t *mac_key, const uint8_t *aad, size_t aad_len,
                      const uint8_t *iv, const uint8_t *ct, size_t ct_len, uint8_t *tag)
{
        _cleanup_(EVP_MAC_freep) EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        _cleanup_(EVP_MAC_CTX_freep) EVP_MAC_CTX *ctx = NULL;
        OSSL_PARAM params[2];
        uint8_t full[EVP_MAX_MD_SIZE], al[8];
        size_t full_len = 0;
        uint64_t bits = (uint64_t)aad_len * 8;

        if (!mac)
                return -ENOMEM;
        ctx = EVP_MAC_CTX_new(mac);
        if (!ctx)
                return -ENOMEM;
        for (int i = 0; i < 8; i++)
                al[i] = (uint8_t)(bits >> (56 - 8 * i));
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)e->mac_md, 0);
        params[1] = OSSL_PARAM_construct_end();
        if (EVP_MAC_init(ctx, mac_key, e->cek_size / 2, params) != 1 ||
            EVP_MAC_update(ctx, aad, aad_len) != 1 || EVP_MAC_update(ctx, iv, e->iv_size) != 1 ||
            EVP_MAC_update(ctx, ct, ct_len) != 1 || EVP_MAC_update(ctx, al, sizeof(al)) != 1 ||
            EVP_MAC_final(ctx, full, &full_len, sizeof(full)) != 1)
                return -ENOMEM;
        memcpy(tag, full, e->tag_size);
        OPENSSL_cleanse(full, sizeof(full));
        return 0;
}

static int cbc_crypt(bool encrypt, const struct enc_alg *e, const uint8_t *enc_key, const uint8_t *iv,
                     const uint8_t *in, size_t n, uint8_t *out)
{
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        _cleanup_(EVP_CIPHER_freep) EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, e->cipher, NULL);
        int len = 0, fin = 0;

        if (!ctx || !cipher)
                return -ENOMEM;
        if (n > INT32_MAX)
                return -EBADMSG;
        if (EVP_CipherInit_ex2(ctx, cipher, enc_key, iv, encrypt, NULL) != 1)
                return -ENOMEM;
        if (n && EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1)
                return -EKEYREJECTED;
        if (EVP_CipherFinal_ex(ctx, out + len, &fin) != 1)
                return -EKEYREJECTED; /* bad padding; unreachable after a good tag */
        return len + fin;
}

static int content_decrypt(const struct enc_alg *e, const uint8_t *cek, const uint8_t *iv,
                           const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
                           const uint8_t *tag, struct secret_buf *ret, struct cvm_error *err)
{
        _cleanup_(secret_freep) struct secret_buf pt = {};
        int n;

        if (secret_alloc(&pt, ct_len + 16) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (e->mac_md) {
                uint8_t want[32];

                if (cbc_hs_tag(e, cek, aad, aad_len, iv, ct, ct_len, want) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                if (CRYPTO_memcmp(want, tag, e->tag_size) != 0)
                        return cvm_error_set(
                                err, -EKEYREJECTED,
                                "JWE %s authentication tag does not verify (wrong key or tampered data)",
                                e->name);
                if (ct_len == 0 || ct_len % 16 != 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "JWE %s ciphertext of %zu bytes is not whole AES blocks",
                                             e->name, ct_len);
                n = cbc_crypt(false, e, cek + e->cek_size / 2, iv, ct, ct_len, pt.data);
        } else
                n = gcm_crypt(false, e, cek, iv, aad, aad_len, ct, ct_len, pt.data, (uint8_t *)tag);
        if (n == -EKEYREJECTED)
                return cvm_error_set(
                        err, n, "JWE %s authentication tag does not verify (wrong key or tampered data)",
                        e->name);
        if (n < 0)
                return cvm_error_set(err, n, "JWE %s decryption failed", e->name);
        secret_shrink(&pt, (size_t)n);
        pt.data[n] = '\0';
        *ret = pt;
        pt = (struct secret_buf){};
        return 0;
}

/* ---- key management -------------------------------------------------------------------- */

static int aes_kw(bool wrap, const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t n, uint8_t *out,
                  size_t *ret_len)
{
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        _cleanup_(EVP_CIPHER_freep) EVP_CIPHER *cipher = NULL;
        const char *name = kek_len == 16 ? "AES-128-WRAP" : kek_len == 24 ? "AES-192-WRAP" : "AES-256-WRAP";
        int len = 0, fin = 0;

        cipher = EVP_CIPHER_fetch(NULL, name, NULL);
        if (!ctx || !cipher)
                return -ENOMEM;
        EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
        if (EVP_CipherInit_ex2(ctx, cipher, kek, NULL, wrap, NULL) != 1)
                return -ENOMEM;
        if (EVP_CipherUpdate(ctx, out, &len, in, (int)n) != 1 ||
            EVP_CipherFinal_ex(ctx, out + len, &fin) != 1)
                return -EKEYREJECTED; /* integrity check of RFC 3394 failed */
        *ret_len = (size_t)(len + fin);
        return 0;
}

/* RFC 7518 §4.6.2: Concat KDF (NIST SP 800-56A single-step KDF with SHA-256). */
static int concat_kdf(const uint8_t *z, size_t z_len, const char *algid, const uint8_t *apu, size_t apu_len,
                      const uint8_t *apv, size_t apv_len, uint8_t *out, size_t out_len)
{
        _cleanup_(EVP_KDF_freep) EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_SSKDF, NULL);
        _cleanup_(EVP_KDF_CTX_freep) EVP_KDF_CTX *ctx = NULL;
        _cleanup_free_ uint8_t *info = NULL;
        size_t alg_len = strlen(algid), info_len = 4 + alg_len + 4 + apu_len + 4 + apv_len + 4, o = 0;
        OSSL_PARAM params[4];
        uint32_t bits = (uint32_t)(out_len * 8);

        if (!kdf || !(ctx = EVP_KDF_CTX_new(kdf)) || !(info = malloc(info_len)))
                return -ENOMEM;
#define PUT32(v)                                 \
        do {                                     \
                uint32_t _v = (uint32_t)(v);     \
                info[o++] = (uint8_t)(_v >> 24); \
                info[o++] = (uint8_t)(_v >> 16); \
                info[o++] = (uint8_t)(_v >> 8);  \
                info[o++] = (uint8_t)_v;         \
        } while (0)
        PUT32(alg_len);
        memcpy(info + o, algid, alg_len);
        o += alg_len;
        PUT32(apu_len);
        if (apu_len)
                memcpy(info + o, apu, apu_len);
        o += apu_len;
        PUT32(apv_len);
        if (apv_len)
                memcpy(info + o, apv, apv_len);
        o += apv_len;
        PUT32(bits);
#undef PUT32
        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
        params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, z_len);
        params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len);
        params[3] = OSSL_PARAM_construct_end();
        if (EVP_KDF_derive(ctx, out, out_len, params) != 1)
                return -ENOMEM;
        return 0;
}

/* Z = ECDH(@priv, @peer); the peer point is validated (on the curve, not the identity). */
static bool has_private(EVP_PKEY *key)
{
        BIGNUM *bn = NULL;
        const char *param =
                EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA ? OSSL_PKEY_PARAM_RSA_D : OSSL_PKEY_PARAM_PRIV_KEY;
        bool ok = EVP_PKEY_get_bn_param(key, param, &bn) == 1;

        BN_clear_free(bn);
        return ok;
}

static int ecdh(EVP_PKEY *priv, EVP_PKEY *peer, struct secret_buf *ret, struct cvm_error *err)
{
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv, NULL);
        _cleanup_(secret_freep) struct secret_buf z = {};
        size_t n = 0;

        if (!ctx)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (!has_private(priv) || EVP_PKEY_derive_init(ctx) != 1)
                return cvm_error_set(err, -EKEYREJECTED, "JWE ECDH: the key is not an EC private key");
        if (EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) != 1)
                return cvm_error_set(err, -EBADMSG,
                                     "JWE \"epk\" is not a valid public key on our key's curve");
        if (EVP_PKEY_derive(ctx, NULL, &n) != 1 || secret_alloc(&z, n) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (EVP_PKEY_derive(ctx, z.data, &n) != 1)
                return cvm_error_set(err, -EKEYREJECTED, "JWE ECDH key agreement failed");
        secret_shrink(&z, n);
        *ret = z;
        z = (struct secret_buf){};
        return 0;
}

static int rsa_oaep(bool encrypt, const struct key_alg *k, EVP_PKEY *key, const uint8_t *in, size_t n,
                    struct secret_buf *ret)
{
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
        _cleanup_(secret_freep) struct secret_buf out = {};
        size_t len = 0;
        int r;

        if (!ctx)
                return -ENOMEM;
        r = encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx);
        if (r != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, k->oaep_md, NULL) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, k->oaep_md, NULL) != 1)
                return -EKEYREJECTED;
        r = encrypt ? EVP_PKEY_encrypt(ctx, NULL, &len, in, n) : EVP_PKEY_decrypt(ctx, NULL, &len, in, n);
        if (r != 1)
                return -EKEYREJECTED;
        if (secret_alloc(&out, len) < 0)
                return -ENOMEM;
        r = encrypt ? EVP_PKEY_encrypt(ctx, out.data, &len, in, n)
                    : EVP_PKEY_decrypt(ctx, out.data, &len, in, n);
        if (r != 1)
                return -EKEYREJECTED;
        secret_shrink(&out, len);
        *ret = out;
        out = (struct secret_buf){};
        return 0;
}

/* ---- decryption ------------------------------------------------------------------------ */

struct recipient {
        json_object *header; /* per-recipient unprotected header (borrowed) or NULL */
        uint8_t *ek;
        size_t ek_size;
};

struct message {
        json_object *doc;       /* the parsed JSON serialization, or NULL for compact */
        char *protected_b64;    /* as received, "" when absent */
        json_object *protected; /* parsed protected header, or NULL */
        json_object *shared;    /* "unprotected" (borrowed from doc) or NULL */
        char *aad;              /* AAD input: protected_b64 [ '.' aad member ] */
        uint8_t *iv, *ct, *tag;
        size_t iv_size, ct_size, tag_size;
        struct recipient recipients[MAX_RECIPIENTS];
        size_t n_recipients;
};

static void message_done(struct message *m)
{
        json_object_put(m->doc);
        json_object_put(m->protected);
        free(m->protected_b64);
        free(m->aad);
        free(m->iv);
        free(m->ct);
        free(m->tag);
        for (size_t i = 0; i < m->n_recipients; i++)
                free(m->recipients[i].ek);
}

struct dec_key {
        EVP_PKEY *pkey;
        const uint8_t *oct;
        size_t oct_len;
};

static int parse_protected(struct message *m, const char *b64, size_t len, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *raw = NULL;
        size_t n;
        int r;

        m->protected_b64 = strndup(b64, len);
        if (!m->protected_b64)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (len == 0)
                return 0;
        if ((r = b64url_decode(b64, len, "JWE protected header", &raw, &n, err)) < 0 ||
            (r = canonjson_parse((const char *)raw, n, "JWE protected header", &m->protected, err)) < 0)
                return r;
        if (!json_object_is_type(m->protected, json_type_object))
                return cvm_error_set(err, -EBADMSG, "JWE protected header is not a JSON object");
        return 0;
}

static int parse_compact(struct message *m, const char *s, size_t len, struct cvm_error *err)
{
        const char *part[5];
        size_t part_len[5], k = 0, start = 0;
        int r;

        for (size_t i = 0; i <= len; i++)
                if (i == len || s[i] == '.') {
                        if (k == 5)
                                return cvm_error_set(err, -EBADMSG,
                                                     "not a compact JWE: more than 5 dot-separated parts");
                        part[k] = s + start;
                        part_len[k++] = i - start;
                        start = i + 1;
                }
        if (k != 5)
                return cvm_error_set(err, -EBADMSG,
                                     "not a compact JWE: expected 5 dot-separated parts, found %zu", k);
        if (part_len[0] == 0)
                return cvm_error_set(err, -EBADMSG, "compact JWE has an empty protected header");
        if ((r = parse_protected(m, part[0], part_len[0], err)) < 0 ||
            (r = b64url_decode(part[1], part_len[1], "JWE encrypted key", &m->recipients[0].ek,
                               &m->recipients[0].ek_size, err)) < 0)
                return r;
        m->n_recipients = 1;
        if ((r = b64url_decode(part[2], part_len[2], "JWE iv", &m->iv, &m->iv_size, err)) < 0 ||
            (r = b64url_decode(part[3], part_len[3], "JWE ciphertext", &m->ct, &m->ct_size, err)) < 0 ||
            (r = b64url_decode(part[4], part_len[4], "JWE tag", &m->tag, &m->tag_size, err)) < 0)
                return r;
        m->aad = strdup(m->protected_b64);
        if (!m->aad)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

static int get_object(json_object *obj, const char *name, const char *what, json_object **ret,
                      struct cvm_error *err)
{
        json_object *v;

        *ret = NULL;
        if (!json_object_object_get_ex(obj, name, &v))
                return 0;
        if (!json_object_is_type(v, json_type_object))
                return cvm_error_set(err, -EBADMSG, "%s member \"%s\" is not a JSON object", what, name);
        *ret = v;
        return 0;
}

static int parse_json(struct message *m, const char *s, size_t len, struct cvm_error *err)
{
        const char *prot, *aad;
        json_object *recipients;
        int r;

        if ((r = canonjson_parse(s, len, "JWE JSON", &m->doc, err)) < 0)
                return r;
        if (!json_object_is_type(m->doc, json_type_object))
                return cvm_error_set(err, -EBADMSG, "JWE JSON is not an object");
        if ((r = jose_get_string(m->doc, "protected", "JWE JSON", false, &prot, err)) < 0 ||
            (r = parse_protected(m, prot ?: "", prot ? strlen(prot) : 0, err)) < 0 ||
            (r = get_object(m->doc, "unprotected", "JWE JSON", &m->shared, err)) < 0 ||
            (r = jose_get_string(m->doc, "aad", "JWE JSON", false, &aad, err)) < 0)
                return r;
        if (aad) {
                /* The "aad" member must itself be valid base64url, but enters the AAD as text. */
                _cleanup_free_ uint8_t *tmp = NULL;
                size_t n;

                if ((r = b64url_decode(aad, SIZE_MAX, "JWE JSON \"aad\"", &tmp, &n, err)) < 0)
                        return r;
                if (asprintf(&m->aad, "%s.%s", m->protected_b64, aad) < 0) {
                        m->aad = NULL;
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                }
        } else if (!(m->aad = strdup(m->protected_b64)))
                return cvm_error_set(err, -ENOMEM, "out of memory");

        if ((r = jose_get_b64url(m->doc, "iv", "JWE JSON", true, &m->iv, &m->iv_size, err)) < 0 ||
            (r = jose_get_b64url(m->doc, "ciphertext", "JWE JSON", true, &m->ct, &m->ct_size, err)) < 0 ||
            (r = jose_get_b64url(m->doc, "tag", "JWE JSON", true, &m->tag, &m->tag_size, err)) < 0)
                return r;

        if (json_object_object_get_ex(m->doc, "recipients", &recipients)) {
                size_t n;

                if (json_object_object_get_ex(m->doc, "encrypted_key", NULL) ||
                    json_object_object_get_ex(m->doc, "header", NULL))
                        return cvm_error_set(
                                err, -EBADMSG,
                                "JWE JSON mixes \"recipients\" with flattened \"encrypted_key\"/\"header\"");
                if (!json_object_is_type(recipients, json_type_array))
                        return cvm_error_set(err, -EBADMSG, "JWE JSON \"recipients\" is not an array");
                n = json_object_array_length(recipients);
                if (n == 0 || n > MAX_RECIPIENTS)
                        return cvm_error_set(err, -EBADMSG, "JWE JSON has %zu recipients (1..%d supported)",
                                             n, MAX_RECIPIENTS);
                for (size_t i = 0; i < n; i++) {
                        json_object *rc = json_object_array_get_idx(recipients, i);
                        char what[48];

                        snprintf(what, sizeof(what), "JWE recipients[%zu]", i);
                        if (!json_object_is_type(rc, json_type_object))
                                return cvm_error_set(err, -EBADMSG, "%s is not an object", what);
                        if ((r = get_object(rc, "header", what, &m->recipients[i].header, err)) < 0 ||
                            (r = jose_get_b64url(rc, "encrypted_key", what, false, &m->recipients[i].ek,
                                                 &m->recipients[i].ek_size, err)) < 0)
                                return r;
                        m->n_recipients++;
                }
        } else {
                if ((r = get_object(m->doc, "header", "JWE JSON", &m->recipients[0].header, err)) < 0 ||
                    (r = jose_get_b64url(m->doc, "encrypted_key", "JWE JSON", false, &m->recipients[0].ek,
                                         &m->recipients[0].ek_size, err)) < 0)
                        return r;
                m->n_recipients = 1;
        }
        return 0;
}

/* RFC 7516 §7.2.1: the protected, shared and per-recipient headers must be disjoint. */
static int merge_headers(json_object *const src[3], json_object **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *h = json_object_new_object();

        if (!h)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < 3; i++) {
                if (!src[i])
                        continue;
                json_object_object_foreach (src[i], k, v) {
                        if (json_object_object_get_ex(h, k, NULL))
                                return cvm_error_set(
                                        err, -EBADMSG,
                                        "JWE header member \"%s\" appears in more than one header", k);
                        if (json_object_object_add(h, k, json_object_get(v)) < 0)
                                return cvm_error_set(err, -ENOMEM, "out of memory");
                }
        }
        *ret = TAKE_PTR(h);
        return 0;
}

static int derive_cek_ecdh(const struct key_alg *k, const struct enc_alg *e, json_object *hdr, EVP_PKEY *key,
                           const struct recipient *rc, struct secret_buf *ret, struct cvm_error *err)
{
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *epk = NULL;
        _cleanup_(secret_freep) struct secret_buf z = {}, kek = {}, cek = {};
        _cleanup_free_ uint8_t *apu = NULL, *apv = NULL;
        const char *our_crv, *their_crv;
        size_t apu_len, apv_len, fs, keylen, n;
        json_object *epk_jwk;
        int r;

        if (jwk_ec_curve(key, &our_crv, &fs) < 0)
                return cvm_error_set(err, -EKEYREJECTED, "JWE %s needs an EC P-256/384/521 private key",
                                     k->name);
        if (!json_object_object_get_ex(hdr, "epk", &epk_jwk) ||
            !json_object_is_type(epk_jwk, json_type_object))
                return cvm_error_set(err, -EBADMSG, "JWE %s header has no \"epk\" object", k->name);
        if (json_object_object_get_ex(epk_jwk, "d", NULL))
                return cvm_error_set(err, -EBADMSG, "JWE \"epk\" contains a private key");
        if ((r = jwk_to_pkey(epk_jwk, &epk, err)) < 0)
                return r;
        if (jwk_ec_curve(epk, &their_crv, &fs) < 0 || strcmp(our_crv, their_crv) != 0)
                return cvm_error_set(err, -EBADMSG, "JWE \"epk\" is not on our key's curve %s", our_crv);
        if ((r = jose_get_b64url(hdr, "apu", "JWE header", false, &apu, &apu_len, err)) < 0 ||
            (r = jose_get_b64url(hdr, "apv", "JWE header", false, &apv, &apv_len, err)) < 0)
                return r;
        if ((r = ecdh(key, epk, &z, err)) < 0)
                return r;

        /* ECDH-ES: the KDF output is the CEK (AlgorithmID = enc); otherwise a KEK (= alg). */
        keylen = k->kind == KM_ECDH_ES ? e->cek_size : k->kw_size;
        if (secret_alloc(&kek, keylen) < 0 ||
            concat_kdf(z.data, z.size, k->kind == KM_ECDH_ES ? e->name : k->name, apu, apu_len, apv, apv_len,
                       kek.data, keylen) < 0)
                return cvm_error_set(err, -ENOMEM, "JWE Concat KDF failed");
        if (k->kind == KM_ECDH_ES) {
                if (rc->ek_size != 0)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "JWE ECDH-ES (direct agreement) must have an empty encrypted key");
                *ret = kek;
                kek = (struct secret_buf){};
                return 0;
        }
        if (rc->ek_size < 24 || rc->ek_size % 8 != 0 || rc->ek_size > 8 + 64)
                return cvm_error_set(err, -EBADMSG,
                                     "JWE encrypted key of %zu bytes is not an AES key wrap of a CEK",
                                     rc->ek_size);
        if (secret_alloc(&cek, rc->ek_size) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r = aes_kw(false, kek.data, kek.size, rc->ek, rc->ek_size, cek.data, &n);
        if (r < 0)
                return cvm_error_set(
                        err, r, "JWE %s: the encrypted key does not unwrap (wrong key or tampered data)",
                        k->name);
        secret_shrink(&cek, n);
        *ret = cek;
        cek = (struct secret_buf){};
        return 0;
}

static int derive_cek(const struct key_alg *k, const struct enc_alg *e, json_object *hdr,
                      const struct dec_key *key, const struct recipient *rc, struct secret_buf *ret,
                      struct cvm_error *err)
{
        _cleanup_(secret_freep) struct secret_buf cek = {};
        size_t n;
        int r;

        switch (k->kind) {
        case KM_RSA_OAEP:
                if (!key->pkey || EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_RSA || !has_private(key->pkey))
                        return cvm_error_set(err, -EKEYREJECTED, "JWE %s needs an RSA private key", k->name);
                if (rc->ek_size != (size_t)EVP_PKEY_get_size(key->pkey))
                        return cvm_error_set(err, -EKEYREJECTED,
                                             "JWE %s encrypted key is %zu bytes, our %d-bit key decrypts %d",
                                             k->name, rc->ek_size, EVP_PKEY_get_bits(key->pkey),
                                             EVP_PKEY_get_size(key->pkey));
                r = rsa_oaep(false, k, key->pkey, rc->ek, rc->ek_size, &cek);
                if (r == -ENOMEM)
                        return cvm_error_set(err, r, "out of memory");
                if (r < 0)
                        return cvm_error_set(err, -EKEYREJECTED,
                                             "JWE %s: the encrypted key cannot be decrypted with our key "
                                             "(encrypted to another key?)",
                                             k->name);
                break;
        case KM_ECDH_ES:
        case KM_ECDH_ES_KW:
                if (!key->pkey || EVP_PKEY_get_base_id(key->pkey) != EVP_PKEY_EC)
                        return cvm_error_set(err, -EKEYREJECTED, "JWE %s needs an EC private key", k->name);
                r = derive_cek_ecdh(k, e, hdr, key->pkey, rc, &cek, err);
                if (r < 0)
                        return r;
                break;
        case KM_DIR:
                if (!key->oct)
                        return cvm_error_set(err, -EKEYREJECTED, "JWE \"dir\" needs a secret (oct) key");
                if (rc->ek_size != 0)
                        return cvm_error_set(err, -EBADMSG, "JWE \"dir\" must have an empty encrypted key");
                if (secret_alloc(&cek, key->oct_len) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                memcpy(cek.data, key->oct, key->oct_len);
                break;
        case KM_AES_KW:
                if (!key->oct || key->oct_len != k->kw_size)
                        return cvm_error_set(err, -EKEYREJECTED, "JWE %s needs a %zu-byte secret key",
                                             k->name, k->kw_size);
                if (rc->ek_size < 24 || rc->ek_size % 8 != 0 || rc->ek_size > 8 + 64)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "JWE encrypted key of %zu bytes is not an AES key wrap of a CEK",
                                rc->ek_size);
                if (secret_alloc(&cek, rc->ek_size) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                r = aes_kw(false, key->oct, key->oct_len, rc->ek, rc->ek_size, cek.data, &n);
                if (r < 0)
                        return cvm_error_set(
                                err, r,
                                "JWE %s: the encrypted key does not unwrap (wrong key or tampered data)",
                                k->name);
                secret_shrink(&cek, n);
                break;
        }
        if (cek.size != e->cek_size)
                return cvm_error_set(err, -EKEYREJECTED, "JWE content key is %zu bytes, %s needs %zu",
                                     cek.size, e->name, e->cek_size);
        *ret = cek;
        cek = (struct secret_buf){};
        return 0;
}

static int decrypt_recipient(struct message *m, size_t i, const struct dec_key *key,
                             struct secret_buf *ret_pt, json_object **ret_header, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *hdr = NULL;
        _cleanup_(secret_freep) struct secret_buf cek = {}, pt = {};
        json_object *const src[3] = {m->protected, m->shared, m->recipients[i].header};
        const struct key_alg *k;
        const struct enc_alg *e;
        const char *alg, *enc;
        int r;

        if ((r = merge_headers(src, &hdr, err)) < 0)
                return r;
        if ((r = jose_get_string(hdr, "alg", "JWE header", true, &alg, err)) < 0 ||
            (r = jose_get_string(hdr, "enc", "JWE header", true, &enc, err)) < 0)
                return r;
        if (json_object_object_get_ex(hdr, "crit", NULL))
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "JWE header lists critical extensions, none is supported");
        if (json_object_object_get_ex(hdr, "zip", NULL))
                return cvm_error_set(err, -EOPNOTSUPP, "JWE compressed content (\"zip\") is not supported");
        if ((r = lookup_key_alg(alg, &k, err)) < 0 || (r = lookup_enc(enc, &e, err)) < 0)
                return r;
        if (m->iv_size != e->iv_size)
                return cvm_error_set(err, -EBADMSG, "JWE iv is %zu bytes, %s needs %zu", m->iv_size, e->name,
                                     e->iv_size);
        if (m->tag_size != e->tag_size)
                return cvm_error_set(err, -EBADMSG, "JWE tag is %zu bytes, %s needs %zu", m->tag_size,
                                     e->name, e->tag_size);
        if ((r = derive_cek(k, e, hdr, key, &m->recipients[i], &cek, err)) < 0)
                return r;
        if ((r = content_decrypt(e, cek.data, m->iv, (const uint8_t *)m->aad, strlen(m->aad), m->ct,
                                 m->ct_size, m->tag, &pt, err)) < 0)
                return r;
        if (ret_header)
                *ret_header = TAKE_PTR(hdr);
        *ret_pt = pt;
        pt = (struct secret_buf){};
        return 0;
}

static int decrypt_any(const char *input, size_t len, const struct dec_key *key,
                       struct secret_buf *ret_plaintext, json_object **ret_header, struct cvm_error *err)
{
        struct message m = {};
        size_t start = 0;
        int r;

        if (len == SIZE_MAX)
                len = strlen(input);
        if (len > JWE_MAX_SIZE) {
                r = cvm_error_set(err, -EBADMSG, "JWE of %zu bytes exceeds the limit of %u", len,
                                  JWE_MAX_SIZE);
                goto out;
        }
        while (start < len && strchr(" \t\r\n", input[start]) && input[start])
                start++;
        if (start < len && input[start] == '{')
                r = parse_json(&m, input, len, err);
        else {
                while (len > start && strchr(" \t\r\n", input[len - 1]) && input[len - 1])
                        len--;
                r = parse_compact(&m, input + start, len - start, err);
        }
        if (r < 0)
                goto out;

        if (m.n_recipients == 1) {
                r = decrypt_recipient(&m, 0, key, ret_plaintext, ret_header, err);
                goto out;
        }
        /* General serialization: the first recipient our key decrypts wins. */
        for (size_t i = 0; i < m.n_recipients; i++) {
                struct cvm_error e = {};

                r = decrypt_recipient(&m, i, key, ret_plaintext, ret_header, &e);
                if (r >= 0 || r == -ENOMEM || i + 1 == m.n_recipients) {
                        if (r < 0)
                                cvm_error_set(err, r, "no JWE recipient could be decrypted; last (#%zu): %s",
                                              i, e.message);
                        break;
                }
        }
out:
        message_done(&m);
        return r;
}

int jwe_decrypt(const char *input, size_t len, EVP_PKEY *key, struct secret_buf *ret_plaintext,
                json_object **ret_header, struct cvm_error *err)
{
        const struct dec_key k = {.pkey = key};

        return decrypt_any(input, len, &k, ret_plaintext, ret_header, err);
}

int jwe_decrypt_oct(const char *input, size_t len, const void *key, size_t key_len,
                    struct secret_buf *ret_plaintext, json_object **ret_header, struct cvm_error *err)
{
        const struct dec_key k = {.oct = key, .oct_len = key_len};

        if (key_len == 0)
                return cvm_error_set(err, -EINVAL, "empty secret key");
        return decrypt_any(input, len, &k, ret_plaintext, ret_header, err);
}

/* ---- encryption (test emulators) ------------------------------------------------------- */

int jwe_encrypt(const char *alg, const char *enc, EVP_PKEY *recipient, json_object *header,
                const void *plaintext, size_t plaintext_size, enum jwe_format format, char **ret,
                struct cvm_error *err)
{
        _cleanup_(secret_freep) struct secret_buf cek = {}, ek = {}, kek = {}, z = {};
        _cleanup_(json_object_putp) json_object *h = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *eph = NULL;
        _cleanup_free_ char *htext = NULL, *hb64 = NULL, *ekb64 = NULL, *ivb64 = NULL, *ctb64 = NULL,
                            *tagb64 = NULL;
        _cleanup_free_ uint8_t *ct = NULL;
        uint8_t iv[16], tag[32];
        const struct key_alg *k;
        const struct enc_alg *e;
        size_t hlen, ct_len = 0;
        int r, n;

        if ((r = lookup_key_alg(alg, &k, err)) < 0 || (r = lookup_enc(enc, &e, err)) < 0)
                return r;
        if (k->kind == KM_DIR || k->kind == KM_AES_KW)
                return cvm_error_set(err, -EOPNOTSUPP, "JWE encryption with \"%s\" is not implemented", alg);

        h = json_object_new_object();
        if (!h)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (header) {
                if (!json_object_is_type(header, json_type_object))
                        return cvm_error_set(err, -EINVAL, "JWE header is not an object");
                json_object_object_foreach (header, hk, hv) {
                        if (json_object_object_add(h, hk, json_object_get(hv)) < 0)
                                return cvm_error_set(err, -ENOMEM, "out of memory");
                }
        }
        if (jose_add_string(h, "alg", alg) < 0 || jose_add_string(h, "enc", enc) < 0)
                return cvm_error_set(err, -ENOMEM, "out of memory");

        if (k->kind == KM_RSA_OAEP) {
                if (EVP_PKEY_get_base_id(recipient) != EVP_PKEY_RSA ||
                    EVP_PKEY_get_bits(recipient) < JWS_RSA_MIN_BITS)
                        return cvm_error_set(err, -EKEYREJECTED,
                                             "JWE %s needs an RSA key of at least %d bits", alg,
                                             JWS_RSA_MIN_BITS);
                if (secret_alloc(&cek, e->cek_size) < 0 || RAND_priv_bytes(cek.data, (int)e->cek_size) != 1)
                        return cvm_error_set(err, -ENOMEM, "cannot generate a content key");
                r = rsa_oaep(true, k, recipient, cek.data, cek.size, &ek);
                if (r < 0)
                        return cvm_error_set(err, r, "JWE %s: RSA encryption failed", alg);
        } else {
                const char *crv;
                json_object *epk;
                size_t fs, keylen = k->kind == KM_ECDH_ES ? e->cek_size : k->kw_size;

                if (jwk_ec_curve(recipient, &crv, &fs) < 0)
                        return cvm_error_set(err, -EKEYREJECTED, "JWE %s needs an EC P-256/384/521 key",
                                             alg);
                /* OpenSSL knows the NIST names ("P-256") as group aliases. */
                eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", crv);
                if (!eph)
                        return cvm_error_set(err, -ENOMEM, "cannot generate the ephemeral EC key");
                if ((r = jwk_from_pkey(eph, 0, &epk, err)) < 0)
                        return r;
                if (json_object_object_add(h, "epk", epk) < 0) {
                        json_object_put(epk);
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                }
                if ((r = ecdh(eph, recipient, &z, err)) < 0)
                        return r;
                if (secret_alloc(&kek, keylen) < 0 ||
                    concat_kdf(z.data, z.size, k->kind == KM_ECDH_ES ? enc : alg, NULL, 0, NULL, 0, kek.data,
                               keylen) < 0)
                        return cvm_error_set(err, -ENOMEM, "JWE Concat KDF failed");
                if (k->kind == KM_ECDH_ES) {
                        cek = kek;
                        kek = (struct secret_buf){};
                        if (secret_alloc(&ek, 0) < 0)
                                return cvm_error_set(err, -ENOMEM, "out of memory");
                } else {
                        size_t wl;

                        if (secret_alloc(&cek, e->cek_size) < 0 ||
                            RAND_priv_bytes(cek.data, (int)e->cek_size) != 1 ||
                            secret_alloc(&ek, e->cek_size + 8) < 0)
                                return cvm_error_set(err, -ENOMEM, "cannot generate a content key");
                        if (aes_kw(true, kek.data, kek.size, cek.data, cek.size, ek.data, &wl) < 0)
                                return cvm_error_set(err, -ENOMEM, "AES key wrap failed");
                        secret_shrink(&ek, wl);
                }
        }

        if ((r = canonjson_serialize(h, &htext, &hlen, err)) < 0)
                return r;
        hb64 = b64url_encode(htext, hlen);
        if (!hb64 || RAND_bytes(iv, (int)e->iv_size) != 1)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (plaintext_size > INT32_MAX - 32)
                return cvm_error_set(err, -EINVAL, "plaintext too large");
        ct = malloc(plaintext_size + 32);
        if (!ct)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (e->mac_md) {
                n = cbc_crypt(true, e, cek.data + e->cek_size / 2, iv, plaintext, plaintext_size, ct);
                if (n < 0 ||
                    cbc_hs_tag(e, cek.data, (const uint8_t *)hb64, strlen(hb64), iv, ct, (size_t)n, tag) < 0)
                        return cvm_error_set(err, -ENOMEM, "JWE %s encryption failed", enc);
        } else {
                n = gcm_crypt(true, e, cek.data, iv, (const uint8_t *)hb64, strlen(hb64), plaintext,
                              plaintext_size, ct, tag);
                if (n < 0)
                        return cvm_error_set(err, -ENOMEM, "JWE %s encryption failed", enc);
        }
        ct_len = (size_t)n;

        ekb64 = b64url_encode(ek.data, ek.size);
        ivb64 = b64url_encode(iv, e->iv_size);
        ctb64 = b64url_encode(ct, ct_len);
        tagb64 = b64url_encode(tag, e->tag_size);
        if (!ekb64 || !ivb64 || !ctb64 || !tagb64)
                return cvm_error_set(err, -ENOMEM, "out of memory");

        if (format == JWE_COMPACT) {
                char *out;

                if (asprintf(&out, "%s.%s.%s.%s.%s", hb64, ekb64, ivb64, ctb64, tagb64) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                *ret = out;
        } else {
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();
                const char *s;

                if (!o || jose_add_string(o, "protected", hb64) < 0 ||
                    (ek.size && jose_add_string(o, "encrypted_key", ekb64) < 0) ||
                    jose_add_string(o, "iv", ivb64) < 0 || jose_add_string(o, "ciphertext", ctb64) < 0 ||
                    jose_add_string(o, "tag", tagb64) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                s = json_object_to_json_string_ext(o,
                                                   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                if (!s || !(*ret = strdup(s)))
                        return cvm_error_set(err, -ENOMEM, "out of memory");
        }
        return 0;
}
