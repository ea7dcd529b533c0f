/* SPDX-License-Identifier: Apache-2.0 */
/* cvm-agent eventlog: decode and replay a TCG PC Client measured-boot event log. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "eventlog.h"
#include "hashalg.h"

#define DEFAULT_EVENTLOG "/sys/kernel/security/tpm0/binary_bios_measurements"

static void help(void)
{
        printf("Usage: cvm-agent eventlog [OPTIONS] [FILE]\n"
               "\n"
               "Decode and replay a TCG PC Client measured-boot event log (crypto-agile or SHA-1\n"
               "format, detected automatically). FILE defaults to\n"
               "%s; \"-\" reads standard input.\n"
               "\n"
               "Options:\n"
               "  --json          print the whole result as one JSON document\n"
               "  --bank NAME     show only this PCR bank (sha1, sha256, sha384, sha512)\n"
               "  --pcrs-only     print only the replayed PCR values (and warnings)\n"
               "  -h, --help      this help\n"
               "\n"
               "Exit status: 0 ok (also with digest-mismatch warnings), 3 malformed log, 5 I/O error.\n",
               DEFAULT_EVENTLOG);
}

static const char *json_str(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        return json_object_get_string(v);
}

static int64_t json_int(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v))
                return -1;
        return json_object_get_int64(v);
}

/* The bank whose digest is shown per event: --bank, else sha256 when logged, else the first bank. */
static const char *display_bank(json_object *doc, const struct hash_alg *bank)
{
        json_object *banks;
        size_t n;

        if (bank)
                return bank->name;
        if (!json_object_object_get_ex(doc, "banks", &banks))
                return NULL;
        n = json_object_array_length(banks);
        for (size_t i = 0; i < n; i++)
                if (strcmp(json_object_get_string(json_object_array_get_idx(banks, i)), "sha256") == 0)
                        return "sha256";
        return n > 0 ? json_object_get_string(json_object_array_get_idx(banks, 0)) : NULL;
}

/* Descriptions can be whole grub menu entries; the full text is in --json. */
#define DESCRIPTION_MAX 160

static void print_truncated(const char *s, size_t max)
{
        size_t len = s ? strlen(s) : 0;

        if (len <= max) {
                printf("%s\n", s ? s : "");
                return;
        }
        /* Cut on a UTF-8 character boundary. */
        while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
                max--;
        printf("%.*s...\n", (int)max, s);
}

static void print_pcr_banks(json_object *pcrs, const char *indent)
{
        json_object_object_foreach (pcrs, bank, values) {
                printf("%s%s:\n", indent, bank);
                /* Keys were inserted in ascending PCR order. */
                json_object_object_foreach (values, index, value)
                        printf("%s  %2s  %s\n", indent, index, json_object_get_string(value));
        }
}

static void print_text(const char *path, json_object *doc, const struct hash_alg *bank, bool pcrs_only)
{
        json_object *events, *pcrs, *warnings, *ebs_alt, *banks;
        const char *digest_bank = display_bank(doc, bank);
        int64_t locality = json_int(doc, "startup_locality");

        printf("%s: %s log, %jd events, banks:", path, json_str(doc, "format"),
               (intmax_t)json_int(doc, "event_count"));
        if (json_object_object_get_ex(doc, "banks", &banks))
                for (size_t i = 0; i < json_object_array_length(banks); i++)
                        printf(" %s", json_object_get_string(json_object_array_get_idx(banks, i)));
        printf("\n");
        if (locality >= 0)
                printf("StartupLocality %jd: PCR 0 starts at 00..%02jx\n", (intmax_t)locality,
                       (intmax_t)locality);

        if (!pcrs_only && json_object_object_get_ex(doc, "events", &events)) {
                const struct hash_alg *alg = digest_bank ? hash_alg_by_name(digest_bank) : NULL;
                int width = alg ? (int)(2 * alg->size) : 1;
                char heading[32];

                snprintf(heading, sizeof(heading), "DIGEST (%s)", digest_bank ? digest_bank : "-");
                printf("\n%5s %3s  %-32s  %-*s  %s\n", "EVENT", "PCR", "TYPE", width, heading,
                       "DESCRIPTION");
                for (size_t i = 0; i < json_object_array_length(events); i++) {
                        json_object *e = json_object_array_get_idx(events, i), *digests;
                        const char *digest = NULL;

                        if (digest_bank && json_object_object_get_ex(e, "digests", &digests))
                                digest = json_str(digests, digest_bank);
                        printf("%5jd %3jd  %-32s  %-*s  ", (intmax_t)json_int(e, "number"),
                               (intmax_t)json_int(e, "pcr"), json_str(e, "type"), width,
                               digest ? digest : "-");
                        print_truncated(json_str(e, "description"), DESCRIPTION_MAX);
                }
        }

        if (json_object_object_get_ex(doc, "pcrs", &pcrs)) {
                printf("\nReplayed PCRs:\n");
                if (json_object_object_length(pcrs) == 0)
                        printf("  (the log extends no PCR)\n");
                print_pcr_banks(pcrs, "  ");
        }
        if (json_object_object_get_ex(doc, "ebs_workaround", &ebs_alt)) {
                json_object *alt;

                printf("\nPCR 5 with the missing ExitBootServices actions appended (see "
                       "cvm-agent-eventlog(1)):\n");
                if (json_object_object_get_ex(ebs_alt, "pcrs", &alt))
                        print_pcr_banks(alt, "  ");
        }
        if (json_object_object_get_ex(doc, "warnings", &warnings) &&
            json_object_array_length(warnings) > 0) {
                printf("\nWarnings:\n");
                for (size_t i = 0; i < json_object_array_length(warnings); i++)
                        printf("  %s\n", json_object_get_string(json_object_array_get_idx(warnings, i)));
        }
}

int cmd_eventlog(int argc, char *argv[])
{
        enum { OPT_JSON = 0x100, OPT_BANK, OPT_PCRS_ONLY };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, OPT_JSON},
                {"bank", required_argument, NULL, OPT_BANK},
                {"pcrs-only", no_argument, NULL, OPT_PCRS_ONLY},
                {},
        };
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        _cleanup_(json_object_putp) json_object *doc = NULL;
        _cleanup_free_ unsigned char *buf = NULL;
        struct eventlog_json_options opts = {};
        struct cvm_error err = {};
        const char *path = DEFAULT_EVENTLOG;
        bool json = false;
        size_t size = 0;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case OPT_JSON:
                        json = true;
                        break;
                case OPT_BANK:
                        opts.bank = hash_alg_by_name(optarg);
                        if (!opts.bank)
                                return cli_usage_error(argv[0], "unknown bank '%s'", optarg);
                        break;
                case OPT_PCRS_ONLY:
                        opts.pcrs_only = true;
                        break;
                default:
                        return cli_usage_error(argv[0], "invalid option");
                }
        }
        if (optind + 1 < argc)
                return cli_usage_error(argv[0], "too many arguments");
        if (optind < argc)
                path = argv[optind];

        r = cli_read_input(path, EVENTLOG_MAX_SIZE, &buf, &size);
        if (r != EXIT_OK)
                return r;
        r = eventlog_parse(buf, size, &log, &err);
        if (r < 0)
                return cli_fail(path, &err, r);
        if (opts.bank && eventlog_bank_index(log, opts.bank->tpm_id) < 0) {
                cvm_error_set(&err, -EOPNOTSUPP, "the log has no %s bank", opts.bank->name);
                return cli_fail(path, &err, -EOPNOTSUPP);
        }
        r = eventlog_to_json(log, &opts, &doc, &err);
        if (r < 0)
                return cli_fail(path, &err, r);

        if (json) {
                json_object *file = json_object_new_string(path);

                if (!file || json_object_object_add(doc, "file", file) < 0) {
                        json_object_put(file);
                        return cli_fail(path, NULL, -ENOMEM);
                }
                return cli_print_json(doc);
        }
        print_text(path, doc, opts.bank, opts.pcrs_only);
        if (fflush(stdout) != 0 || ferror(stdout)) {
                fprintf(stderr, "cvm-agent: cannot write to standard output\n");
                return EXIT_IO;
        }
        return EXIT_OK;
}
