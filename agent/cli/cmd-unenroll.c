/* SPDX-License-Identifier: Apache-2.0 */
/* cvm-agent unenroll: remove cvm-agent tokens and their keyslots from a LUKS2 volume. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "luks-cli.h"
#include "luks.h"

static void help(void)
{
        printf("Usage: cvm-agent unenroll [OPTIONS] DEVICE\n"
               "\n"
               "Remove the cvm-agent enrollment(s) of the LUKS2 volume DEVICE: each cvm-agent\n"
               "token and the keyslot it uses (kept when another token still uses it). Other\n"
               "keyslots and tokens are left alone; the volume's last keyslot is never removed.\n"
               "Leftovers of an interrupted enroll or unenroll are cleaned up first.\n"
               "\n"
               "Options:\n"
               "  --token N    remove only cvm-agent token N\n"
               "  --json       print the result as JSON\n"
               "  -h, --help   show this help\n"
               "\n"
               "Exit status: 0 done (also when there was no enrollment), 2 usage error, --token N\n"
               "is not a cvm-agent enrollment, or its keyslot is the last one, 3 not a LUKS2 volume,\n"
               "5 I/O error.\n");
}

int cmd_unenroll(int argc, char *argv[])
{
        enum { OPT_TOKEN = 0x100, OPT_JSON };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"token", required_argument, NULL, OPT_TOKEN},
                {"json", no_argument, NULL, OPT_JSON},
                {},
        };
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct cvm_error err = {};
        const char *device;
        unsigned removed = 0;
        bool json = false;
        int c, token = -1, r;
        char *end;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case OPT_TOKEN:
                        errno = 0;
                        token = (int)strtol(optarg, &end, 10);
                        if (errno || !*optarg || *end || token < 0 || token > 31)
                                return cli_usage_error("unenroll",
                                                       "--token: '%s' is not a token number 0..31", optarg);
                        break;
                case OPT_JSON:
                        json = true;
                        break;
                default:
                        return cli_usage_error("unenroll", "unknown option");
                }
        }
        if (argc - optind != 1)
                return cli_usage_error("unenroll", "expected one argument, DEVICE");
        device = argv[optind];

        r = luks_unenroll(device, token, NULL, NULL, &removed, &err);
        if (r == -ENOENT && token >= 0) {
                fprintf(stderr, "cvm-agent: %s: %s\n", device, cvm_error_message(&err, r));
                return EXIT_USAGE;
        }
        if (r < 0 && r != -ENOENT)
                return r == -EBADMSG ? cli_fail(device, &err, r) : luks_cli_fail(device, &err, r);
        /* No enrollment at all is not an error: unenroll is idempotent. */
        if (!json) {
                if (removed)
                        printf("Removed %u cvm-agent enrollment%s from %s\n", removed,
                               removed > 1 ? "s" : "", device);
                else
                        printf("No cvm-agent enrollment on %s\n", device);
                return EXIT_OK;
        }
        o = json_object_new_object();
        if (!o || json_object_object_add(o, "device", json_object_new_string(device)) < 0 ||
            json_object_object_add(o, "removed", json_object_new_int((int)removed)) < 0)
                return EXIT_INTERNAL;
        return cli_print_json(o);
}
