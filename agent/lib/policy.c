/* SPDX-License-Identifier: Apache-2.0 */
/* Policy documents: parsing, validation with JSON-path error messages, compiled form. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "cleanup.h"
#include "policy-internal.h"
#include "util.h"

const char *const policy_tcb_names[_TCB_MAX] = {
        [TCB_BOOTLOADER] = "bootloader", [TCB_TEE] = "tee", [TCB_SNP] = "snp",
        [TCB_MICROCODE] = "microcode",   [TCB_FMC] = "fmc",
};

/* --- JSON paths ------------------------------------------------------------------------------ */

void jpath_init(struct jpath *p)
{
        strcpy(p->buf, "$");
        p->len = 1;
}

static void jpath_append(struct jpath *p, const char *s)
{
        size_t n = strlen(s);

        if (p->len + n >= sizeof(p->buf)) {
                /* Paths this deep only come from hostile input; keep the message bounded. */
                n = sizeof(p->buf) - 1 - p->len;
        }
        memcpy(p->buf + p->len, s, n);
        p->len += n;
        p->buf[p->len] = 0;
}

static bool is_identifier(const char *s)
{
        if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
                return false;
        for (; *s; s++)
                if (!(isalnum((unsigned char)*s) || *s == '_'))
                        return false;
        return true;
}

size_t jpath_push_key(struct jpath *p, const char *key)
{
        size_t saved = p->len;

        if (is_identifier(key)) {
                jpath_append(p, ".");
                jpath_append(p, key);
                return saved;
        }
        jpath_append(p, "[\"");
        for (const char *c = key; *c && p->len < sizeof(p->buf) - 8; c++) {
                char esc[8];

                if (*c == '"' || *c == '\\')
                        snprintf(esc, sizeof(esc), "\\%c", *c);
                else if ((unsigned char)*c < 0x20)
                        snprintf(esc, sizeof(esc), "\\u%04x", (unsigned char)*c);
                else
                        snprintf(esc, sizeof(esc), "%c", *c);
                jpath_append(p, esc);
        }
        jpath_append(p, "\"]");
        return saved;
}

size_t jpath_push_index(struct jpath *p, size_t i)
{
        size_t saved = p->len;
        char b[32];

        snprintf(b, sizeof(b), "[%zu]", i);
        jpath_append(p, b);
        return saved;
}

void jpath_pop(struct jpath *p, size_t saved)
{
        p->len = saved;
        p->buf[saved] = 0;
}

/* --- small validators ------------------------------------------------------------------------ */

static const char *json_type_word(json_object *o)
{
        switch (json_object_get_type(o)) {
        case json_type_null:
                return "null";
        case json_type_boolean:
                return "a boolean";
        case json_type_double:
                return "a number";
        case json_type_int:
                return "an integer";
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        }
        return "something else";
}

static int bad(struct cvm_error *err, const struct jpath *p, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int bad(struct cvm_error *err, const struct jpath *p, const char *fmt, ...)
{
        char msg[CVM_ERROR_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return cvm_error_set(err, -EBADMSG, "%s: %s", p->buf, msg);
}

static int expect(json_object *o, json_type t, const struct jpath *p, struct cvm_error *err)
{
        static const char *const words[] = {
                [json_type_null] = "null",        [json_type_boolean] = "a boolean",
                [json_type_double] = "a number",  [json_type_int] = "an integer",
                [json_type_object] = "an object", [json_type_array] = "an array",
                [json_type_string] = "a string",
        };

        if (json_object_get_type(o) == t)
                return 0;
        return bad(err, p, "expected %s, found %s", words[t], json_type_word(o));
}

static bool is_annotation(const char *key)
{
        return strcmp(key, "label") == 0 || strcmp(key, "description") == 0 || strcmp(key, "comment") == 0;
}

/* Every member of @o must be in @allowed (NULL-terminated) or an annotation. */
static int check_members(json_object *o, const char *const *allowed, struct jpath *p, struct cvm_error *err)
{
        json_object_object_foreach (o, key, val) {
                bool ok = is_annotation(key);

                for (size_t i = 0; !ok && allowed[i]; i++)
                        ok = strcmp(key, allowed[i]) == 0;
                if (!ok) {
                        size_t s = jpath_push_key(p, key);
                        int r = bad(err, p, "unknown member");

                        jpath_pop(p, s);
                        return r;
                }
                if (is_annotation(key) && json_object_get_type(val) != json_type_string) {
                        size_t s = jpath_push_key(p, key);
                        int r = expect(val, json_type_string, p, err);

                        jpath_pop(p, s);
                        return r;
                }
        }
        return 0;
}

static const char *annotation(json_object *o, const char *key)
{
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || json_object_get_type(v) != json_type_string)
                return NULL;
        return json_object_get_string(v);
}

static int get_bool(json_object *o, const char *key, bool def, bool *ret, struct jpath *p,
                    struct cvm_error *err)
{
        json_object *v;
        size_t s;
        int r;

        if (!json_object_object_get_ex(o, key, &v)) {
                *ret = def;
                return 0;
        }
        s = jpath_push_key(p, key);
        r = expect(v, json_type_boolean, p, err);
        jpath_pop(p, s);
        if (r < 0)
                return r;
        *ret = json_object_get_boolean(v);
        return 0;
}

/* An integer in [0, max]; absent: *ret = -1. */
static int get_uint(json_object *o, const char *key, int64_t max, int64_t *ret, struct jpath *p,
                    struct cvm_error *err)
{
        json_object *v;
        int64_t x;
        size_t s;
        int r;

        *ret = -1;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        s = jpath_push_key(p, key);
        r = expect(v, json_type_int, p, err);
        if (r >= 0) {
                x = json_object_get_int64(v);
                if (x < 0 || x > max)
                        r = bad(err, p, "%" PRId64 " is out of range 0..%" PRId64, x, max);
                else
                        *ret = x;
        }
        jpath_pop(p, s);
        return r;
}

static int hex_fixed(json_object *v, size_t size, uint8_t *out, const struct jpath *p, struct cvm_error *err)
{
        const char *s;
        int r;

        r = expect(v, json_type_string, p, err);
        if (r < 0)
                return r;
        s = json_object_get_string(v);
        if ((size_t)json_object_get_string_len(v) != 2 * size)
                return bad(err, p, "not a hex string of %zu digits", 2 * size);
        for (size_t i = 0; i < size; i++) {
                int hi = s[2 * i], lo = s[2 * i + 1];

                if (!isxdigit(hi) || !isxdigit(lo))
                        return bad(err, p, "not a hex string of %zu digits", 2 * size);
                hi = isdigit(hi) ? hi - '0' : (tolower(hi) - 'a' + 10);
                lo = isdigit(lo) ? lo - '0' : (tolower(lo) - 'a' + 10);
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return 0;
}

static void hexlist_done(struct hexlist *l)
{
        free(l->v);
        *l = (struct hexlist){};
}

bool hexlist_contains(const struct hexlist *l, const uint8_t *d)
{
        for (size_t i = 0; i < l->n; i++)
                if (memcmp(l->v + i * l->size, d, l->size) == 0)
                        return true;
        return false;
}

static int hexlist_append(struct hexlist *l, const uint8_t *d)
{
        uint8_t *n;

        if (hexlist_contains(l, d))
                return 0; /* duplicates are harmless; keep one */
        n = realloc(l->v, (l->n + 1) * l->size);
        if (!n)
                return -ENOMEM;
        l->v = n;
        memcpy(l->v + l->n * l->size, d, l->size);
        l->n++;
        return 0;
}

/* Parse member @key of @o: a hex string (when @single_ok) or an array of hex strings. */
static int get_hexlist(json_object *o, const char *key, size_t size, struct hexlist *ret, size_t *budget,
                       struct jpath *p, struct cvm_error *err)
{
        json_object *v;
        size_t s;
        int r = 0;

        ret->size = size;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        s = jpath_push_key(p, key);
        r = expect(v, json_type_array, p, err);
        if (r >= 0 && json_object_array_length(v) == 0)
                r = bad(err, p,
                        "empty list (nothing would be allowed; remove the member to allow anything)");
        for (size_t i = 0; r >= 0 && i < json_object_array_length(v); i++) {
                size_t s2 = jpath_push_index(p, i);
                uint8_t d[HASH_MAX_SIZE > 64 ? HASH_MAX_SIZE : 64];

                if (*budget == 0)
                        r = cvm_error_set(err, -E2BIG, "%s: more than %u digests in the policy", p->buf,
                                          POLICY_MAX_DIGESTS);
                else {
                        (*budget)--;
                        r = hex_fixed(json_object_array_get_idx(v, i), size, d, p, err);
                        if (r >= 0 && hexlist_append(ret, d) < 0)
                                r = cvm_error_set(err, -ENOMEM, "out of memory");
                }
                jpath_pop(p, s2);
        }
        jpath_pop(p, s);
        return r;
}

/* --- event types ----------------------------------------------------------------------------- */

static const uint32_t known_types[] = {
        EV_PREBOOT_CERT,
        EV_POST_CODE,
        EV_UNUSED,
        EV_NO_ACTION,
        EV_SEPARATOR,
        EV_ACTION,
        EV_EVENT_TAG,
        EV_S_CRTM_CONTENTS,
        EV_S_CRTM_VERSION,
        EV_CPU_MICROCODE,
        EV_PLATFORM_CONFIG_FLAGS,
        EV_TABLE_OF_DEVICES,
        EV_COMPACT_HASH,
        EV_IPL,
        EV_IPL_PARTITION_DATA,
        EV_NONHOST_CODE,
        EV_NONHOST_CONFIG,
        EV_NONHOST_INFO,
        EV_OMIT_BOOT_DEVICE_EVENTS,
        EV_POST_CODE2,
        EV_EFI_VARIABLE_DRIVER_CONFIG,
        EV_EFI_VARIABLE_BOOT,
        EV_EFI_BOOT_SERVICES_APPLICATION,
        EV_EFI_BOOT_SERVICES_DRIVER,
        EV_EFI_RUNTIME_SERVICES_DRIVER,
        EV_EFI_GPT_EVENT,
        EV_EFI_ACTION,
        EV_EFI_PLATFORM_FIRMWARE_BLOB,
        EV_EFI_HANDOFF_TABLES,
        EV_EFI_PLATFORM_FIRMWARE_BLOB2,
        EV_EFI_HANDOFF_TABLES2,
        EV_EFI_VARIABLE_BOOT2,
        EV_EFI_GPT_EVENT2,
        EV_EFI_HCRTM_EVENT,
        EV_EFI_VARIABLE_AUTHORITY,
        EV_EFI_SPDM_FIRMWARE_BLOB,
        EV_EFI_SPDM_FIRMWARE_CONFIG,
        EV_EFI_SPDM_DEVICE_POLICY,
        EV_EFI_SPDM_DEVICE_AUTHORITY,
};

int policy_event_type_from_name(const char *s, uint32_t *ret)
{
        for (size_t i = 0; i < ELEMENTSOF(known_types); i++) {
                const char *n = eventlog_type_name(known_types[i]);

                if (n && strcmp(n, s) == 0) {
                        *ret = known_types[i];
                        return 0;
                }
        }
        /* Vendor and future types by number: "0x800000f0". */
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && s[2]) {
                char *end;
                unsigned long long v;

                errno = 0;
                v = strtoull(s + 2, &end, 16);
                if (errno == 0 && !*end && v <= UINT32_MAX) {
                        *ret = (uint32_t)v;
                        return 0;
                }
        }
        return -EINVAL;
}

/* --- event rules ----------------------------------------------------------------------------- */

static const char *const rule_classes[] = {
        "firmware",
        "separator",
        "efi_action",
        "secureboot_variable",
        "secureboot_authority",
        "boot_variable",
        "boot_application",
        "kernel",
        "initrd",
        "kernel_cmdline",
        "grub_command",
        "grub_kernel_command",
        "grub_initrd_command",
        "grub_file",
        "load_options",
        "uki_section",
        "mok",
        "gpt",
        "other",
        NULL,
};

static int parse_rule(json_object *o, const struct hash_alg *alg, struct rule *ret, size_t *budget,
                      struct jpath *p, struct cvm_error *err)
{
        static const char *const members[] = {
                "type",   "digest", "digests", "data_prefix", "optional",
                "repeat", "class",  "string",  "section",     NULL,
        };
        json_object *v;
        size_t s;
        int r;

        r = expect(o, json_type_object, p, err);
        if (r < 0)
                return r;
        r = check_members(o, members, p, err);
        if (r < 0)
                return r;
        ret->path = strdup(p->buf);
        if (!ret->path)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        ret->label = annotation(o, "label");
        ret->digests.size = alg->size;

        if (!json_object_object_get_ex(o, "type", &v))
                return bad(err, p, "missing member \"type\"");
        s = jpath_push_key(p, "type");
        r = expect(v, json_type_string, p, err);
        if (r >= 0 && policy_event_type_from_name(json_object_get_string(v), &ret->type) < 0)
                r = bad(err, p, "unknown event type \"%s\" (use a TCG name such as \"EV_IPL\" or \"0x%s\")",
                        json_object_get_string(v), "800000e0");
        if (r >= 0 && ret->type == EV_NO_ACTION)
                r = bad(err, p, "EV_NO_ACTION events are never extended; they cannot be rules");
        jpath_pop(p, s);
        if (r < 0)
                return r;

        if (json_object_object_get_ex(o, "digest", &v)) {
                uint8_t d[HASH_MAX_SIZE];

                if (json_object_object_get_ex(o, "digests", NULL))
                        return bad(err, p, "both \"digest\" and \"digests\" given");
                s = jpath_push_key(p, "digest");
                r = hex_fixed(v, alg->size, d, p, err);
                jpath_pop(p, s);
                if (r < 0)
                        return r;
                if (*budget == 0)
                        return cvm_error_set(err, -E2BIG, "%s: more than %u digests in the policy", p->buf,
                                             POLICY_MAX_DIGESTS);
                (*budget)--;
                if (hexlist_append(&ret->digests, d) < 0)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
        } else {
                r = get_hexlist(o, "digests", alg->size, &ret->digests, budget, p, err);
                if (r < 0)
                        return r;
        }

        if (json_object_object_get_ex(o, "data_prefix", &v)) {
                s = jpath_push_key(p, "data_prefix");
                r = expect(v, json_type_string, p, err);
                if (r >= 0 && json_object_get_string_len(v) == 0)
                        r = bad(err, p, "empty prefix (it would match anything)");
                jpath_pop(p, s);
                if (r < 0)
                        return r;
                ret->data_prefix = strdup(json_object_get_string(v));
                if (!ret->data_prefix)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                ret->data_prefix_len = strlen(ret->data_prefix);
        }
        if (ret->digests.n == 0 && !ret->data_prefix)
                return bad(err, p, "a rule needs \"digest\", \"digests\" or \"data_prefix\"");

        r = get_bool(o, "optional", false, &ret->optional, p, err);
        if (r >= 0)
                r = get_bool(o, "repeat", false, &ret->repeat, p, err);
        if (r < 0)
                return r;

        if (json_object_object_get_ex(o, "class", &v)) {
                bool ok = false;

                s = jpath_push_key(p, "class");
                r = expect(v, json_type_string, p, err);
                for (size_t i = 0; r >= 0 && rule_classes[i]; i++)
                        ok = ok || strcmp(rule_classes[i], json_object_get_string(v)) == 0;
                if (r >= 0 && !ok)
                        r = bad(err, p, "unknown class \"%s\"", json_object_get_string(v));
                jpath_pop(p, s);
                if (r < 0)
                        return r;
                ret->class = json_object_get_string(v);
        }
        for (size_t i = 0; i < 2; i++) {
                const char *key = i == 0 ? "string" : "section";

                if (json_object_object_get_ex(o, key, &v)) {
                        s = jpath_push_key(p, key);
                        r = expect(v, json_type_string, p, err);
                        jpath_pop(p, s);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static void rule_done(struct rule *r)
{
        free(r->path);
        free(r->data_prefix);
        hexlist_done(&r->digests);
}

static int parse_pcr(json_object *o, const struct hash_alg *alg, struct pcr_policy *ret, size_t *budget,
                     size_t *n_rules, struct jpath *p, struct cvm_error *err)
{
        static const char *const members[] = {"events", "values", "order", NULL};
        json_object *events, *v;
        size_t s;
        int r;

        r = expect(o, json_type_object, p, err);
        if (r >= 0)
                r = check_members(o, members, p, err);
        if (r < 0)
                return r;
        ret->present = true;
        ret->path = strdup(p->buf);
        if (!ret->path)
                return cvm_error_set(err, -ENOMEM, "out of memory");

        if (json_object_object_get_ex(o, "order", &v)) {
                s = jpath_push_key(p, "order");
                r = expect(v, json_type_string, p, err);
                if (r >= 0) {
                        if (strcmp(json_object_get_string(v), "any") == 0)
                                ret->order_any = true;
                        else if (strcmp(json_object_get_string(v), "sequence") != 0)
                                r = bad(err, p, "must be \"sequence\" or \"any\"");
                }
                jpath_pop(p, s);
                if (r < 0)
                        return r;
        }

        r = get_hexlist(o, "values", alg->size, &ret->values, budget, p, err);
        if (r < 0)
                return r;

        if (json_object_object_get_ex(o, "events", &events)) {
                size_t n;

                s = jpath_push_key(p, "events");
                r = expect(events, json_type_array, p, err);
                if (r < 0)
                        return r;
                n = json_object_array_length(events);
                if (n > POLICY_MAX_RULES - *n_rules)
                        return cvm_error_set(err, -E2BIG, "%s: more than %u event rules in the policy",
                                             p->buf, POLICY_MAX_RULES);
                *n_rules += n;
                ret->has_events = true;
                ret->rules = calloc(n ? n : 1, sizeof(*ret->rules));
                if (!ret->rules)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                for (size_t i = 0; i < n; i++) {
                        size_t s2 = jpath_push_index(p, i);

                        ret->n_rules = i + 1;
                        r = parse_rule(json_object_array_get_idx(events, i), alg, &ret->rules[i], budget, p,
                                       err);
                        jpath_pop(p, s2);
                        if (r < 0)
                                return r;
                }
                jpath_pop(p, s);
        }
        if (!ret->has_events && ret->values.n == 0)
                return bad(err, p, "needs \"events\" or \"values\"");
        return 0;
}

static int parse_pcrs(struct policy *pol, json_object *o, size_t *budget, struct jpath *p,
                      struct cvm_error *err)
{
        size_t n_rules = 0;
        int r;

        r = expect(o, json_type_object, p, err);
        if (r < 0)
                return r;
        json_object_object_foreach (o, bank, pcrs) {
                const struct hash_alg *alg = hash_alg_by_name(bank);
                struct bank_policy *b;
                size_t s = jpath_push_key(p, bank);

                if (is_annotation(bank)) {
                        r = expect(pcrs, json_type_string, p, err);
                        jpath_pop(p, s);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!alg)
                        return bad(err, p, "unknown PCR bank (sha1, sha256, sha384, sha512, sm3_256, ...)");
                if (strcmp(alg->name, bank) != 0)
                        return bad(err, p, "write the bank name in lowercase: \"%s\"", alg->name);
                if (pol->n_banks >= EVENTLOG_MAX_BANKS)
                        return bad(err, p, "too many banks");
                b = &pol->banks[pol->n_banks++];
                b->alg = alg;
                b->path = strdup(p->buf);
                if (!b->path)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                r = expect(pcrs, json_type_object, p, err);
                if (r < 0)
                        return r;
                json_object_object_foreach (pcrs, index, pcr) {
                        size_t s2 = jpath_push_key(p, index);
                        char *end;
                        unsigned long i;

                        if (is_annotation(index)) {
                                r = expect(pcr, json_type_string, p, err);
                                jpath_pop(p, s2);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        errno = 0;
                        i = strtoul(index, &end, 10);
                        if (!isdigit((unsigned char)index[0]) || *end || errno || i >= EVENTLOG_MAX_PCRS ||
                            (index[0] == '0' && index[1]))
                                return bad(err, p, "not a PCR index 0..%d", EVENTLOG_MAX_PCRS - 1);
                        r = parse_pcr(pcr, alg, &b->pcrs[i], budget, &n_rules, p, err);
                        jpath_pop(p, s2);
                        if (r < 0)
                                return r;
                }
                jpath_pop(p, s);
        }
        return 0;
}

static int parse_eventlog_section(struct policy *pol, json_object *o, struct jpath *p, struct cvm_error *err)
{
        static const char *const members[] = {"require_secure_boot", "allow_data_mismatch",
                                              "startup_locality", NULL};
        int64_t loc;
        int r;

        r = expect(o, json_type_object, p, err);
        if (r >= 0)
                r = check_members(o, members, p, err);
        if (r >= 0)
                r = get_bool(o, "require_secure_boot", false, &pol->require_secure_boot, p, err);
        if (r >= 0)
                r = get_bool(o, "allow_data_mismatch", false, &pol->allow_data_mismatch, p, err);
        if (r >= 0)
                r = get_uint(o, "startup_locality", 4, &loc, p, err);
        if (r < 0)
                return r;
        pol->startup_locality = (int)loc;
        pol->has_eventlog_section = true;
        return 0;
}

/* --- SNP ------------------------------------------------------------------------------------- */

static int parse_tcb(json_object *o, const char *key, bool *has, int out[_TCB_MAX], struct jpath *p,
                     struct cvm_error *err)
{
        static const char *const members[] = {"bootloader", "tee", "snp", "microcode", "fmc", NULL};
        json_object *v;
        size_t s;
        int r;

        for (size_t i = 0; i < _TCB_MAX; i++)
                out[i] = -1;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        s = jpath_push_key(p, key);
        r = expect(v, json_type_object, p, err);
        if (r >= 0)
                r = check_members(v, members, p, err);
        for (size_t i = 0; r >= 0 && i < _TCB_MAX; i++) {
                int64_t x;

                r = get_uint(v, policy_tcb_names[i], 255, &x, p, err);
                out[i] = (int)x;
        }
        jpath_pop(p, s);
        *has = true;
        return r;
}

static int parse_u64_hex(json_object *o, const char *key, bool *has, uint64_t *ret, struct jpath *p,
                         struct cvm_error *err)
{
        json_object *v;
        const char *str;
        char *end;
        size_t s;
        int r;

        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        s = jpath_push_key(p, key);
        r = expect(v, json_type_string, p, err);
        if (r >= 0) {
                str = json_object_get_string(v);
                errno = 0;
                *ret = strtoull(str, &end, 16);
                if (strncmp(str, "0x", 2) != 0 || !str[2] || *end || errno || strlen(str) > 18)
                        r = bad(err, p, "not a \"0x\"-prefixed hex number of up to 64 bits");
        }
        jpath_pop(p, s);
        *has = true;
        return r;
}

static int parse_snp(struct snp_policy *snp, json_object *o, size_t *budget, struct jpath *p,
                     struct cvm_error *err)
{
        static const char *const members[] = {
                "measurements",
                "id_key_digests",
                "author_key_digests",
                "family_ids",
                "image_ids",
                "host_data",
                "min_tcb",
                "min_launch_tcb",
                "allow_debug",
                "allow_migration_agent",
                "vmpl",
                "min_guest_svn",
                "policy_mask",
                "policy_value",
                "signing_keys",
                NULL,
        };
        bool has_value = false;
        json_object *v;
        int r;

        r = expect(o, json_type_object, p, err);
        if (r >= 0)
                r = check_members(o, members, p, err);
        if (r >= 0)
                r = get_hexlist(o, "measurements", 48, &snp->measurements, budget, p, err);
        if (r >= 0)
                r = get_hexlist(o, "id_key_digests", 48, &snp->id_key_digests, budget, p, err);
        if (r >= 0)
                r = get_hexlist(o, "author_key_digests", 48, &snp->author_key_digests, budget, p, err);
        if (r >= 0)
                r = get_hexlist(o, "family_ids", 16, &snp->family_ids, budget, p, err);
        if (r >= 0)
                r = get_hexlist(o, "image_ids", 16, &snp->image_ids, budget, p, err);
        if (r >= 0)
                r = get_hexlist(o, "host_data", 32, &snp->host_data, budget, p, err);
        if (r >= 0)
                r = parse_tcb(o, "min_tcb", &snp->has_min_tcb, snp->min_tcb, p, err);
        if (r >= 0)
                r = parse_tcb(o, "min_launch_tcb", &snp->has_min_launch_tcb, snp->min_launch_tcb, p, err);
        if (r >= 0)
                r = get_bool(o, "allow_debug", false, &snp->allow_debug, p, err);
        if (r >= 0)
                r = get_bool(o, "allow_migration_agent", false, &snp->allow_migration_agent, p, err);
        if (r >= 0)
                r = get_uint(o, "vmpl", 3, &snp->vmpl, p, err);
        if (r >= 0)
                r = get_uint(o, "min_guest_svn", UINT32_MAX, &snp->min_guest_svn, p, err);
        if (r >= 0)
                r = parse_u64_hex(o, "policy_mask", &snp->has_policy_mask, &snp->policy_mask, p, err);
        if (r >= 0)
                r = parse_u64_hex(o, "policy_value", &has_value, &snp->policy_value, p, err);
        if (r < 0)
                return r;
        if (snp->has_policy_mask != has_value)
                return bad(err, p, "\"policy_mask\" and \"policy_value\" go together");
        if (snp->has_policy_mask && (snp->policy_value & ~snp->policy_mask)) {
                size_t s = jpath_push_key(p, "policy_value");

                r = bad(err, p, "sets bits outside policy_mask (they could never match)");
                jpath_pop(p, s);
                return r;
        }
        if (json_object_object_get_ex(o, "signing_keys", &v)) {
                size_t s = jpath_push_key(p, "signing_keys");

                r = expect(v, json_type_array, p, err);
                for (size_t i = 0; r >= 0 && i < json_object_array_length(v); i++) {
                        json_object *k = json_object_array_get_idx(v, i);
                        size_t s2 = jpath_push_index(p, i);

                        r = expect(k, json_type_string, p, err);
                        if (r >= 0 && strcmp(json_object_get_string(k), "vcek") == 0)
                                snp->signing_keys |= 1;
                        else if (r >= 0 && strcmp(json_object_get_string(k), "vlek") == 0)
                                snp->signing_keys |= 2;
                        else if (r >= 0)
                                r = bad(err, p, "must be \"vcek\" or \"vlek\"");
                        jpath_pop(p, s2);
                }
                if (r >= 0 && snp->signing_keys == 0)
                        r = bad(err, p, "empty list");
                jpath_pop(p, s);
                if (r < 0)
                        return r;
        }
        snp->present = true;
        return 0;
}

static void snp_policy_done(struct snp_policy *s)
{
        hexlist_done(&s->measurements);
        hexlist_done(&s->id_key_digests);
        hexlist_done(&s->author_key_digests);
        hexlist_done(&s->family_ids);
        hexlist_done(&s->image_ids);
        hexlist_done(&s->host_data);
}

/* --- IMA ------------------------------------------------------------------------------------- */

int policy_digest_string_normalize(const char *s, char **ret)
{
        const char *colon = strchr(s, ':');
        const struct hash_alg *alg;
        char name[32];
        size_t hexlen;
        char *out;

        if (!colon || colon == s || (size_t)(colon - s) >= sizeof(name))
                return -EINVAL;
        memcpy(name, s, colon - s);
        name[colon - s] = 0;
        alg = hash_alg_by_name(name);
        hexlen = strlen(colon + 1);
        if (alg && hexlen != 2 * alg->size)
                return -EINVAL;
        if (hexlen == 0 || hexlen % 2 || hexlen > 2 * 64)
                return -EINVAL;
        out = malloc(strlen(s) + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; s[i]; i++) {
                if (s + i > colon && !isxdigit((unsigned char)s[i])) {
                        free(out);
                        return -EINVAL;
                }
                out[i] = (char)tolower((unsigned char)s[i]);
        }
        out[strlen(s)] = 0;
        *ret = out;
        return 0;
}

static int cmp_pair(const void *a, const void *b)
{
        const struct ima_pair *x = a, *y = b;
        int c = strcmp(x->path, y->path);

        return c ? c : strcmp(x->digest, y->digest);
}

static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int parse_digest_string(json_object *v, char **ret, struct jpath *p, struct cvm_error *err)
{
        int r = expect(v, json_type_string, p, err);

        if (r < 0)
                return r;
        r = policy_digest_string_normalize(json_object_get_string(v), ret);
        if (r == -ENOMEM)
                return cvm_error_set(err, r, "out of memory");
        if (r < 0)
                return bad(err, p, "not a digest \"ALGORITHM:HEX\" (e.g. \"sha256:\" and 64 hex digits)");
        return 0;
}

static int ima_key_load(struct ima_key *k, json_object *o, struct jpath *p, struct cvm_error *err)
{
        static const char *const members[] = {"pem", "keyid", NULL};
        _cleanup_(BIO_free_allp) BIO *bio = NULL;
        _cleanup_(X509_freep) X509 *cert = NULL;
        json_object *v;
        size_t s;
        int r;

        r = expect(o, json_type_object, p, err);
        if (r >= 0)
                r = check_members(o, members, p, err);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "pem", &v))
                return bad(err, p, "missing member \"pem\"");
        s = jpath_push_key(p, "pem");
        r = expect(v, json_type_string, p, err);
        if (r < 0)
                return r;
        bio = BIO_new_mem_buf(json_object_get_string(v), json_object_get_string_len(v));
        if (!bio)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        if (cert) {
                const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(cert);

                k->pkey = X509_get_pubkey(cert);
                if (skid && ASN1_STRING_length(skid) >= 4)
                        memcpy(k->keyids[k->n_keyids++],
                               ASN1_STRING_get0_data(skid) + ASN1_STRING_length(skid) - 4, 4);
        } else {
                (void)BIO_reset(bio);
                k->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        }
        if (!k->pkey)
                return bad(err, p, "neither a PEM certificate nor a PEM public key");
        jpath_pop(p, s);
        {
                /* evmctl's key id for keys without a certificate: SHA-1 of the DER public key. */
                unsigned char *der = NULL;
                uint8_t md[20];
                int n = i2d_PublicKey(k->pkey, &der);

                if (n > 0 && hash_digest(hash_alg_by_name("sha1"), der, (size_t)n, md) == 0)
                        memcpy(k->keyids[k->n_keyids++], md + 16, 4);
                OPENSSL_free(der);
        }
        if (json_object_object_get_ex(o, "keyid", &v)) {
                uint8_t id[4];

                s = jpath_push_key(p, "keyid");
                r = hex_fixed(v, 4, id, p, err);
                jpath_pop(p, s);
                if (r < 0)
                        return r;
                /* An explicit key id replaces the computed ones. */
                memcpy(k->keyids[0], id, 4);
                k->n_keyids = 1;
        }
        k->path = strdup(p->buf);
        if (!k->path)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        return 0;
}

static int parse_ima(struct ima_policy *ima, json_object *o, size_t *budget, struct jpath *p,
                     struct cvm_error *err)
{
        static const char *const members[] = {"files", "digests",          "exclude",
                                              "keys",  "allow_violations", NULL};
        json_object *v;
        size_t s;
        int r;

        r = expect(o, json_type_object, p, err);
        if (r >= 0)
                r = check_members(o, members, p, err);
        if (r >= 0)
                r = get_bool(o, "allow_violations", false, &ima->allow_violations, p, err);
        if (r < 0)
                return r;

        if (json_object_object_get_ex(o, "files", &v)) {
                size_t cap = 0;

                s = jpath_push_key(p, "files");
                r = expect(v, json_type_object, p, err);
                if (r < 0)
                        return r;
                json_object_object_foreach (v, path, list) {
                        size_t s2 = jpath_push_key(p, path);

                        r = expect(list, json_type_array, p, err);
                        if (r >= 0 && json_object_array_length(list) == 0)
                                r = bad(err, p, "empty list");
                        for (size_t i = 0; r >= 0 && i < json_object_array_length(list); i++) {
                                size_t s3 = jpath_push_index(p, i);

                                if (*budget == 0)
                                        r = cvm_error_set(err, -E2BIG,
                                                          "%s: more than %u digests in the policy", p->buf,
                                                          POLICY_MAX_DIGESTS);
                                else if (ima->n_files == cap) {
                                        struct ima_pair *n;

                                        cap = cap ? 2 * cap : 64;
                                        n = realloc(ima->files, cap * sizeof(*n));
                                        if (!n)
                                                r = cvm_error_set(err, -ENOMEM, "out of memory");
                                        else
                                                ima->files = n;
                                }
                                if (r >= 0) {
                                        (*budget)--;
                                        ima->files[ima->n_files].path = path;
                                        r = parse_digest_string(json_object_array_get_idx(list, i),
                                                                &ima->files[ima->n_files].digest, p, err);
                                        if (r >= 0)
                                                ima->n_files++;
                                }
                                jpath_pop(p, s3);
                        }
                        jpath_pop(p, s2);
                        if (r < 0)
                                return r;
                }
                jpath_pop(p, s);
                if (ima->n_files > 0)
                        qsort(ima->files, ima->n_files, sizeof(*ima->files), cmp_pair);
        }
        if (json_object_object_get_ex(o, "digests", &v)) {
                size_t n;

                s = jpath_push_key(p, "digests");
                r = expect(v, json_type_array, p, err);
                if (r < 0)
                        return r;
                n = json_object_array_length(v);
                if (n > *budget)
                        return cvm_error_set(err, -E2BIG, "%s: more than %u digests in the policy", p->buf,
                                             POLICY_MAX_DIGESTS);
                *budget -= n;
                ima->digests = calloc(n ? n : 1, sizeof(char *));
                if (!ima->digests)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                for (size_t i = 0; i < n; i++) {
                        size_t s2 = jpath_push_index(p, i);

                        r = parse_digest_string(json_object_array_get_idx(v, i), &ima->digests[i], p, err);
                        jpath_pop(p, s2);
                        if (r < 0)
                                return r;
                        ima->n_digests++;
                }
                qsort(ima->digests, ima->n_digests, sizeof(char *), cmp_str);
                jpath_pop(p, s);
        }
        if (json_object_object_get_ex(o, "exclude", &v)) {
                size_t n;

                s = jpath_push_key(p, "exclude");
                r = expect(v, json_type_array, p, err);
                if (r < 0)
                        return r;
                n = json_object_array_length(v);
                ima->exclude = calloc(n ? n : 1, sizeof(char *));
                if (!ima->exclude)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                for (size_t i = 0; i < n; i++) {
                        json_object *e = json_object_array_get_idx(v, i);
                        size_t s2 = jpath_push_index(p, i);

                        r = expect(e, json_type_string, p, err);
                        if (r >= 0 && json_object_get_string_len(e) == 0)
                                r = bad(err, p, "empty path");
                        jpath_pop(p, s2);
                        if (r < 0)
                                return r;
                        ima->exclude[ima->n_exclude++] = json_object_get_string(e);
                }
                jpath_pop(p, s);
        }
        if (json_object_object_get_ex(o, "keys", &v)) {
                size_t n;

                s = jpath_push_key(p, "keys");
                r = expect(v, json_type_array, p, err);
                if (r < 0)
                        return r;
                n = json_object_array_length(v);
                if (n > 64)
                        return bad(err, p, "more than 64 keys");
                ima->keys = calloc(n ? n : 1, sizeof(*ima->keys));
                if (!ima->keys)
                        return cvm_error_set(err, -ENOMEM, "out of memory");
                for (size_t i = 0; i < n; i++) {
                        size_t s2 = jpath_push_index(p, i);

                        ima->n_keys = i + 1;
                        r = ima_key_load(&ima->keys[i], json_object_array_get_idx(v, i), p, err);
                        jpath_pop(p, s2);
                        if (r < 0)
                                return r;
                }
                jpath_pop(p, s);
        }
        ima->present = true;
        return 0;
}

static void ima_policy_done(struct ima_policy *ima)
{
        for (size_t i = 0; i < ima->n_files; i++)
                free(ima->files[i].digest);
        free(ima->files);
        for (size_t i = 0; i < ima->n_digests; i++)
                free(ima->digests[i]);
        free(ima->digests);
        free(ima->exclude);
        for (size_t i = 0; i < ima->n_keys; i++) {
                EVP_PKEY_free(ima->keys[i].pkey);
                free(ima->keys[i].path);
        }
        free(ima->keys);
}

bool policy_ima_is_excluded(const struct ima_policy *ima, const char *path)
{
        for (size_t i = 0; i < ima->n_exclude; i++) {
                const char *e = ima->exclude[i];
                size_t n = strlen(e);

                /* "dir/" excludes the tree below it; anything else is an exact path. */
                if (e[n - 1] == '/' ? strncmp(path, e, n) == 0 : strcmp(path, e) == 0)
                        return true;
        }
        return false;
}

const struct ima_pair *policy_ima_find_path(const struct ima_policy *ima, const char *path, size_t *ret_n)
{
        size_t lo = 0, hi = ima->n_files, first;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;

                if (strcmp(ima->files[mid].path, path) < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        first = lo;
        while (lo < ima->n_files && strcmp(ima->files[lo].path, path) == 0)
                lo++;
        *ret_n = lo - first;
        return lo > first ? &ima->files[first] : NULL;
}

bool policy_ima_digest_allowed(const struct ima_policy *ima, const char *digest)
{
        return ima->n_digests > 0 && bsearch(&digest, ima->digests, ima->n_digests, sizeof(char *), cmp_str);
}

/* --- the document ---------------------------------------------------------------------------- */

int policy_mode_from_string(const char *s, enum policy_mode *ret)
{
        if (strcmp(s, "enforce") == 0)
                *ret = POLICY_MODE_ENFORCE;
        else if (strcmp(s, "warn") == 0)
                *ret = POLICY_MODE_WARN;
        else
                return -EINVAL;
        return 0;
}

const char *policy_mode_to_string(enum policy_mode m)
{
        return m == POLICY_MODE_WARN ? "warn" : "enforce";
}

static int check_depth(json_object *o, int depth, struct jpath *p, struct cvm_error *err)
{
        if (depth > POLICY_MAX_DEPTH)
                return bad(err, p, "nested deeper than %d levels", POLICY_MAX_DEPTH);
        if (json_object_get_type(o) == json_type_object) {
                json_object_object_foreach (o, k, v) {
                        size_t s = jpath_push_key(p, k);
                        int r = check_depth(v, depth + 1, p, err);

                        jpath_pop(p, s);
                        if (r < 0)
                                return r;
                }
        } else if (json_object_get_type(o) == json_type_array) {
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        size_t s = jpath_push_index(p, i);
                        int r = check_depth(json_object_array_get_idx(o, i), depth + 1, p, err);

                        jpath_pop(p, s);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

int policy_from_json(json_object *doc, struct policy **ret, struct cvm_error *err)
{
        static const char *const members[] = {"version", "generated", "eventlog", "pcrs",
                                              "snp",     "ima",       NULL};
        _cleanup_(policy_freep) struct policy *pol = NULL;
        size_t budget = POLICY_MAX_DIGESTS;
        struct jpath p;
        json_object *v;
        int64_t version;
        int r;

        jpath_init(&p);
        r = expect(doc, json_type_object, &p, err);
        if (r < 0)
                return r;
        r = check_depth(doc, 1, &p, err);
        if (r < 0)
                return r;
        pol = calloc(1, sizeof(*pol));
        if (!pol)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        pol->doc = json_object_get(doc);
        pol->startup_locality = -1;
        pol->snp.vmpl = pol->snp.min_guest_svn = -1;

        r = check_members(doc, members, &p, err);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(doc, "version", &v))
                return bad(err, &p, "missing member \"version\" (this format is version %d)",
                           POLICY_VERSION);
        r = get_uint(doc, "version", INT32_MAX, &version, &p, err);
        if (r < 0)
                return r;
        if (version != POLICY_VERSION) {
                jpath_push_key(&p, "version");
                return cvm_error_set(err, -EOPNOTSUPP, "%s: version %" PRId64 " is not supported (only %d)",
                                     p.buf, version, POLICY_VERSION);
        }
        if (json_object_object_get_ex(doc, "generated", &v)) {
                size_t s = jpath_push_key(&p, "generated");

                r = expect(v, json_type_object, &p, err);
                jpath_pop(&p, s);
                if (r < 0)
                        return r;
        }
        if (json_object_object_get_ex(doc, "eventlog", &v)) {
                size_t s = jpath_push_key(&p, "eventlog");

                r = parse_eventlog_section(pol, v, &p, err);
                jpath_pop(&p, s);
                if (r < 0)
                        return r;
        }
        if (json_object_object_get_ex(doc, "pcrs", &v)) {
                size_t s = jpath_push_key(&p, "pcrs");

                r = parse_pcrs(pol, v, &budget, &p, err);
                jpath_pop(&p, s);
                if (r < 0)
                        return r;
        }
        if (json_object_object_get_ex(doc, "snp", &v)) {
                size_t s = jpath_push_key(&p, "snp");

                r = parse_snp(&pol->snp, v, &budget, &p, err);
                jpath_pop(&p, s);
                if (r < 0)
                        return r;
        }
        if (json_object_object_get_ex(doc, "ima", &v)) {
                size_t s = jpath_push_key(&p, "ima");

                r = parse_ima(&pol->ima, v, &budget, &p, err);
                jpath_pop(&p, s);
                if (r < 0)
                        return r;
        }
        if (!policy_has_eventlog(pol) && !pol->snp.present && !pol->ima.present)
                return bad(err, &p,
                           "the policy constrains nothing (no \"pcrs\", \"eventlog\", \"snp\" or \"ima\")");
        *ret = TAKE_PTR(pol);
        return 0;
}

int policy_parse(const char *text, size_t len, struct policy **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *doc = NULL;
        json_tokener *tok;
        enum json_tokener_error jerr;
        size_t line = 1, col = 1, off;

        if (len > POLICY_MAX_SIZE)
                return cvm_error_set(err, -E2BIG, "policy is %zu bytes, more than the limit of %u", len,
                                     POLICY_MAX_SIZE);
        if (memchr(text, 0, len))
                return cvm_error_set(err, -EBADMSG, "$: the policy contains a NUL byte");
        tok = json_tokener_new_ex(POLICY_MAX_DEPTH + 2);
        if (!tok)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        doc = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        off = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (doc && jerr == json_tokener_success) {
                /* Only whitespace may follow the document. */
                for (size_t i = off; i < len; i++)
                        if (!isspace((unsigned char)text[i])) {
                                json_object_put(TAKE_PTR(doc));
                                jerr = json_tokener_error_parse_unexpected;
                                off = i;
                                break;
                        }
        }
        if (!doc || jerr != json_tokener_success) {
                if (jerr == json_tokener_continue)
                        return cvm_error_set(err, -EBADMSG,
                                             "$: JSON syntax error: the document is truncated");
                for (size_t i = 0; i < off && i < len; i++) {
                        if (text[i] == '\n') {
                                line++;
                                col = 1;
                        } else
                                col++;
                }
                return cvm_error_set(err, -EBADMSG, "$: JSON syntax error at line %zu, column %zu: %s", line,
                                     col, json_tokener_error_desc(jerr));
        }
        return policy_from_json(doc, ret, err);
}

void policy_free(struct policy *p)
{
        if (!p)
                return;
        for (size_t b = 0; b < p->n_banks; b++) {
                free(p->banks[b].path);
                for (size_t i = 0; i < EVENTLOG_MAX_PCRS; i++) {
                        struct pcr_policy *pcr = &p->banks[b].pcrs[i];

                        for (size_t k = 0; k < pcr->n_rules; k++)
                                rule_done(&pcr->rules[k]);
                        free(pcr->rules);
                        free(pcr->path);
                        hexlist_done(&pcr->values);
                }
        }
        snp_policy_done(&p->snp);
        ima_policy_done(&p->ima);
        json_object_put(p->doc);
        free(p);
}

json_object *policy_json(const struct policy *p)
{
        return p->doc;
}

bool policy_has_eventlog(const struct policy *p)
{
        if (p->has_eventlog_section)
                return true;
        for (size_t b = 0; b < p->n_banks; b++)
                for (size_t i = 0; i < EVENTLOG_MAX_PCRS; i++)
                        if (p->banks[b].pcrs[i].present)
                                return true;
        return false;
}

bool policy_has_snp(const struct policy *p)
{
        return p->snp.present;
}

bool policy_has_ima(const struct policy *p)
{
        return p->ima.present;
}
