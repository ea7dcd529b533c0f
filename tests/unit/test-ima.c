/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IMA log parser: own fixtures (tests/fixtures/ima/, made by an independent Python serialiser,
 * see make-fixtures.py) and logs built here for every error path, big-endian logs, per-bank
 * ASCII lists, buffer growth and resuming.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "testlib.h"

#include "cleanup.h"
#include "hashalg.h"
#include "ima.h"
#include "util.h"

#define FIXTURES "tests/fixtures/ima/"

/* ---- small growable byte buffer for building logs ---- */

struct bytes {
        uint8_t *p;
        size_t n;
};

static void bytes_add(struct bytes *b, const void *p, size_t n)
{
        b->p = realloc(b->p, b->n + n + 1);
        assert_non_null(b->p);
        if (n)
                memcpy(b->p + b->n, p, n);
        b->n += n;
}

static void bytes_u32(struct bytes *b, uint32_t v, bool be)
{
        uint8_t x[4];

        if (be) {
                x[0] = (uint8_t)(v >> 24), x[1] = (uint8_t)(v >> 16), x[2] = (uint8_t)(v >> 8),
                x[3] = (uint8_t)v;
        } else {
                x[0] = (uint8_t)v, x[1] = (uint8_t)(v >> 8), x[2] = (uint8_t)(v >> 16),
                x[3] = (uint8_t)(v >> 24);
        }
        bytes_add(b, x, 4);
}

static void bytes_str(struct bytes *b, const char *s)
{
        bytes_add(b, s, strlen(s));
}

static void bytes_done(struct bytes *b)
{
        free(b->p);
        b->p = NULL;
        b->n = 0;
}

/* One length-prefixed template field. */
static void field(struct bytes *td, const void *p, size_t n, bool be)
{
        bytes_u32(td, (uint32_t)n, be);
        bytes_add(td, p, n);
}

static void field_dng(struct bytes *td, const char *algo, size_t digest_size, uint8_t fill, bool be)
{
        uint8_t buf[256];
        size_t l = strlen(algo);

        memcpy(buf, algo, l);
        buf[l] = ':';
        buf[l + 1] = '\0';
        memset(buf + l + 2, fill, digest_size);
        field(td, buf, l + 2 + digest_size, be);
}

static void field_str(struct bytes *td, const char *s, bool be)
{
        field(td, s, strlen(s) + 1, be);
}

static void sha1_of(const void *p, size_t n, uint8_t out[20])
{
        assert_int_equal(hash_digest(hash_alg_by_tpm_id(TPM_ALG_SHA1), p, n, out), 0);
}

/* A binary entry; @th NULL: the correct sha1 of the data. */
static void bin_entry(struct bytes *log, uint32_t pcr, const char *name, const struct bytes *td,
                      const uint8_t *th, bool be)
{
        uint8_t h[20];

        if (!th) {
                sha1_of(td->p, td->n, h);
                th = h;
        }
        bytes_u32(log, pcr, be);
        bytes_add(log, th, 20);
        bytes_u32(log, (uint32_t)strlen(name), be);
        bytes_str(log, name);
        bytes_u32(log, (uint32_t)td->n, be);
        bytes_add(log, td->p, td->n);
}

static void ima_ng_entry(struct bytes *log, uint32_t pcr, const char *path, uint8_t fill, bool be)
{
        struct bytes td = {};

        field_dng(&td, "sha256", 32, fill, be);
        field_str(&td, path, be);
        bin_entry(log, pcr, "ima-ng", &td, NULL, be);
        bytes_done(&td);
}

/* An ASCII ima-ng line with a correct template hash. */
static void ascii_ng_line(struct bytes *log, uint32_t pcr, const char *path, uint8_t fill)
{
        struct bytes td = {};
        uint8_t h[20];
        char hex[65], line[4096];
        uint8_t dg[32];

        field_dng(&td, "sha256", 32, fill, false);
        field_str(&td, path, false);
        sha1_of(td.p, td.n, h);
        memset(dg, fill, sizeof(dg));
        hex_encode_to(hex, dg, 32);
        snprintf(line, sizeof(line), "%2u ", pcr);
        bytes_str(log, line);
        hex_encode_to(line, h, 20);
        bytes_str(log, line);
        snprintf(line, sizeof(line), " ima-ng sha256:%s %s\n", hex, path);
        bytes_str(log, line);
        bytes_done(&td);
}

/* ---- running a reader to the end ---- */

struct result {
        int r;
        uint64_t entries, violations, invalid, undecoded;
        struct ima_position pos;
        enum ima_format format;
        struct cvm_error err;
};

static void run_reader(struct ima_reader *reader, struct result *res)
{
        const struct ima_entry *e;

        for (;;) {
                res->r = ima_reader_next(reader, &e, &res->err);
                if (res->r <= 0)
                        break;
                res->entries++;
                res->violations += e->violation;
                res->invalid += !e->template_hash_valid;
                res->undecoded += !e->fields_decoded;
        }
        ima_reader_position(reader, &res->pos);
        res->format = ima_reader_format(reader);
}

static void run_mem(const void *p, size_t n, enum ima_format fmt, const struct ima_position *resume,
                    struct result *res)
{
        _cleanup_(ima_reader_freep) struct ima_reader *reader = NULL;

        memset(res, 0, sizeof(*res));
        res->r = ima_reader_new_from_memory(p, n, fmt, resume, &reader, &res->err);
        if (res->r < 0)
                return;
        run_reader(reader, res);
}

static void run_fd(int fd, enum ima_format fmt, const struct ima_position *resume, struct result *res)
{
        _cleanup_(ima_reader_freep) struct ima_reader *reader = NULL;

        memset(res, 0, sizeof(*res));
        res->r = ima_reader_new(fd, fmt, resume, &reader, &res->err);
        if (res->r < 0)
                return;
        run_reader(reader, res);
}

static void run_file(const char *path, struct result *res)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                fail_msg("cannot open %s (run from the top of the source tree)", path);
        run_fd(fd, IMA_FORMAT_AUTO, NULL, res);
        close(fd);
}

static void expect_error(const void *p, size_t n, int code, const char *where, const char *what)
{
        struct result res;

        run_mem(p, n, IMA_FORMAT_AUTO, NULL, &res);
        if (res.r != code)
                fail_msg("expected %d, got %d (%s)", code, res.r, res.err.message);
        if (where && !strstr(res.err.message, where))
                fail_msg("message \"%s\" does not name \"%s\"", res.err.message, where);
        if (what && !strstr(res.err.message, what))
                fail_msg("message \"%s\" does not say \"%s\"", res.err.message, what);
}

static void pcr_hex(const struct ima_position *p, unsigned pcr, char out1[41], char out256[65])
{
        hex_encode_to(out1, p->sha1[pcr], 20);
        hex_encode_to(out256, p->sha256[pcr], 32);
}

/* ---- fixtures with expected values from the independent serialiser ---- */

static void test_fixtures(void **state)
{
        FILE *f = fopen(FIXTURES "expected.txt", "r");
        char line[2048];
        int checked = 0;

        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
                char *save = NULL, *name = strtok_r(line, " \n", &save);
                static const char *const exts[] = {".bin", ".ascii"};

                for (size_t x = 0; x < 2; x++) {
                        char path[512], *tok, *copy;
                        struct result res;

                        snprintf(path, sizeof(path), FIXTURES "%s%s", name, exts[x]);
                        run_file(path, &res);
                        assert_int_equal(res.r, 0);
                        assert_int_equal(res.format, x == 0 ? IMA_FORMAT_BINARY : IMA_FORMAT_ASCII);
                        copy = strdup(save);
                        for (char *s2 = NULL, *t = strtok_r(copy, " \n", &s2); t;
                             t = strtok_r(NULL, " \n", &s2)) {
                                char key[64], val[200], got1[41], got256[65];
                                unsigned pcr;

                                tok = strchr(t, '=');
                                assert_non_null(tok);
                                snprintf(key, sizeof(key), "%.*s", (int)(tok - t), t);
                                snprintf(val, sizeof(val), "%s", tok + 1);
                                if (strcmp(key, "entries") == 0)
                                        assert_int_equal(res.entries, strtoull(val, NULL, 10));
                                else if (strcmp(key, "violations") == 0)
                                        assert_int_equal(res.violations, strtoull(val, NULL, 10));
                                else if (strcmp(key, "invalid") == 0)
                                        assert_int_equal(res.invalid, strtoull(val, NULL, 10));
                                else if (sscanf(key, "pcr%u_", &pcr) == 1) {
                                        assert_true(pcr < IMA_PCR_COUNT);
                                        assert_true(res.pos.pcr_mask & (1u << pcr));
                                        pcr_hex(&res.pos, pcr, got1, got256);
                                        assert_string_equal(strstr(key, "sha256") ? got256 : got1, val);
                                } else
                                        fail_msg("unknown key %s", key);
                                checked++;
                        }
                        free(copy);
                }
        }
        fclose(f);
        assert_true(checked >= 20);
}

static void test_fixture_errors(void **state)
{
        static const struct {
                const char *file, *where, *what;
                int code;
        } cases[] = {
                {"bad-truncated.bin", "entry 1 at offset 0x5c", "truncated", -EBADMSG},
                {"bad-huge-length.bin", "entry 1 at offset 0x5c", "exceeds the limit", -EBADMSG},
                {"bad-pcr.bin", "entry 1 at offset 0x5c", "PCR index 24", -EBADMSG},
                {"bad-hex.ascii", "line 2 (entry 1)", "hex", -EBADMSG},
                {"bad-missing-field.ascii", "line 2 (entry 1)", "missing field 2 'n-ng'", -EBADMSG},
                {"bad-unknown-template.ascii", "line 2 (entry 1)", "'my-tmpl' is unknown", -EOPNOTSUPP},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ uint8_t *data = NULL;
                char path[256];
                size_t n;

                snprintf(path, sizeof(path), FIXTURES "%s", cases[i].file);
                assert_int_equal(read_file(path, 1 << 20, &data, &n, NULL), 0);
                expect_error(data, n, cases[i].code, cases[i].where, cases[i].what);
        }
}

/* The ASCII and binary forms of the same log rebuild the same template data and fields. */
static void test_ascii_equals_binary(void **state)
{
        static const char *const names[] = {"templates", "legacy-ima", "invalid-hash"};

        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                _cleanup_free_ uint8_t *bin = NULL, *asc = NULL;
                _cleanup_(ima_reader_freep) struct ima_reader *rb = NULL, *ra = NULL;
                char path[256];
                size_t nb, na;
                int kb, ka;

                snprintf(path, sizeof(path), FIXTURES "%s.bin", names[i]);
                assert_int_equal(read_file(path, 1 << 20, &bin, &nb, NULL), 0);
                snprintf(path, sizeof(path), FIXTURES "%s.ascii", names[i]);
                assert_int_equal(read_file(path, 1 << 20, &asc, &na, NULL), 0);
                assert_int_equal(ima_reader_new_from_memory(bin, nb, IMA_FORMAT_BINARY, NULL, &rb, NULL), 0);
                assert_int_equal(ima_reader_new_from_memory(asc, na, IMA_FORMAT_ASCII, NULL, &ra, NULL), 0);
                for (;;) {
                        const struct ima_entry *eb, *ea;

                        kb = ima_reader_next(rb, &eb, NULL);
                        ka = ima_reader_next(ra, &ea, NULL);
                        assert_int_equal(kb, ka);
                        if (kb <= 0)
                                break;
                        assert_int_equal(eb->pcr, ea->pcr);
                        assert_string_equal(eb->template_name, ea->template_name);
                        assert_int_equal(eb->template_data_size, ea->template_data_size);
                        assert_memory_equal(eb->template_data, ea->template_data, eb->template_data_size);
                        assert_int_equal(eb->template_hash_valid, ea->template_hash_valid);
                        assert_int_equal(eb->violation, ea->violation);
                        assert_string_equal(eb->digest_algo, ea->digest_algo);
                        assert_string_equal(eb->digest_type, ea->digest_type);
                        assert_int_equal(eb->digest_size, ea->digest_size);
                        assert_string_equal(eb->path, ea->path);
                        assert_int_equal(eb->sig_size, ea->sig_size);
                        assert_int_equal(!!eb->sig, !!ea->sig);
                        assert_int_equal(eb->buf_size, ea->buf_size);
                        assert_int_equal(eb->modsig_size, ea->modsig_size);
                        assert_int_equal(eb->modsig_digest_size, ea->modsig_digest_size);
                        assert_int_equal(ea->line, ea->number + 1);
                        assert_int_equal(eb->line, 0);
                }
                assert_int_equal(kb, 0);
        }
}

static void test_decoded_fields(void **state)
{
        _cleanup_(ima_reader_freep) struct ima_reader *r = NULL;
        _cleanup_free_ uint8_t *asc = NULL;
        const struct ima_entry *e;
        size_t n;

        assert_int_equal(read_file(FIXTURES "templates.ascii", 1 << 20, &asc, &n, NULL), 0);
        assert_int_equal(ima_reader_new_from_memory(asc, n, IMA_FORMAT_AUTO, NULL, &r, NULL), 0);

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* ima-ng boot_aggregate */
        assert_string_equal(e->template_name, "ima-ng");
        assert_string_equal(e->path, "boot_aggregate");
        assert_string_equal(e->digest_algo, "sha256");
        assert_int_equal(e->digest_size, 32);
        assert_null(e->sig);
        assert_int_equal(e->offset, 0);

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* ima-sig, path with a space */
        assert_string_equal(e->path, "/usr/bin/has space");
        assert_int_equal(e->path_len, 18);
        assert_int_equal(e->sig_size, 7);
        assert_memory_equal(e->sig, "\x03\x02\x04\xaa\xbb\xcc\xdd", 7);

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* ima-sig, sha1 digest, empty sig */
        assert_string_equal(e->digest_algo, "sha1");
        assert_int_equal(e->digest_size, 20);
        assert_non_null(e->sig);
        assert_int_equal(e->sig_size, 0);

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* ima-buf */
        assert_int_equal(e->buf_size, 17);
        assert_memory_equal(e->buf, "root=/dev/vda1 ro", 17);
        assert_string_equal(e->path, "kexec-cmdline");

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* ima-modsig with appended signature */
        assert_string_equal(e->modsig_digest_algo, "sha256");
        assert_int_equal(e->modsig_digest_size, 32);
        assert_int_equal(e->modsig_size, 8);

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* ima-modsig without one */
        assert_null(e->modsig_digest);
        assert_int_equal(e->modsig_size, 0);

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* ima-ngv2 */
        assert_string_equal(e->digest_type, "verity");
        assert_string_equal(e->digest_algo, "sha256");

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* ima-sigv2 */
        assert_string_equal(e->digest_type, "ima");
        assert_string_equal(e->digest_algo, "sha512");
        assert_int_equal(e->digest_size, 64);

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* custom "d-ng|n-ng|buf" */
        assert_string_equal(e->template_name, "d-ng|n-ng|buf");
        assert_int_equal(e->buf_size, 2);

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* PCR 11 */
        assert_int_equal(e->pcr, 11);
        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* " 9 ": leading space */
        assert_int_equal(e->pcr, 9);

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* violation */
        assert_true(e->violation);
        assert_true(e->template_hash_valid);
        assert_true(is_all_ff(e->sha1_extended, 20));
        assert_true(is_all_ff(e->sha256_extended, 32));

        assert_int_equal(ima_reader_next(r, &e, NULL), 1); /* unknown digest algorithm */
        assert_string_equal(e->digest_algo, "unknown");
        assert_int_equal(e->digest_size, 29);
        assert_true(e->template_hash_valid);

        assert_int_equal(ima_reader_next(r, &e, NULL), 0);
        assert_int_equal(ima_reader_next(r, &e, NULL), 0);
}

static void test_legacy_template(void **state)
{
        _cleanup_(ima_reader_freep) struct ima_reader *r = NULL;
        _cleanup_free_ uint8_t *bin = NULL;
        const struct ima_entry *e;
        size_t n;

        assert_int_equal(read_file(FIXTURES "legacy-ima.bin", 1 << 20, &bin, &n, NULL), 0);
        assert_int_equal(ima_reader_new_from_memory(bin, n, IMA_FORMAT_AUTO, NULL, &r, NULL), 0);
        assert_int_equal(ima_reader_next(r, &e, NULL), 1);
        assert_string_equal(e->template_name, "ima");
        assert_int_equal(e->template_data_size, 20 + 256);
        assert_string_equal(e->path, "boot_aggregate");
        assert_string_equal(e->digest_algo, "sha1");
        assert_true(e->template_hash_valid);
        for (int i = 0; i < 3; i++)
                assert_int_equal(ima_reader_next(r, &e, NULL), 1);
        assert_int_equal(e->path_len, 255); /* the longest name the template allows */
        assert_int_equal(ima_reader_next(r, &e, NULL), 0);
}

/* A big-endian kernel without ima_canonical_fmt: same PCRs as the little-endian log. */
static void test_big_endian(void **state)
{
        struct bytes le = {}, be = {};
        uint8_t pcr1[20] = {}, pcr256[32] = {};
        struct result rl, rb;

        for (int i = 0; i < 5; i++) {
                ima_ng_entry(&le, 10, "/usr/bin/x", (uint8_t)i, false);
                ima_ng_entry(&be, 10, "/usr/bin/x", (uint8_t)i, true);
        }
        run_mem(le.p, le.n, IMA_FORMAT_AUTO, NULL, &rl);
        run_mem(be.p, be.n, IMA_FORMAT_AUTO, NULL, &rb);
        assert_int_equal(rl.r, 0);
        assert_int_equal(rb.r, 0);
        assert_false(rl.pos.big_endian);
        assert_true(rb.pos.big_endian);
        assert_int_equal(rb.entries, 5);
        assert_int_equal(rb.invalid, 0);
        assert_int_equal(rb.undecoded, 0);
        /* The hashed template data keeps the kernel's big-endian field lengths: replay by hand. */
        for (int i = 0; i < 5; i++) {
                struct bytes td = {};
                uint8_t h1[20], h256[32];

                field_dng(&td, "sha256", 32, (uint8_t)i, true);
                field_str(&td, "/usr/bin/x", true);
                sha1_of(td.p, td.n, h1);
                assert_int_equal(hash_digest(hash_alg_by_tpm_id(TPM_ALG_SHA256), td.p, td.n, h256), 0);
                assert_int_equal(hash_extend(hash_alg_by_tpm_id(TPM_ALG_SHA1), pcr1, h1), 0);
                assert_int_equal(hash_extend(hash_alg_by_tpm_id(TPM_ALG_SHA256), pcr256, h256), 0);
                bytes_done(&td);
        }
        assert_memory_equal(rb.pos.sha1[10], pcr1, 20);
        assert_memory_equal(rb.pos.sha256[10], pcr256, 32);
        bytes_done(&le);
        bytes_done(&be);
}

/* ASCII per-bank lists (ascii_runtime_measurements_<bank>): 64/96/128-hex template hashes. */
static void test_per_bank_ascii(void **state)
{
        static const struct {
                uint16_t alg;
                const char *expect;
        } banks[] = {
                {TPM_ALG_SHA256, "sha256"}, {TPM_ALG_SM3_256, "sm3_256"}, {TPM_ALG_SHA3_256, "sha3_256"},
                {TPM_ALG_SHA384, "sha384"}, {TPM_ALG_SHA512, "sha512"},   {TPM_ALG_SHA3_512, "sha3_512"},
        };
        struct bytes td = {};
        uint8_t h1[20], h256[32];

        field_dng(&td, "sha256", 32, 0x5a, false);
        field_str(&td, "/bin/bank", false);
        sha1_of(td.p, td.n, h1);
        assert_int_equal(hash_digest(hash_alg_by_tpm_id(TPM_ALG_SHA256), td.p, td.n, h256), 0);

        for (size_t i = 0; i < ELEMENTSOF(banks); i++) {
                const struct hash_alg *alg = hash_alg_by_tpm_id(banks[i].alg);
                _cleanup_(ima_reader_freep) struct ima_reader *r = NULL;
                uint8_t th[HASH_MAX_SIZE], pcr1[20] = {}, pcr256[32] = {};
                char line[1024], hex[2 * HASH_MAX_SIZE + 1], dhex[65];
                const struct ima_entry *e;
                struct ima_position pos;
                int k;

                k = hash_digest(alg, td.p, td.n, th);
                if (k == -EOPNOTSUPP) {
                        printf("SKIP bank %s: OpenSSL lacks it\n", banks[i].expect);
                        continue;
                }
                assert_int_equal(k, 0);
                hex_encode_to(hex, th, alg->size);
                {
                        uint8_t dg[32];

                        memset(dg, 0x5a, 32);
                        hex_encode_to(dhex, dg, 32);
                }
                snprintf(line, sizeof(line), "10 %s ima-ng sha256:%s /bin/bank\n", hex, dhex);
                assert_int_equal(
                        ima_reader_new_from_memory(line, strlen(line), IMA_FORMAT_AUTO, NULL, &r, NULL), 0);
                assert_int_equal(ima_reader_next(r, &e, NULL), 1);
                assert_true(e->template_hash_valid);
                assert_non_null(e->template_hash_alg);
                assert_string_equal(e->template_hash_alg->name, banks[i].expect);
                assert_int_equal(e->template_hash_size, alg->size);
                /* The SHA-1 bank gets sha1(template data): the list has no SHA-1 template hash. */
                assert_memory_equal(e->sha1_extended, h1, 20);
                assert_memory_equal(e->sha256_extended, h256, 32);
                ima_reader_position(r, &pos);
                memset(pcr1, 0, 20);
                assert_int_equal(hash_extend(hash_alg_by_tpm_id(TPM_ALG_SHA1), pcr1, h1), 0);
                assert_int_equal(hash_extend(hash_alg_by_tpm_id(TPM_ALG_SHA256), pcr256, h256), 0);
                assert_memory_equal(pos.sha1[10], pcr1, 20);
                assert_memory_equal(pos.sha256[10], pcr256, 32);
        }

        /* No bank algorithm of that size reproduces it: invalid, algorithm unknown. */
        {
                _cleanup_(ima_reader_freep) struct ima_reader *r = NULL;
                const struct ima_entry *e;
                char line[512];

                snprintf(line, sizeof(line), "10 %064x ima-ng sha256:%064x /bin/bank\n", 1, 0);
                assert_int_equal(
                        ima_reader_new_from_memory(line, strlen(line), IMA_FORMAT_AUTO, NULL, &r, NULL), 0);
                assert_int_equal(ima_reader_next(r, &e, NULL), 1);
                assert_false(e->template_hash_valid);
                assert_false(e->violation);
                assert_null(e->template_hash_alg);
        }
        /* An all-zero 64-hex hash is a violation: 0xff.. into both banks. */
        {
                _cleanup_(ima_reader_freep) struct ima_reader *r = NULL;
                const struct ima_entry *e;
                char line[512];

                snprintf(line, sizeof(line), "10 %064x ima-ng sha256:%064x /bin/bank\n", 0, 0);
                assert_int_equal(
                        ima_reader_new_from_memory(line, strlen(line), IMA_FORMAT_AUTO, NULL, &r, NULL), 0);
                assert_int_equal(ima_reader_next(r, &e, NULL), 1);
                assert_true(e->violation);
                assert_true(is_all_ff(e->sha1_extended, 20));
        }
        bytes_done(&td);
}

/* ---- binary error paths, each naming the entry and its offset ---- */

static void test_binary_errors(void **state)
{
        struct bytes good = {}, log = {}, td = {};
        uint8_t zero20[20] = {};

        ima_ng_entry(&good, 10, "/first", 1, false); /* entry 0; the bad one is entry 1 */
#define RESET()                                  \
        do {                                     \
                bytes_done(&log);                \
                bytes_done(&td);                 \
                bytes_add(&log, good.p, good.n); \
        } while (0)
        char where[64];

        snprintf(where, sizeof(where), "entry 1 at offset 0x%zx", good.n);

        RESET(); /* truncated header */
        bytes_add(&log, "\x0a\x00\x00\x00\x01", 5);
        expect_error(log.p, log.n, -EBADMSG, where, "truncated entry header");

        RESET(); /* template name length 0 */
        bytes_u32(&log, 10, false);
        bytes_add(&log, zero20, 20);
        bytes_u32(&log, 0, false);
        expect_error(log.p, log.n, -EBADMSG, where, "template name length 0");

        RESET(); /* template name length huge */
        bytes_u32(&log, 10, false);
        bytes_add(&log, zero20, 20);
        bytes_u32(&log, 0x7fffffff, false);
        expect_error(log.p, log.n, -EBADMSG, where, "template name length 2147483647");

        RESET(); /* non-printable template name */
        field_str(&td, "/x", false);
        bin_entry(&log, 10, "ima\x01ng", &td, NULL, false);
        expect_error(log.p, log.n, -EBADMSG, where, "non-printable");

        RESET(); /* template data length beyond the limit */
        bytes_u32(&log, 10, false);
        bytes_add(&log, zero20, 20);
        bytes_u32(&log, 6, false);
        bytes_str(&log, "ima-ng");
        bytes_u32(&log, IMA_TEMPLATE_DATA_MAX + 1, false);
        expect_error(log.p, log.n, -EBADMSG, where, "exceeds the limit");

        RESET(); /* template data shorter than announced */
        bytes_u32(&log, 10, false);
        bytes_add(&log, zero20, 20);
        bytes_u32(&log, 6, false);
        bytes_str(&log, "ima-ng");
        bytes_u32(&log, 100, false);
        bytes_add(&log, zero20, 20);
        expect_error(log.p, log.n, -EBADMSG, where, "truncated template data: 20 of 100");

        RESET(); /* PCR out of range */
        ima_ng_entry(&log, 24, "/x", 1, false);
        expect_error(log.p, log.n, -EBADMSG, where, "PCR index 24");

        RESET(); /* n-ng without NUL */
        field_dng(&td, "sha256", 32, 1, false);
        field(&td, "/x", 2, false);
        bin_entry(&log, 10, "ima-ng", &td, NULL, false);
        expect_error(log.p, log.n, -EBADMSG, where, "field 'n-ng': string is not NUL-terminated");

        RESET(); /* n-ng with an embedded NUL hiding a suffix */
        field_dng(&td, "sha256", 32, 1, false);
        field(&td, "/ok\0evil", 9, false);
        bin_entry(&log, 10, "ima-ng", &td, NULL, false);
        expect_error(log.p, log.n, -EBADMSG, where, "contains a NUL byte");

        RESET(); /* bytes after the last field */
        field_dng(&td, "sha256", 32, 1, false);
        field_str(&td, "/x", false);
        bytes_add(&td, "junk", 4);
        bin_entry(&log, 10, "ima-ng", &td, NULL, false);
        expect_error(log.p, log.n, -EBADMSG, where, "4 bytes after its last field");

        RESET(); /* ima-sig missing its sig field */
        field_dng(&td, "sha256", 32, 1, false);
        field_str(&td, "/x", false);
        bin_entry(&log, 10, "ima-sig", &td, NULL, false);
        expect_error(log.p, log.n, -EBADMSG, where, "before field 3 'sig'");

        RESET(); /* field length beyond the data */
        bytes_u32(&td, 1000, false);
        bin_entry(&log, 10, "ima-ng", &td, NULL, false);
        expect_error(log.p, log.n, -EBADMSG, where, "field 1 'd-ng' length 1000");

        RESET(); /* d-ng without NUL */
        field(&td, "sha256:abc", 10, false);
        field_str(&td, "/x", false);
        bin_entry(&log, 10, "ima-ng", &td, NULL, false);
        expect_error(log.p, log.n, -EBADMSG, where, "no NUL after the digest algorithm");

        RESET(); /* d-ng prefix without ':' */
        field(&td, "sha256\0abc", 10, false);
        field_str(&td, "/x", false);
        bin_entry(&log, 10, "ima-ng", &td, NULL, false);
        expect_error(log.p, log.n, -EBADMSG, where, "not \"<algorithm>:\"");

        RESET(); /* a known algorithm with the wrong digest size */
        field_dng(&td, "sha256", 31, 1, false);
        field_str(&td, "/x", false);
        bin_entry(&log, 10, "ima-ng", &td, NULL, false);
        expect_error(log.p, log.n, -EBADMSG, where, "sha256 digest has 31 bytes, expected 32");

        RESET(); /* "ima" template: file name too long */
        bytes_u32(&log, 10, false);
        bytes_add(&log, zero20, 20);
        bytes_u32(&log, 3, false);
        bytes_str(&log, "ima");
        bytes_add(&log, zero20, 20);
        bytes_u32(&log, 256, false);
        expect_error(log.p, log.n, -EBADMSG, where, "file name length 256");

        RESET(); /* "ima" template: truncated name */
        bytes_u32(&log, 10, false);
        bytes_add(&log, zero20, 20);
        bytes_u32(&log, 3, false);
        bytes_str(&log, "ima");
        bytes_add(&log, zero20, 20);
        bytes_u32(&log, 10, false);
        bytes_str(&log, "/short");
        expect_error(log.p, log.n, -EBADMSG, where, "truncated 'ima' template file name");

        bytes_done(&log);
        bytes_done(&td);
        bytes_done(&good);
#undef RESET
}

/* Unknown templates in a binary log are hashed and replayed, just not interpreted. */
static void test_binary_unknown_template(void **state)
{
        struct bytes log = {}, td = {}, empty = {};
        struct result res;

        bytes_str(&td, "opaque template data");
        bin_entry(&log, 10, "my-template", &td, NULL, false);
        bin_entry(&log, 10, "other-template", &empty, NULL, false); /* without data */
        run_mem(log.p, log.n, IMA_FORMAT_AUTO, NULL, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.entries, 2);
        assert_int_equal(res.invalid, 0);
        assert_int_equal(res.undecoded, 2);
        bytes_done(&log);
        bytes_done(&td);
}

static void test_invalid_and_sticky(void **state)
{
        _cleanup_(ima_reader_freep) struct ima_reader *r = NULL;
        struct bytes log = {}, td = {};
        uint8_t bad[20] = {1};
        const struct ima_entry *e;
        struct cvm_error err = {};

        field_dng(&td, "sha256", 32, 3, false);
        field_str(&td, "/tampered", false);
        bin_entry(&log, 10, "ima-ng", &td, bad, false);
        bytes_add(&log, "\x0a\x00", 2);
        assert_int_equal(ima_reader_new_from_memory(log.p, log.n, IMA_FORMAT_AUTO, NULL, &r, NULL), 0);
        assert_int_equal(ima_reader_next(r, &e, NULL), 1);
        assert_false(e->template_hash_valid);
        assert_false(e->violation);
        /* The SHA-1 bank is extended with the logged value (what the TPM saw). */
        assert_memory_equal(e->sha1_extended, bad, 20);
        assert_int_equal(ima_reader_next(r, &e, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "entry 1"));
        cvm_error_clear(&err);
        assert_int_equal(ima_reader_next(r, &e, &err), -EBADMSG);
        assert_non_null(strstr(err.message, "entry 1"));
        bytes_done(&log);
        bytes_done(&td);
}

/* ---- ASCII error paths ---- */

static void test_ascii_errors(void **state)
{
        static const struct {
                const char *line, *what;
                int code;
        } cases[] = {
                {"x0 0000000000000000000000000000000000000001 ima-ng sha256:00 /x\n", "not ASCII-looking",
                 0},
                {"10a 0000000000000000000000000000000000000001 ima-ng sha256:00 /x\n", "PCR index is not",
                 -EBADMSG},
                {"99 0000000000000000000000000000000000000001 ima-ng sha256:00 /x\n", "PCR index 99",
                 -EBADMSG},
                {"10 000000000000000000000000000000000000001 ima-ng sha256:00 /x\n", "39 hex digits",
                 -EBADMSG},
                {"10 000000000000000000000000000000000000000g ima-ng sha256:00 /x\n",
                 "template hash is not hex", -EBADMSG},
                {"10 0000000000000000000000000000000000000001\n", "missing template name", -EBADMSG},
                {"10 0000000000000000000000000000000000000001 ima-ng\n", "missing field 1 'd-ng'", -EBADMSG},
                {"10 0000000000000000000000000000000000000001 ima-ng sha256:00\n", "missing field 2 'n-ng'",
                 -EBADMSG},
                {"10 0000000000000000000000000000000000000001 ima-sig sha256:00 /x\n",
                 "missing field 3 'sig'", -EBADMSG},
                {"10 0000000000000000000000000000000000000001 ima-sig sha256:00 /x 0\n",
                 "'sig': not an even", -EBADMSG},
                {"10 0000000000000000000000000000000000000001 ima-ng sha256-00 /x\n", "no ':'", -EBADMSG},
                {"10 0000000000000000000000000000000000000001 ima-ng sha256:0 /x\n", "even number",
                 -EBADMSG},
                {"10 0000000000000000000000000000000000000001 ima-ng sha256:00 /x\n", "expected 32",
                 -EBADMSG},
                {"10 0000000000000000000000000000000000000001 ima-buf sha256:00 /x 0g\n", "'buf'", -EBADMSG},
                {"10 0000000000000000000000000000000000000001 ima 00 /x\n", "field 'd': 2 hex digits",
                 -EBADMSG},
                {"10 0000000000000000000000000000000000000001 mystery\n", "'mystery' is unknown",
                 -EOPNOTSUPP},
                {"10 0000000000000000000000000000000000000001 mystery aa bb\n", "'mystery' is unknown",
                 -EOPNOTSUPP},
                {"10 0000000000000000000000000000000000000001 evm-sig sha256:00 /x\n", "field 'iuid'",
                 -EOPNOTSUPP},
                {"10 0000000000000000000000000000000000000001 d-ng|bogus sha256:00\n",
                 "'d-ng|bogus' is unknown", -EOPNOTSUPP},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                if (cases[i].code == 0) {
                        /* Not starting with a digit/space: treated as binary, which then fails. */
                        struct result res;

                        run_mem(cases[i].line, strlen(cases[i].line), IMA_FORMAT_AUTO, NULL, &res);
                        assert_int_equal(res.format, IMA_FORMAT_BINARY);
                        assert_int_equal(res.r, -EBADMSG);
                        continue;
                }
                expect_error(cases[i].line, strlen(cases[i].line), cases[i].code, "line 1 (entry 0)",
                             cases[i].what);
        }

        /* A NUL byte inside a path. */
        {
                static const char l[] =
                        "10 0000000000000000000000000000000000000001 ima-ng sha256:"
                        "0000000000000000000000000000000000000000000000000000000000000000 /a\0b\n";
                expect_error(l, sizeof(l) - 1, -EBADMSG, "line 1", "NUL byte");
        }
        /* A line longer than IMA_LINE_MAX. */
        {
                size_t n = IMA_LINE_MAX + 100;
                _cleanup_free_ char *l = malloc(n);

                assert_non_null(l);
                memset(l, 'a', n);
                memcpy(l, "10 ", 3);
                expect_error(l, n, -EBADMSG, "line 1 (entry 0)", "longer than");
        }
}

static void test_ascii_edge_cases(void **state)
{
        struct bytes log = {};
        struct result res;

        /* Empty input: no entries, format unknown, PCRs zero. */
        run_mem("", 0, IMA_FORMAT_AUTO, NULL, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.entries, 0);
        assert_int_equal(res.format, IMA_FORMAT_AUTO);
        assert_int_equal(res.pos.pcr_mask, 0);

        /* The last line may lack its newline. */
        ascii_ng_line(&log, 10, "/a", 1);
        ascii_ng_line(&log, 10, "/b", 2);
        run_mem(log.p, log.n - 1, IMA_FORMAT_AUTO, NULL, &res);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.entries, 2);
        assert_int_equal(res.invalid, 0);

        /* A forced format that does not fit fails on the first entry. */
        run_mem(log.p, log.n, IMA_FORMAT_BINARY, NULL, &res);
        assert_int_equal(res.r, -EBADMSG);
        bytes_done(&log);
}

/* ---- streaming over a descriptor: buffer growth, compaction, identical results ---- */

static int temp_file(char *path)
{
        int fd;

        strcpy(path, "/tmp/test-ima-XXXXXX");
        fd = mkstemp(path);
        assert_true(fd >= 0);
        (void)unlink(path);
        return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
        const uint8_t *b = p;

        while (n > 0) {
                ssize_t w = write(fd, b, n);

                assert_true(w > 0);
                b += w;
                n -= (size_t)w;
        }
}

static void test_stream_fd(void **state)
{
        struct bytes bin = {}, asc = {}, td = {};
        _cleanup_free_ uint8_t *big = malloc(700 * 1024);
        char path[64], hex[2 * 1024 + 1];
        struct result rm, rf;
        int fd;

        assert_non_null(big);
        for (int i = 0; i < 4000; i++) {
                char p[128];

                snprintf(p, sizeof(p), "/usr/lib/x86_64-linux-gnu/lib%d.so", i);
                ima_ng_entry(&bin, 10, p, (uint8_t)i, false);
                ascii_ng_line(&asc, 10, p, (uint8_t)i);
        }
        /* One 700 KiB ima-buf entry forces the read buffer to grow past its 256 KiB start. */
        memset(big, 0xab, 700 * 1024);
        field_dng(&td, "sha256", 32, 9, false);
        field_str(&td, "big-buffer", false);
        field(&td, big, 700 * 1024, false);
        bin_entry(&bin, 10, "ima-buf", &td, NULL, false);
        for (int i = 0; i < 100; i++)
                ima_ng_entry(&bin, 10, "/after", (uint8_t)i, false);

        run_mem(bin.p, bin.n, IMA_FORMAT_AUTO, NULL, &rm);
        assert_int_equal(rm.r, 0);
        assert_int_equal(rm.entries, 4101);
        fd = temp_file(path);
        write_all(fd, bin.p, bin.n);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        run_fd(fd, IMA_FORMAT_AUTO, NULL, &rf);
        close(fd);
        assert_int_equal(rf.r, 0);
        assert_int_equal(rf.entries, rm.entries);
        assert_int_equal(rf.invalid, 0);
        assert_memory_equal(&rf.pos, &rm.pos, sizeof(rm.pos));

        /* The same for a long ASCII log, with one 1.4 MB line (hex of a 700 KiB buffer). */
        {
                struct bytes line = {};
                uint8_t th[20], dg[32];
                char dhex[65];

                sha1_of(td.p, td.n, th);
                hex_encode_to(hex, th, 20);
                bytes_str(&line, "10 ");
                bytes_str(&line, hex);
                memset(dg, 9, 32);
                hex_encode_to(dhex, dg, 32);
                bytes_str(&line, " ima-buf sha256:");
                bytes_str(&line, dhex);
                bytes_str(&line, " big-buffer ");
                for (size_t i = 0; i < 700 * 1024 / 1024; i++) {
                        hex_encode_to(hex, big + i * 1024, 1024);
                        bytes_str(&line, hex);
                }
                bytes_str(&line, "\n");
                bytes_add(&asc, line.p, line.n);
                bytes_done(&line);
        }
        fd = temp_file(path);
        write_all(fd, asc.p, asc.n);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        run_fd(fd, IMA_FORMAT_AUTO, NULL, &rf);
        close(fd);
        assert_int_equal(rf.r, 0);
        assert_int_equal(rf.entries, 4001);
        assert_int_equal(rf.invalid, 0);
        assert_int_equal(rf.format, IMA_FORMAT_ASCII);

        bytes_done(&bin);
        bytes_done(&asc);
        bytes_done(&td);
}

/* ---- resuming ---- */

static void test_resume_every_boundary(void **state)
{
        _cleanup_free_ uint8_t *data = NULL;
        static const char *const files[] = {FIXTURES "templates.bin", FIXTURES "templates.ascii",
                                            FIXTURES "legacy-ima.bin"};

        for (size_t f = 0; f < ELEMENTSOF(files); f++) {
                struct result full, part, rest;
                size_t n;

                free(data);
                data = NULL;
                assert_int_equal(read_file(files[f], 1 << 20, &data, &n, NULL), 0);
                run_mem(data, n, IMA_FORMAT_AUTO, NULL, &full);
                assert_int_equal(full.r, 0);
                /* Stop after k entries (a reader over the first part of the log), resume on all. */
                for (uint64_t k = 0; k <= full.entries; k++) {
                        struct ima_position at;
                        _cleanup_(ima_reader_freep) struct ima_reader *r = NULL;
                        const struct ima_entry *e;

                        assert_int_equal(
                                ima_reader_new_from_memory(data, n, IMA_FORMAT_AUTO, NULL, &r, NULL), 0);
                        for (uint64_t i = 0; i < k; i++)
                                assert_int_equal(ima_reader_next(r, &e, NULL), 1);
                        ima_reader_position(r, &at);
                        run_mem(data, (size_t)at.offset, IMA_FORMAT_AUTO, NULL, &part);
                        assert_int_equal(part.r, 0);
                        assert_int_equal(part.entries, k);
                        assert_memory_equal(&part.pos, &at, sizeof(at));
                        run_mem(data, n, IMA_FORMAT_AUTO, &at, &rest);
                        assert_int_equal(rest.r, 0);
                        assert_int_equal(rest.entries, full.entries - k);
                        assert_memory_equal(&rest.pos, &full.pos, sizeof(full.pos));
                }
        }
}

static void test_resume_fd_growing_log(void **state)
{
        struct bytes a = {}, b = {};
        struct result first, second, all;
        json_object *j = NULL;
        struct ima_position back;
        char path[64];
        int fd;

        for (int i = 0; i < 50; i++)
                ima_ng_entry(&a, 10, "/before", (uint8_t)i, false);
        for (int i = 0; i < 30; i++)
                ima_ng_entry(&b, i % 2 ? 10 : 11, "/after", (uint8_t)i, false);

        fd = temp_file(path);
        write_all(fd, a.p, a.n);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        run_fd(fd, IMA_FORMAT_AUTO, NULL, &first);
        assert_int_equal(first.r, 0);
        assert_int_equal(first.entries, 50);

        /* Save and restore through JSON, as the daemon does. */
        assert_int_equal(ima_position_to_json(&first.pos, &j), 0);
        assert_int_equal(ima_position_from_json(j, &back, NULL), 0);
        json_object_put(j);
        assert_memory_equal(&back, &first.pos, sizeof(back));

        /* The kernel appends; continue from the saved position. */
        write_all(fd, b.p, b.n);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        run_fd(fd, IMA_FORMAT_AUTO, &back, &second);
        assert_int_equal(second.r, 0);
        assert_int_equal(second.entries, 30);
        assert_int_equal(second.pos.entries, 80);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        run_fd(fd, IMA_FORMAT_AUTO, NULL, &all);
        assert_memory_equal(&second.pos, &all.pos, sizeof(all.pos));
        assert_true(all.pos.pcr_mask == ((1u << 10) | (1u << 11)));

        /* Nothing new: zero entries, same position. */
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        run_fd(fd, IMA_FORMAT_AUTO, &all.pos, &second);
        assert_int_equal(second.r, 0);
        assert_int_equal(second.entries, 0);
        assert_memory_equal(&second.pos, &all.pos, sizeof(all.pos));
        close(fd);

        /* A pipe cannot seek: the reader skips by reading. */
        {
                int p[2];

                assert_int_equal(pipe(p), 0);
                write_all(p[1], a.p, a.n); /* small enough for the pipe buffer */
                write_all(p[1], b.p, b.n);
                close(p[1]);
                run_fd(p[0], IMA_FORMAT_AUTO, &back, &second);
                close(p[0]);
                assert_int_equal(second.r, 0);
                assert_memory_equal(&second.pos, &all.pos, sizeof(all.pos));
        }
        bytes_done(&a);
        bytes_done(&b);
}

static void test_resume_mismatch(void **state)
{
        struct bytes a = {}, other = {};
        struct result res, first;
        struct ima_position pos;

        for (int i = 0; i < 5; i++) {
                ima_ng_entry(&a, 10, "/a", (uint8_t)i, false);
                ima_ng_entry(&other, 10, "/a", (uint8_t)(i + 100), false);
        }
        run_mem(a.p, a.n, IMA_FORMAT_AUTO, NULL, &first);
        assert_int_equal(first.r, 0);

        /* A different log (after a reboot) at the same offsets. */
        run_mem(other.p, other.n, IMA_FORMAT_AUTO, &first.pos, &res);
        assert_int_equal(res.r, -ESTALE);
        assert_non_null(strstr(res.err.message, "entry 4"));

        /* A shorter log. */
        run_mem(a.p, a.n / 2, IMA_FORMAT_AUTO, &first.pos, &res);
        assert_int_equal(res.r, -ESTALE);

        /* A position for another format. */
        run_mem(a.p, a.n, IMA_FORMAT_ASCII, &first.pos, &res);
        assert_int_equal(res.r, -EINVAL);

        /* Inconsistent positions. */
        pos = first.pos;
        pos.last_offset = pos.offset;
        run_mem(a.p, a.n, IMA_FORMAT_AUTO, &pos, &res);
        assert_int_equal(res.r, -EINVAL);
        pos = first.pos;
        pos.last_template_hash_size = 7;
        run_mem(a.p, a.n, IMA_FORMAT_AUTO, &pos, &res);
        assert_int_equal(res.r, -EINVAL);
        ima_position_init(&pos);
        pos.offset = 10;
        run_mem(a.p, a.n, IMA_FORMAT_AUTO, &pos, &res);
        assert_int_equal(res.r, -EINVAL);
        bytes_done(&a);
        bytes_done(&other);
}

static void test_position_json_errors(void **state)
{
        static const char *const bad[] = {
                "[]",
                "{}",
                "{\"format\":\"binary\"}",
                "{\"format\":\"nope\",\"big_endian\":false,\"offset\":0,\"entries\":0,\"last_offset\":0,"
                "\"last_template_hash\":\"\",\"pcrs\":{\"sha1\":{},\"sha256\":{}}}",
                "{\"format\":\"binary\",\"big_endian\":false,\"offset\":-1,\"entries\":0,\"last_offset\":0,"
                "\"last_template_hash\":\"\",\"pcrs\":{\"sha1\":{},\"sha256\":{}}}",
                "{\"format\":\"binary\",\"big_endian\":false,\"offset\":0,\"entries\":0,\"last_offset\":0,"
                "\"last_template_hash\":\"zz\",\"pcrs\":{\"sha1\":{},\"sha256\":{}}}",
                "{\"format\":\"binary\",\"big_endian\":false,\"offset\":0,\"entries\":0,\"last_offset\":0,"
                "\"last_template_hash\":\"\",\"pcrs\":{\"sha1\":{\"24\":\"00\"},\"sha256\":{}}}",
                "{\"format\":\"binary\",\"big_endian\":false,\"offset\":0,\"entries\":0,\"last_offset\":0,"
                "\"last_template_hash\":\"\",\"pcrs\":{\"sha1\":{\"10\":\"00\"},\"sha256\":{}}}",
                "{\"format\":\"binary\",\"big_endian\":false,\"offset\":0,\"entries\":0,\"last_offset\":0,"
                "\"last_template_hash\":\"\",\"pcrs\":{\"sha1\":{\"10\":"
                "\"0000000000000000000000000000000000000000\"},"
                "\"sha256\":{}}}",
                "{\"format\":\"binary\",\"big_endian\":false,\"offset\":5,\"entries\":0,\"last_offset\":0,"
                "\"last_template_hash\":\"\",\"pcrs\":{\"sha1\":{},\"sha256\":{}}}",
        };
        static const char good[] = "{\"format\":\"unknown\",\"big_endian\":false,\"offset\":0,\"entries\":0,"
                                   "\"last_offset\":0,\"last_template_hash\":\"\",\"pcrs\":{\"sha1\":{},"
                                   "\"sha256\":{}}}";
        struct ima_position pos;
        json_object *o;

        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct cvm_error err = {};

                o = json_tokener_parse(bad[i]);
                assert_non_null(o);
                if (ima_position_from_json(o, &pos, &err) != -EBADMSG)
                        fail_msg("position %zu accepted: %s", i, bad[i]);
                json_object_put(o);
        }
        o = json_tokener_parse(good);
        assert_int_equal(ima_position_from_json(o, &pos, NULL), 0);
        assert_int_equal(pos.format, IMA_FORMAT_AUTO);
        json_object_put(o);
}

static void test_format_strings(void **state)
{
        enum ima_format f;

        assert_string_equal(ima_format_to_string(IMA_FORMAT_ASCII), "ascii");
        assert_string_equal(ima_format_to_string(IMA_FORMAT_BINARY), "binary");
        assert_string_equal(ima_format_to_string(IMA_FORMAT_AUTO), "unknown");
        assert_int_equal(ima_format_from_string("binary", &f), 0);
        assert_int_equal(f, IMA_FORMAT_BINARY);
        assert_int_equal(ima_format_from_string("ascii", &f), 0);
        assert_int_equal(f, IMA_FORMAT_ASCII);
        assert_int_equal(ima_format_from_string("auto", &f), 0);
        assert_int_equal(f, IMA_FORMAT_AUTO);
        assert_int_equal(ima_format_from_string("xml", &f), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fixtures),
                cmocka_unit_test(test_fixture_errors),
                cmocka_unit_test(test_ascii_equals_binary),
                cmocka_unit_test(test_decoded_fields),
                cmocka_unit_test(test_legacy_template),
                cmocka_unit_test(test_big_endian),
                cmocka_unit_test(test_per_bank_ascii),
                cmocka_unit_test(test_binary_errors),
                cmocka_unit_test(test_binary_unknown_template),
                cmocka_unit_test(test_invalid_and_sticky),
                cmocka_unit_test(test_ascii_errors),
                cmocka_unit_test(test_ascii_edge_cases),
                cmocka_unit_test(test_stream_fd),
                cmocka_unit_test(test_resume_every_boundary),
                cmocka_unit_test(test_resume_fd_growing_log),
                cmocka_unit_test(test_resume_mismatch),
                cmocka_unit_test(test_position_json_errors),
                cmocka_unit_test(test_format_strings),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
