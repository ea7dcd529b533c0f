/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "b64.h"
#include "cleanup.h"
#include "jose.h"
#include "kbs.h"
#include "util.h"

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

static const struct {
        const char *name;
        uint8_t guid[16];
        bool vek;
} snp_cert_types[] = {
        {"VCEK",
         {0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd},
         true},
        {"VLEK",
         {0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1},
         true},
        {"ASK",
         {0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82},
         false},
        {"ARK",
         {0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae},
         false},
};

static int snp_cert_entry(const uint8_t *table, size_t size, size_t i, unsigned type, json_object *chain,
                          struct cvm_error *err)
{
        const uint8_t *e = table + i * KBS_SNP_CERT_ENTRY_SIZE, *p;
        uint32_t off = le32(e + 16), len = le32(e + 20);
        _cleanup_free_ char *b64 = NULL;
        json_object *o;
        X509 *x;

        if (len == 0 || off > size || len > size - off)
                return cvm_error_set(err, -EBADMSG,
                                     "certificate table entry %zu (%s): offset %" PRIu32 " length %" PRIu32
                                     " outside the %zu-byte table",
                                     i, snp_cert_types[type].name, off, len, size);
        p = table + off;
        x = d2i_X509(NULL, &p, (long)len);
        X509_free(x);
        if (!x || p != table + off + len)
                return cvm_error_set(err, -EBADMSG,
                                     "certificate table entry %zu (%s): not one DER X.509 certificate", i,
                                     snp_cert_types[type].name);
        b64 = b64_encode(table + off, len);
        o = json_object_new_object();
        if (!b64 || !o || json_object_array_add(chain, o) < 0) {
                json_object_put(o);
                return -ENOMEM;
        }
        if (jose_add_string(o, "cert_type", snp_cert_types[type].name) < 0 ||
            jose_add_string(o, "data", b64) < 0)
                return -ENOMEM;
        return 0;
}

int kbs_snp_cert_chain(const uint8_t *table, size_t size, json_object **ret_chain, bool *ret_has_vek,
                       struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *chain = json_object_new_array();
        bool seen[ELEMENTSOF(snp_cert_types)] = {}, vek = false;
        size_t i;
        int r;

        if (!chain)
                return -ENOMEM;
        /* No table at all: the host provides no certificates (the verifier may fetch them). */
        for (i = 0; size > 0; i++) {
                const uint8_t *e = table + i * KBS_SNP_CERT_ENTRY_SIZE;
                unsigned type;

                if (size / KBS_SNP_CERT_ENTRY_SIZE <= i)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "certificate table: entry %zu truncated, no all-zero terminator "
                                "in %zu bytes",
                                i, size);
                if (is_all_zero(e, KBS_SNP_CERT_ENTRY_SIZE))
                        break;
                if (i >= KBS_SNP_CERT_MAX)
                        return cvm_error_set(err, -EBADMSG, "certificate table: more than %u entries",
                                             KBS_SNP_CERT_MAX);
                for (type = 0; type < ELEMENTSOF(snp_cert_types); type++)
                        if (memcmp(e, snp_cert_types[type].guid, 16) == 0)
                                break;
                if (type == ELEMENTSOF(snp_cert_types))
                        continue; /* CRL or a vendor entry: not part of the chain */
                if (seen[type])
                        return cvm_error_set(err, -EBADMSG, "certificate table entry %zu: a second %s", i,
                                             snp_cert_types[type].name);
                seen[type] = true;
                vek = vek || snp_cert_types[type].vek;
                r = snp_cert_entry(table, size, i, type, chain, err);
                if (r < 0)
                        return r;
        }
        r = (int)json_object_array_length(chain);
        *ret_chain = TAKE_PTR(chain);
        if (ret_has_vek)
                *ret_has_vek = vek;
        return r;
}
