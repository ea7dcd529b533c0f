/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "cleanup.h"
#include "luksb64.h"
#include "lukswrap.h"

#define RSA_MIN_BITS 2048
#define RSA_MAX_BITS 8192

DEFINE_TRIVIAL_CLEANUP_FUNC(EVP_CIPHER_CTX *, EVP_CIPHER_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_DECODER_CTX *, OSSL_DECODER_CTX_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM_BLD *, OSSL_PARAM_BLD_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(OSSL_PARAM *, OSSL_PARAM_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(BIGNUM *, BN_free)

void lukswrap_key_done(struct lukswrap_key *k)
{
        EVP_PKEY_free(k->rsa);
        OPENSSL_cleanse(k, sizeof(*k));
}

static int accept_rsa(EVP_PKEY *pkey, struct lukswrap_key *ret, struct cvm_error *err)
{
        int bits;

        if (!EVP_PKEY_is_a(pkey, "RSA")) {
                EVP_PKEY_free(pkey);
                return cvm_error_set(err, -EOPNOTSUPP, "wrapping key: not an RSA key");
        }
        bits = EVP_PKEY_get_bits(pkey);
        if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
                EVP_PKEY_free(pkey);
                return cvm_error_set(err, -EOPNOTSUPP, "wrapping key: RSA-%d outside %d..%d bits", bits,
                                     RSA_MIN_BITS, RSA_MAX_BITS);
        }
        *ret = (struct lukswrap_key){
                .alg = LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM, .rsa = pkey, .rsa_bits = (unsigned)bits};
        return 0;
}

/* Public (or, for released material, private) key via OpenSSL's decoders: PEM or DER. */
static EVP_PKEY *decode_pkey(const uint8_t *data, size_t size, int selection)
{
        _cleanup_(OSSL_DECODER_CTX_freep) OSSL_DECODER_CTX *dctx = NULL;
        EVP_PKEY *pkey = NULL;
        const unsigned char *p = data;
        size_t left = size;

        dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, NULL, NULL, "RSA", selection, NULL, NULL);
        if (!dctx)
                return NULL;
        if (OSSL_DECODER_from_data(dctx, &p, &left) != 1) {
                EVP_PKEY_free(pkey);
                ERR_clear_error();
                return NULL;
        }
        return pkey;
}

static int jwk_member(json_object *jwk, const char *name, uint8_t **ret, size_t *ret_size,
                      struct cvm_error *err)
{
        json_object *v;

        if (!json_object_object_get_ex(jwk, name, &v) || !json_object_is_type(v, json_type_string))
                return cvm_error_set(err, -EBADMSG, "wrapping key: JWK member \"%s\" missing", name);
        if (luksb64url_decode(json_object_get_string(v), (size_t)json_object_get_string_len(v), ret,
                              ret_size) < 0)
                return cvm_error_set(err, -EBADMSG, "wrapping key: JWK member \"%s\" is not base64url",
                                     name);
        return 0;
}

static int load_jwk(const uint8_t *data, size_t size, struct lukswrap_key *ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *root = NULL;
        _cleanup_(OSSL_PARAM_BLD_freep) OSSL_PARAM_BLD *bld = NULL;
        _cleanup_(OSSL_PARAM_freep) OSSL_PARAM *params = NULL;
        _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
        _cleanup_(BN_freep) BIGNUM *n = NULL, *e = NULL;
        _cleanup_free_ uint8_t *nb = NULL, *eb = NULL;
        uint8_t *k = NULL;
        size_t n_size = 0, e_size = 0, k_size = 0;
        json_object *jwk, *kty, *inner;
        EVP_PKEY *pkey = NULL;
        const char *type;
        int r;

        root = json_tokener_parse((const char *)data);
        if (!root || !json_object_is_type(root, json_type_object))
                return cvm_error_set(err, -EBADMSG, "wrapping key: not a JSON object (JWK)");
        jwk = root;
        /* Key Vault GET /keys returns {"key": {JWK}, "attributes": ...}. */
        if (json_object_object_get_ex(root, "key", &inner) && json_object_is_type(inner, json_type_object))
                jwk = inner;
        if (!json_object_object_get_ex(jwk, "kty", &kty) || !json_object_is_type(kty, json_type_string))
                return cvm_error_set(err, -EBADMSG, "wrapping key: JWK without \"kty\"");
        type = json_object_get_string(kty);
        (void)size;

        if (strcmp(type, "oct") == 0 || strcmp(type, "oct-HSM") == 0) {
                r = jwk_member(jwk, "k", &k, &k_size, err);
                if (r < 0)
                        return r;
                if (k_size != LUKSWRAP_SYM_SIZE) {
                        erase_and_free(k, k_size);
                        return cvm_error_set(err, -EOPNOTSUPP,
                                             "wrapping key: oct key of %zu bytes, expected 32", k_size);
                }
                *ret = (struct lukswrap_key){.alg = LUKSTOKEN_WRAP_A256GCM};
                memcpy(ret->sym, k, LUKSWRAP_SYM_SIZE);
                erase_and_free(k, k_size);
                return 0;
        }
        if (strcmp(type, "RSA") != 0 && strcmp(type, "RSA-HSM") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "wrapping key: JWK kty \"%.16s\" is not RSA or oct",
                                     type);
        r = jwk_member(jwk, "n", &nb, &n_size, err);
        if (r >= 0)
                r = jwk_member(jwk, "e", &eb, &e_size, err);
        if (r < 0)
                return r;
        n = BN_bin2bn(nb, (int)n_size, NULL);
        e = BN_bin2bn(eb, (int)e_size, NULL);
        bld = OSSL_PARAM_BLD_new();
        if (!n || !e || !bld || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1 ||
            !(params = OSSL_PARAM_BLD_to_param(bld)))
                return -ENOMEM;
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
        if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
            EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
                ERR_clear_error();
                return cvm_error_set(err, -EBADMSG, "wrapping key: JWK is not a usable RSA public key");
        }
        return accept_rsa(pkey, ret, err);
}

int lukswrap_load_key(const uint8_t *data, size_t size, struct lukswrap_key *ret, struct cvm_error *err)
{
        EVP_PKEY *pkey;
        size_t i = 0;

        if (size > LUKSWRAP_MAX_INPUT)
                return cvm_error_set(err, -EFBIG, "wrapping key: larger than %u bytes", LUKSWRAP_MAX_INPUT);
        if (size == LUKSWRAP_SYM_SIZE) {
                *ret = (struct lukswrap_key){.alg = LUKSTOKEN_WRAP_A256GCM};
                memcpy(ret->sym, data, LUKSWRAP_SYM_SIZE);
                return 0;
        }
        while (i < size && (data[i] == ' ' || data[i] == '\n' || data[i] == '\r' || data[i] == '\t'))
                i++;
        if (i < size && data[i] == '{') {
                /* JSON needs a terminator: copy into a NUL-terminated buffer. */
                _cleanup_free_ char *text = strndup((const char *)data, size);

                if (!text)
                        return -ENOMEM;
                if (strlen(text) != size)
                        return cvm_error_set(err, -EBADMSG, "wrapping key: NUL byte in JSON");
                return load_jwk((const uint8_t *)text, size, ret, err);
        }
        if (size - i > 27 && memcmp(data + i, "-----BEGIN CERTIFICATE-----", 27) == 0) {
                _cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(data, (int)size);
                _cleanup_(X509_freep) X509 *cert = NULL;

                if (!bio)
                        return -ENOMEM;
                cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
                if (!cert || !(pkey = X509_get_pubkey(cert))) {
                        ERR_clear_error();
                        return cvm_error_set(err, -EBADMSG, "wrapping key: unreadable PEM certificate");
                }
                return accept_rsa(pkey, ret, err);
        }
        pkey = decode_pkey(data, size, EVP_PKEY_PUBLIC_KEY);
        if (!pkey)
                return cvm_error_set(
                        err, -EBADMSG,
                        "wrapping key: not a 32-byte AES key, JWK, PEM/DER RSA public key or certificate");
        return accept_rsa(pkey, ret, err);
}

static void build_aad(enum lukstoken_wrap_alg alg, const uint8_t binding[LUKSTOKEN_BINDING_SIZE],
                      uint8_t *out, size_t *ret_len)
{
        const char *name = lukstoken_wrap_alg_name(alg);
        size_t n = 0;

        memcpy(out, LUKSWRAP_AAD_TAG, strlen(LUKSWRAP_AAD_TAG));
        n += strlen(LUKSWRAP_AAD_TAG);
        memcpy(out + n, name, strlen(name));
        n += strlen(name);
        out[n++] = ':';
        memcpy(out + n, binding, LUKSTOKEN_BINDING_SIZE);
        *ret_len = n + LUKSTOKEN_BINDING_SIZE;
}

#define AAD_MAX (64 + LUKSTOKEN_BINDING_SIZE)

static int gcm(bool enc, const uint8_t key[32], const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
               const uint8_t *in, uint8_t *out, uint8_t tag[16])
{
        _cleanup_(EVP_CIPHER_CTX_freep) EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        int len = 0;

        if (!ctx)
                return -ENOMEM;
        if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, LUKSTOKEN_GCM_IV_SIZE, NULL) != 1 ||
            EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, enc) != 1 ||
            EVP_CipherUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1 ||
            EVP_CipherUpdate(ctx, out, &len, in, LUKSTOKEN_SECRET_SIZE) != 1 || len != LUKSTOKEN_SECRET_SIZE)
                return -EIO;
        if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, LUKSTOKEN_GCM_TAG_SIZE, tag) != 1)
                return -EIO;
        if (EVP_CipherFinal_ex(ctx, out + len, &len) != 1) {
                ERR_clear_error();
                return enc ? -EIO : -EKEYREJECTED;
        }
        if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, LUKSTOKEN_GCM_TAG_SIZE, tag) != 1)
                return -EIO;
        return 0;
}

static int oaep_setup(EVP_PKEY_CTX *ctx)
{
        if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
            EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) != 1 ||
            EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) != 1)
                return -EIO;
        return 0;
}

int lukswrap_seal(const struct lukswrap_key *key, const uint8_t secret[LUKSTOKEN_SECRET_SIZE],
                  const uint8_t binding[LUKSTOKEN_BINDING_SIZE], struct lukstoken_wrap *ret,
                  struct cvm_error *err)
{
        struct lukstoken_wrap w = {.alg = key->alg};
        uint8_t cek[LUKSWRAP_SYM_SIZE], aad[AAD_MAX];
        const uint8_t *aes_key = key->sym;
        size_t aad_len;
        int r;

        if (key->alg != LUKSTOKEN_WRAP_A256GCM && key->alg != LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM)
                return cvm_error_set(err, -EINVAL, "wrap: no wrapping key");
        if (RAND_bytes(w.iv, sizeof(w.iv)) != 1)
                return cvm_error_set(err, -EIO, "wrap: random number generator failed");
        if (key->alg == LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM) {
                _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx =
                        EVP_PKEY_CTX_new_from_pkey(NULL, key->rsa, NULL);
                size_t ek_size = sizeof(w.ek);

                if (RAND_bytes(cek, sizeof(cek)) != 1)
                        return cvm_error_set(err, -EIO, "wrap: random number generator failed");
                if (!ctx || EVP_PKEY_encrypt_init(ctx) != 1 || oaep_setup(ctx) < 0 ||
                    EVP_PKEY_encrypt(ctx, w.ek, &ek_size, cek, sizeof(cek)) != 1) {
                        OPENSSL_cleanse(cek, sizeof(cek));
                        ERR_clear_error();
                        return cvm_error_set(err, -EIO, "wrap: RSA-OAEP encryption failed");
                }
                w.ek_size = ek_size;
                aes_key = cek;
        }
        build_aad(key->alg, binding, aad, &aad_len);
        r = gcm(true, aes_key, w.iv, aad, aad_len, secret, w.ct, w.tag);
        OPENSSL_cleanse(cek, sizeof(cek));
        if (r < 0)
                return cvm_error_set(err, r, "wrap: AES-256-GCM encryption failed");
        *ret = w;
        OPENSSL_cleanse(&w, sizeof(w));
        return 0;
}

int lukswrap_unseal(const uint8_t *material, size_t size, enum lukswrap_material kind,
                    const struct lukstoken_wrap *w, const uint8_t binding[LUKSTOKEN_BINDING_SIZE],
                    uint8_t secret[LUKSTOKEN_SECRET_SIZE], struct cvm_error *err)
{
        uint8_t cek[LUKSWRAP_SYM_SIZE], aad[AAD_MAX], out[LUKSTOKEN_SECRET_SIZE],
                tag[LUKSTOKEN_GCM_TAG_SIZE];
        const uint8_t *aes_key;
        size_t aad_len;
        int r;

        if (w->alg == LUKSTOKEN_WRAP_A256GCM) {
                if (kind != LUKSWRAP_MATERIAL_SYMMETRIC)
                        return cvm_error_set(err, -EOPNOTSUPP, "unwrap: A256GCM needs a symmetric key");
                if (size != LUKSWRAP_SYM_SIZE)
                        return cvm_error_set(err, -EBADMSG,
                                             "unwrap: released key has %zu bytes, expected 32", size);
                aes_key = material;
        } else if (w->alg == LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM) {
                _cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
                _cleanup_(EVP_PKEY_CTX_freep) EVP_PKEY_CTX *ctx = NULL;
                uint8_t buf[LUKSTOKEN_EK_MAX];
                size_t n = sizeof(buf);

                if (kind != LUKSWRAP_MATERIAL_RSA_PRIVATE)
                        return cvm_error_set(err, -EOPNOTSUPP,
                                             "unwrap: RSA-OAEP-256+A256GCM needs an RSA private key");
                if (size > LUKSWRAP_MAX_INPUT)
                        return cvm_error_set(err, -EBADMSG, "unwrap: released key too large");
                pkey = decode_pkey(material, size, EVP_PKEY_KEYPAIR);
                if (!pkey || !EVP_PKEY_is_a(pkey, "RSA"))
                        return cvm_error_set(err, -EBADMSG,
                                             "unwrap: released key is not an RSA private key");
                if ((size_t)EVP_PKEY_get_size(pkey) != w->ek_size)
                        return cvm_error_set(err, -EKEYREJECTED,
                                             "unwrap: released RSA key size (%d bytes) does not match the "
                                             "wrapped key (%zu)",
                                             EVP_PKEY_get_size(pkey), w->ek_size);
                ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
                if (!ctx || EVP_PKEY_decrypt_init(ctx) != 1 || oaep_setup(ctx) < 0)
                        return cvm_error_set(err, -EIO, "unwrap: RSA-OAEP setup failed");
                if (EVP_PKEY_decrypt(ctx, buf, &n, w->ek, w->ek_size) != 1 || n != sizeof(cek)) {
                        OPENSSL_cleanse(buf, sizeof(buf));
                        ERR_clear_error();
                        return cvm_error_set(err, -EKEYREJECTED,
                                             "unwrap: the released key does not decrypt this token");
                }
                memcpy(cek, buf, sizeof(cek));
                OPENSSL_cleanse(buf, sizeof(buf));
                aes_key = cek;
        } else
                return cvm_error_set(err, -EOPNOTSUPP, "unwrap: unknown wrap algorithm");

        build_aad(w->alg, binding, aad, &aad_len);
        memcpy(tag, w->tag, sizeof(tag));
        r = gcm(false, aes_key, w->iv, aad, aad_len, w->ct, out, tag);
        OPENSSL_cleanse(cek, sizeof(cek));
        if (r < 0) {
                OPENSSL_cleanse(out, sizeof(out));
                if (r == -EKEYREJECTED)
                        return cvm_error_set(err, r,
                                             "unwrap: authentication failed (wrong key, or the token or "
                                             "header was altered)");
                return cvm_error_set(err, r, "unwrap: AES-256-GCM failed");
        }
        memcpy(secret, out, LUKSTOKEN_SECRET_SIZE);
        OPENSSL_cleanse(out, sizeof(out));
        return 0;
}
