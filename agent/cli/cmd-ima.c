/* SPDX-License-Identifier: Apache-2.0 */
/* cvm-agent ima: stream an IMA runtime measurement log, verify template hashes, replay PCRs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canonjson.h"
#include "cleanup.h"
#include "cli.h"
#include "ima.h"
#include "util.h"

#define IMA_DIR          "/sys/kernel/security/ima/"
#define DEFAULT_BINARY   IMA_DIR "binary_runtime_measurements"
#define DEFAULT_ASCII    IMA_DIR "ascii_runtime_measurements"
#define INVALID_LIST_MAX 100u

struct invalid_entry {
        uint64_t number, offset, line;
        char *path;
        char template_hash[2 * HASH_MAX_SIZE + 1];
        char computed[2 * HASH_MAX_SIZE + 1];
};

struct run {
        const char *path;
        bool json, entries;
        uint64_t n_entries, n_violations, n_invalid;
        struct invalid_entry invalid[INVALID_LIST_MAX];
        size_t n_listed;
        json_object *measurements; /* --json --entries */
};

static void run_done(struct run *run)
{
        for (size_t i = 0; i < run->n_listed; i++)
                free(run->invalid[i].path);
        json_object_put(run->measurements);
}

static void help(void)
{
        printf("Usage: cvm-agent ima [OPTIONS] [FILE]\n"
               "\n"
               "Decode an IMA runtime measurement log (binary or ASCII, detected), verify every\n"
               "template hash and replay the PCRs it extends (SHA-1 and SHA-256 banks). The log is\n"
               "streamed: memory does not grow with its length.\n"
               "FILE defaults to %s,\n"
               "then %s; \"-\" reads standard input.\n"
               "\n"
               "Options:\n"
               "  --json                  print one JSON document\n"
               "  -v, --entries           list every entry (JSON: \"measurements\")\n"
               "  --format FMT            auto (default), binary or ascii\n"
               "  --resume FILE           continue after the position saved in FILE by --save-position\n"
               "                          (only the new entries are read and counted)\n"
               "  --save-position FILE    write the position after the last entry to FILE (JSON)\n"
               "  -h, --help              this help\n"
               "\n"
               "Exit status: 0 all template hashes valid, 4 a template hash does not match its data,\n"
               "3 malformed or unsupported log, 5 I/O error, 2 usage.\n",
               DEFAULT_BINARY, DEFAULT_ASCII);
}

/* Length of the valid UTF-8 sequence at @p (at most @n bytes), or 0 if invalid. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
        size_t len;
        uint32_t cp;

        if (p[0] < 0x80)
                return 1;
        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                len = 2, cp = p[0] & 0x1f;
        else if (p[0] >= 0xe0 && p[0] <= 0xef)
                len = 3, cp = p[0] & 0x0f;
        else if (p[0] >= 0xf0 && p[0] <= 0xf4)
                len = 4, cp = p[0] & 0x07;
        else
                return 0;
        if (len > n)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((p[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (p[i] & 0x3f);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

/*
 * A path is attacker-influenced bytes. Keep valid UTF-8, write other bytes as \xNN (and, for a
 * terminal, control characters and backslash too) so output stays valid JSON / harmless text.
 */
static char *escape_path(const char *path, size_t n, bool for_terminal)
{
        const uint8_t *p = (const uint8_t *)path;
        char *out, *o;

        if (n > (SIZE_MAX - 1) / 4)
                return NULL;
        out = o = malloc(4 * n + 1);
        if (!out)
                return NULL;
        for (size_t i = 0; i < n;) {
                size_t l = utf8_len(p + i, n - i);

                if (l == 0 || (for_terminal && l == 1 && (p[i] < 0x20 || p[i] == 0x7f || p[i] == '\\'))) {
                        o += sprintf(o, "\\x%02x", p[i]);
                        i++;
                        continue;
                }
                memcpy(o, p + i, l);
                o += l;
                i += l;
        }
        *o = '\0';
        return out;
}

static int json_add(json_object *o, const char *key, json_object *v)
{
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int json_add_hex(json_object *o, const char *key, const void *p, size_t n)
{
        _cleanup_free_ char *hex = hex_encode(p, n);

        if (!hex)
                return -ENOMEM;
        return json_add(o, key, json_object_new_string(hex));
}

static int json_add_path(json_object *o, const char *key, const struct ima_entry *e)
{
        _cleanup_free_ char *s = NULL;

        if (!e->path)
                return 0;
        s = escape_path(e->path, e->path_len, false);
        if (!s)
                return -ENOMEM;
        return json_add(o, key, json_object_new_string(s));
}

static int measurement_json(const struct ima_entry *e, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int k = 0;

        if (!o)
                return -ENOMEM;
        k |= json_add(o, "entry", json_object_new_int64((int64_t)e->number));
        k |= json_add(o, "offset", json_object_new_int64((int64_t)e->offset));
        if (e->line)
                k |= json_add(o, "line", json_object_new_int64((int64_t)e->line));
        k |= json_add(o, "pcr", json_object_new_int((int)e->pcr));
        k |= json_add(o, "template", json_object_new_string(e->template_name));
        k |= json_add_hex(o, "template_hash", e->template_hash, e->template_hash_size);
        if (e->template_hash_alg)
                k |= json_add(o, "template_hash_algorithm",
                              json_object_new_string(e->template_hash_alg->name));
        else if (json_object_object_add(o, "template_hash_algorithm", NULL) < 0) /* null: no bank matched */
                k = -ENOMEM;
        k |= json_add(o, "template_hash_valid", json_object_new_boolean(e->template_hash_valid));
        k |= json_add(o, "violation", json_object_new_boolean(e->violation));
        if (e->fields_decoded) {
                if (e->digest) {
                        if (e->digest_type[0])
                                k |= json_add(o, "digest_type", json_object_new_string(e->digest_type));
                        k |= json_add(o, "digest_algorithm", json_object_new_string(e->digest_algo));
                        k |= json_add_hex(o, "digest", e->digest, e->digest_size);
                }
                k |= json_add_path(o, "path", e);
                if (e->sig)
                        k |= json_add_hex(o, "signature", e->sig, e->sig_size);
                if (e->buf)
                        k |= json_add_hex(o, "buffer", e->buf, e->buf_size);
                if (e->modsig_digest) {
                        k |= json_add(o, "modsig_digest_algorithm",
                                      json_object_new_string(e->modsig_digest_algo));
                        k |= json_add_hex(o, "modsig_digest", e->modsig_digest, e->modsig_digest_size);
                }
                if (e->modsig)
                        k |= json_add_hex(o, "modsig", e->modsig, e->modsig_size);
        } else
                k |= json_add_hex(o, "template_data", e->template_data, e->template_data_size);
        if (k)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

static void print_hex(const uint8_t *p, size_t n)
{
        for (size_t i = 0; i < n; i++)
                printf("%02x", p[i]);
}

static int print_entry(const struct ima_entry *e)
{
        _cleanup_free_ char *path = NULL;

        printf("%" PRIu64 " %2" PRIu32 " ", e->number, e->pcr);
        print_hex(e->template_hash, e->template_hash_size);
        printf(" %s", e->template_name);
        if (e->fields_decoded) {
                if (e->digest) {
                        printf(" %s%s%s:", e->digest_type, e->digest_type[0] ? ":" : "", e->digest_algo);
                        print_hex(e->digest, e->digest_size);
                }
                if (e->path) {
                        path = escape_path(e->path, e->path_len, true);
                        if (!path)
                                return -ENOMEM;
                        printf(" %s", path);
                }
                if (e->sig && e->sig_size)
                        printf(" sig:%zu-bytes", e->sig_size);
                if (e->buf)
                        printf(" buf:%zu-bytes", e->buf_size);
                if (e->modsig && e->modsig_size)
                        printf(" modsig:%zu-bytes", e->modsig_size);
        } else
                printf(" data:%zu-bytes", e->template_data_size);
        printf(" %s\n", e->violation             ? "VIOLATION"
                        : e->template_hash_valid ? "ok"
                                                 : "INVALID-TEMPLATE-HASH");
        return 0;
}

static int record_invalid(struct run *run, const struct ima_entry *e)
{
        struct invalid_entry *inv;

        run->n_invalid++;
        if (run->n_listed >= INVALID_LIST_MAX)
                return 0;
        inv = &run->invalid[run->n_listed];
        *inv = (struct invalid_entry){.number = e->number, .offset = e->offset, .line = e->line};
        if (e->path) {
                inv->path = escape_path(e->path, e->path_len, !run->json);
                if (!inv->path)
                        return -ENOMEM;
        }
        hex_encode_to(inv->template_hash, e->template_hash, e->template_hash_size);
        hex_encode_to(inv->computed, e->computed_hash, e->template_hash_size);
        run->n_listed++;
        return 0;
}

static int on_entry(struct run *run, const struct ima_entry *e)
{
        run->n_entries++;
        if (e->violation)
                run->n_violations++;
        else if (!e->template_hash_valid && record_invalid(run, e) < 0)
                return -ENOMEM;
        if (!run->entries)
                return 0;
        if (run->json) {
                json_object *m = NULL;

                if (measurement_json(e, &m) < 0 || json_object_array_add(run->measurements, m) < 0) {
                        json_object_put(m);
                        return -ENOMEM;
                }
                return 0;
        }
        return print_entry(e);
}

static unsigned pcr_mask_shown(const struct ima_position *pos)
{
        return pos->pcr_mask | 1u << 10;
}

static int output_json(struct run *run, const struct ima_position *pos, enum ima_format fmt)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *pcrs, *b1, *b256, *inv, *p;
        int k = 0;

        if (!o)
                return EXIT_INTERNAL;
        k |= json_add(o, "file", json_object_new_string(run->path));
        k |= json_add(o, "format", json_object_new_string(ima_format_to_string(fmt)));
        k |= json_add(o, "entries", json_object_new_int64((int64_t)run->n_entries));
        k |= json_add(o, "violations", json_object_new_int64((int64_t)run->n_violations));
        k |= json_add(o, "invalid_template_hashes", json_object_new_int64((int64_t)run->n_invalid));
        k |= json_add(o, "invalid_entries", inv = json_object_new_array());
        for (size_t i = 0; k == 0 && i < run->n_listed; i++) {
                const struct invalid_entry *x = &run->invalid[i];
                json_object *e = json_object_new_object();

                if (!e || json_object_array_add(inv, e) < 0) {
                        json_object_put(e);
                        return EXIT_INTERNAL;
                }
                k |= json_add(e, "entry", json_object_new_int64((int64_t)x->number));
                k |= json_add(e, "offset", json_object_new_int64((int64_t)x->offset));
                if (x->line)
                        k |= json_add(e, "line", json_object_new_int64((int64_t)x->line));
                if (x->path)
                        k |= json_add(e, "path", json_object_new_string(x->path));
                k |= json_add(e, "template_hash", json_object_new_string(x->template_hash));
                k |= json_add(e, "computed", json_object_new_string(x->computed));
        }
        k |= json_add(o, "invalid_entries_truncated",
                      json_object_new_boolean(run->n_invalid > run->n_listed));
        k |= json_add(o, "pcrs", pcrs = json_object_new_object());
        if (k == 0) {
                k |= json_add(pcrs, "sha1", b1 = json_object_new_object());
                k |= json_add(pcrs, "sha256", b256 = json_object_new_object());
        }
        for (unsigned i = 0; k == 0 && i < IMA_PCR_COUNT; i++) {
                char key[4];

                if (!(pcr_mask_shown(pos) & (1u << i)))
                        continue;
                (void)snprintf(key, sizeof(key), "%u", i);
                k |= json_add_hex(b1, key, pos->sha1[i], 20);
                k |= json_add_hex(b256, key, pos->sha256[i], 32);
        }
        if (k == 0 && ima_position_to_json(pos, &p) >= 0)
                k |= json_add(o, "position", p);
        else
                k = -ENOMEM;
        if (k == 0 && run->measurements)
                k |= json_add(o, "measurements", json_object_get(run->measurements));
        if (k)
                return EXIT_INTERNAL;
        return cli_print_json(o);
}

static int output_text(struct run *run, const struct ima_position *pos, enum ima_format fmt)
{
        printf("file:                    %s\n", run->path);
        printf("format:                  %s\n", ima_format_to_string(fmt));
        printf("entries:                 %" PRIu64 "\n", run->n_entries);
        printf("violations:              %" PRIu64 "\n", run->n_violations);
        printf("invalid template hashes: %" PRIu64 "\n", run->n_invalid);
        for (size_t i = 0; i < run->n_listed; i++) {
                const struct invalid_entry *x = &run->invalid[i];

                if (x->line)
                        printf("  entry %" PRIu64 " (line %" PRIu64 ")", x->number, x->line);
                else
                        printf("  entry %" PRIu64 " (offset 0x%" PRIx64 ")", x->number, x->offset);
                printf(" %s: logged %s, computed %s\n", x->path ?: "(no path)", x->template_hash,
                       x->computed);
        }
        if (run->n_invalid > run->n_listed)
                printf("  ... and %" PRIu64 " more\n", run->n_invalid - run->n_listed);
        for (unsigned i = 0; i < IMA_PCR_COUNT; i++) {
                if (!(pcr_mask_shown(pos) & (1u << i)))
                        continue;
                printf("PCR %-2u sha1:             ", i);
                print_hex(pos->sha1[i], 20);
                printf("\nPCR %-2u sha256:           ", i);
                print_hex(pos->sha256[i], 32);
                printf("\n");
        }
        if (run->n_invalid)
                printf("result:                  FAILED: %" PRIu64 " %s\n", run->n_invalid,
                       run->n_invalid == 1 ? "template hash does not match its entry data"
                                           : "template hashes do not match their entry data");
        else
                printf("result:                  ok, every template hash matches its entry\n");
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "cvm-agent: cannot write to standard output: %s\n", strerror(errno));
                return EXIT_IO;
        }
        return EXIT_OK;
}

static int load_position(const char *file, struct ima_position *ret)
{
        struct cvm_error err = {};
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        size_t size;
        int k;

        k = read_file(file, 1u << 20, &data, &size, &err);
        if (k < 0)
                return cli_fail(file, &err, k);
        /* The file may have been tampered with: parse it strictly, like any other untrusted JSON. */
        k = canonjson_parse((const char *)data, size, "not a JSON position file", &o, &err);
        if (k < 0)
                return cli_fail(file, &err, k);
        k = ima_position_from_json(o, ret, &err);
        if (k < 0)
                return cli_fail(file, &err, k);
        return EXIT_OK;
}

static int save_position(const char *file, const struct ima_position *pos)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *tmp = NULL;
        const char *s;
        FILE *f;
        int fd;

        if (ima_position_to_json(pos, &o) < 0 || asprintf(&tmp, "%s.XXXXXX", file) < 0)
                return EXIT_INTERNAL;
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        if (!s)
                return EXIT_INTERNAL;
        /* Write a temporary file and rename it: a crash never leaves a torn position behind. */
        fd = mkstemp(tmp);
        if (fd < 0) {
                fprintf(stderr, "cvm-agent: %s: cannot create: %s\n", tmp, strerror(errno));
                return EXIT_IO;
        }
        f = fdopen(fd, "w");
        if (!f) {
                close(fd);
                (void)unlink(tmp);
                return EXIT_INTERNAL;
        }
        if (fprintf(f, "%s\n", s) < 0 || fflush(f) != 0 || fsync(fileno(f)) < 0) {
                fprintf(stderr, "cvm-agent: %s: cannot write: %s\n", tmp, strerror(errno));
                fclose(f);
                (void)unlink(tmp);
                return EXIT_IO;
        }
        fclose(f);
        if (rename(tmp, file) < 0) {
                fprintf(stderr, "cvm-agent: %s: cannot rename to %s: %s\n", tmp, file, strerror(errno));
                (void)unlink(tmp);
                return EXIT_IO;
        }
        return EXIT_OK;
}

/* Open FILE, or the securityfs binary log, falling back to the ASCII one. */
static int open_log(const char **path)
{
        int fd;

        if (*path && strcmp(*path, "-") == 0)
                return STDIN_FILENO;
        if (*path)
                return open(*path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        *path = DEFAULT_BINARY;
        fd = open(*path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd >= 0 || errno != ENOENT)
                return fd;
        *path = DEFAULT_ASCII;
        fd = open(*path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 && errno == ENOENT)
                *path = DEFAULT_BINARY; /* name the preferred file in the error */
        return fd;
}

int cmd_ima(int argc, char *argv[])
{
        enum { OPT_JSON = 0x100, OPT_FORMAT, OPT_RESUME, OPT_SAVE };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, OPT_JSON},
                {"entries", no_argument, NULL, 'v'},
                {"format", required_argument, NULL, OPT_FORMAT},
                {"resume", required_argument, NULL, OPT_RESUME},
                {"save-position", required_argument, NULL, OPT_SAVE},
                {},
        };
        _cleanup_(ima_reader_freep) struct ima_reader *reader = NULL;
        _cleanup_(run_done) struct run run = {};
        struct cvm_error err = {};
        struct ima_position resume, pos;
        enum ima_format format = IMA_FORMAT_AUTO;
        const char *resume_file = NULL, *save_file = NULL, *path = NULL;
        const struct ima_entry *e;
        int c, k, fd, rc;

        while ((c = getopt_long(argc, argv, "hv", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case OPT_JSON:
                        run.json = true;
                        break;
                case 'v':
                        run.entries = true;
                        break;
                case OPT_FORMAT:
                        if (ima_format_from_string(optarg, &format) < 0)
                                return cli_usage_error("ima", "unknown format '%s' (auto, binary, ascii)",
                                                       optarg);
                        break;
                case OPT_RESUME:
                        resume_file = optarg;
                        break;
                case OPT_SAVE:
                        save_file = optarg;
                        break;
                default:
                        return cli_usage_error("ima", "invalid option");
                }
        }
        if (argc - optind > 1)
                return cli_usage_error("ima", "too many arguments");
        if (optind < argc)
                path = argv[optind];

        if (resume_file) {
                rc = load_position(resume_file, &resume);
                if (rc != EXIT_OK)
                        return rc;
        }
        if (run.json && run.entries) {
                run.measurements = json_object_new_array();
                if (!run.measurements)
                        return EXIT_INTERNAL;
        }

        fd = open_log(&path);
        run.path = path;
        if (fd < 0) {
                k = -errno;
                cvm_error_set(&err, k, "cannot open: %s", strerror(-k));
                return cli_fail(path, &err, k);
        }
        k = ima_reader_new(fd, format, resume_file ? &resume : NULL, &reader, &err);
        while (k >= 0) {
                k = ima_reader_next(reader, &e, &err);
                if (k <= 0)
                        break;
                if (on_entry(&run, e) < 0) {
                        k = cvm_error_set(&err, -ENOMEM, "out of memory");
                        break;
                }
        }
        if (fd != STDIN_FILENO)
                close(fd);
        if (k < 0) {
                (void)fflush(stdout);
                return cli_fail(path, &err, k);
        }

        ima_reader_position(reader, &pos);
        if (save_file) {
                rc = save_position(save_file, &pos);
                if (rc != EXIT_OK)
                        return rc;
        }
        rc = run.json ? output_json(&run, &pos, ima_reader_format(reader))
                      : output_text(&run, &pos, ima_reader_format(reader));
        if (rc != EXIT_OK)
                return rc;
        return run.n_invalid ? EXIT_VERIFY_FAILED : EXIT_OK;
}
