/* SPDX-License-Identifier: Apache-2.0 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cleanup.h"
#include "ima.h"
#include "util.h"

#define READ_CHUNK      (256u * 1024u)
#define BIN_HEADER_SIZE (4u + 20u + 4u)
#define SHA1_SIZE       20u
#define SHA256_SIZE     32u
#define FIELDS_MAX      16u
/* The "ima" template: 20-byte digest followed by the name zero-padded to 256 bytes. */
#define LEGACY_DATA_SIZE (SHA1_SIZE + IMA_LEGACY_NAME_SIZE)

/* How a template field is serialised (kernel ima_template_lib.c data formats). */
enum field_kind {
        KIND_DIGEST,      /* d: raw digest; ASCII hex */
        KIND_DIGEST_ALGO, /* d-ng, d-ngv2, d-modsig: "<prefix>:" NUL digest; ASCII "<prefix>:<hex>" */
        KIND_STRING,      /* n, n-ng, xattrnames: bytes + NUL; ASCII as is */
        KIND_HEX,         /* sig, buf, modsig, evmsig, xattrlengths, xattrvalues: raw; ASCII hex */
        KIND_UINT,        /* iuid, igid, imode: raw integer; ASCII decimal (not rebuilt) */
};

enum field_role {
        ROLE_NONE,
        ROLE_DIGEST,
        ROLE_PATH,
        ROLE_SIG,
        ROLE_BUF,
        ROLE_MODSIG_DIGEST,
        ROLE_MODSIG,
};

struct field_def {
        const char *id;
        enum field_kind kind;
        enum field_role role;
};

static const struct field_def field_defs[] = {
        {"d", KIND_DIGEST, ROLE_DIGEST},
        {"n", KIND_STRING, ROLE_PATH},
        {"d-ng", KIND_DIGEST_ALGO, ROLE_DIGEST},
        {"d-ngv2", KIND_DIGEST_ALGO, ROLE_DIGEST},
        {"n-ng", KIND_STRING, ROLE_PATH},
        {"sig", KIND_HEX, ROLE_SIG},
        {"d-modsig", KIND_DIGEST_ALGO, ROLE_MODSIG_DIGEST},
        {"modsig", KIND_HEX, ROLE_MODSIG},
        {"buf", KIND_HEX, ROLE_BUF},
        {"evmsig", KIND_HEX, ROLE_NONE},
        {"xattrnames", KIND_STRING, ROLE_NONE},
        {"xattrlengths", KIND_HEX, ROLE_NONE},
        {"xattrvalues", KIND_HEX, ROLE_NONE},
        {"iuid", KIND_UINT, ROLE_NONE},
        {"igid", KIND_UINT, ROLE_NONE},
        {"imode", KIND_UINT, ROLE_NONE},
};

/* Template names the kernel defines (ima_template.c builtin_templates). */
static const struct {
        const char *name;
        const char *fmt;
} known_templates[] = {
        {"ima", "d|n"},
        {"ima-ng", "d-ng|n-ng"},
        {"ima-ngv2", "d-ngv2|n-ng"},
        {"ima-sig", "d-ng|n-ng|sig"},
        {"ima-sigv2", "d-ngv2|n-ng|sig"},
        {"ima-buf", "d-ng|n-ng|buf"},
        {"ima-modsig", "d-ng|n-ng|sig|d-modsig|modsig"},
        {"evm-sig", "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode"},
};

struct template_desc {
        char name[IMA_TEMPLATE_NAME_MAX + 1];
        bool known;  /* the field list is known */
        bool legacy; /* the "ima" template: special binary layout and hashing */
        size_t n_fields;
        const struct field_def *fields[FIELDS_MAX];
};

struct ima_reader {
        /* input */
        int fd;
        bool memory; /* buf is the caller's whole log; never refilled */
        uint8_t *buf;
        size_t cap, start, end; /* valid bytes are buf[start..end); buf[start] is at pos.offset */
        size_t max_cap;
        bool eof;

        struct ima_position pos;
        enum ima_format want_format;

        /* sticky failure */
        int failed;
        struct cvm_error failure;

        /* current entry and its storage */
        struct ima_entry entry;
        struct template_desc desc; /* cache: most logs use one template */
        uint8_t th[HASH_MAX_SIZE];
        uint8_t legacy[LEGACY_DATA_SIZE];
        uint8_t *td; /* ASCII: rebuilt template data */
        size_t td_cap;

        char algo_cache_name[IMA_DIGEST_PREFIX_MAX + 1];
        const struct hash_alg *algo_cache;

        /* One context per algorithm: re-initialising with the same EVP_MD reuses its state. */
        EVP_MD_CTX *ctx1, *ctx256;
        EVP_MD *sha1, *sha256;
};

static inline uint32_t rd32(const struct ima_reader *r, const uint8_t *p)
{
        return r->pos.big_endian ? be32(p) : le32(p);
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
        p[0] = (uint8_t)v;
        p[1] = (uint8_t)(v >> 8);
        p[2] = (uint8_t)(v >> 16);
        p[3] = (uint8_t)(v >> 24);
}

/* "entry 5 at offset 0x1a4" or "line 6 (entry 5)": where the entry being parsed starts. */
static int entry_error(struct ima_reader *r, struct cvm_error *err, int code, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static int entry_error(struct ima_reader *r, struct cvm_error *err, int code, const char *fmt, ...)
{
        char msg[CVM_ERROR_MAX];
        va_list ap;

        va_start(ap, fmt);
        (void)vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (r->pos.format == IMA_FORMAT_ASCII)
                return cvm_error_set(err, code, "line %" PRIu64 " (entry %" PRIu64 "): %s",
                                     r->pos.entries + 1, r->pos.entries, msg);
        return cvm_error_set(err, code, "entry %" PRIu64 " at offset 0x%" PRIx64 ": %s", r->pos.entries,
                             r->pos.offset, msg);
}

/* Printable, for names that end up in messages and JSON. */
static bool is_token_char(uint8_t c)
{
        return c > 0x20 && c < 0x7f;
}

static void fmt_escaped(char *out, size_t out_size, const uint8_t *p, size_t n)
{
        size_t o = 0;

        for (size_t i = 0; i < n && o + 5 < out_size; i++) {
                if (is_token_char(p[i]))
                        out[o++] = (char)p[i];
                else
                        o += (size_t)snprintf(out + o, out_size - o, "\\x%02x", p[i]);
        }
        out[o] = '\0';
}

/*
 * Make at least @need bytes available at buf[start]. Return 0, -ENODATA when the input ends
 * first, or -errno from read().
 */
static int ensure(struct ima_reader *r, size_t need)
{
        while (r->end - r->start < need) {
                ssize_t n;

                if (r->eof)
                        return -ENODATA;
                assert(!r->memory);
                if (need > r->cap - r->start) {
                        if (need > r->cap) {
                                size_t ncap = r->cap;
                                uint8_t *nbuf;

                                while (ncap < need)
                                        ncap *= 2;
                                if (ncap > r->max_cap)
                                        ncap = r->max_cap;
                                assert(ncap >= need);
                                nbuf = realloc(r->buf, ncap);
                                if (!nbuf)
                                        return -ENOMEM;
                                r->buf = nbuf;
                                r->cap = ncap;
                        }
                        memmove(r->buf, r->buf + r->start, r->end - r->start);
                        r->end -= r->start;
                        r->start = 0;
                }
                n = read(r->fd, r->buf + r->end, r->cap - r->end);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        r->eof = true;
                r->end += (size_t)n;
        }
        return 0;
}

static int read_error(struct ima_reader *r, struct cvm_error *err, int code)
{
        if (code == -ENOMEM)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        return entry_error(r, err, code, "read failed: %s", strerror(-code));
}

static const struct field_def *field_def_by_id(const char *id, size_t len)
{
        for (size_t i = 0; i < ELEMENTSOF(field_defs); i++)
                if (strlen(field_defs[i].id) == len && memcmp(field_defs[i].id, id, len) == 0)
                        return &field_defs[i];
        return NULL;
}

/* Fill r->desc for @name: a builtin template, a custom format string "a|b|c", or unknown. */
static void template_lookup(struct ima_reader *r, const char *name)
{
        struct template_desc *d = &r->desc;
        const char *fmt = NULL;

        if (strcmp(d->name, name) == 0)
                return;
        memset(d, 0, sizeof(*d));
        strcpy(d->name, name); /* bounded: the caller checked IMA_TEMPLATE_NAME_MAX */
        for (size_t i = 0; i < ELEMENTSOF(known_templates); i++)
                if (strcmp(known_templates[i].name, name) == 0)
                        fmt = known_templates[i].fmt;
        /* ima_measurements_show() names a custom template by its format string. */
        if (!fmt && strchr(name, '|'))
                fmt = name;
        if (!fmt)
                return;
        d->legacy = strcmp(name, "ima") == 0;
        for (const char *p = fmt;;) {
                const char *bar = strchr(p, '|');
                size_t len = bar ? (size_t)(bar - p) : strlen(p);
                const struct field_def *f = field_def_by_id(p, len);

                if (!f || d->n_fields >= FIELDS_MAX) {
                        d->n_fields = 0;
                        return;
                }
                d->fields[d->n_fields++] = f;
                if (!bar)
                        break;
                p = bar + 1;
        }
        d->known = true;
}

static void entry_reset_fields(struct ima_entry *e)
{
        e->fields_decoded = false;
        e->digest_type[0] = e->digest_algo[0] = e->modsig_digest_algo[0] = '\0';
        e->digest = e->sig = e->buf = e->modsig_digest = e->modsig = NULL;
        e->digest_size = e->sig_size = e->buf_size = e->modsig_digest_size = e->modsig_size = 0;
        e->path = NULL;
        e->path_len = 0;
}

/* hash_alg_by_name() with a one-entry cache: logs use one or two file-digest algorithms. */
static const struct hash_alg *algo_lookup(struct ima_reader *r, const char *algo)
{
        if (strcmp(r->algo_cache_name, algo) != 0) {
                strcpy(r->algo_cache_name, algo);
                r->algo_cache = hash_alg_by_name(algo);
        }
        return r->algo_cache;
}

/* Split "<type>:<algo>:" or "<algo>:" (the bytes before the NUL of a digest field). */
static int split_digest_prefix(struct ima_reader *r, const struct field_def *f, const uint8_t *p, size_t n,
                               char *type, char *algo, struct cvm_error *err)
{
        const uint8_t *colon;
        char shown[4 * IMA_DIGEST_PREFIX_MAX + 8];
        bool bad = n < 2 || p[n - 1] != ':';

        if (n - 1 > IMA_DIGEST_PREFIX_MAX && !bad)
                return entry_error(r, err, -EBADMSG, "field '%s': digest prefix longer than %u bytes", f->id,
                                   IMA_DIGEST_PREFIX_MAX);
        for (size_t i = 0; i + 1 < n && !bad; i++)
                bad = !is_token_char(p[i]);
        if (bad) {
                fmt_escaped(shown, sizeof(shown), p,
                            n > IMA_DIGEST_PREFIX_MAX + 1 ? IMA_DIGEST_PREFIX_MAX + 1 : n);
                return entry_error(
                        r, err, -EBADMSG,
                        "field '%s': digest prefix \"%s\" is not \"<algorithm>:\" in printable ASCII", f->id,
                        shown);
        }
        colon = memchr(p, ':', n - 1);
        if (colon) {
                size_t tl = (size_t)(colon - p);

                memcpy(type, p, tl);
                type[tl] = '\0';
                memcpy(algo, colon + 1, n - 2 - tl);
                algo[n - 2 - tl] = '\0';
        } else {
                type[0] = '\0';
                memcpy(algo, p, n - 1);
                algo[n - 1] = '\0';
        }
        if (!algo[0])
                return entry_error(r, err, -EBADMSG, "field '%s': empty digest algorithm", f->id);
        return 0;
}

/* Interpret one field of the (read or rebuilt) template data and attach it to the entry. */
static int decode_field(struct ima_reader *r, struct ima_entry *e, const struct field_def *f,
                        const uint8_t *p, uint32_t len, struct cvm_error *err)
{
        switch (f->kind) {
        case KIND_DIGEST_ALGO: {
                char type[IMA_DIGEST_PREFIX_MAX + 1], algo[IMA_DIGEST_PREFIX_MAX + 1];
                const struct hash_alg *alg;
                const uint8_t *nul;
                size_t dsize;
                int k;

                if (len == 0) /* an empty d-modsig (no appended signature) */
                        break;
                nul = memchr(p, 0, len);
                if (!nul)
                        return entry_error(r, err, -EBADMSG, "field '%s': no NUL after the digest algorithm",
                                           f->id);
                k = split_digest_prefix(r, f, p, (size_t)(nul - p), type, algo, err);
                if (k < 0)
                        return k;
                dsize = len - (size_t)(nul + 1 - p);
                alg = algo_lookup(r, algo);
                if (alg && alg->size != dsize)
                        return entry_error(r, err, -EBADMSG,
                                           "field '%s': %s digest has %zu bytes, expected %zu", f->id, algo,
                                           dsize, alg->size);
                if (f->role == ROLE_DIGEST && !e->digest) {
                        strcpy(e->digest_type, type);
                        strcpy(e->digest_algo, algo);
                        e->digest = nul + 1;
                        e->digest_size = dsize;
                } else if (f->role == ROLE_MODSIG_DIGEST) {
                        strcpy(e->modsig_digest_algo, algo);
                        e->modsig_digest = nul + 1;
                        e->modsig_digest_size = dsize;
                }
                break;
        }
        case KIND_STRING:
                /* The kernel stores strlen + 1 bytes; an embedded NUL would hide a suffix. */
                if (len == 0 || p[len - 1] != '\0')
                        return entry_error(r, err, -EBADMSG, "field '%s': string is not NUL-terminated",
                                           f->id);
                if (memchr(p, 0, len - 1))
                        return entry_error(r, err, -EBADMSG, "field '%s': string contains a NUL byte",
                                           f->id);
                if (f->role == ROLE_PATH && !e->path) {
                        e->path = (const char *)p;
                        e->path_len = len - 1;
                }
                break;
        case KIND_DIGEST:
                if (f->role == ROLE_DIGEST && !e->digest) {
                        e->digest = p;
                        e->digest_size = len;
                }
                break;
        case KIND_HEX:
        case KIND_UINT:
                if (f->role == ROLE_SIG) {
                        e->sig = p;
                        e->sig_size = len;
                } else if (f->role == ROLE_BUF) {
                        e->buf = p;
                        e->buf_size = len;
                } else if (f->role == ROLE_MODSIG) {
                        e->modsig = p;
                        e->modsig_size = len;
                }
                break;
        }
        return 0;
}

/* Split template data into its length-prefixed fields (all templates but "ima"). */
static int decode_fields(struct ima_reader *r, struct ima_entry *e, const struct template_desc *d,
                         const uint8_t *td, size_t size, bool big_endian, struct cvm_error *err)
{
        size_t off = 0;
        int k;

        for (size_t i = 0; i < d->n_fields; i++) {
                uint32_t len;

                if (size - off < 4)
                        return entry_error(
                                r, err, -EBADMSG,
                                "template '%s' data ends before field %zu '%s' (%zu of %zu bytes used)",
                                d->name, i + 1, d->fields[i]->id, off, size);
                len = big_endian ? be32(td + off) : le32(td + off);
                off += 4;
                if (len > size - off)
                        return entry_error(r, err, -EBADMSG,
                                           "field %zu '%s' length %" PRIu32 " exceeds the %zu bytes left",
                                           i + 1, d->fields[i]->id, len, size - off);
                k = decode_field(r, e, d->fields[i], td + off, len, err);
                if (k < 0)
                        return k;
                off += len;
        }
        if (off != size)
                return entry_error(r, err, -EBADMSG, "template '%s' data has %zu bytes after its last field",
                                   d->name, size - off);
        e->fields_decoded = true;
        return 0;
}

static void decode_legacy(struct ima_entry *e, const uint8_t *td)
{
        e->digest = td;
        e->digest_size = SHA1_SIZE;
        strcpy(e->digest_algo, "sha1");
        e->path = (const char *)td + SHA1_SIZE;
        e->path_len = strnlen(e->path, IMA_LEGACY_NAME_SIZE);
        e->fields_decoded = true;
}

static int check_pcr(struct ima_reader *r, uint32_t pcr, struct cvm_error *err)
{
        if (pcr >= IMA_PCR_COUNT)
                return entry_error(r, err, -EBADMSG, "PCR index %" PRIu32 " out of range 0..%u", pcr,
                                   IMA_PCR_COUNT - 1);
        return 0;
}

static int check_template_name(struct ima_reader *r, const uint8_t *p, size_t n, struct cvm_error *err)
{
        char shown[64];

        if (n == 0)
                return entry_error(r, err, -EBADMSG, "empty template name");
        if (n > IMA_TEMPLATE_NAME_MAX)
                return entry_error(r, err, -EBADMSG, "template name length %zu exceeds %u", n,
                                   IMA_TEMPLATE_NAME_MAX);
        for (size_t i = 0; i < n; i++)
                if (!is_token_char(p[i])) {
                        fmt_escaped(shown, sizeof(shown), p, n < 16 ? n : 16);
                        return entry_error(r, err, -EBADMSG, "template name \"%s\" has a non-printable byte",
                                           shown);
                }
        return 0;
}

/* Binary: parse the entry at buf[start] into r->entry; return its size via @ret_size. */
static int parse_binary(struct ima_reader *r, size_t *ret_size, struct cvm_error *err)
{
        struct ima_entry *e = &r->entry;
        const uint8_t *p;
        uint32_t pcr, name_len, data_len;
        size_t size;
        char name[IMA_TEMPLATE_NAME_MAX + 1];
        int k;

        k = ensure(r, BIN_HEADER_SIZE);
        if (k == -ENODATA) {
                if (r->end == r->start)
                        return 0;
                return entry_error(r, err, -EBADMSG, "truncated entry header: %zu of %u bytes",
                                   r->end - r->start, BIN_HEADER_SIZE);
        }
        if (k < 0)
                return read_error(r, err, k);
        p = r->buf + r->start;

        /* A big-endian kernel without ima_canonical_fmt writes native integers. */
        if (r->pos.entries == 0 && le32(p) >= IMA_PCR_COUNT && be32(p) < IMA_PCR_COUNT)
                r->pos.big_endian = true;
        pcr = rd32(r, p);
        k = check_pcr(r, pcr, err);
        if (k < 0)
                return k;
        name_len = rd32(r, p + 24);
        if (name_len == 0 || name_len > IMA_TEMPLATE_NAME_MAX)
                return entry_error(r, err, -EBADMSG, "template name length %" PRIu32 " not in 1..%u",
                                   name_len, IMA_TEMPLATE_NAME_MAX);
        size = BIN_HEADER_SIZE + name_len;
        k = ensure(r, size + 4);
        if (k == -ENODATA)
                return entry_error(r, err, -EBADMSG, "truncated after the template name: %zu of %zu bytes",
                                   r->end - r->start, size + 4);
        if (k < 0)
                return read_error(r, err, k);
        p = r->buf + r->start;
        k = check_template_name(r, p + BIN_HEADER_SIZE, name_len, err);
        if (k < 0)
                return k;
        memcpy(name, p + BIN_HEADER_SIZE, name_len);
        name[name_len] = '\0';
        template_lookup(r, name);

        if (r->desc.legacy) {
                /* digest(20) u32 name_len name(no NUL); hashed as digest || name padded to 256. */
                uint32_t nlen;

                k = ensure(r, size + SHA1_SIZE + 4);
                if (k == -ENODATA)
                        return entry_error(r, err, -EBADMSG, "truncated 'ima' template data");
                if (k < 0)
                        return read_error(r, err, k);
                p = r->buf + r->start;
                nlen = rd32(r, p + size + SHA1_SIZE);
                if (nlen >= IMA_LEGACY_NAME_SIZE)
                        return entry_error(r, err, -EBADMSG,
                                           "'ima' template file name length %" PRIu32 " exceeds %u", nlen,
                                           IMA_LEGACY_NAME_SIZE - 1);
                k = ensure(r, size + SHA1_SIZE + 4 + nlen);
                if (k == -ENODATA)
                        return entry_error(r, err, -EBADMSG,
                                           "truncated 'ima' template file name: %zu of %zu bytes",
                                           r->end - r->start, size + SHA1_SIZE + 4 + nlen);
                if (k < 0)
                        return read_error(r, err, k);
                p = r->buf + r->start;
                if (memchr(p + size + SHA1_SIZE + 4, 0, nlen))
                        return entry_error(r, err, -EBADMSG, "'ima' template file name contains a NUL byte");
                memset(r->legacy, 0, sizeof(r->legacy));
                memcpy(r->legacy, p + size, SHA1_SIZE);
                memcpy(r->legacy + SHA1_SIZE, p + size + SHA1_SIZE + 4, nlen);
                e->template_data = r->legacy;
                e->template_data_size = LEGACY_DATA_SIZE;
                size += SHA1_SIZE + 4 + nlen;
        } else {
                data_len = rd32(r, p + size);
                if (data_len > IMA_TEMPLATE_DATA_MAX)
                        return entry_error(r, err, -EBADMSG,
                                           "template data length %" PRIu32 " exceeds the limit of %u",
                                           data_len, IMA_TEMPLATE_DATA_MAX);
                size += 4;
                k = ensure(r, size + data_len);
                if (k == -ENODATA)
                        return entry_error(r, err, -EBADMSG,
                                           "truncated template data: %zu of %" PRIu32 " bytes",
                                           r->end - r->start - size, data_len);
                if (k < 0)
                        return read_error(r, err, k);
                p = r->buf + r->start;
                e->template_data = p + size;
                e->template_data_size = data_len;
                size += data_len;
        }

        memcpy(r->th, p + 4, SHA1_SIZE);
        e->pcr = pcr;
        e->template_hash = r->th;
        e->template_hash_size = SHA1_SIZE;
        e->template_name = r->desc.name;
        e->line = 0;
        entry_reset_fields(e);
        if (r->desc.legacy)
                decode_legacy(e, e->template_data);
        else if (r->desc.known) {
                k = decode_fields(r, e, &r->desc, e->template_data, e->template_data_size, r->pos.big_endian,
                                  err);
                if (k < 0)
                        return k;
        }
        *ret_size = size;
        return 1;
}

/* Hex digit -> 0x10 | value; 0 for anything else. */
static const uint8_t hex_tab[256] = {
        ['0'] = 0x10, ['1'] = 0x11, ['2'] = 0x12, ['3'] = 0x13, ['4'] = 0x14, ['5'] = 0x15,
        ['6'] = 0x16, ['7'] = 0x17, ['8'] = 0x18, ['9'] = 0x19, ['a'] = 0x1a, ['b'] = 0x1b,
        ['c'] = 0x1c, ['d'] = 0x1d, ['e'] = 0x1e, ['f'] = 0x1f, ['A'] = 0x1a, ['B'] = 0x1b,
        ['C'] = 0x1c, ['D'] = 0x1d, ['E'] = 0x1e, ['F'] = 0x1f,
};

/* Decode @n hex digits at @s into @out (n/2 bytes). */
static int hex_to(const uint8_t *s, size_t n, uint8_t *out)
{
        uint8_t valid = 0x10;

        if (n % 2 != 0)
                return -EINVAL;
        for (size_t i = 0; i < n / 2; i++) {
                uint8_t hi = hex_tab[s[2 * i]], lo = hex_tab[s[2 * i + 1]];

                valid &= hi & lo;
                out[i] = (uint8_t)(hi << 4 | (lo & 0x0f));
        }
        return valid ? 0 : -EINVAL;
}

struct token {
        const uint8_t *p;
        size_t n;
};

static int td_reserve(struct ima_reader *r, size_t need)
{
        uint8_t *n;
        size_t cap;

        if (need <= r->td_cap)
                return 0;
        cap = r->td_cap ? r->td_cap : 4096;
        while (cap < need)
                cap *= 2;
        n = realloc(r->td, cap);
        if (!n)
                return -ENOMEM;
        r->td = n;
        r->td_cap = cap;
        return 0;
}

/* Rebuild one field's serialised bytes (u32 LE length + data) at @out; return bytes written. */
static int rebuild_field(struct ima_reader *r, const struct field_def *f, const struct token *t,
                         uint8_t *out, size_t *ret_n, struct cvm_error *err)
{
        size_t len = 0;

        switch (f->kind) {
        case KIND_DIGEST_ALGO: {
                const uint8_t *colon;
                size_t plen;

                if (t->n == 0)
                        break;
                colon = memrchr(t->p, ':', t->n);
                if (!colon)
                        return entry_error(r, err, -EBADMSG,
                                           "field '%s': no ':' between algorithm and digest", f->id);
                plen = (size_t)(colon + 1 - t->p);
                memcpy(out + 4, t->p, plen);
                out[4 + plen] = '\0';
                if (hex_to(colon + 1, t->n - plen, out + 4 + plen + 1) < 0)
                        return entry_error(r, err, -EBADMSG,
                                           "field '%s': digest is not an even number of hex digits", f->id);
                len = plen + 1 + (t->n - plen) / 2;
                break;
        }
        case KIND_DIGEST:
        case KIND_HEX:
                if (hex_to(t->p, t->n, out + 4) < 0)
                        return entry_error(r, err, -EBADMSG, "field '%s': not an even number of hex digits",
                                           f->id);
                len = t->n / 2;
                break;
        case KIND_STRING:
                if (memchr(t->p, 0, t->n))
                        return entry_error(r, err, -EBADMSG, "field '%s': contains a NUL byte", f->id);
                memcpy(out + 4, t->p, t->n);
                out[4 + t->n] = '\0';
                len = t->n + 1;
                break;
        case KIND_UINT:
                assert(false); /* rejected before */
                break;
        }
        put_le32(out, (uint32_t)len);
        *ret_n = 4 + len;
        return 0;
}

/*
 * Split the fields after the template name. ima_measurements_show() prints " " before every
 * field (nothing else for an empty one), so a line has exactly one space per field. The first
 * string field (the path) may contain spaces: fields before it are split from the left, fields
 * after it (hex, never spaces) from the right.
 */
static int split_fields(struct ima_reader *r, const struct template_desc *d, const uint8_t *a,
                        const uint8_t *b, struct token *tok, struct cvm_error *err)
{
        size_t si = d->n_fields;

        for (size_t i = 0; i < d->n_fields; i++)
                if (d->fields[i]->kind == KIND_STRING) {
                        si = i;
                        break;
                }
        if (a == b || *a != ' ')
                return entry_error(r, err, -EBADMSG, "missing field 1 '%s' of template '%s'",
                                   d->fields[0]->id, d->name);
        a++;
        for (size_t i = 0; i < si; i++) {
                const uint8_t *sp = memchr(a, ' ', (size_t)(b - a));

                if (i + 1 == d->n_fields) { /* the last field takes the rest of the line */
                        if (sp)
                                return entry_error(r, err, -EBADMSG, "unexpected space in field %zu '%s'",
                                                   i + 1, d->fields[i]->id);
                        sp = b;
                } else if (!sp)
                        return entry_error(r, err, -EBADMSG, "missing field %zu '%s' of template '%s'",
                                           i + 2, d->fields[i + 1]->id, d->name);
                tok[i] = (struct token){a, (size_t)(sp - a)};
                a = sp < b ? sp + 1 : b;
        }
        if (si == d->n_fields)
                return 0;
        for (size_t i = d->n_fields - 1; i > si; i--) {
                const uint8_t *sp = memrchr(a, ' ', (size_t)(b - a));

                if (!sp)
                        return entry_error(r, err, -EBADMSG, "missing field %zu '%s' of template '%s'",
                                           i + 1, d->fields[i]->id, d->name);
                tok[i] = (struct token){sp + 1, (size_t)(b - sp - 1)};
                b = sp;
        }
        tok[si] = (struct token){a, (size_t)(b - a)};
        return 0;
}

/* Rebuild the template data of an ASCII line from its field tokens, as the kernel hashed it. */
static int rebuild_template_data(struct ima_reader *r, struct ima_entry *e, const struct token *tok,
                                 size_t line_len, struct cvm_error *err)
{
        const struct template_desc *d = &r->desc;
        size_t off = 0;
        int k;

        if (d->legacy) {
                if (tok[0].n != 2 * SHA1_SIZE)
                        return entry_error(r, err, -EBADMSG, "field 'd': %zu hex digits, expected %u",
                                           tok[0].n, 2 * SHA1_SIZE);
                if (tok[1].n >= IMA_LEGACY_NAME_SIZE)
                        return entry_error(r, err, -EBADMSG, "'ima' template file name longer than %u bytes",
                                           IMA_LEGACY_NAME_SIZE - 1);
                if (memchr(tok[1].p, 0, tok[1].n))
                        return entry_error(r, err, -EBADMSG, "field 'n': contains a NUL byte");
                memset(r->legacy, 0, sizeof(r->legacy));
                if (hex_to(tok[0].p, tok[0].n, r->legacy) < 0)
                        return entry_error(r, err, -EBADMSG, "field 'd': bad hex digit");
                memcpy(r->legacy + SHA1_SIZE, tok[1].p, tok[1].n);
                e->template_data = r->legacy;
                e->template_data_size = LEGACY_DATA_SIZE;
                decode_legacy(e, r->legacy);
                return 0;
        }

        /* Every byte of data comes from at least one character of the line, plus 5 per field. */
        k = td_reserve(r, line_len + 5 * d->n_fields + 8);
        if (k < 0)
                return cvm_error_set(err, k, "out of memory");
        for (size_t i = 0; i < d->n_fields; i++) {
                size_t n = 0;

                k = rebuild_field(r, d->fields[i], &tok[i], r->td + off, &n, err);
                if (k < 0)
                        return k;
                off += n;
        }
        if (off > IMA_TEMPLATE_DATA_MAX)
                return entry_error(r, err, -EBADMSG, "template data of %zu bytes exceeds the limit of %u",
                                   off, IMA_TEMPLATE_DATA_MAX);
        e->template_data = r->td;
        e->template_data_size = off;
        return decode_fields(r, e, d, r->td, off, false, err);
}

/* ASCII: parse the line at buf[start] into r->entry; its size (with '\n') via @ret_size. */
static int parse_ascii(struct ima_reader *r, size_t *ret_size, struct cvm_error *err)
{
        struct ima_entry *e = &r->entry;
        struct token tok[FIELDS_MAX];
        const uint8_t *line, *s, *end, *sp;
        char name[IMA_TEMPLATE_NAME_MAX + 1];
        size_t scanned = 0, len, size, th_len, name_len;
        uint32_t pcr = 0;
        int k, digits = 0;

        for (;;) {
                size_t avail = r->end - r->start;
                const uint8_t *nl = memchr(r->buf + r->start + scanned, '\n', avail - scanned);

                if (nl) {
                        len = (size_t)(nl - (r->buf + r->start));
                        size = len + 1;
                        break;
                }
                scanned = avail;
                if (avail > IMA_LINE_MAX)
                        return entry_error(r, err, -EBADMSG, "line longer than %u bytes", IMA_LINE_MAX);
                k = ensure(r, avail + 1);
                if (k == -ENODATA) {
                        if (avail == 0)
                                return 0;
                        len = size = avail; /* last line without '\n' */
                        break;
                }
                if (k < 0)
                        return read_error(r, err, k);
        }
        line = s = r->buf + r->start;
        end = line + len;

        /* "%2d ": PCR indexes below 10 are printed with a leading space. */
        if (s < end && *s == ' ')
                s++;
        for (; s < end && *s >= '0' && *s <= '9' && digits < 9; s++, digits++)
                pcr = pcr * 10 + (uint32_t)(*s - '0');
        if (digits == 0 || s == end || *s != ' ')
                return entry_error(r, err, -EBADMSG,
                                   "PCR index is not a decimal number followed by a space");
        k = check_pcr(r, pcr, err);
        if (k < 0)
                return k;
        s++;

        sp = memchr(s, ' ', (size_t)(end - s));
        if (!sp)
                return entry_error(r, err, -EBADMSG, "missing template name");
        th_len = (size_t)(sp - s);
        if (th_len != 40 && th_len != 64 && th_len != 96 && th_len != 128)
                return entry_error(
                        r, err, -EBADMSG,
                        "template hash has %zu hex digits, expected 40 (64, 96, 128 in a per-bank list)",
                        th_len);
        if (hex_to(s, th_len, r->th) < 0)
                return entry_error(r, err, -EBADMSG, "template hash is not hex");
        s = sp + 1;

        sp = memchr(s, ' ', (size_t)(end - s));
        name_len = (size_t)((sp ? sp : end) - s);
        k = check_template_name(r, s, name_len, err);
        if (k < 0)
                return k;
        memcpy(name, s, name_len);
        name[name_len] = '\0';
        template_lookup(r, name);
        s += name_len;
        if (!r->desc.known)
                return entry_error(r, err, -EOPNOTSUPP,
                                   "template '%s' is unknown: its data cannot be rebuilt from an ASCII log "
                                   "(use the binary log)",
                                   name);
        for (size_t i = 0; i < r->desc.n_fields; i++)
                if (r->desc.fields[i]->kind == KIND_UINT)
                        return entry_error(r, err, -EOPNOTSUPP,
                                           "field '%s' of template '%s' cannot be rebuilt from an ASCII log "
                                           "(use the binary log)",
                                           r->desc.fields[i]->id, name);

        entry_reset_fields(e);
        k = split_fields(r, &r->desc, s, end, tok, err);
        if (k < 0)
                return k;
        k = rebuild_template_data(r, e, tok, len, err);
        if (k < 0)
                return k;

        e->pcr = pcr;
        e->template_hash = r->th;
        e->template_hash_size = th_len / 2;
        e->template_name = r->desc.name;
        e->line = r->pos.entries + 1;
        *ret_size = size;
        return 1;
}

static int parse_entry(struct ima_reader *r, size_t *ret_size, struct cvm_error *err)
{
        if (r->pos.format == IMA_FORMAT_AUTO) {
                int k = ensure(r, 1);
                uint8_t c;

                if (k == -ENODATA)
                        return 0;
                if (k < 0)
                        return read_error(r, err, k);
                /* ASCII starts with a PCR index ("10 " or " 9 "); binary with a u32 below 24. */
                c = r->buf[r->start];
                r->pos.format = (c >= '0' && c <= '9') || c == ' ' ? IMA_FORMAT_ASCII : IMA_FORMAT_BINARY;
        }
        r->entry.number = r->pos.entries;
        r->entry.offset = r->pos.offset;
        if (r->pos.format == IMA_FORMAT_ASCII)
                return parse_ascii(r, ret_size, err);
        return parse_binary(r, ret_size, err);
}

/*
 * Digest with a context set up once in reader_start(): a NULL type re-initialises it with its own
 * digest, which skips OpenSSL's per-call ENGINE lookup and algorithm-context reallocation.
 */
static int md(EVP_MD_CTX *ctx, const void *a, size_t na, const void *b, size_t nb, uint8_t *out)
{
        unsigned int len;

        if (EVP_DigestInit_ex2(ctx, NULL, NULL) != 1 || EVP_DigestUpdate(ctx, a, na) != 1 ||
            (b && EVP_DigestUpdate(ctx, b, nb) != 1) || EVP_DigestFinal_ex(ctx, out, &len) != 1)
                return -EIO;
        return 0;
}

/*
 * A per-bank ASCII list carries H_bank(template data). Several bank algorithms share a digest
 * size, so try each; sha256 was already computed for the SHA-256 bank.
 */
static int identify_bank(struct ima_entry *e, const uint8_t *c256)
{
        static const uint16_t cands32[] = {TPM_ALG_SHA256, TPM_ALG_SM3_256, TPM_ALG_SHA3_256};
        static const uint16_t cands48[] = {TPM_ALG_SHA384, TPM_ALG_SHA3_384};
        static const uint16_t cands64[] = {TPM_ALG_SHA512, TPM_ALG_SHA3_512};
        const uint16_t *c;
        size_t n;
        uint8_t out[HASH_MAX_SIZE];

        switch (e->template_hash_size) {
        case 32:
                c = cands32, n = ELEMENTSOF(cands32);
                break;
        case 48:
                c = cands48, n = ELEMENTSOF(cands48);
                break;
        default:
                c = cands64, n = ELEMENTSOF(cands64);
                break;
        }
        e->template_hash_alg = NULL;
        e->template_hash_valid = false;
        for (size_t i = 0; i < n; i++) {
                const struct hash_alg *alg = hash_alg_by_tpm_id(c[i]);
                int k;

                if (c[i] == TPM_ALG_SHA256)
                        memcpy(out, c256, SHA256_SIZE);
                else {
                        k = hash_digest(alg, e->template_data, e->template_data_size, out);
                        if (k == -EOPNOTSUPP)
                                continue;
                        if (k < 0)
                                return k;
                }
                if (i == 0)
                        memcpy(e->computed_hash, out, alg->size);
                if (memcmp(out, e->template_hash, alg->size) == 0) {
                        e->template_hash_alg = alg;
                        e->template_hash_valid = true;
                        memcpy(e->computed_hash, out, alg->size);
                        return 0;
                }
        }
        return 0;
}

static int verify_and_replay(struct ima_reader *r, struct ima_entry *e, struct cvm_error *err)
{
        uint8_t c1[SHA1_SIZE], c256[SHA256_SIZE];
        uint32_t pcr = e->pcr;
        int k;

        memset(e->computed_hash, 0, sizeof(e->computed_hash));
        e->violation = is_all_zero(e->template_hash, e->template_hash_size);
        if (e->violation) {
                /* ima_add_violation(): a zero template hash is logged, 0xff.. is extended. */
                e->template_hash_valid = true;
                e->template_hash_alg =
                        e->template_hash_size == SHA1_SIZE ? hash_alg_by_tpm_id(TPM_ALG_SHA1) : NULL;
                memset(e->sha1_extended, 0xff, sizeof(e->sha1_extended));
                memset(e->sha256_extended, 0xff, sizeof(e->sha256_extended));
        } else {
                if (md(r->ctx1, e->template_data, e->template_data_size, NULL, 0, c1) < 0 ||
                    md(r->ctx256, e->template_data, e->template_data_size, NULL, 0, c256) < 0)
                        return cvm_error_set(err, -EIO, "OpenSSL digest failed");
                if (e->template_hash_size == SHA1_SIZE) {
                        e->template_hash_alg = hash_alg_by_tpm_id(TPM_ALG_SHA1);
                        memcpy(e->computed_hash, c1, SHA1_SIZE);
                        e->template_hash_valid = memcmp(c1, e->template_hash, SHA1_SIZE) == 0;
                        /* The TPM saw the logged template hash, even if the data disagrees. */
                        memcpy(e->sha1_extended, e->template_hash, SHA1_SIZE);
                } else {
                        k = identify_bank(e, c256);
                        if (k < 0)
                                return cvm_error_set(err, k, "OpenSSL digest failed");
                        memcpy(e->sha1_extended, c1, SHA1_SIZE);
                }
                memcpy(e->sha256_extended, c256, SHA256_SIZE);
        }
        if (md(r->ctx1, r->pos.sha1[pcr], SHA1_SIZE, e->sha1_extended, SHA1_SIZE, r->pos.sha1[pcr]) < 0 ||
            md(r->ctx256, r->pos.sha256[pcr], SHA256_SIZE, e->sha256_extended, SHA256_SIZE,
               r->pos.sha256[pcr]) < 0)
                return cvm_error_set(err, -EIO, "OpenSSL digest failed");
        r->pos.pcr_mask |= 1u << pcr;
        return 0;
}

static void consume(struct ima_reader *r, size_t size)
{
        const struct ima_entry *e = &r->entry;

        r->start += size;
        r->pos.last_offset = r->pos.offset;
        r->pos.offset += size;
        r->pos.entries++;
        /* Keep the unused tail zero: positions compare (and serialise) canonically. */
        memset(r->pos.last_template_hash, 0, sizeof(r->pos.last_template_hash));
        memcpy(r->pos.last_template_hash, e->template_hash, e->template_hash_size);
        r->pos.last_template_hash_size = (uint8_t)e->template_hash_size;
}

int ima_reader_next(struct ima_reader *r, const struct ima_entry **ret_entry, struct cvm_error *err)
{
        struct cvm_error local = {};
        size_t size = 0;
        int k;

        assert(r);
        if (r->failed < 0)
                return cvm_error_set(err, r->failed, "%s", r->failure.message);
        k = parse_entry(r, &size, &local);
        if (k == 0)
                return 0;
        if (k > 0)
                k = verify_and_replay(r, &r->entry, &local);
        if (k < 0) {
                r->failed = k;
                r->failure = local;
                if (!r->failure.message[0])
                        (void)snprintf(r->failure.message, sizeof(r->failure.message), "%s", strerror(-k));
                return cvm_error_set(err, k, "%s", r->failure.message);
        }
        consume(r, size);
        *ret_entry = &r->entry;
        return 1;
}

void ima_reader_position(const struct ima_reader *r, struct ima_position *ret)
{
        *ret = r->pos;
}

enum ima_format ima_reader_format(const struct ima_reader *r)
{
        return r->pos.format;
}

struct ima_reader *ima_reader_free(struct ima_reader *r)
{
        if (!r)
                return NULL;
        if (!r->memory)
                free(r->buf);
        free(r->td);
        EVP_MD_CTX_free(r->ctx1);
        EVP_MD_CTX_free(r->ctx256);
        EVP_MD_free(r->sha1);
        EVP_MD_free(r->sha256);
        free(r);
        return NULL;
}

void ima_position_init(struct ima_position *p)
{
        memset(p, 0, sizeof(*p));
        p->format = IMA_FORMAT_AUTO;
}

static int check_resume(const struct ima_position *p, enum ima_format format, struct cvm_error *err)
{
        if (p->format != IMA_FORMAT_AUTO && p->format != IMA_FORMAT_ASCII && p->format != IMA_FORMAT_BINARY)
                return cvm_error_set(err, -EINVAL, "resume position: bad format");
        if (format != IMA_FORMAT_AUTO && p->format != IMA_FORMAT_AUTO && format != p->format)
                return cvm_error_set(err, -EINVAL, "resume position is for a %s log, not %s",
                                     ima_format_to_string(p->format), ima_format_to_string(format));
        if (p->pcr_mask >> IMA_PCR_COUNT)
                return cvm_error_set(err, -EINVAL, "resume position: PCR mask out of range");
        if (p->entries == 0) {
                if (p->offset != 0 || p->pcr_mask != 0)
                        return cvm_error_set(err, -EINVAL,
                                             "resume position: no entries but offset or PCRs set");
                return 0;
        }
        if (p->format == IMA_FORMAT_AUTO || p->last_offset >= p->offset ||
            p->offset - p->last_offset > SIZE_MAX ||
            (p->last_template_hash_size != 20 && p->last_template_hash_size != 32 &&
             p->last_template_hash_size != 48 && p->last_template_hash_size != 64))
                return cvm_error_set(err, -EINVAL, "resume position is inconsistent");
        return 0;
}

/* Move the input to @off bytes past its start (the descriptor's position at creation). */
static int skip_to(struct ima_reader *r, uint64_t off, struct cvm_error *err)
{
        off_t base;

        if (r->memory) {
                if (off > r->end)
                        return cvm_error_set(err, -ESTALE,
                                             "the log has %zu bytes, fewer than the resume offset %" PRIu64,
                                             r->end, off);
                r->start = (size_t)off;
                return 0;
        }
        base = lseek(r->fd, 0, SEEK_CUR);
        if (base >= 0) {
                if (off > (uint64_t)INT64_MAX - (uint64_t)base ||
                    lseek(r->fd, base + (off_t)off, SEEK_SET) < 0)
                        return cvm_error_set(err, -errno ?: -EINVAL, "cannot seek to offset %" PRIu64, off);
                return 0;
        }
        if (errno != ESPIPE)
                return cvm_error_set(err, -errno, "cannot seek: %s", strerror(errno));
        while (off > 0) {
                size_t chunk = off < r->cap ? (size_t)off : r->cap;
                int k = ensure(r, chunk);

                if (k == -ENODATA)
                        return cvm_error_set(err, -ESTALE, "the log ends before the resume offset");
                if (k < 0)
                        return cvm_error_set(err, k, "read failed: %s", strerror(-k));
                r->start += chunk;
                off -= chunk;
        }
        return 0;
}

static int reader_start(struct ima_reader *r, enum ima_format format, const struct ima_position *resume,
                        struct cvm_error *err)
{
        size_t size = 0;
        int k;

        r->ctx1 = EVP_MD_CTX_new();
        r->ctx256 = EVP_MD_CTX_new();
        r->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
        r->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (!r->ctx1 || !r->ctx256 || !r->sha1 || !r->sha256 ||
            EVP_DigestInit_ex2(r->ctx1, r->sha1, NULL) != 1 ||
            EVP_DigestInit_ex2(r->ctx256, r->sha256, NULL) != 1)
                return cvm_error_set(err, -ENOMEM, "cannot set up SHA-1/SHA-256 digests");
        ima_position_init(&r->pos);
        r->pos.format = format;
        if (!resume)
                return 0;
        k = check_resume(resume, format, err);
        if (k < 0)
                return k;
        if (resume->entries == 0) {
                if (resume->format != IMA_FORMAT_AUTO)
                        r->pos.format = resume->format;
                return 0;
        }

        /* Re-read the last consumed entry: it must still be there, unchanged, ending at offset. */
        k = skip_to(r, resume->last_offset, err);
        if (k < 0)
                return k;
        r->pos.format = resume->format;
        r->pos.big_endian = resume->big_endian;
        r->pos.offset = resume->last_offset;
        r->pos.entries = resume->entries - 1;
        k = parse_entry(r, &size, err);
        if (k < 0)
                return k;
        if (k == 0)
                return cvm_error_set(err, -ESTALE,
                                     "the log ends before the resume position (entry %" PRIu64
                                     " at offset 0x%" PRIx64 ")",
                                     resume->entries - 1, resume->last_offset);
        if (size != resume->offset - resume->last_offset ||
            r->entry.template_hash_size != resume->last_template_hash_size ||
            memcmp(r->entry.template_hash, resume->last_template_hash, resume->last_template_hash_size) != 0)
                return cvm_error_set(err, -ESTALE,
                                     "entry %" PRIu64 " at offset 0x%" PRIx64
                                     " differs from the resume position: "
                                     "the log was replaced (reboot?)",
                                     resume->entries - 1, resume->last_offset);
        r->start += size;
        r->pos = *resume;
        return 0;
}

int ima_reader_new(int fd, enum ima_format format, const struct ima_position *resume,
                   struct ima_reader **ret, struct cvm_error *err)
{
        _cleanup_(ima_reader_freep) struct ima_reader *r = NULL;
        int k;

        assert(fd >= 0);
        assert(ret);
        r = calloc(1, sizeof(*r));
        if (!r)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r->fd = fd;
        r->cap = READ_CHUNK;
        r->max_cap = IMA_LINE_MAX + 1;
        r->buf = malloc(r->cap);
        if (!r->buf)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        k = reader_start(r, format, resume, err);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

int ima_reader_new_from_memory(const void *data, size_t size, enum ima_format format,
                               const struct ima_position *resume, struct ima_reader **ret,
                               struct cvm_error *err)
{
        _cleanup_(ima_reader_freep) struct ima_reader *r = NULL;
        int k;

        assert(data || size == 0);
        assert(ret);
        r = calloc(1, sizeof(*r));
        if (!r)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r->fd = -1;
        r->memory = true;
        r->buf = (uint8_t *)(uintptr_t)data; /* never written in memory mode */
        r->cap = r->end = r->max_cap = size;
        r->eof = true;
        k = reader_start(r, format, resume, err);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

const char *ima_format_to_string(enum ima_format f)
{
        switch (f) {
        case IMA_FORMAT_ASCII:
                return "ascii";
        case IMA_FORMAT_BINARY:
                return "binary";
        default:
                return "unknown";
        }
}

int ima_format_from_string(const char *s, enum ima_format *ret)
{
        if (strcmp(s, "ascii") == 0)
                *ret = IMA_FORMAT_ASCII;
        else if (strcmp(s, "binary") == 0)
                *ret = IMA_FORMAT_BINARY;
        else if (strcmp(s, "auto") == 0)
                *ret = IMA_FORMAT_AUTO;
        else
                return -EINVAL;
        return 0;
}

static int add_hex(json_object *o, const char *key, const void *p, size_t n)
{
        char hex[2 * HASH_MAX_SIZE + 1];
        json_object *s;

        assert(n <= HASH_MAX_SIZE);
        hex_encode_to(hex, p, n);
        s = json_object_new_string(hex);
        if (!s || json_object_object_add(o, key, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

static int add_u64(json_object *o, const char *key, uint64_t v)
{
        json_object *i = json_object_new_int64((int64_t)v);

        if (!i || json_object_object_add(o, key, i) < 0) {
                json_object_put(i);
                return -ENOMEM;
        }
        return 0;
}

int ima_position_to_json(const struct ima_position *p, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *pcrs, *b1, *b256, *v;

        if (!o)
                return -ENOMEM;
        v = json_object_new_string(ima_format_to_string(p->format));
        if (!v || json_object_object_add(o, "format", v) < 0)
                return json_object_put(v), -ENOMEM;
        v = json_object_new_boolean(p->big_endian);
        if (!v || json_object_object_add(o, "big_endian", v) < 0)
                return json_object_put(v), -ENOMEM;
        if (add_u64(o, "offset", p->offset) < 0 || add_u64(o, "entries", p->entries) < 0 ||
            add_u64(o, "last_offset", p->last_offset) < 0 ||
            add_hex(o, "last_template_hash", p->last_template_hash, p->last_template_hash_size) < 0)
                return -ENOMEM;
        pcrs = json_object_new_object();
        if (!pcrs || json_object_object_add(o, "pcrs", pcrs) < 0)
                return json_object_put(pcrs), -ENOMEM;
        b1 = json_object_new_object();
        if (!b1 || json_object_object_add(pcrs, "sha1", b1) < 0)
                return json_object_put(b1), -ENOMEM;
        b256 = json_object_new_object();
        if (!b256 || json_object_object_add(pcrs, "sha256", b256) < 0)
                return json_object_put(b256), -ENOMEM;
        for (unsigned i = 0; i < IMA_PCR_COUNT; i++) {
                char key[4];

                if (!(p->pcr_mask & (1u << i)))
                        continue;
                (void)snprintf(key, sizeof(key), "%u", i);
                if (add_hex(b1, key, p->sha1[i], 20) < 0 || add_hex(b256, key, p->sha256[i], 32) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static int get_u64(json_object *o, const char *key, uint64_t *ret, struct cvm_error *err)
{
        json_object *v;
        int64_t i;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return cvm_error_set(err, -EBADMSG, "position: \"%s\" is missing or not an integer", key);
        i = json_object_get_int64(v);
        if (i < 0 || i == INT64_MAX)
                return cvm_error_set(err, -EBADMSG, "position: \"%s\" is out of range", key);
        *ret = (uint64_t)i;
        return 0;
}

static int get_hex(json_object *v, uint8_t *out, size_t max, size_t *ret_n)
{
        const char *s;
        size_t n;

        if (!v || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        s = json_object_get_string(v);
        n = strlen(s);
        if (n > 2 * max || hex_to((const uint8_t *)s, n, out) < 0)
                return -EBADMSG;
        *ret_n = n / 2;
        return 0;
}

/* One bank object: keys "0".."23", values hex of @size bytes, stored at @values + i * @size. */
static int get_bank(json_object *pcrs, const char *bank, size_t size, uint8_t *values, uint32_t *mask,
                    struct cvm_error *err)
{
        json_object *b;

        if (!json_object_object_get_ex(pcrs, bank, &b) || !json_object_is_type(b, json_type_object))
                return cvm_error_set(err, -EBADMSG, "position: \"pcrs.%s\" is missing", bank);
        json_object_object_foreach (b, key, val) {
                uint8_t tmp[HASH_MAX_SIZE];
                char *endp = NULL;
                unsigned long i;
                size_t n = 0;

                errno = 0;
                i = strtoul(key, &endp, 10);
                if (errno != 0 || !*key || *endp || i >= IMA_PCR_COUNT || (key[0] == '0' && key[1]) ||
                    key[0] == '-' || key[0] == '+' || key[0] == ' ')
                        return cvm_error_set(err, -EBADMSG, "position: bad PCR index \"%s\" in %s", key,
                                             bank);
                if (get_hex(val, tmp, sizeof(tmp), &n) < 0 || n != size)
                        return cvm_error_set(err, -EBADMSG, "position: bad %s value of PCR %lu", bank, i);
                memcpy(values + i * size, tmp, size);
                *mask |= 1u << i;
        }
        return 0;
}

int ima_position_from_json(json_object *o, struct ima_position *ret, struct cvm_error *err)
{
        struct ima_position p;
        json_object *v, *pcrs;
        uint32_t mask1 = 0, mask256 = 0;
        size_t n;
        int k;

        ima_position_init(&p);
        if (!json_object_is_type(o, json_type_object))
                return cvm_error_set(err, -EBADMSG, "position is not a JSON object");
        if (!json_object_object_get_ex(o, "format", &v) || !json_object_is_type(v, json_type_string))
                return cvm_error_set(err, -EBADMSG, "position: \"format\" is missing");
        if (strcmp(json_object_get_string(v), "unknown") != 0 &&
            ima_format_from_string(json_object_get_string(v), &p.format) < 0)
                return cvm_error_set(err, -EBADMSG, "position: bad \"format\"");
        if (!json_object_object_get_ex(o, "big_endian", &v) || !json_object_is_type(v, json_type_boolean))
                return cvm_error_set(err, -EBADMSG, "position: \"big_endian\" is missing");
        p.big_endian = json_object_get_boolean(v);
        k = get_u64(o, "offset", &p.offset, err);
        if (k >= 0)
                k = get_u64(o, "entries", &p.entries, err);
        if (k >= 0)
                k = get_u64(o, "last_offset", &p.last_offset, err);
        if (k < 0)
                return k;
        if (!json_object_object_get_ex(o, "last_template_hash", &v) ||
            get_hex(v, p.last_template_hash, sizeof(p.last_template_hash), &n) < 0)
                return cvm_error_set(err, -EBADMSG, "position: bad \"last_template_hash\"");
        p.last_template_hash_size = (uint8_t)n;
        if (!json_object_object_get_ex(o, "pcrs", &pcrs) || !json_object_is_type(pcrs, json_type_object))
                return cvm_error_set(err, -EBADMSG, "position: \"pcrs\" is missing");
        k = get_bank(pcrs, "sha1", 20, &p.sha1[0][0], &mask1, err);
        if (k < 0)
                return k;
        k = get_bank(pcrs, "sha256", 32, &p.sha256[0][0], &mask256, err);
        if (k < 0)
                return k;
        if (mask1 != mask256)
                return cvm_error_set(err, -EBADMSG,
                                     "position: the sha1 and sha256 banks list different PCRs");
        p.pcr_mask = mask1;
        k = check_resume(&p, IMA_FORMAT_AUTO, err);
        if (k < 0)
                return cvm_error_set(err, -EBADMSG, "position is inconsistent");
        *ret = p;
        return 0;
}
