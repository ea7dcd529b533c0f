/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "luksb64.h"
#include "lukstoken.h"
#include "util.h"

void lukstoken_free(struct lukstoken *t)
{
        if (!t)
                return;
        free(t->maa_url);
        free(t->key_id);
        free(t->enc);
        free(t->kbs_url);
        free(t->resource_path);
        free(t->kbs_ca);
        explicit_bzero(t, sizeof(*t));
        free(t);
}

const char *lukstoken_backend_name(enum lukstoken_backend b)
{
        switch (b) {
        case LUKSTOKEN_BACKEND_AZURE:
                return "azure";
        case LUKSTOKEN_BACKEND_TRUSTEE:
                return "trustee";
        default:
                return "none";
        }
}

const char *lukstoken_wrap_alg_name(enum lukstoken_wrap_alg a)
{
        switch (a) {
        case LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM:
                return "RSA-OAEP-256+A256GCM";
        case LUKSTOKEN_WRAP_A256GCM:
                return "A256GCM";
        default:
                return "none";
        }
}

const char *lukstoken_binding_part_name(unsigned part)
{
        static const char *const names[LUKSTOKEN_BINDING_PARTS] = {"uuid", "segment", "keyslot", "config"};

        return part < LUKSTOKEN_BINDING_PARTS ? names[part] : "unknown";
}

/* ---- value checks --------------------------------------------------------------------------- */

static bool is_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hexdigit(char c)
{
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Host: DNS labels [A-Za-z0-9-] separated by dots, an IPv4 dotted quad (covered by the same
 * alphabet) or a bracketed IPv6 literal. Returns the length consumed, 0 when invalid. */
static size_t host_length(const char *s)
{
        size_t n = 0, label = 0;

        if (s[0] == '[') {
                for (n = 1; s[n] && s[n] != ']'; n++)
                        if (!is_hexdigit(s[n]) && s[n] != ':' && s[n] != '.')
                                return 0;
                return s[n] == ']' && n > 1 ? n + 1 : 0;
        }
        for (; s[n] && s[n] != ':' && s[n] != '/'; n++) {
                if (s[n] == '.') {
                        if (label == 0)
                                return 0;
                        label = 0;
                        continue;
                }
                if (!is_alnum(s[n]) && s[n] != '-')
                        return 0;
                if (++label > 63)
                        return 0;
        }
        return label > 0 && n <= 253 ? n : 0;
}

int lukstoken_check_https_url(const char *url, const char *what, struct cvm_error *err)
{
        size_t len = strnlen(url, LUKSTOKEN_URL_MAX + 1), h;
        const char *p;

        if (len > LUKSTOKEN_URL_MAX)
                return cvm_error_set(err, -EINVAL, "%s: URL longer than %u bytes", what, LUKSTOKEN_URL_MAX);
        if (strncmp(url, "https://", 8) != 0)
                return cvm_error_set(err, -EINVAL, "%s: not an https:// URL", what);
        p = url + 8;
        h = host_length(p);
        if (h == 0)
                return cvm_error_set(err, -EINVAL, "%s: invalid host name", what);
        p += h;
        if (*p == ':') {
                unsigned long port = 0;
                size_t digits = 0;

                for (p++; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
                        port = port * 10 + (unsigned long)(*p - '0');
                if (digits == 0 || digits > 5 || port == 0 || port > 65535)
                        return cvm_error_set(err, -EINVAL, "%s: invalid port", what);
        }
        if (*p != '\0' && *p != '/')
                return cvm_error_set(err, -EINVAL, "%s: unexpected character after the host", what);
        for (; *p; p++) {
                /* Path characters of RFC 3986 minus '?' and '#': no query, fragment or spaces. */
                if (is_alnum(*p) || strchr("/-._~%!$&'()*+,;=:@", *p))
                        continue;
                return cvm_error_set(err, -EINVAL, "%s: character 0x%02x not allowed in the URL path", what,
                                     (unsigned)(unsigned char)*p);
        }
        return 0;
}

int lukstoken_check_key_id(const char *key_id, const char *what, struct cvm_error *err)
{
        const char *keys, *name, *slash;
        size_t name_len;
        int r;

        r = lukstoken_check_https_url(key_id, what, err);
        if (r < 0)
                return r;
        /* The path must start right after the authority (host and optional port). */
        keys = key_id + 8 + strcspn(key_id + 8, "/");
        if (strncmp(keys, "/keys/", 6) != 0)
                return cvm_error_set(err, -EINVAL, "%s: expected https://HOST/keys/NAME[/VERSION]", what);
        name = keys + 6;
        slash = strchr(name, '/');
        name_len = slash ? (size_t)(slash - name) : strlen(name);
        if (name_len == 0 || name_len > 127)
                return cvm_error_set(err, -EINVAL, "%s: key name must have 1 to 127 characters", what);
        for (size_t i = 0; i < name_len; i++)
                if (!is_alnum(name[i]) && name[i] != '-')
                        return cvm_error_set(err, -EINVAL,
                                             "%s: key name may only contain letters, digits and '-'", what);
        if (slash) {
                const char *v = slash + 1;

                if (strlen(v) != 32)
                        return cvm_error_set(err, -EINVAL, "%s: key version must be 32 hex digits", what);
                for (size_t i = 0; i < 32; i++)
                        if (!is_hexdigit(v[i]))
                                return cvm_error_set(err, -EINVAL, "%s: key version must be 32 hex digits",
                                                     what);
        }
        return 0;
}

int lukstoken_check_resource_path(const char *path, const char *what, struct cvm_error *err)
{
        const char *p = path;

        for (int part = 0; part < 3; part++) {
                size_t n = 0;

                while (p[n] && p[n] != '/') {
                        if (!is_alnum(p[n]) && !strchr("._-", p[n]))
                                return cvm_error_set(err, -EINVAL,
                                                     "%s: character 0x%02x not allowed (use [A-Za-z0-9._-])",
                                                     what, (unsigned)(unsigned char)p[n]);
                        n++;
                }
                if (n == 0 || n > 128)
                        return cvm_error_set(err, -EINVAL,
                                             "%s: expected REPO/TYPE/TAG with 1-128 characters each", what);
                if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
                        return cvm_error_set(err, -EINVAL, "%s: '.' and '..' are not allowed as path parts",
                                             what);
                p += n;
                if (part < 2) {
                        if (*p != '/')
                                return cvm_error_set(err, -EINVAL, "%s: expected REPO/TYPE/TAG", what);
                        p++;
                }
        }
        if (*p)
                return cvm_error_set(err, -EINVAL, "%s: expected REPO/TYPE/TAG", what);
        return 0;
}

int lukstoken_check_enc(const char *enc, const char *what, struct cvm_error *err)
{
        static const char *const allowed[] = {"CKM_RSA_AES_KEY_WRAP", "RSA_AES_KEY_WRAP_256",
                                              "RSA_AES_KEY_WRAP_384"};

        for (size_t i = 0; i < ELEMENTSOF(allowed); i++)
                if (strcmp(enc, allowed[i]) == 0)
                        return 0;
        return cvm_error_set(
                err, -EINVAL,
                "%s: must be CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384", what);
}

static int check_pem_certificates(const char *pem, const char *what, struct cvm_error *err)
{
        static const char begin[] = "-----BEGIN CERTIFICATE-----";
        size_t len = strlen(pem);

        if (len > LUKSTOKEN_CA_MAX)
                return cvm_error_set(err, -EINVAL, "%s: longer than %u bytes", what, LUKSTOKEN_CA_MAX);
        if (strncmp(pem, begin, sizeof(begin) - 1) != 0 || !strstr(pem, "-----END CERTIFICATE-----"))
                return cvm_error_set(err, -EINVAL, "%s: not PEM certificates", what);
        for (size_t i = 0; i < len; i++)
                if ((pem[i] < 0x20 || pem[i] > 0x7e) && pem[i] != '\n' && pem[i] != '\r')
                        return cvm_error_set(err, -EINVAL, "%s: byte 0x%02x at offset %zu is not PEM text",
                                             what, (unsigned)(unsigned char)pem[i], i);
        return 0;
}

/* ---- JSON helpers --------------------------------------------------------------------------- */

/* "0".."31" without sign, leading zeros or spaces. */
static int parse_slot(const char *s, int *ret)
{
        int v = 0;

        if (!s || !*s || strlen(s) > 2 || (s[0] == '0' && s[1]))
                return -EBADMSG;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EBADMSG;
                v = v * 10 + (*p - '0');
        }
        if (v >= LUKSTOKEN_MAX_KEYSLOTS)
                return -EBADMSG;
        *ret = v;
        return 0;
}

static int check_fields(json_object *obj, const char *path, const char *const *allowed,
                        struct cvm_error *err)
{
        json_object_object_foreach (obj, key, val) {
                bool ok = false;

                (void)val;
                for (size_t i = 0; allowed[i]; i++)
                        if (strcmp(key, allowed[i]) == 0)
                                ok = true;
                if (!ok)
                        return cvm_error_set(err, -EBADMSG, "%s.%s: unknown field", path, key);
        }
        return 0;
}

static int get_string(json_object *obj, const char *path, const char *key, bool required, const char **ret,
                      struct cvm_error *err)
{
        json_object *v;

        if (!json_object_object_get_ex(obj, key, &v)) {
                if (required)
                        return cvm_error_set(err, -EBADMSG, "%s.%s: missing", path, key);
                *ret = NULL;
                return 0;
        }
        if (!json_object_is_type(v, json_type_string))
                return cvm_error_set(err, -EBADMSG, "%s.%s: not a string", path, key);
        *ret = json_object_get_string(v);
        if (strlen(*ret) != (size_t)json_object_get_string_len(v))
                return cvm_error_set(err, -EBADMSG, "%s.%s: contains a NUL character", path, key);
        return 0;
}

static int get_object(json_object *obj, const char *path, const char *key, json_object **ret,
                      struct cvm_error *err)
{
        if (!json_object_object_get_ex(obj, key, ret))
                return cvm_error_set(err, -EBADMSG, "%s.%s: missing", path, key);
        if (!json_object_is_type(*ret, json_type_object))
                return cvm_error_set(err, -EBADMSG, "%s.%s: not an object", path, key);
        return 0;
}

static int dup_string(const char *s, char **ret)
{
        *ret = strdup(s);
        return *ret ? 0 : -ENOMEM;
}

static int get_b64(json_object *obj, const char *path, const char *key, uint8_t *out, size_t min, size_t max,
                   size_t *ret_size, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        const char *s;
        size_t n;
        int r;

        r = get_string(obj, path, key, true, &s, err);
        if (r < 0)
                return r;
        r = luksb64_decode(s, SIZE_MAX, &buf, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return cvm_error_set(err, -EBADMSG, "%s.%s: invalid base64", path, key);
        if (n < min || n > max) {
                if (min == max)
                        return cvm_error_set(err, -EBADMSG, "%s.%s: %zu bytes, expected %zu", path, key, n,
                                             min);
                return cvm_error_set(err, -EBADMSG, "%s.%s: %zu bytes, expected %zu to %zu", path, key, n,
                                     min, max);
        }
        memcpy(out, buf, n);
        if (ret_size)
                *ret_size = n;
        return 0;
}

/* ---- parsing -------------------------------------------------------------------------------- */

static int parse_keyslots(json_object *obj, const char *path, bool pending, int *ret, struct cvm_error *err)
{
        json_object *arr, *e;
        int slot;

        if (!json_object_object_get_ex(obj, "keyslots", &arr))
                return cvm_error_set(err, -EBADMSG, "%s.keyslots: missing", path);
        if (!json_object_is_type(arr, json_type_array))
                return cvm_error_set(err, -EBADMSG, "%s.keyslots: not an array", path);
        if (pending) {
                if (json_object_array_length(arr) != 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "%s.keyslots: a pending token must not reference keyslots",
                                             path);
                *ret = -1;
                return 0;
        }
        if (json_object_array_length(arr) != 1)
                return cvm_error_set(err, -EBADMSG, "%s.keyslots: %zu entries, expected exactly one keyslot",
                                     path, json_object_array_length(arr));
        e = json_object_array_get_idx(arr, 0);
        if (!json_object_is_type(e, json_type_string) || parse_slot(json_object_get_string(e), &slot) < 0)
                return cvm_error_set(err, -EBADMSG, "%s.keyslots.0: not a keyslot number \"0\"..\"31\"",
                                     path);
        *ret = slot;
        return 0;
}

static int parse_azure(json_object *parent, const char *path, struct lukstoken *t, struct cvm_error *err)
{
        static const char *const fields[] = {"maa_url", "key_id", "enc", NULL};
        char p[128], what[160];
        json_object *obj;
        const char *maa, *kid, *enc;
        int r;

        r = get_object(parent, path, "azure", &obj, err);
        if (r < 0)
                return r;
        snprintf(p, sizeof(p), "%s.azure", path);
        r = check_fields(obj, p, fields, err);
        if (r >= 0)
                r = get_string(obj, p, "maa_url", true, &maa, err);
        if (r >= 0)
                r = get_string(obj, p, "key_id", true, &kid, err);
        if (r >= 0)
                r = get_string(obj, p, "enc", true, &enc, err);
        if (r < 0)
                return r;
        snprintf(what, sizeof(what), "%s.maa_url", p);
        if (lukstoken_check_https_url(maa, what, err) < 0)
                return -EBADMSG;
        snprintf(what, sizeof(what), "%s.key_id", p);
        if (lukstoken_check_key_id(kid, what, err) < 0)
                return -EBADMSG;
        snprintf(what, sizeof(what), "%s.enc", p);
        if (lukstoken_check_enc(enc, what, err) < 0)
                return -EOPNOTSUPP;
        if (dup_string(maa, &t->maa_url) < 0 || dup_string(kid, &t->key_id) < 0 ||
            dup_string(enc, &t->enc) < 0)
                return -ENOMEM;
        return 0;
}

static int parse_trustee(json_object *parent, const char *path, struct lukstoken *t, struct cvm_error *err)
{
        static const char *const fields[] = {"kbs_url", "resource_path", "kbs_ca", NULL};
        char p[128], what[160];
        json_object *obj;
        const char *url, *res, *ca;
        int r;

        r = get_object(parent, path, "trustee", &obj, err);
        if (r < 0)
                return r;
        snprintf(p, sizeof(p), "%s.trustee", path);
        r = check_fields(obj, p, fields, err);
        if (r >= 0)
                r = get_string(obj, p, "kbs_url", true, &url, err);
        if (r >= 0)
                r = get_string(obj, p, "resource_path", true, &res, err);
        if (r >= 0)
                r = get_string(obj, p, "kbs_ca", false, &ca, err);
        if (r < 0)
                return r;
        snprintf(what, sizeof(what), "%s.kbs_url", p);
        if (lukstoken_check_https_url(url, what, err) < 0)
                return -EBADMSG;
        snprintf(what, sizeof(what), "%s.resource_path", p);
        if (lukstoken_check_resource_path(res, what, err) < 0)
                return -EBADMSG;
        snprintf(what, sizeof(what), "%s.kbs_ca", p);
        if (ca && check_pem_certificates(ca, what, err) < 0)
                return -EBADMSG;
        if (dup_string(url, &t->kbs_url) < 0 || dup_string(res, &t->resource_path) < 0 ||
            (ca && dup_string(ca, &t->kbs_ca) < 0))
                return -ENOMEM;
        return 0;
}

static int parse_wrap(json_object *parent, const char *path, struct lukstoken *t, struct cvm_error *err)
{
        static const char *const rsa_fields[] = {"alg", "ek", "iv", "ct", "tag", NULL};
        static const char *const sym_fields[] = {"alg", "iv", "ct", "tag", NULL};
        struct lukstoken_wrap *w = &t->wrap;
        json_object *obj;
        const char *alg;
        char p[128];
        int r;

        r = get_object(parent, path, "wrap", &obj, err);
        if (r < 0)
                return r;
        snprintf(p, sizeof(p), "%s.wrap", path);
        r = get_string(obj, p, "alg", true, &alg, err);
        if (r < 0)
                return r;
        if (strcmp(alg, "RSA-OAEP-256+A256GCM") == 0)
                w->alg = LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM;
        else if (strcmp(alg, "A256GCM") == 0)
                w->alg = LUKSTOKEN_WRAP_A256GCM;
        else
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "%s.alg: unsupported algorithm (RSA-OAEP-256+A256GCM or A256GCM)", p);
        r = check_fields(obj, p, w->alg == LUKSTOKEN_WRAP_A256GCM ? sym_fields : rsa_fields, err);
        /* RSA-2048 (256 bytes) up to RSA-8192. */
        if (r >= 0 && w->alg == LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM)
                r = get_b64(obj, p, "ek", w->ek, 256, LUKSTOKEN_EK_MAX, &w->ek_size, err);
        if (r >= 0)
                r = get_b64(obj, p, "iv", w->iv, sizeof(w->iv), sizeof(w->iv), NULL, err);
        if (r >= 0)
                r = get_b64(obj, p, "ct", w->ct, sizeof(w->ct), sizeof(w->ct), NULL, err);
        if (r >= 0)
                r = get_b64(obj, p, "tag", w->tag, sizeof(w->tag), sizeof(w->tag), NULL, err);
        return r;
}

static int parse_hex32(const char *s, uint8_t out[32])
{
        if (strlen(s) != 64)
                return -EBADMSG;
        for (size_t i = 0; i < 64; i++) {
                char c = s[i];
                int v;

                if (c >= '0' && c <= '9')
                        v = c - '0';
                else if (c >= 'a' && c <= 'f')
                        v = c - 'a' + 10;
                else
                        return -EBADMSG;
                if (i % 2 == 0)
                        out[i / 2] = (uint8_t)(v << 4);
                else
                        out[i / 2] |= (uint8_t)v;
        }
        return 0;
}

static int parse_binding(json_object *parent, const char *path, struct lukstoken *t, struct cvm_error *err)
{
        static const char *const fields[] = {"uuid", "segment", "keyslot", "config", NULL};
        json_object *obj;
        const char *hex;
        char p[128];
        int r;

        r = get_object(parent, path, "binding", &obj, err);
        if (r < 0)
                return r;
        snprintf(p, sizeof(p), "%s.binding", path);
        r = check_fields(obj, p, fields, err);
        if (r < 0)
                return r;
        for (unsigned i = 0; i < LUKSTOKEN_BINDING_PARTS; i++) {
                r = get_string(obj, p, lukstoken_binding_part_name(i), true, &hex, err);
                if (r < 0)
                        return r;
                if (parse_hex32(hex, t->binding + 32 * i) < 0)
                        return cvm_error_set(err, -EBADMSG, "%s.%s: expected 64 lowercase hex digits", p,
                                             lukstoken_binding_part_name(i));
        }
        return 0;
}

int lukstoken_parse(json_object *obj, const char *path, struct lukstoken **ret, struct cvm_error *err)
{
        static const char *const pending_fields[] = {"type", "keyslots", "version", "pending_keyslot", NULL};
        static const char *const fields[] = {"type",    "keyslots", "version", "backend", "azure",
                                             "trustee", "wrap",     "binding", NULL};
        _cleanup_(lukstoken_freep) struct lukstoken *t = NULL;
        const char *type, *backend, *pending;
        json_object *v;
        int r;

        if (!path)
                path = "token";
        if (!json_object_is_type(obj, json_type_object))
                return cvm_error_set(err, -EBADMSG, "%s: not an object", path);
        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->keyslot = t->pending_keyslot = -1;

        r = get_string(obj, path, "type", true, &type, err);
        if (r < 0)
                return r;
        if (strcmp(type, LUKSTOKEN_TYPE) != 0)
                return cvm_error_set(err, -EBADMSG, "%s.type: not \"%s\"", path, LUKSTOKEN_TYPE);
        if (!json_object_object_get_ex(obj, "version", &v))
                return cvm_error_set(err, -EBADMSG, "%s.version: missing", path);
        if (!json_object_is_type(v, json_type_int))
                return cvm_error_set(err, -EBADMSG, "%s.version: not an integer", path);
        if (json_object_get_int64(v) != LUKSTOKEN_VERSION)
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "%s.version: unsupported token version %lld (supported: %d)", path,
                                     (long long)json_object_get_int64(v), LUKSTOKEN_VERSION);
        t->version = LUKSTOKEN_VERSION;

        r = get_string(obj, path, "pending_keyslot", false, &pending, err);
        if (r < 0)
                return r;
        if (pending) {
                t->pending = true;
                r = check_fields(obj, path, pending_fields, err);
                if (r < 0)
                        return r;
                if (parse_slot(pending, &t->pending_keyslot) < 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "%s.pending_keyslot: not a keyslot number \"0\"..\"31\"", path);
                r = parse_keyslots(obj, path, true, &t->keyslot, err);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(t);
                return 0;
        }

        r = check_fields(obj, path, fields, err);
        if (r >= 0)
                r = parse_keyslots(obj, path, false, &t->keyslot, err);
        if (r >= 0)
                r = get_string(obj, path, "backend", true, &backend, err);
        if (r < 0)
                return r;
        if (strcmp(backend, "azure") == 0) {
                t->backend = LUKSTOKEN_BACKEND_AZURE;
                if (json_object_object_get_ex(obj, "trustee", NULL))
                        return cvm_error_set(err, -EBADMSG, "%s.trustee: not allowed with backend \"azure\"",
                                             path);
                r = parse_azure(obj, path, t, err);
        } else if (strcmp(backend, "trustee") == 0) {
                t->backend = LUKSTOKEN_BACKEND_TRUSTEE;
                if (json_object_object_get_ex(obj, "azure", NULL))
                        return cvm_error_set(err, -EBADMSG, "%s.azure: not allowed with backend \"trustee\"",
                                             path);
                r = parse_trustee(obj, path, t, err);
        } else
                return cvm_error_set(err, -EOPNOTSUPP, "%s.backend: unsupported backend (azure or trustee)",
                                     path);
        if (r >= 0)
                r = parse_wrap(obj, path, t, err);
        if (r >= 0)
                r = parse_binding(obj, path, t, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(t);
        return 0;
}

int lukstoken_parse_text(const char *text, struct lukstoken **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *obj = NULL;
        struct json_tokener *tok;
        size_t len = strnlen(text, LUKSTOKEN_TEXT_MAX + 1);

        if (len > LUKSTOKEN_TEXT_MAX)
                return cvm_error_set(err, -EBADMSG, "token: JSON longer than %u bytes", LUKSTOKEN_TEXT_MAX);
        tok = json_tokener_new_ex(16);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        obj = json_tokener_parse_ex(tok, text, (int)len);
        if (!obj || json_tokener_get_parse_end(tok) != len) {
                json_tokener_free(tok);
                return cvm_error_set(err, -EBADMSG, "token: not a single valid JSON value");
        }
        json_tokener_free(tok);
        return lukstoken_parse(obj, "token", ret, err);
}

/* ---- building ------------------------------------------------------------------------------- */

static int add(json_object *obj, const char *key, json_object *v)
{
        if (!v || json_object_object_add(obj, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_str(json_object *obj, const char *key, const char *s)
{
        return add(obj, key, json_object_new_string(s));
}

static int add_b64(json_object *obj, const char *key, const void *p, size_t n)
{
        _cleanup_free_ char *s = luksb64_encode(p, n);

        return s ? add_str(obj, key, s) : -ENOMEM;
}

static int add_keyslots(json_object *obj, int slot)
{
        json_object *arr = json_object_new_array();
        char num[16];
        int r;

        r = add(obj, "keyslots", arr);
        if (r < 0 || slot < 0)
                return r;
        snprintf(num, sizeof(num), "%d", slot);
        return json_object_array_add(arr, json_object_new_string(num)) < 0 ? -ENOMEM : 0;
}

int lukstoken_to_json(const struct lukstoken *t, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *obj = json_object_new_object();
        json_object *cfg = NULL, *wrap = NULL;
        char hex[65], num[16];
        int r;

        if (!obj)
                return -ENOMEM;
        if (t->pending) {
                if (t->pending_keyslot < 0 || t->pending_keyslot >= LUKSTOKEN_MAX_KEYSLOTS)
                        return -EINVAL;
                snprintf(num, sizeof(num), "%d", t->pending_keyslot);
                r = add_str(obj, "type", LUKSTOKEN_TYPE);
                if (r >= 0)
                        r = add_keyslots(obj, -1);
                if (r >= 0)
                        r = add(obj, "version", json_object_new_int(LUKSTOKEN_VERSION));
                if (r >= 0)
                        r = add_str(obj, "pending_keyslot", num);
                if (r < 0)
                        return r;
                *ret = TAKE_PTR(obj);
                return 0;
        }
        if (t->keyslot < 0 || t->keyslot >= LUKSTOKEN_MAX_KEYSLOTS || t->wrap.alg == LUKSTOKEN_WRAP_NONE)
                return -EINVAL;
        if (t->backend == LUKSTOKEN_BACKEND_AZURE && !(t->maa_url && t->key_id && t->enc))
                return -EINVAL;
        if (t->backend == LUKSTOKEN_BACKEND_TRUSTEE && !(t->kbs_url && t->resource_path))
                return -EINVAL;
        if (t->backend == LUKSTOKEN_BACKEND_NONE)
                return -EINVAL;

        r = add_str(obj, "type", LUKSTOKEN_TYPE);
        if (r >= 0)
                r = add_keyslots(obj, t->keyslot);
        if (r >= 0)
                r = add(obj, "version", json_object_new_int(LUKSTOKEN_VERSION));
        if (r >= 0)
                r = add_str(obj, "backend", lukstoken_backend_name(t->backend));
        if (r >= 0) {
                cfg = json_object_new_object();
                r = add(obj, t->backend == LUKSTOKEN_BACKEND_AZURE ? "azure" : "trustee", cfg);
        }
        if (r >= 0 && t->backend == LUKSTOKEN_BACKEND_AZURE) {
                r = add_str(cfg, "maa_url", t->maa_url);
                if (r >= 0)
                        r = add_str(cfg, "key_id", t->key_id);
                if (r >= 0)
                        r = add_str(cfg, "enc", t->enc);
        } else if (r >= 0) {
                r = add_str(cfg, "kbs_url", t->kbs_url);
                if (r >= 0)
                        r = add_str(cfg, "resource_path", t->resource_path);
                if (r >= 0 && t->kbs_ca)
                        r = add_str(cfg, "kbs_ca", t->kbs_ca);
        }
        if (r >= 0) {
                wrap = json_object_new_object();
                r = add(obj, "wrap", wrap);
        }
        if (r >= 0)
                r = add_str(wrap, "alg", lukstoken_wrap_alg_name(t->wrap.alg));
        if (r >= 0 && t->wrap.alg == LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM)
                r = add_b64(wrap, "ek", t->wrap.ek, t->wrap.ek_size);
        if (r >= 0)
                r = add_b64(wrap, "iv", t->wrap.iv, sizeof(t->wrap.iv));
        if (r >= 0)
                r = add_b64(wrap, "ct", t->wrap.ct, sizeof(t->wrap.ct));
        if (r >= 0)
                r = add_b64(wrap, "tag", t->wrap.tag, sizeof(t->wrap.tag));
        if (r >= 0) {
                json_object *b = json_object_new_object();

                r = add(obj, "binding", b);
                for (unsigned i = 0; r >= 0 && i < LUKSTOKEN_BINDING_PARTS; i++) {
                        hex_encode_to(hex, t->binding + 32 * i, 32);
                        r = add_str(b, lukstoken_binding_part_name(i), hex);
                }
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(obj);
        return 0;
}

int lukstoken_pending_json(int keyslot, char **ret)
{
        _cleanup_(json_object_putp) json_object *obj = NULL;
        struct lukstoken t = {.pending = true, .pending_keyslot = keyslot, .keyslot = -1};
        const char *s;
        int r;

        r = lukstoken_to_json(&t, &obj);
        if (r < 0)
                return r;
        s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!s || !(*ret = strdup(s)))
                return -ENOMEM;
        return 0;
}
