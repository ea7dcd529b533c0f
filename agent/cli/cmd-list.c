/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent list: keyslots and tokens of a LUKS2 volume, the cvm-agent tokens in detail, and
 * whether the header passes the strict validation that unlock applies.
 */
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
        printf("Usage: cvm-agent list [OPTIONS] DEVICE\n"
               "\n"
               "Show the keyslots and tokens of the LUKS2 volume DEVICE, the configuration of its\n"
               "cvm-agent tokens, and whether the header passes cvm-agent's strict validation\n"
               "(the check unlock performs before requesting any key).\n"
               "\n"
               "Options:\n"
               "  --json       print JSON\n"
               "  -h, --help   show this help\n"
               "\n"
               "Exit status: 0 listed (also when the header fails validation: see \"header\"),\n"
               "2 usage error, 3 not a LUKS2 volume, 5 I/O error.\n");
}

static int add(json_object *o, const char *key, json_object *v)
{
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static json_object *slot_array(uint32_t mask)
{
        json_object *a = json_object_new_array();

        for (int i = 0; a && i < 32; i++)
                if ((mask & (UINT32_C(1) << i)) && json_object_array_add(a, json_object_new_int(i)) < 0) {
                        json_object_put(a);
                        return NULL;
                }
        return a;
}

/* Details of a cvm-agent token; never the wrapped secret. */
static int cvm_token_json(const struct luks_token_entry *e, json_object *o)
{
        _cleanup_(lukstoken_freep) struct lukstoken *t = NULL;
        struct cvm_error err = {};
        json_object *cfg;
        int r;

        r = lukstoken_parse_text(e->json ? e->json : "", &t, &err);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return add(o, "state", json_object_new_string("invalid"))
                               ?: add(o, "error", json_object_new_string(err.message));
        if (t->pending)
                return add(o, "state", json_object_new_string("pending"))
                               ?: add(o, "pending_keyslot", json_object_new_int(t->pending_keyslot));
        r = add(o, "state", json_object_new_string("enrolled"));
        if (r >= 0)
                r = add(o, "version", json_object_new_int(t->version));
        if (r >= 0)
                r = add(o, "backend", json_object_new_string(lukstoken_backend_name(t->backend)));
        if (r >= 0)
                r = add(o, "wrap_alg", json_object_new_string(lukstoken_wrap_alg_name(t->wrap.alg)));
        if (r < 0)
                return r;
        cfg = json_object_new_object();
        r = add(o, lukstoken_backend_name(t->backend), cfg);
        if (r < 0)
                return r;
        if (t->backend == LUKSTOKEN_BACKEND_AZURE)
                return add(cfg, "maa_url", json_object_new_string(t->maa_url)) ?:
                               add(cfg, "key_id", json_object_new_string(t->key_id)) ?:
                               add(cfg, "enc", json_object_new_string(t->enc));
        return add(cfg, "kbs_url", json_object_new_string(t->kbs_url)) ?:
                       add(cfg, "resource_path", json_object_new_string(t->resource_path)) ?:
                       add(cfg, "kbs_ca", json_object_new_boolean(t->kbs_ca != NULL));
}

static int build_json(const char *device, const struct luks_listing *l, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *hdr = NULL, *slots = NULL, *tokens = NULL;
        int r;

        if (!o)
                return -ENOMEM;
        r = add(o, "device", json_object_new_string(device));
        if (r >= 0)
                r = add(o, "uuid", json_object_new_string(l->uuid));
        if (r >= 0) {
                hdr = json_object_new_object();
                r = add(o, "header", hdr);
        }
        if (r >= 0)
                r = add(hdr, "valid", json_object_new_boolean(l->validation == 0));
        if (r >= 0 && l->validation < 0)
                r = add(hdr, "reason", json_object_new_string(l->validation_error));
        if (r >= 0) {
                slots = json_object_new_array();
                r = add(o, "keyslots", slots);
        }
        for (int k = 0; r >= 0 && k < 32; k++) {
                const struct luks_keyslot_entry *e = &l->keyslots[k];
                json_object *s;
                uint32_t users = 0;

                if (!e->active)
                        continue;
                for (int t = 0; t < 32; t++)
                        if (l->tokens[t].active && (l->tokens[t].keyslots & (UINT32_C(1) << k)))
                                users |= UINT32_C(1) << t;
                s = json_object_new_object();
                if (!s || json_object_array_add(slots, s) < 0) {
                        json_object_put(s);
                        return -ENOMEM;
                }
                r = add(s, "id", json_object_new_int(k));
                if (r >= 0)
                        r = add(s, "kdf", json_object_new_string(e->kdf));
                if (r >= 0 && strcmp(e->kdf, "pbkdf2") == 0)
                        r = add(s, "hash", json_object_new_string(e->hash));
                if (r >= 0)
                        r = add(s, "iterations", json_object_new_int64(e->iterations));
                if (r >= 0 && strcmp(e->kdf, "pbkdf2") != 0)
                        r = add(s, "memory_kib", json_object_new_int64(e->memory))
                                    ?: add(s, "threads", json_object_new_int64(e->threads));
                if (r >= 0)
                        r = add(s, "tokens", slot_array(users));
        }
        if (r >= 0) {
                tokens = json_object_new_array();
                r = add(o, "tokens", tokens);
        }
        for (int t = 0; r >= 0 && t < 32; t++) {
                const struct luks_token_entry *e = &l->tokens[t];
                json_object *s;

                if (!e->active)
                        continue;
                s = json_object_new_object();
                if (!s || json_object_array_add(tokens, s) < 0) {
                        json_object_put(s);
                        return -ENOMEM;
                }
                r = add(s, "id", json_object_new_int(t));
                if (r >= 0)
                        r = add(s, "type", json_object_new_string(e->type));
                if (r >= 0)
                        r = add(s, "keyslots", slot_array(e->keyslots));
                if (r >= 0 && strcmp(e->type, LUKSTOKEN_TYPE) == 0)
                        r = cvm_token_json(e, s);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static void print_text(const char *device, json_object *o)
{
        json_object *hdr = json_object_object_get(o, "header"),
                    *slots = json_object_object_get(o, "keyslots"),
                    *tokens = json_object_object_get(o, "tokens");

        printf("LUKS2 volume %s, UUID %s\n", device,
               json_object_get_string(json_object_object_get(o, "uuid")));
        if (json_object_get_boolean(json_object_object_get(hdr, "valid")))
                printf("Header: accepted by cvm-agent's validation\n");
        else
                printf("Header: REJECTED by cvm-agent's validation: %s\n",
                       json_object_get_string(json_object_object_get(hdr, "reason")));
        printf("Keyslots:\n");
        for (size_t i = 0; i < json_object_array_length(slots); i++) {
                json_object *s = json_object_array_get_idx(slots, i),
                            *users = json_object_object_get(s, "tokens");

                printf("  %d: %s", json_object_get_int(json_object_object_get(s, "id")),
                       json_object_get_string(json_object_object_get(s, "kdf")));
                if (json_object_object_get(s, "hash"))
                        printf("-%s", json_object_get_string(json_object_object_get(s, "hash")));
                printf(", %lld iterations",
                       (long long)json_object_get_int64(json_object_object_get(s, "iterations")));
                if (json_object_object_get(s, "memory_kib"))
                        printf(", %lld KiB, %lld threads",
                               (long long)json_object_get_int64(json_object_object_get(s, "memory_kib")),
                               (long long)json_object_get_int64(json_object_object_get(s, "threads")));
                for (size_t k = 0; k < json_object_array_length(users); k++)
                        printf("%s%d", k ? "," : "  [token ",
                               json_object_get_int(json_object_array_get_idx(users, k)));
                printf("%s\n", json_object_array_length(users) ? "]" : "");
        }
        printf("Tokens:%s\n", json_object_array_length(tokens) ? "" : " none");
        for (size_t i = 0; i < json_object_array_length(tokens); i++) {
                json_object *t = json_object_array_get_idx(tokens, i),
                            *ks = json_object_object_get(t, "keyslots"),
                            *state = json_object_object_get(t, "state"), *cfg;
                const char *backend;

                printf("  %d: %s, keyslots", json_object_get_int(json_object_object_get(t, "id")),
                       json_object_get_string(json_object_object_get(t, "type")));
                for (size_t k = 0; k < json_object_array_length(ks); k++)
                        printf("%s%d", k ? "," : " ", json_object_get_int(json_object_array_get_idx(ks, k)));
                if (json_object_array_length(ks) == 0)
                        printf(" none");
                if (state)
                        printf(", %s", json_object_get_string(state));
                if (json_object_object_get(t, "error"))
                        printf(": %s", json_object_get_string(json_object_object_get(t, "error")));
                if (json_object_object_get(t, "pending_keyslot"))
                        printf(" (keyslot %d; cleaned up by the next enroll/unenroll)",
                               json_object_get_int(json_object_object_get(t, "pending_keyslot")));
                backend = json_object_get_string(json_object_object_get(t, "backend"));
                if (backend && (cfg = json_object_object_get(t, backend))) {
                        printf(", backend %s, wrap %s\n", backend,
                               json_object_get_string(json_object_object_get(t, "wrap_alg")));
                        json_object_object_foreach (cfg, key, val) {
                                printf("       %s: %s\n", key, json_object_get_string(val));
                        }
                        continue;
                }
                printf("\n");
        }
}

int cmd_list(int argc, char *argv[])
{
        enum { OPT_JSON = 0x100 };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"json", no_argument, NULL, OPT_JSON},
                {},
        };
        _cleanup_(luks_listing_freep) struct luks_listing *l = NULL;
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct cvm_error err = {};
        const char *device;
        bool json = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return EXIT_OK;
                case OPT_JSON:
                        json = true;
                        break;
                default:
                        return cli_usage_error("list", "unknown option");
                }
        }
        if (argc - optind != 1)
                return cli_usage_error("list", "expected one argument, DEVICE");
        device = argv[optind];

        r = luks_list(device, &l, &err);
        if (r < 0)
                return cli_fail(device, &err, r);
        r = build_json(device, l, &o);
        if (r < 0)
                return cli_fail(device, NULL, r);
        if (json)
                return cli_print_json(o);
        print_text(device, o);
        return EXIT_OK;
}
