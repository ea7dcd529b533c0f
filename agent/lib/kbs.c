/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "jose.h"
#include "kbs.h"

static char *to_text(json_object *o)
{
        const char *t =
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

        return t ? strdup(t) : NULL;
}

int kbs_auth_request(const char *tee, char **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *x = json_object_new_object(),
                                                *algs = json_object_new_array();
        char *s;

        if (!o || !x || !algs || jose_add_string(o, "version", KBS_PROTOCOL_VERSION) < 0 ||
            jose_add_string(o, "tee", tee) < 0 ||
            json_object_array_add(algs, json_object_new_string("sha384")) < 0 ||
            json_object_array_add(algs, json_object_new_string("sha256")) < 0 ||
            json_object_array_add(algs, json_object_new_string("sha512")) < 0 ||
            json_object_object_add(x, "supported-hash-algorithms", TAKE_PTR(algs)) < 0 ||
            json_object_object_add(o, "extra-params", TAKE_PTR(x)) < 0)
                return -ENOMEM;
        s = to_text(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int kbs_challenge_parse(const char *body, size_t len, char **ret_nonce, const char **ret_hash,
                        struct cvm_error *err)
{
        static const char *const hashes[] = {"sha256", "sha384", "sha512"};
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *nonce, *h = NULL, *sel = "sha384";
        json_object *x;
        char *s;
        int r;

        r = canonjson_parse(body, len, "KBS challenge", &o, err);
        if (r < 0)
                return r;
        r = jose_get_string(o, "nonce", "KBS challenge", true, &nonce, err);
        if (r < 0)
                return r;
        if (!*nonce || strlen(nonce) > 1024)
                return cvm_error_set(err, -EBADMSG,
                                     "KBS challenge: nonce is empty or longer than 1024 bytes");
        if (json_object_object_get_ex(o, "extra-params", &x) && json_object_is_type(x, json_type_object)) {
                r = jose_get_string(x, "selected-hash-algorithm", "KBS challenge extra-params", false, &h,
                                    err);
                if (r < 0)
                        return r;
        }
        if (h) {
                sel = NULL;
                for (size_t i = 0; i < ELEMENTSOF(hashes); i++)
                        if (strcmp(h, hashes[i]) == 0)
                                sel = hashes[i];
                if (!sel)
                        return cvm_error_set(
                                err, -EOPNOTSUPP,
                                "KBS challenge: selected-hash-algorithm \"%.32s\" not supported", h);
        }
        s = strdup(nonce);
        if (!s)
                return -ENOMEM;
        *ret_nonce = s;
        *ret_hash = sel;
        return 0;
}

int kbs_runtime_data(const char *nonce, json_object *tee_pubkey, const char *hash, json_object **ret_runtime,
                     uint8_t *ret_digest, size_t *ret_digest_size, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *rt = json_object_new_object(),
                                                *h = json_object_new_object();
        _cleanup_free_ char *jcs = NULL;
        const EVP_MD *md = EVP_get_digestbyname(hash);
        unsigned n = 0;
        size_t len;
        int r;

        if (!md)
                return cvm_error_set(err, -EOPNOTSUPP, "hash \"%s\" not supported", hash);
        if (!rt || !h || jose_add_string(rt, "nonce", nonce) < 0 ||
            json_object_object_add(rt, "tee-pubkey", json_object_get(tee_pubkey)) < 0 ||
            jose_add_string(h, "additional-evidence", "") < 0 || jose_add_string(h, "nonce", nonce) < 0 ||
            json_object_object_add(h, "tee-pubkey", json_object_get(tee_pubkey)) < 0)
                return -ENOMEM;
        r = canonjson_serialize(h, &jcs, &len, err);
        if (r < 0)
                return r;
        if (EVP_Digest(jcs, len, ret_digest, &n, md, NULL) != 1)
                return cvm_error_set(err, -EIO, "runtime data: %s digest failed", hash);
        *ret_digest_size = n;
        *ret_runtime = TAKE_PTR(rt);
        return 0;
}

int kbs_attest_request(json_object *runtime, json_object *evidence, char **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(),
                                                *te = json_object_new_object();
        char *s;

        if (!o || !te || json_object_object_add(te, "primary_evidence", json_object_get(evidence)) < 0 ||
            jose_add_string(te, "additional_evidence", "") < 0 ||
            json_object_object_add(o, "runtime-data", json_object_get(runtime)) < 0 ||
            json_object_object_add(o, "tee-evidence", TAKE_PTR(te)) < 0)
                return -ENOMEM;
        s = to_text(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int kbs_attest_parse(const char *body, size_t len, char **ret_token, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *t;
        char *s;
        int r;

        r = canonjson_parse(body, len, "KBS attestation reply", &o, err);
        if (r < 0)
                return r;
        r = jose_get_string(o, "token", "KBS attestation reply", true, &t, err);
        if (r < 0)
                return r;
        if (!*t ||
            strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(t))
                return cvm_error_set(err, -EBADMSG, "KBS attestation reply: token is not a compact JWT");
        s = strdup(t);
        if (!s)
                return -ENOMEM;
        *ret_token = s;
        return 0;
}

bool kbs_resource_path_valid(const char *path)
{
        const char *p = path;

        for (int seg = 0; seg < 3; seg++) {
                size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

                if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                p += n;
                if (seg < 2) {
                        if (*p != '/')
                                return false;
                        p++;
                }
        }
        return *p == '\0';
}
