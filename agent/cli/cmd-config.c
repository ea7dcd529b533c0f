/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent config: print the effective global configuration and where each value comes from
 * (built-in default, FILE:LINE, environment, option), so an operator can debug precedence.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "cli.h"
#include "config.h"

static void help(void)
{
        printf("Usage: cvm-agent [--config FILE] [--tcti SPEC] config [--json]\n"
               "\n"
               "Show the effective configuration: built-in defaults, overridden by the configuration file\n"
               "(default " CLI_CONFIG_DEFAULT ") and its drop-ins FILE.d/*.conf in name\n"
               "order, then $CVM_AGENT_TCTI, then --tcti. Each value is shown with its source.\n"
               "\n"
               "Options:\n"
               "  --json      print the result as JSON\n"
               "  -h, --help  this help\n"
               "\n"
               "Exit status: 0 ok, 2 usage, 5 a file could not be read, 11 invalid configuration.\n"
               "See cvm-agent-config(1) and cvm-agent.conf(5).\n");
}

static int jadd(json_object *o, const char *key, json_object *val)
{
        if (!val || json_object_object_add(o, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

/* Describes the source string of a setting as JSON members of @o. */
static int add_source(json_object *o, const char *source)
{
        const char *colon;
        char *end;
        unsigned long line;

        if (strcmp(source, "default") == 0)
                return jadd(o, "source", json_object_new_string("default"));
        if (strncmp(source, "environment ", 12) == 0)
                return jadd(o, "source", json_object_new_string("environment"))
                               ?: jadd(o, "variable", json_object_new_string(source + 12));
        if (strncmp(source, "option ", 7) == 0)
                return jadd(o, "source", json_object_new_string("option"))
                               ?: jadd(o, "option", json_object_new_string(source + 7));
        /* "FILE:LINE", with the line after the last colon. */
        colon = strrchr(source, ':');
        if (!colon)
                return -EINVAL;
        errno = 0;
        line = strtoul(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1)
                return -EINVAL;
        return jadd(o, "source", json_object_new_string("file")) ?:
               jadd(o, "file", json_object_new_string_len(source, (int)(colon - source))) ?:
               jadd(o, "line", json_object_new_int64((int64_t)line));
}

static json_object *typed_value(const struct config *c, enum config_key k)
{
        const struct config_schema *sc = config_schema(k);
        const char *text = config_get_text(c, k);

        if (!text)
                return NULL; /* JSON null */
        switch (sc->type) {
        case CONFIG_TYPE_BOOL:
                return json_object_new_boolean(config_get_bool(c, k));
        case CONFIG_TYPE_UINT:
                return json_object_new_uint64(config_get_uint(c, k));
        default:
                return json_object_new_string(text);
        }
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct config *, config_free)

static int build_json(const struct config *c, json_object **ret)
{
        _cleanup_(config_freep) struct config *defaults = NULL;
        _cleanup_(json_object_putp) json_object *root = json_object_new_object(),
                                                *files = json_object_new_array(),
                                                *settings = json_object_new_object();
        int r;

        if (!root || !files || !settings)
                return -ENOMEM;
        r = config_new(&defaults);
        if (r < 0)
                return r;
        for (size_t i = 0; i < config_n_files(c); i++) {
                json_object *f = json_object_new_string(config_file(c, i));
                if (!f || json_object_array_add(files, f) < 0) {
                        json_object_put(f);
                        return -ENOMEM;
                }
        }
        for (enum config_key k = 0; k < _CONFIG_KEY_MAX; k++) {
                const struct config_schema *sc = config_schema(k);
                json_object *section = NULL, *s;
                _cleanup_(json_object_putp) json_object *o = json_object_new_object();
                const char *text = config_get_text(c, k);

                if (!o)
                        return -ENOMEM;
                if (!json_object_object_get_ex(settings, sc->section, &section)) {
                        section = json_object_new_object();
                        if (jadd(settings, sc->section, section) < 0)
                                return -ENOMEM;
                }
                /* json_object_object_add() takes a NULL value as JSON null. */
                s = typed_value(c, k);
                if (text && !s)
                        return -ENOMEM;
                if (json_object_object_add(o, "value", s) < 0) {
                        json_object_put(s);
                        return -ENOMEM;
                }
                if (text && sc->type == CONFIG_TYPE_DURATION &&
                    jadd(o, "usec", json_object_new_uint64(config_get_usec(c, k))) < 0)
                        return -ENOMEM;
                r = add_source(o, config_get_source(c, k));
                if (r < 0)
                        return r;
                s = typed_value(defaults, k);
                if ((sc->default_value && !s) || json_object_object_add(o, "default", s) < 0) {
                        json_object_put(s);
                        return -ENOMEM;
                }
                if (jadd(section, sc->key, TAKE_PTR(o)) < 0)
                        return -ENOMEM;
        }
        if (jadd(root, "config_file",
                 json_object_new_string(cli_globals.config ? cli_globals.config : CLI_CONFIG_DEFAULT)) < 0 ||
            jadd(root, "files", TAKE_PTR(files)) < 0 || jadd(root, "settings", TAKE_PTR(settings)) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(root);
        return 0;
}

static void print_text(const struct config *c)
{
        const char *section = NULL;

        printf("# configuration file: %s\n", cli_globals.config ? cli_globals.config : CLI_CONFIG_DEFAULT);
        if (config_n_files(c) == 0)
                printf("# no file read: built-in defaults\n");
        for (size_t i = 0; i < config_n_files(c); i++)
                printf("# read: %s\n", config_file(c, i));
        for (enum config_key k = 0; k < _CONFIG_KEY_MAX; k++) {
                const struct config_schema *sc = config_schema(k);
                const char *text = config_get_text(c, k);
                int w;

                if (!section || strcmp(section, sc->section) != 0) {
                        section = sc->section;
                        printf("\n[%s]\n", section);
                }
                w = printf("%s=%s", sc->key, text ? text : "");
                printf("%*s# %s%s\n", w < 40 ? 40 - w : 1, "", config_get_source(c, k),
                       text ? "" : " (unset)");
        }
}

int cmd_config(int argc, char *argv[])
{
        enum { OPT_JSON = 0x100 };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, OPT_JSON},
                {},
        };
        _cleanup_(json_object_putp) json_object *root = NULL;
        const struct config *c;
        bool json = false;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (opt) {
                case 'h':
                        help();
                        return EXIT_OK;
                case OPT_JSON:
                        json = true;
                        break;
                default:
                        return cli_usage_error("config", "invalid option");
                }
        }
        if (optind < argc)
                return cli_usage_error("config", "unexpected argument '%s'", argv[optind]);

        r = cli_config(&c);
        if (r != EXIT_OK)
                return r;
        if (!json) {
                print_text(c);
                return EXIT_OK;
        }
        r = build_json(c, &root);
        if (r < 0)
                return cli_fail(NULL, NULL, r);
        return cli_print_json(root);
}
