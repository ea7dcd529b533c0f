/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "luks2hdr.h"
#include "luksb64.h"
#include "util.h"

/* Binary header layout (LUKS2 on-disk format, big-endian integers). */
#define OFF_MAGIC       0
#define OFF_VERSION     6
#define OFF_HDR_SIZE    8
#define OFF_SEQID       16
#define OFF_LABEL       24
#define OFF_CSUM_ALG    72
#define OFF_SALT        104
#define OFF_UUID        168
#define OFF_SUBSYSTEM   208
#define OFF_HDR_OFFSET  256
#define OFF_PADDING     264
#define OFF_CSUM        448
#define OFF_PADDING4096 512
#define LABEL_LEN       48
#define CSUM_ALG_LEN    32
#define UUID_FIELD_LEN  40
#define CSUM_LEN        64
#define SHA256_LEN      32

#define MAX_DEPTH       16
#define MAX_MEMBERS     64
#define AREA_ALIGN      4096u
#define AF_STRIPES      4000u
#define SALT_SIZE       32u
#define MIN_ITERATIONS  1000u
#define ARGON2_MIN_TIME 4u
#define ARGON2_MIN_MEM  32u
#define ARGON2_MAX_MEM  (4u * 1024u * 1024u)
#define ARGON2_MAX_CPUS 16u

static const uint8_t magic_primary[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
static const uint8_t magic_secondary[6] = {'S', 'K', 'U', 'L', 0xba, 0xbe};

/*
 * The cipher allowlist, for data segments and keyslot areas alike. aes-xts-plain64 (the
 * cryptsetup default) with AES-128 or AES-256 keys only. Deliberately not here: cipher_null
 * (no encryption at all), aes-cbc-essiv:sha256 and other CBC modes (LUKS1-era, malleable per
 * block; such volumes should be reencrypted before enrollment), authenticated dm-integrity
 * modes (no integrity support in this agent yet). Extend with care: a new entry widens what a
 * hostile header may select.
 */
static const struct {
        const char *name;
        unsigned key_sizes[2];
} ciphers[] = {
        {"aes-xts-plain64", {32, 64}},
};

static const char *const hashes[] = {"sha256", "sha384", "sha512"};

static const char *const config_flags[] = {"allow-discards", "same-cpu-crypt", "submit-from-crypt-cpus",
                                           "no-read-workqueue", "no-write-workqueue"};

const char *luks2hdr_kdf_name(enum luks2hdr_kdf kdf)
{
        switch (kdf) {
        case LUKS2HDR_KDF_ARGON2I:
                return "argon2i";
        case LUKS2HDR_KDF_ARGON2ID:
                return "argon2id";
        default:
                return "pbkdf2";
        }
}

void luks2hdr_free(struct luks2hdr *h)
{
        if (!h)
                return;
        for (size_t i = 0; i < LUKS2HDR_MAX_OBJECTS; i++)
                lukstoken_free(h->tokens[i].cvm);
        json_object_put(h->root);
        free(h);
}

uint64_t luks2hdr_metadata_size(const struct luks2hdr *h)
{
        return 2 * h->hdr_size + h->keyslots_size;
}

/* ---- binary header -------------------------------------------------------------------------- */

static bool valid_hdr_size(uint64_t s)
{
        for (uint64_t v = LUKS2HDR_MIN_HDR_SIZE; v <= LUKS2HDR_MAX_HDR_SIZE; v *= 2)
                if (s == v)
                        return true;
        return false;
}

int luks2hdr_peek(const uint8_t *buf, size_t size, uint64_t *ret_hdr_size, struct cvm_error *err)
{
        uint64_t hdr_size;

        if (size < LUKS2HDR_BIN_SIZE)
                return cvm_error_set(err, -EBADMSG, "truncated: %zu bytes, a LUKS2 binary header has %u",
                                     size, LUKS2HDR_BIN_SIZE);
        if (memcmp(buf + OFF_MAGIC, magic_primary, sizeof(magic_primary)) != 0)
                return cvm_error_set(err, -EBADMSG, "primary header at offset 0: no LUKS magic");
        if (be16(buf + OFF_VERSION) != 2)
                return cvm_error_set(
                        err, -EOPNOTSUPP,
                        "primary header at offset 0x6: LUKS version %u, only LUKS2 is supported",
                        be16(buf + OFF_VERSION));
        hdr_size = be64(buf + OFF_HDR_SIZE);
        if (!valid_hdr_size(hdr_size))
                return cvm_error_set(err, -EBADMSG,
                                     "primary header at offset 0x8: header size %" PRIu64
                                     " is not a power of two from 16 KiB to 4 MiB",
                                     hdr_size);
        *ret_hdr_size = hdr_size;
        return 0;
}

/* A NUL-terminated string in a fixed field, zero-filled after the terminator. */
static int fixed_string(const uint8_t *p, size_t n, const char *copy, size_t off, const char *name,
                        char *out, struct cvm_error *err)
{
        size_t len = strnlen((const char *)p, n);

        if (len == n)
                return cvm_error_set(err, -EBADMSG, "%s header at offset 0x%zx: %s is not NUL-terminated",
                                     copy, off, name);
        for (size_t i = 0; i < len; i++)
                if (p[i] < 0x20 || p[i] == 0x7f)
                        return cvm_error_set(
                                err, -EBADMSG,
                                "%s header at offset 0x%zx: %s contains control character 0x%02x", copy,
                                off + i, name, p[i]);
        if (!is_all_zero(p + len, n - len))
                return cvm_error_set(err, -EBADMSG,
                                     "%s header at offset 0x%zx: bytes after the %s terminator are not zero",
                                     copy, off + len, name);
        if (out) {
                memcpy(out, p, len);
                out[len] = '\0';
        }
        return 0;
}

static bool valid_uuid(const char *s)
{
        if (strlen(s) != LUKS2HDR_UUID_LEN)
                return false;
        for (size_t i = 0; i < LUKS2HDR_UUID_LEN; i++) {
                char c = s[i];

                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (c != '-')
                                return false;
                } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                        return false;
        }
        return true;
}

static int check_copy(const uint8_t *p, uint64_t hdr_size, bool primary, char *uuid, char *label,
                      char *subsystem, struct cvm_error *err)
{
        const char *copy = primary ? "primary" : "secondary";
        uint8_t csum[SHA256_LEN];
        unsigned int md_len = 0;
        char alg[CSUM_ALG_LEN + 1];
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        static const uint8_t zero_csum[CSUM_LEN];
        int r;

        if (memcmp(p + OFF_MAGIC, primary ? magic_primary : magic_secondary, 6) != 0)
                return cvm_error_set(err, -EBADMSG, "%s header at offset 0x%" PRIx64 ": wrong magic", copy,
                                     primary ? 0 : hdr_size);
        if (be16(p + OFF_VERSION) != 2)
                return cvm_error_set(err, -EBADMSG, "%s header: version %u, expected 2", copy,
                                     be16(p + OFF_VERSION));
        if (be64(p + OFF_HDR_SIZE) != hdr_size)
                return cvm_error_set(err, -EBADMSG,
                                     "%s header: header size %" PRIu64
                                     " differs from the primary's %" PRIu64,
                                     copy, be64(p + OFF_HDR_SIZE), hdr_size);
        if (be64(p + OFF_HDR_OFFSET) != (primary ? 0 : hdr_size))
                return cvm_error_set(err, -EBADMSG,
                                     "%s header: header offset %" PRIu64 ", expected %" PRIu64, copy,
                                     be64(p + OFF_HDR_OFFSET), primary ? 0 : hdr_size);
        r = fixed_string(p + OFF_CSUM_ALG, CSUM_ALG_LEN, copy, OFF_CSUM_ALG, "checksum algorithm", alg, err);
        if (r < 0)
                return r;
        if (strcmp(alg, "sha256") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "%s header: checksum algorithm \"%s\" is not sha256",
                                     copy, alg);
        r = fixed_string(p + OFF_LABEL, LABEL_LEN, copy, OFF_LABEL, "label", label, err);
        if (r >= 0)
                r = fixed_string(p + OFF_SUBSYSTEM, LABEL_LEN, copy, OFF_SUBSYSTEM, "subsystem", subsystem,
                                 err);
        if (r >= 0)
                r = fixed_string(p + OFF_UUID, UUID_FIELD_LEN, copy, OFF_UUID, "UUID", uuid, err);
        if (r < 0)
                return r;
        if (!valid_uuid(uuid))
                return cvm_error_set(err, -EBADMSG, "%s header at offset 0x%x: UUID \"%s\" is not canonical",
                                     copy, OFF_UUID, uuid);
        if (!is_all_zero(p + OFF_PADDING, OFF_CSUM - OFF_PADDING) ||
            !is_all_zero(p + OFF_PADDING4096, LUKS2HDR_BIN_SIZE - OFF_PADDING4096))
                return cvm_error_set(err, -EBADMSG, "%s header: reserved bytes are not zero", copy);
        if (!is_all_zero(p + OFF_CSUM + SHA256_LEN, CSUM_LEN - SHA256_LEN))
                return cvm_error_set(err, -EBADMSG,
                                     "%s header at offset 0x%x: checksum field has bytes beyond SHA-256",
                                     copy, OFF_CSUM + SHA256_LEN);

        /* SHA-256 over the whole copy with the checksum field taken as zero. */
        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 || EVP_DigestUpdate(ctx, p, OFF_CSUM) != 1 ||
            EVP_DigestUpdate(ctx, zero_csum, CSUM_LEN) != 1 ||
            EVP_DigestUpdate(ctx, p + OFF_CSUM + CSUM_LEN, hdr_size - OFF_CSUM - CSUM_LEN) != 1 ||
            EVP_DigestFinal_ex(ctx, csum, &md_len) != 1 || md_len != SHA256_LEN)
                return cvm_error_set(err, -EIO, "SHA-256 failed");
        if (CRYPTO_memcmp(csum, p + OFF_CSUM, SHA256_LEN) != 0)
                return cvm_error_set(err, -EBADMSG, "%s header: checksum mismatch", copy);
        return 0;
}

/* ---- strict JSON text scan ------------------------------------------------------------------ */

/*
 * json-c silently keeps the last of duplicate member names and accepts some non-JSON; a header
 * that two parsers could read differently must not pass. This scanner checks RFC 8259 syntax,
 * depth and member names before json-c sees the text.
 */
struct scan {
        const char *s;
        size_t len, pos;
        struct cvm_error *err;
};

static int scan_fail(struct scan *sc, const char *what)
{
        return cvm_error_set(sc->err, -EBADMSG, "JSON area at offset %zu: %s", sc->pos, what);
}

static void scan_ws(struct scan *sc)
{
        while (sc->pos < sc->len && strchr(" \t\n\r", sc->s[sc->pos]) && sc->s[sc->pos])
                sc->pos++;
}

/* Scans a string; *ret_plain tells whether it had no escape sequence. */
static int scan_string(struct scan *sc, bool *ret_plain)
{
        bool plain = true;

        sc->pos++; /* opening quote */
        while (sc->pos < sc->len) {
                unsigned char c = (unsigned char)sc->s[sc->pos];

                if (c == '"') {
                        sc->pos++;
                        if (ret_plain)
                                *ret_plain = plain;
                        return 0;
                }
                if (c < 0x20)
                        return scan_fail(sc, "control character in a string");
                if (c == '\\') {
                        plain = false;
                        if (sc->pos + 1 >= sc->len)
                                break;
                        c = (unsigned char)sc->s[sc->pos + 1];
                        if (c == 'u') {
                                if (sc->pos + 6 > sc->len)
                                        break;
                                for (size_t i = 2; i < 6; i++) {
                                        char h = sc->s[sc->pos + i];

                                        if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') ||
                                              (h >= 'A' && h <= 'F')))
                                                return scan_fail(sc, "invalid \\u escape");
                                }
                                sc->pos += 6;
                                continue;
                        }
                        if (!strchr("\"\\/bfnrt", c) || c == '\0')
                                return scan_fail(sc, "invalid escape sequence");
                        sc->pos += 2;
                        continue;
                }
                sc->pos++;
        }
        return scan_fail(sc, "unterminated string");
}

static int scan_number(struct scan *sc)
{
        size_t start = sc->pos;

        if (sc->s[sc->pos] == '-')
                sc->pos++;
        if (sc->pos < sc->len && sc->s[sc->pos] == '0')
                sc->pos++;
        else if (sc->pos < sc->len && sc->s[sc->pos] >= '1' && sc->s[sc->pos] <= '9')
                while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
                        sc->pos++;
        else {
                sc->pos = start;
                return scan_fail(sc, "invalid number");
        }
        if (sc->pos < sc->len && sc->s[sc->pos] == '.') {
                sc->pos++;
                if (sc->pos >= sc->len || sc->s[sc->pos] < '0' || sc->s[sc->pos] > '9')
                        return scan_fail(sc, "invalid number");
                while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
                        sc->pos++;
        }
        if (sc->pos < sc->len && (sc->s[sc->pos] == 'e' || sc->s[sc->pos] == 'E')) {
                sc->pos++;
                if (sc->pos < sc->len && (sc->s[sc->pos] == '+' || sc->s[sc->pos] == '-'))
                        sc->pos++;
                if (sc->pos >= sc->len || sc->s[sc->pos] < '0' || sc->s[sc->pos] > '9')
                        return scan_fail(sc, "invalid number");
                while (sc->pos < sc->len && sc->s[sc->pos] >= '0' && sc->s[sc->pos] <= '9')
                        sc->pos++;
        }
        return 0;
}

static int scan_value(struct scan *sc, unsigned depth);

static int scan_object(struct scan *sc, unsigned depth)
{
        struct {
                size_t off, len;
        } names[MAX_MEMBERS];
        size_t n = 0;
        int r;

        sc->pos++;
        scan_ws(sc);
        if (sc->pos < sc->len && sc->s[sc->pos] == '}') {
                sc->pos++;
                return 0;
        }
        for (;;) {
                size_t start;
                bool plain;

                scan_ws(sc);
                if (sc->pos >= sc->len || sc->s[sc->pos] != '"')
                        return scan_fail(sc, "expected a member name");
                start = sc->pos + 1;
                r = scan_string(sc, &plain);
                if (r < 0)
                        return r;
                if (!plain)
                        return scan_fail(sc, "escape sequence in a member name");
                if (n == MAX_MEMBERS)
                        return scan_fail(sc, "more than 64 members in one object");
                names[n].off = start;
                names[n].len = sc->pos - 1 - start;
                for (size_t i = 0; i < n; i++)
                        if (names[i].len == names[n].len &&
                            memcmp(sc->s + names[i].off, sc->s + start, names[n].len) == 0)
                                return cvm_error_set(sc->err, -EBADMSG,
                                                     "JSON area at offset %zu: duplicate member \"%.*s\"",
                                                     start, (int)(names[n].len > 64 ? 64 : names[n].len),
                                                     sc->s + start);
                n++;
                scan_ws(sc);
                if (sc->pos >= sc->len || sc->s[sc->pos] != ':')
                        return scan_fail(sc, "expected ':'");
                sc->pos++;
                r = scan_value(sc, depth + 1);
                if (r < 0)
                        return r;
                scan_ws(sc);
                if (sc->pos < sc->len && sc->s[sc->pos] == ',') {
                        sc->pos++;
                        continue;
                }
                if (sc->pos < sc->len && sc->s[sc->pos] == '}') {
                        sc->pos++;
                        return 0;
                }
                return scan_fail(sc, "expected ',' or '}'");
        }
}

static int scan_array(struct scan *sc, unsigned depth)
{
        int r;

        sc->pos++;
        scan_ws(sc);
        if (sc->pos < sc->len && sc->s[sc->pos] == ']') {
                sc->pos++;
                return 0;
        }
        for (;;) {
                r = scan_value(sc, depth + 1);
                if (r < 0)
                        return r;
                scan_ws(sc);
                if (sc->pos < sc->len && sc->s[sc->pos] == ',') {
                        sc->pos++;
                        continue;
                }
                if (sc->pos < sc->len && sc->s[sc->pos] == ']') {
                        sc->pos++;
                        return 0;
                }
                return scan_fail(sc, "expected ',' or ']'");
        }
}

static int scan_value(struct scan *sc, unsigned depth)
{
        static const char *const literals[] = {"true", "false", "null"};

        if (depth > MAX_DEPTH)
                return scan_fail(sc, "nesting deeper than 16 levels");
        scan_ws(sc);
        if (sc->pos >= sc->len)
                return scan_fail(sc, "unexpected end of JSON");
        switch (sc->s[sc->pos]) {
        case '{':
                return scan_object(sc, depth);
        case '[':
                return scan_array(sc, depth);
        case '"':
                return scan_string(sc, NULL);
        case '-':
        case '0' ... '9':
                return scan_number(sc);
        default:
                for (size_t i = 0; i < ELEMENTSOF(literals); i++) {
                        size_t l = strlen(literals[i]);

                        if (sc->len - sc->pos >= l && memcmp(sc->s + sc->pos, literals[i], l) == 0) {
                                sc->pos += l;
                                return 0;
                        }
                }
                return scan_fail(sc, "invalid JSON value");
        }
}

/* ---- JSON field helpers --------------------------------------------------------------------- */

static int only_fields(json_object *obj, const char *path, const char *const *allowed, size_t n,
                       struct cvm_error *err)
{
        json_object_object_foreach (obj, key, val) {
                bool ok = false;

                (void)val;
                for (size_t i = 0; i < n; i++)
                        if (strcmp(key, allowed[i]) == 0)
                                ok = true;
                if (!ok)
                        return cvm_error_set(err, -EBADMSG, "%s%s%s: unknown field", path, *path ? "." : "",
                                             key);
        }
        return 0;
}
#define ONLY_FIELDS(obj, path, err, ...)                           \
        only_fields(obj, path, (const char *const[]){__VA_ARGS__}, \
                    ELEMENTSOF(((const char *const[]){__VA_ARGS__})), err)

static int member(json_object *obj, const char *path, const char *key, enum json_type type,
                  json_object **ret, struct cvm_error *err)
{
        static const char *const type_names[] = {
                [json_type_null] = "null",        [json_type_boolean] = "a boolean",
                [json_type_double] = "a number",  [json_type_int] = "an integer",
                [json_type_object] = "an object", [json_type_array] = "an array",
                [json_type_string] = "a string",
        };
        json_object *v;

        if (!json_object_object_get_ex(obj, key, &v))
                return cvm_error_set(err, -EBADMSG, "%s%s%s: missing", path, *path ? "." : "", key);
        if (!json_object_is_type(v, type))
                return cvm_error_set(err, -EBADMSG, "%s%s%s: not %s", path, *path ? "." : "", key,
                                     type_names[type]);
        *ret = v;
        return 0;
}

static int member_string(json_object *obj, const char *path, const char *key, const char **ret,
                         struct cvm_error *err)
{
        json_object *v;
        int r;

        r = member(obj, path, key, json_type_string, &v, err);
        if (r < 0)
                return r;
        if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
                return cvm_error_set(err, -EBADMSG, "%s.%s: contains a NUL character", path, key);
        *ret = json_object_get_string(v);
        return 0;
}

static int member_int(json_object *obj, const char *path, const char *key, int64_t min, int64_t max,
                      int64_t *ret, struct cvm_error *err)
{
        json_object *v;
        int64_t x;
        int r;

        r = member(obj, path, key, json_type_int, &v, err);
        if (r < 0)
                return r;
        x = json_object_get_int64(v);
        /* json-c clamps out-of-range literals to INT64_MIN/MAX, which the bounds below reject. */
        if (x < min || x > max)
                return cvm_error_set(err, -EBADMSG, "%s.%s: %" PRId64 " outside %" PRId64 "..%" PRId64, path,
                                     key, x, min, max);
        *ret = x;
        return 0;
}

/* LUKS2 stores 64-bit values as decimal strings; canonical form only (no sign, no leading 0). */
static int parse_u64(const char *s, uint64_t *ret)
{
        uint64_t v = 0;

        if (!*s || (s[0] == '0' && s[1]) || strlen(s) > 20)
                return -EBADMSG;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EBADMSG;
                if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
                        return -EBADMSG;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        *ret = v;
        return 0;
}

static int member_u64(json_object *obj, const char *path, const char *key, const char **ret_str,
                      uint64_t *ret, struct cvm_error *err)
{
        const char *s;
        int r;

        r = member_string(obj, path, key, &s, err);
        if (r < 0)
                return r;
        if (parse_u64(s, ret) < 0)
                return cvm_error_set(err, -EBADMSG,
                                     "%s.%s: \"%.32s\" is not a canonical decimal 64-bit number", path, key,
                                     s);
        if (ret_str)
                *ret_str = s;
        return 0;
}

/* Object ids "0".."31". */
static int parse_id(const char *s, int *ret)
{
        uint64_t v;

        if (parse_u64(s, &v) < 0 || v >= LUKS2HDR_MAX_OBJECTS)
                return -EBADMSG;
        *ret = (int)v;
        return 0;
}

static int lookup_cipher(const char *name, const char *path, unsigned key_size, struct cvm_error *err)
{
        for (size_t i = 0; i < ELEMENTSOF(ciphers); i++) {
                if (strcmp(name, ciphers[i].name) != 0)
                        continue;
                if (key_size == 0 || key_size == ciphers[i].key_sizes[0] ||
                    key_size == ciphers[i].key_sizes[1])
                        return 0;
                return cvm_error_set(err, -EOPNOTSUPP, "%s: key size %u bytes not allowed for %s", path,
                                     key_size, name);
        }
        if (strncmp(name, "cipher_null", 11) == 0)
                return cvm_error_set(err, -EOPNOTSUPP, "%s: cipher_null (no encryption) is never accepted",
                                     path);
        return cvm_error_set(err, -EOPNOTSUPP,
                             "%s: cipher \"%.64s\" is not in the allowlist (aes-xts-plain64)", path, name);
}

static int check_hash(const char *name, const char *path, struct cvm_error *err)
{
        for (size_t i = 0; i < ELEMENTSOF(hashes); i++)
                if (strcmp(name, hashes[i]) == 0)
                        return 0;
        return cvm_error_set(err, -EOPNOTSUPP, "%s: hash \"%.32s\" is not sha256, sha384 or sha512", path,
                             name);
}

static size_t hash_size(const char *name)
{
        return strcmp(name, "sha256") == 0 ? 32 : strcmp(name, "sha384") == 0 ? 48 : 64;
}

static int check_b64_size(const char *s, size_t want, const char *path, struct cvm_error *err)
{
        _cleanup_free_ uint8_t *buf = NULL;
        size_t n;
        int r;

        r = luksb64_decode(s, SIZE_MAX, &buf, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return cvm_error_set(err, -EBADMSG, "%s: invalid base64", path);
        if (n != want)
                return cvm_error_set(err, -EBADMSG, "%s: %zu bytes, expected %zu", path, n, want);
        return 0;
}

/* ---- JSON sections -------------------------------------------------------------------------- */

static int check_config(struct luks2hdr *h, json_object *config, struct cvm_error *err)
{
        json_object *flags, *req, *mandatory;
        uint64_t json_size;
        int r;

        r = ONLY_FIELDS(config, "config", err, "json_size", "keyslots_size", "flags", "requirements");
        if (r >= 0)
                r = member_u64(config, "config", "json_size", NULL, &json_size, err);
        if (r >= 0)
                r = member_u64(config, "config", "keyslots_size", NULL, &h->keyslots_size, err);
        if (r < 0)
                return r;
        if (json_size != h->hdr_size - LUKS2HDR_BIN_SIZE)
                return cvm_error_set(err, -EBADMSG,
                                     "config.json_size: %" PRIu64
                                     " does not match the JSON area size %" PRIu64,
                                     json_size, h->hdr_size - LUKS2HDR_BIN_SIZE);
        if (h->keyslots_size % AREA_ALIGN != 0 || h->keyslots_size > LUKS2HDR_MAX_KEYSLOTS_SIZE)
                return cvm_error_set(err, -EBADMSG,
                                     "config.keyslots_size: %" PRIu64
                                     " is not a multiple of 4096 up to 128 MiB",
                                     h->keyslots_size);
        if (json_object_object_get_ex(config, "flags", &flags)) {
                size_t n;

                if (!json_object_is_type(flags, json_type_array))
                        return cvm_error_set(err, -EBADMSG, "config.flags: not an array");
                n = json_object_array_length(flags);
                for (size_t i = 0; i < n; i++) {
                        json_object *f = json_object_array_get_idx(flags, i);
                        bool ok = false;

                        if (!json_object_is_type(f, json_type_string))
                                return cvm_error_set(err, -EBADMSG, "config.flags.%zu: not a string", i);
                        for (size_t k = 0; k < ELEMENTSOF(config_flags); k++)
                                if (strcmp(json_object_get_string(f), config_flags[k]) == 0)
                                        ok = true;
                        if (!ok)
                                return cvm_error_set(err, -EOPNOTSUPP,
                                                     "config.flags.%zu: flag \"%.32s\" is not allowed", i,
                                                     json_object_get_string(f));
                }
        }
        if (json_object_object_get_ex(config, "requirements", &req)) {
                if (!json_object_is_type(req, json_type_object))
                        return cvm_error_set(err, -EBADMSG, "config.requirements: not an object");
                r = ONLY_FIELDS(req, "config.requirements", err, "mandatory");
                if (r < 0)
                        return r;
                if (json_object_object_get_ex(req, "mandatory", &mandatory)) {
                        if (!json_object_is_type(mandatory, json_type_array))
                                return cvm_error_set(err, -EBADMSG,
                                                     "config.requirements.mandatory: not an array");
                        if (json_object_array_length(mandatory) > 0)
                                return cvm_error_set(
                                        err, -EOPNOTSUPP,
                                        "config.requirements.mandatory: requirement \"%.32s\" (e.g. online "
                                        "reencryption) is not supported",
                                        json_object_get_string(json_object_array_get_idx(mandatory, 0)));
                }
        }
        return 0;
}

static int check_segments(struct luks2hdr *h, json_object *segments, struct cvm_error *err)
{
        struct luks2hdr_segment *s = &h->segment;
        const char *type, *size;
        json_object *seg = NULL;
        int64_t sector;
        uint64_t meta_end;
        int r;

        if (json_object_object_length(segments) != 1)
                return cvm_error_set(err, -EBADMSG,
                                     "segments: %d segments, exactly one data segment is allowed",
                                     json_object_object_length(segments));
        if (!json_object_object_get_ex(segments, "0", &seg)) {
                json_object_object_foreach (segments, key, val) {
                        (void)val;
                        return cvm_error_set(err, -EBADMSG, "segments.%.16s: the only segment must be \"0\"",
                                             key);
                }
        }
        if (!json_object_is_type(seg, json_type_object))
                return cvm_error_set(err, -EBADMSG, "segments.0: not an object");
        r = ONLY_FIELDS(seg, "segments.0", err, "type", "offset", "size", "iv_tweak", "encryption",
                        "sector_size");
        if (r >= 0)
                r = member_string(seg, "segments.0", "type", &type, err);
        if (r < 0)
                return r;
        if (strcmp(type, "crypt") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "segments.0.type: \"%.32s\" is not \"crypt\"", type);
        r = member_string(seg, "segments.0", "encryption", &s->encryption, err);
        if (r >= 0)
                r = lookup_cipher(s->encryption, "segments.0.encryption", 0, err);
        if (r >= 0)
                r = member_int(seg, "segments.0", "sector_size", 512, 4096, &sector, err);
        if (r < 0)
                return r;
        if (sector & (sector - 1))
                return cvm_error_set(err, -EBADMSG,
                                     "segments.0.sector_size: %" PRId64 " is not a power of two", sector);
        s->sector_size = (uint32_t)sector;
        r = member_string(seg, "segments.0", "iv_tweak", &s->iv_tweak, err);
        if (r < 0)
                return r;
        if (strcmp(s->iv_tweak, "0") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "segments.0.iv_tweak: \"%.32s\" is not \"0\"",
                                     s->iv_tweak);
        r = member_u64(seg, "segments.0", "offset", &s->offset_str, &s->offset, err);
        if (r < 0)
                return r;
        meta_end = luks2hdr_metadata_size(h);
        if (s->offset < meta_end)
                return cvm_error_set(err, -EBADMSG,
                                     "segments.0.offset: %" PRIu64
                                     " overlaps the metadata and keyslots areas (end %" PRIu64 ")",
                                     s->offset, meta_end);
        if (s->offset % s->sector_size != 0 || s->offset > (UINT64_C(1) << 62))
                return cvm_error_set(err, -EBADMSG,
                                     "segments.0.offset: %" PRIu64
                                     " is not a multiple of the sector size %u",
                                     s->offset, s->sector_size);
        r = member_string(seg, "segments.0", "size", &size, err);
        if (r < 0)
                return r;
        s->size_str = size;
        if (strcmp(size, "dynamic") == 0)
                s->dynamic = true;
        else if (parse_u64(size, &s->size) < 0 || s->size == 0 || s->size % s->sector_size != 0 ||
                 s->size > (UINT64_C(1) << 62))
                return cvm_error_set(
                        err, -EBADMSG,
                        "segments.0.size: \"%.32s\" is neither \"dynamic\" nor a positive multiple of the "
                        "sector size",
                        size);
        return 0;
}

static int check_kdf(struct luks2hdr_keyslot *ks, json_object *kdf, const char *path, struct cvm_error *err)
{
        const char *type;
        int64_t v;
        int r;

        r = member_string(kdf, path, "type", &type, err);
        if (r < 0)
                return r;
        if (strcmp(type, "pbkdf2") == 0) {
                ks->kdf = LUKS2HDR_KDF_PBKDF2;
                r = ONLY_FIELDS(kdf, path, err, "type", "hash", "iterations", "salt");
                if (r >= 0)
                        r = member_string(kdf, path, "hash", &ks->kdf_hash, err);
                if (r >= 0) {
                        char p[96];

                        snprintf(p, sizeof(p), "%s.hash", path);
                        r = check_hash(ks->kdf_hash, p, err);
                }
                if (r >= 0)
                        r = member_int(kdf, path, "iterations", MIN_ITERATIONS, UINT32_MAX, &v, err);
                if (r < 0)
                        return r;
                ks->kdf_iterations = (uint32_t)v;
        } else if (strcmp(type, "argon2i") == 0 || strcmp(type, "argon2id") == 0) {
                ks->kdf = type[6] == 'i' && type[7] == 'd' ? LUKS2HDR_KDF_ARGON2ID : LUKS2HDR_KDF_ARGON2I;
                r = ONLY_FIELDS(kdf, path, err, "type", "time", "memory", "cpus", "salt");
                if (r >= 0)
                        r = member_int(kdf, path, "time", ARGON2_MIN_TIME, UINT32_MAX, &v, err);
                if (r >= 0) {
                        ks->kdf_iterations = (uint32_t)v;
                        r = member_int(kdf, path, "memory", ARGON2_MIN_MEM, ARGON2_MAX_MEM, &v, err);
                }
                if (r >= 0) {
                        ks->kdf_memory = (uint32_t)v;
                        r = member_int(kdf, path, "cpus", 1, ARGON2_MAX_CPUS, &v, err);
                }
                if (r < 0)
                        return r;
                ks->kdf_cpus = (uint32_t)v;
        } else
                return cvm_error_set(err, -EOPNOTSUPP,
                                     "%s.type: KDF \"%.32s\" is not pbkdf2, argon2i or argon2id", path,
                                     type);
        r = member_string(kdf, path, "salt", &ks->kdf_salt, err);
        if (r >= 0) {
                char p[96];

                snprintf(p, sizeof(p), "%s.salt", path);
                r = check_b64_size(ks->kdf_salt, SALT_SIZE, p, err);
        }
        return r;
}

static int check_keyslot(struct luks2hdr *h, int id, json_object *obj, struct cvm_error *err)
{
        struct luks2hdr_keyslot *ks = &h->keyslots[id];
        char path[32], p[64];
        json_object *af, *area, *kdf, *prio;
        const char *type;
        int64_t v;
        uint64_t area_start = 2 * h->hdr_size, area_end = area_start + h->keyslots_size;
        int r;

        snprintf(path, sizeof(path), "keyslots.%d", id);
        if (!json_object_is_type(obj, json_type_object))
                return cvm_error_set(err, -EBADMSG, "%s: not an object", path);
        r = ONLY_FIELDS(obj, path, err, "type", "key_size", "af", "area", "kdf", "priority");
        if (r >= 0)
                r = member_string(obj, path, "type", &type, err);
        if (r < 0)
                return r;
        if (strcmp(type, "luks2") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "%s.type: keyslot type \"%.32s\" is not \"luks2\"",
                                     path, type);
        r = member_int(obj, path, "key_size", 1, 512, &v, err);
        if (r < 0)
                return r;
        ks->key_size = (unsigned)v;
        snprintf(p, sizeof(p), "%s.key_size", path);
        r = lookup_cipher(h->segment.encryption, p, ks->key_size, err);
        if (r < 0)
                return r;
        ks->priority = 1;
        if (json_object_object_get_ex(obj, "priority", &prio)) {
                r = member_int(obj, path, "priority", 0, 2, &v, err);
                if (r < 0)
                        return r;
                ks->priority = (int)v;
        }

        snprintf(p, sizeof(p), "%s.af", path);
        r = member(obj, path, "af", json_type_object, &af, err);
        if (r >= 0)
                r = ONLY_FIELDS(af, p, err, "type", "stripes", "hash");
        if (r >= 0)
                r = member_string(af, p, "type", &type, err);
        if (r < 0)
                return r;
        if (strcmp(type, "luks1") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "%s.type: AF type \"%.32s\" is not \"luks1\"", p,
                                     type);
        r = member_int(af, p, "stripes", AF_STRIPES, AF_STRIPES, &v, err);
        if (r >= 0)
                r = member_string(af, p, "hash", &ks->af_hash, err);
        if (r >= 0) {
                char q[96];

                snprintf(q, sizeof(q), "%s.hash", p);
                r = check_hash(ks->af_hash, q, err);
        }
        if (r < 0)
                return r;
        ks->af_stripes = AF_STRIPES;

        snprintf(p, sizeof(p), "%s.area", path);
        r = member(obj, path, "area", json_type_object, &area, err);
        if (r >= 0)
                r = ONLY_FIELDS(area, p, err, "type", "offset", "size", "encryption", "key_size");
        if (r >= 0)
                r = member_string(area, p, "type", &type, err);
        if (r < 0)
                return r;
        if (strcmp(type, "raw") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "%s.type: area type \"%.32s\" is not \"raw\"", p,
                                     type);
        r = member_string(area, p, "encryption", &ks->area_encryption, err);
        if (r >= 0)
                r = member_int(area, p, "key_size", 1, 512, &v, err);
        if (r >= 0) {
                char q[96];

                ks->area_key_size = (unsigned)v;
                snprintf(q, sizeof(q), "%s.encryption", p);
                r = lookup_cipher(ks->area_encryption, q, ks->area_key_size, err);
        }
        if (r >= 0)
                r = member_u64(area, p, "offset", &ks->area_offset_str, &ks->area_offset, err);
        if (r >= 0)
                r = member_u64(area, p, "size", &ks->area_size_str, &ks->area_size, err);
        if (r < 0)
                return r;
        if (ks->area_offset % AREA_ALIGN != 0 || ks->area_size % AREA_ALIGN != 0)
                return cvm_error_set(err, -EBADMSG,
                                     "%s: offset %" PRIu64 " or size %" PRIu64 " not 4096-byte aligned", p,
                                     ks->area_offset, ks->area_size);
        if (ks->area_offset < area_start || ks->area_offset > area_end ||
            ks->area_size > area_end - ks->area_offset)
                return cvm_error_set(err, -EBADMSG,
                                     "%s: [%" PRIu64 ", +%" PRIu64
                                     ") lies outside the keyslots area [%" PRIu64 ", %" PRIu64 ")",
                                     p, ks->area_offset, ks->area_size, area_start, area_end);
        if (ks->area_size < (uint64_t)ks->key_size * AF_STRIPES)
                return cvm_error_set(err, -EBADMSG,
                                     "%s.size: %" PRIu64 " bytes cannot hold %u stripes of %u bytes", p,
                                     ks->area_size, AF_STRIPES, ks->key_size);

        snprintf(p, sizeof(p), "%s.kdf", path);
        r = member(obj, path, "kdf", json_type_object, &kdf, err);
        if (r >= 0)
                r = check_kdf(ks, kdf, p, err);
        if (r < 0)
                return r;
        ks->active = true;
        return 0;
}

static int check_keyslots(struct luks2hdr *h, json_object *keyslots, struct cvm_error *err)
{
        int r;

        if (json_object_object_length(keyslots) > LUKS2HDR_MAX_OBJECTS)
                return cvm_error_set(err, -EBADMSG, "keyslots: more than %d keyslots", LUKS2HDR_MAX_OBJECTS);
        if (json_object_object_length(keyslots) == 0)
                return cvm_error_set(err, -EBADMSG, "keyslots: no keyslot");
        json_object_object_foreach (keyslots, key, val) {
                int id;

                if (parse_id(key, &id) < 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "keyslots.%.16s: not a keyslot number \"0\"..\"31\"", key);
                r = check_keyslot(h, id, val, err);
                if (r < 0)
                        return r;
        }
        /* Keyslot areas must not overlap: one keyslot's writes would destroy another. */
        for (int i = 0; i < LUKS2HDR_MAX_OBJECTS; i++)
                for (int j = i + 1; j < LUKS2HDR_MAX_OBJECTS; j++) {
                        const struct luks2hdr_keyslot *a = &h->keyslots[i], *b = &h->keyslots[j];

                        if (!a->active || !b->active)
                                continue;
                        if (a->area_offset < b->area_offset + b->area_size &&
                            b->area_offset < a->area_offset + a->area_size)
                                return cvm_error_set(err, -EBADMSG,
                                                     "keyslots.%d.area: overlaps keyslots.%d.area", j, i);
                }
        return 0;
}

static int check_digests(struct luks2hdr *h, json_object *digests, struct cvm_error *err)
{
        struct luks2hdr_digest *d = &h->digest;
        json_object *obj = NULL, *arr;
        const char *type;
        char path[32];
        uint32_t seen = 0;
        int64_t v;
        size_t n;
        int r;

        if (json_object_object_length(digests) != 1)
                return cvm_error_set(err, -EBADMSG, "digests: %d digests, exactly one is allowed",
                                     json_object_object_length(digests));
        json_object_object_foreach (digests, key, val) {
                if (parse_id(key, &d->id) < 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "digests.%.16s: not a digest number \"0\"..\"31\"", key);
                obj = val;
        }
        snprintf(path, sizeof(path), "digests.%d", d->id);
        if (!json_object_is_type(obj, json_type_object))
                return cvm_error_set(err, -EBADMSG, "%s: not an object", path);
        r = ONLY_FIELDS(obj, path, err, "type", "keyslots", "segments", "hash", "iterations", "salt",
                        "digest");
        if (r >= 0)
                r = member_string(obj, path, "type", &type, err);
        if (r < 0)
                return r;
        if (strcmp(type, "pbkdf2") != 0)
                return cvm_error_set(err, -EOPNOTSUPP, "%s.type: digest type \"%.32s\" is not \"pbkdf2\"",
                                     path, type);
        r = member_string(obj, path, "hash", &d->hash, err);
        if (r >= 0) {
                char p[64];

                snprintf(p, sizeof(p), "%s.hash", path);
                r = check_hash(d->hash, p, err);
        }
        if (r >= 0)
                r = member_int(obj, path, "iterations", MIN_ITERATIONS, UINT32_MAX, &v, err);
        if (r >= 0) {
                char p[64];

                d->iterations = (uint32_t)v;
                r = member_string(obj, path, "salt", &d->salt, err);
                snprintf(p, sizeof(p), "%s.salt", path);
                if (r >= 0)
                        r = check_b64_size(d->salt, SALT_SIZE, p, err);
        }
        if (r >= 0) {
                char p[64];

                r = member_string(obj, path, "digest", &d->digest, err);
                snprintf(p, sizeof(p), "%s.digest", path);
                if (r >= 0)
                        r = check_b64_size(d->digest, hash_size(d->hash), p, err);
        }
        if (r < 0)
                return r;

        r = member(obj, path, "segments", json_type_array, &arr, err);
        if (r < 0)
                return r;
        if (json_object_array_length(arr) != 1 ||
            !json_object_is_type(json_object_array_get_idx(arr, 0), json_type_string) ||
            strcmp(json_object_get_string(json_object_array_get_idx(arr, 0)), "0") != 0)
                return cvm_error_set(err, -EBADMSG, "%s.segments: must be exactly [\"0\"]", path);

        r = member(obj, path, "keyslots", json_type_array, &arr, err);
        if (r < 0)
                return r;
        n = json_object_array_length(arr);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(arr, i);
                int id;

                if (!json_object_is_type(e, json_type_string) ||
                    parse_id(json_object_get_string(e), &id) < 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "%s.keyslots.%zu: not a keyslot number \"0\"..\"31\"", path, i);
                if (!h->keyslots[id].active)
                        return cvm_error_set(err, -EBADMSG, "%s.keyslots.%zu: keyslot %d does not exist",
                                             path, i, id);
                if (seen & (UINT32_C(1) << id))
                        return cvm_error_set(err, -EBADMSG, "%s.keyslots.%zu: keyslot %d listed twice", path,
                                             i, id);
                seen |= UINT32_C(1) << id;
        }
        for (int i = 0; i < LUKS2HDR_MAX_OBJECTS; i++) {
                if (!h->keyslots[i].active)
                        continue;
                if (!(seen & (UINT32_C(1) << i)))
                        return cvm_error_set(
                                err, -EBADMSG,
                                "keyslots.%d: not covered by %s (unbound keyslots are not accepted)", i,
                                path);
                /* All keyslots of the one digest unlock the same volume key. */
                if (h->volume_key_size == 0)
                        h->volume_key_size = h->keyslots[i].key_size;
                else if (h->keyslots[i].key_size != h->volume_key_size)
                        return cvm_error_set(err, -EBADMSG,
                                             "keyslots.%d.key_size: %u differs from the volume key size %u",
                                             i, h->keyslots[i].key_size, h->volume_key_size);
        }
        return 0;
}

static bool valid_token_type(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
                        return false;
        return true;
}

static int check_token(struct luks2hdr *h, int id, json_object *obj, struct cvm_error *err)
{
        struct luks2hdr_token *t = &h->tokens[id];
        json_object *arr;
        char path[32];
        size_t n;
        int r;

        snprintf(path, sizeof(path), "tokens.%d", id);
        if (!json_object_is_type(obj, json_type_object))
                return cvm_error_set(err, -EBADMSG, "%s: not an object", path);
        r = member_string(obj, path, "type", &t->type, err);
        if (r < 0)
                return r;
        if (!valid_token_type(t->type))
                return cvm_error_set(err, -EBADMSG, "%s.type: not a token type name [A-Za-z0-9_-]{1,64}",
                                     path);
        r = member(obj, path, "keyslots", json_type_array, &arr, err);
        if (r < 0)
                return r;
        n = json_object_array_length(arr);
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(arr, i);
                int slot;

                if (!json_object_is_type(e, json_type_string) ||
                    parse_id(json_object_get_string(e), &slot) < 0)
                        return cvm_error_set(err, -EBADMSG,
                                             "%s.keyslots.%zu: not a keyslot number \"0\"..\"31\"", path, i);
                if (!h->keyslots[slot].active)
                        return cvm_error_set(err, -EBADMSG, "%s.keyslots.%zu: keyslot %d does not exist",
                                             path, i, slot);
                if (t->keyslots & (UINT32_C(1) << slot))
                        return cvm_error_set(err, -EBADMSG, "%s.keyslots.%zu: keyslot %d listed twice", path,
                                             i, slot);
                t->keyslots |= UINT32_C(1) << slot;
        }
        if (strcmp(t->type, LUKSTOKEN_TYPE) == 0) {
                r = lukstoken_parse(obj, path, &t->cvm, err);
                if (r < 0)
                        return r;
        }
        t->active = true;
        return 0;
}

static int check_tokens(struct luks2hdr *h, json_object *tokens, struct cvm_error *err)
{
        uint32_t cvm_slots = 0;
        int r;

        if (json_object_object_length(tokens) > LUKS2HDR_MAX_OBJECTS)
                return cvm_error_set(err, -EBADMSG, "tokens: more than %d tokens", LUKS2HDR_MAX_OBJECTS);
        json_object_object_foreach (tokens, key, val) {
                int id;

                if (parse_id(key, &id) < 0)
                        return cvm_error_set(err, -EBADMSG, "tokens.%.16s: not a token number \"0\"..\"31\"",
                                             key);
                r = check_token(h, id, val, err);
                if (r < 0)
                        return r;
        }
        for (int id = 0; id < LUKS2HDR_MAX_OBJECTS; id++) {
                const struct lukstoken *t = h->tokens[id].cvm;
                uint8_t binding[LUKS2HDR_BINDING_SIZE];

                if (!t || t->pending)
                        continue;
                if (cvm_slots & (UINT32_C(1) << t->keyslot))
                        return cvm_error_set(err, -EBADMSG,
                                             "tokens.%d.keyslots: keyslot %d already belongs to another "
                                             "cvm-agent token",
                                             id, t->keyslot);
                cvm_slots |= UINT32_C(1) << t->keyslot;
                r = luks2hdr_binding(h, t->keyslot, t, binding, err);
                if (r < 0)
                        return r;
                if (CRYPTO_memcmp(binding, t->binding, sizeof(binding)) != 0) {
                        char parts[64] = "";

                        for (unsigned i = 0; i < LUKSTOKEN_BINDING_PARTS; i++)
                                if (CRYPTO_memcmp(binding + 32 * i, t->binding + 32 * i, 32) != 0) {
                                        if (parts[0])
                                                strcat(parts, ", ");
                                        strcat(parts, lukstoken_binding_part_name(i));
                                }
                        return cvm_error_set(
                                err, -EKEYREJECTED,
                                "tokens.%d.binding: the header differs from the one enrolled in: %s "
                                "(keyslot %d)",
                                id, parts, t->keyslot);
                }
        }
        return 0;
}

/* ---- binding digest ------------------------------------------------------------------------- */

static int bind_str(EVP_MD_CTX *ctx, const char *name, const char *value)
{
        char prefix[96];
        size_t len = value ? strlen(value) : 0;
        int n;

        n = snprintf(prefix, sizeof(prefix), "%s=%zu:", name, len);
        if (n < 0 || (size_t)n >= sizeof(prefix))
                return -EINVAL;
        if (EVP_DigestUpdate(ctx, prefix, (size_t)n) != 1 ||
            (len && EVP_DigestUpdate(ctx, value, len) != 1) || EVP_DigestUpdate(ctx, "\n", 1) != 1)
                return -EIO;
        return 0;
}

static int bind_u64(EVP_MD_CTX *ctx, const char *name, uint64_t v)
{
        char num[24];

        snprintf(num, sizeof(num), "%" PRIu64, v);
        return bind_str(ctx, name, num);
}

static int bind_begin(EVP_MD_CTX *ctx, const char *part)
{
        char tag[64];

        snprintf(tag, sizeof(tag), "cvm-agent-luks2-binding-v1/%s", part);
        if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
                return -EIO;
        return bind_str(ctx, "tag", tag);
}

static int bind_end(EVP_MD_CTX *ctx, uint8_t *out)
{
        unsigned int len = 0;

        if (EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != 32)
                return -EIO;
        return 0;
}

int luks2hdr_binding(const struct luks2hdr *h, int keyslot, const struct lukstoken *t,
                     uint8_t out[LUKS2HDR_BINDING_SIZE], struct cvm_error *err)
{
        _cleanup_(EVP_MD_CTX_freep) EVP_MD_CTX *ctx = NULL;
        const struct luks2hdr_keyslot *ks;
        const struct luks2hdr_segment *s = &h->segment;
        const struct luks2hdr_digest *d = &h->digest;
        int r = 0;

        if (keyslot < 0 || keyslot >= LUKS2HDR_MAX_OBJECTS || !h->keyslots[keyslot].active)
                return cvm_error_set(err, -EINVAL, "binding: keyslot %d does not exist", keyslot);
        if (t->pending || t->backend == LUKSTOKEN_BACKEND_NONE || t->wrap.alg == LUKSTOKEN_WRAP_NONE)
                return cvm_error_set(err, -EINVAL, "binding: incomplete token configuration");
        ks = &h->keyslots[keyslot];
        ctx = EVP_MD_CTX_new();
        if (!ctx)
                return -ENOMEM;

#define B(x)                     \
        do {                     \
                if (r >= 0)      \
                        r = (x); \
        } while (0)
        B(bind_begin(ctx, "uuid"));
        B(bind_str(ctx, "uuid", h->uuid));
        B(bind_end(ctx, out));

        B(bind_begin(ctx, "segment"));
        B(bind_str(ctx, "segment.type", "crypt"));
        B(bind_u64(ctx, "segment.offset", s->offset));
        B(bind_str(ctx, "segment.size", s->size_str));
        B(bind_str(ctx, "segment.iv_tweak", s->iv_tweak));
        B(bind_str(ctx, "segment.encryption", s->encryption));
        B(bind_u64(ctx, "segment.sector_size", s->sector_size));
        B(bind_end(ctx, out + 32));

        B(bind_begin(ctx, "keyslot"));
        B(bind_u64(ctx, "keyslot", (uint64_t)keyslot));
        B(bind_str(ctx, "keyslot.type", "luks2"));
        B(bind_u64(ctx, "keyslot.key_size", ks->key_size));
        B(bind_str(ctx, "keyslot.area.type", "raw"));
        B(bind_u64(ctx, "keyslot.area.offset", ks->area_offset));
        B(bind_u64(ctx, "keyslot.area.size", ks->area_size));
        B(bind_str(ctx, "keyslot.area.encryption", ks->area_encryption));
        B(bind_u64(ctx, "keyslot.area.key_size", ks->area_key_size));
        B(bind_str(ctx, "keyslot.kdf.type", luks2hdr_kdf_name(ks->kdf)));
        if (ks->kdf == LUKS2HDR_KDF_PBKDF2) {
                B(bind_str(ctx, "keyslot.kdf.hash", ks->kdf_hash));
                B(bind_u64(ctx, "keyslot.kdf.iterations", ks->kdf_iterations));
        } else {
                B(bind_u64(ctx, "keyslot.kdf.time", ks->kdf_iterations));
                B(bind_u64(ctx, "keyslot.kdf.memory", ks->kdf_memory));
                B(bind_u64(ctx, "keyslot.kdf.cpus", ks->kdf_cpus));
        }
        B(bind_str(ctx, "keyslot.kdf.salt", ks->kdf_salt));
        B(bind_str(ctx, "keyslot.af.type", "luks1"));
        B(bind_u64(ctx, "keyslot.af.stripes", ks->af_stripes));
        B(bind_str(ctx, "keyslot.af.hash", ks->af_hash));
        B(bind_str(ctx, "digest.type", "pbkdf2"));
        B(bind_str(ctx, "digest.hash", d->hash));
        B(bind_u64(ctx, "digest.iterations", d->iterations));
        B(bind_str(ctx, "digest.salt", d->salt));
        B(bind_str(ctx, "digest.digest", d->digest));
        B(bind_end(ctx, out + 64));

        B(bind_begin(ctx, "config"));
        B(bind_u64(ctx, "token.version", (uint64_t)t->version));
        B(bind_str(ctx, "token.backend", lukstoken_backend_name(t->backend)));
        if (t->backend == LUKSTOKEN_BACKEND_AZURE) {
                B(bind_str(ctx, "token.azure.maa_url", t->maa_url));
                B(bind_str(ctx, "token.azure.key_id", t->key_id));
                B(bind_str(ctx, "token.azure.enc", t->enc));
        } else {
                B(bind_str(ctx, "token.trustee.kbs_url", t->kbs_url));
                B(bind_str(ctx, "token.trustee.resource_path", t->resource_path));
                B(bind_str(ctx, "token.trustee.kbs_ca", t->kbs_ca));
        }
        B(bind_str(ctx, "token.wrap.alg", lukstoken_wrap_alg_name(t->wrap.alg)));
        B(bind_end(ctx, out + 96));
#undef B
        if (r < 0)
                return cvm_error_set(err, r, "binding digest computation failed");
        return 0;
}

int luks2hdr_next_cvm_token(const struct luks2hdr *h, int start)
{
        for (int i = start < 0 ? 0 : start; i < LUKS2HDR_MAX_OBJECTS; i++)
                if (h->tokens[i].cvm && !h->tokens[i].cvm->pending)
                        return i;
        return -ENOENT;
}

/* ---- entry point ---------------------------------------------------------------------------- */

static int parse_json(struct luks2hdr *h, const uint8_t *area, size_t area_size, struct cvm_error *err)
{
        json_object *keyslots, *tokens, *segments, *digests, *config;
        struct json_tokener *tok;
        struct scan sc;
        size_t len = strnlen((const char *)area, area_size);
        int r;

        if (len == area_size)
                return cvm_error_set(err, -EBADMSG, "JSON area: not NUL-terminated within its %zu bytes",
                                     area_size);
        if (len > LUKS2HDR_MAX_JSON_TEXT)
                return cvm_error_set(err, -EBADMSG, "JSON area: %zu bytes of JSON exceed the limit of %u",
                                     len, LUKS2HDR_MAX_JSON_TEXT);
        if (!is_all_zero(area + len, area_size - len))
                return cvm_error_set(err, -EBADMSG,
                                     "JSON area: non-zero bytes after the JSON text (offset %zu)",
                                     LUKS2HDR_BIN_SIZE + len);
        h->json_text_size = len;

        sc = (struct scan){.s = (const char *)area, .len = len, .err = err};
        r = scan_value(&sc, 0);
        if (r < 0)
                return r;
        scan_ws(&sc);
        if (sc.pos != len)
                return scan_fail(&sc, "trailing data after the JSON object");

        tok = json_tokener_new_ex(MAX_DEPTH + 2);
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        h->root = json_tokener_parse_ex(tok, (const char *)area, (int)len);
        r = h->root && json_tokener_get_parse_end(tok) == len ? 0 : -EBADMSG;
        json_tokener_free(tok);
        if (r < 0)
                return cvm_error_set(err, -EBADMSG, "JSON area: rejected by the JSON parser");
        if (!json_object_is_type(h->root, json_type_object))
                return cvm_error_set(err, -EBADMSG, "JSON area: not a JSON object");

        r = ONLY_FIELDS(h->root, "", err, "keyslots", "tokens", "segments", "digests", "config");
        if (r >= 0)
                r = member(h->root, "", "config", json_type_object, &config, err);
        if (r >= 0)
                r = member(h->root, "", "segments", json_type_object, &segments, err);
        if (r >= 0)
                r = member(h->root, "", "keyslots", json_type_object, &keyslots, err);
        if (r >= 0)
                r = member(h->root, "", "digests", json_type_object, &digests, err);
        if (r >= 0)
                r = member(h->root, "", "tokens", json_type_object, &tokens, err);
        if (r >= 0)
                r = check_config(h, config, err);
        if (r >= 0)
                r = check_segments(h, segments, err);
        if (r >= 0)
                r = check_keyslots(h, keyslots, err);
        if (r >= 0)
                r = check_digests(h, digests, err);
        if (r >= 0)
                r = check_tokens(h, tokens, err);
        return r;
}

int luks2hdr_parse(const uint8_t *buf, size_t size, struct luks2hdr **ret, struct cvm_error *err)
{
        _cleanup_(luks2hdr_freep) struct luks2hdr *h = NULL;
        char uuid2[UUID_FIELD_LEN], label2[LABEL_LEN], subsystem2[LABEL_LEN];
        uint64_t hdr_size;
        const uint8_t *second;
        int r;

        r = luks2hdr_peek(buf, size, &hdr_size, err);
        if (r < 0)
                return r;
        if (size / 2 < hdr_size)
                return cvm_error_set(err, -EBADMSG, "truncated: %zu bytes, both header copies need %" PRIu64,
                                     size, 2 * hdr_size);
        h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        h->hdr_size = hdr_size;
        second = buf + hdr_size;

        r = check_copy(buf, hdr_size, true, h->uuid, h->label, h->subsystem, err);
        if (r >= 0)
                r = check_copy(second, hdr_size, false, uuid2, label2, subsystem2, err);
        if (r < 0)
                return r;
        h->seqid = be64(buf + OFF_SEQID);
        if (be64(second + OFF_SEQID) != h->seqid)
                return cvm_error_set(err, -EBADMSG,
                                     "header copies differ: seqid %" PRIu64 " (primary) vs %" PRIu64
                                     " (secondary)",
                                     h->seqid, be64(second + OFF_SEQID));
        if (strcmp(h->uuid, uuid2) != 0 || strcmp(h->label, label2) != 0 ||
            strcmp(h->subsystem, subsystem2) != 0)
                return cvm_error_set(err, -EBADMSG, "header copies differ: UUID, label or subsystem");
        if (memcmp(buf + LUKS2HDR_BIN_SIZE, second + LUKS2HDR_BIN_SIZE, hdr_size - LUKS2HDR_BIN_SIZE) != 0)
                return cvm_error_set(err, -EBADMSG, "header copies differ: JSON areas are not identical");

        r = parse_json(h, buf + LUKS2HDR_BIN_SIZE, hdr_size - LUKS2HDR_BIN_SIZE, err);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}
