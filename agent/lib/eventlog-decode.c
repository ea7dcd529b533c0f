/* SPDX-License-Identifier: Apache-2.0 */
/* Event data decoding for display: one-line descriptions, per-event JSON details, the JSON document. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "efi.h"
#include "eventlog.h"
#include "util.h"

/* --- small helpers -------------------------------------------------------------------------- */

/* Writes @s with control characters escaped, so one event stays on one terminal line. */
static void put_escaped(FILE *f, const char *s)
{
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;

                if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c == '\r')
                        fputs("\\r", f);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
}

static bool text_is_printable(const char *s)
{
        size_t printable = 0, total = 0;

        /* U+FFFD marks bytes that were not UTF-8: binary data, not text. */
        if (strstr(s, "\xef\xbf\xbd"))
                return false;
        for (; *s; s++, total++) {
                unsigned char c = (unsigned char)*s;
                if ((c >= 0x20 && c != 0x7f) || c == '\n' || c == '\t' || c == '\r')
                        printable++;
        }
        return total > 0 && printable == total;
}

/* Decodes event data that is text: UCS-2 when it looks like it, otherwise bytes up to the first NUL. */
static int data_to_text(const uint8_t *d, size_t n, char **ret)
{
        if (efi_looks_like_ucs2(d, n))
                return efi_ucs2_to_utf8(d, n, ret);
        return efi_bytes_to_utf8(d, n, ret);
}

/* Text when the data is printable text (only trailing NULs allowed after it), NULL otherwise. */
static int data_to_text_if_printable(const uint8_t *d, size_t n, char **ret)
{
        _cleanup_free_ char *s = NULL;
        size_t end = n;
        int r;

        *ret = NULL;
        while (end > 0 && d[end - 1] == 0)
                end--;
        if (end == 0)
                return 0;
        if (!efi_looks_like_ucs2(d, n) && memchr(d, 0, end))
                return 0; /* embedded NUL: binary data */
        r = data_to_text(d, n, &s);
        if (r < 0)
                return r;
        if (text_is_printable(s))
                *ret = TAKE_PTR(s);
        return 0;
}

static int json_add(json_object *o, const char *key, json_object *v)
{
        if (!v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int json_add_string(json_object *o, const char *key, const char *s)
{
        return json_add(o, key, json_object_new_string(s));
}

static int json_add_int(json_object *o, const char *key, int64_t v)
{
        return json_add(o, key, json_object_new_int64(v));
}

static int json_add_hex(json_object *o, const char *key, const uint8_t *p, size_t n)
{
        _cleanup_free_ char *hex = hex_encode(p, n);

        if (!hex)
                return -ENOMEM;
        return json_add_string(o, key, hex);
}

static int json_add_u64hex(json_object *o, const char *key, uint64_t v)
{
        char buf[24];

        snprintf(buf, sizeof(buf), "0x%jx", (uintmax_t)v);
        return json_add_string(o, key, buf);
}

static int json_add_guid(json_object *o, const char *key, const uint8_t *g)
{
        char s[EFI_GUID_STRING_MAX];

        efi_guid_to_string(g, s);
        return json_add_string(o, key, s);
}

static int json_array_append(json_object *a, json_object *v)
{
        if (!v || json_object_array_add(a, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

/* --- UEFI_VARIABLE_DATA --------------------------------------------------------------------- */

struct variable {
        const uint8_t *guid;
        char *name;
        const uint8_t *value;
        size_t value_size;
};

static void variable_done(struct variable *v)
{
        free(v->name);
        v->name = NULL;
}

/* Return: 0, -EBADMSG when the structure does not fit the data, -ENOMEM. */
static int variable_decode(const uint8_t *d, size_t n, struct variable *ret)
{
        uint64_t name_len, var_len;
        int r;

        if (n < 32)
                return -EBADMSG;
        name_len = le64(d + 16);
        var_len = le64(d + 24);
        if (name_len > (n - 32) / 2 || var_len > n - 32 - 2 * name_len)
                return -EBADMSG;
        *ret = (struct variable){.guid = d, .value = d + 32 + 2 * name_len, .value_size = (size_t)var_len};
        r = efi_ucs2_to_utf8(d + 32, 2 * (size_t)name_len, &ret->name);
        return r;
}

static bool is_hex4(const char *s)
{
        for (int i = 0; i < 4; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F') ||
                      (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return s[4] == '\0';
}

static bool is_load_option_name(const char *name)
{
        static const char *const prefixes[] = {"Boot", "Driver", "SysPrep", "PlatformRecovery"};

        for (size_t i = 0; i < ELEMENTSOF(prefixes); i++) {
                size_t l = strlen(prefixes[i]);
                if (strncmp(name, prefixes[i], l) == 0 && strlen(name) == l + 4 && is_hex4(name + l))
                        return true;
        }
        return false;
}

static bool is_signature_db_name(const char *name)
{
        static const char *const dbs[] = {
                "PK",      "KEK",       "db",         "dbx",        "dbt",
                "dbr",     "PKDefault", "KEKDefault", "dbDefault",  "dbxDefault",
                "MokList", "MokListX",  "MokListRT",  "MokListXRT", "MokListTrusted"};

        for (size_t i = 0; i < ELEMENTSOF(dbs); i++)
                if (strcmp(name, dbs[i]) == 0)
                        return true;
        return false;
}

static bool is_boolean_name(const char *name)
{
        return strcmp(name, "SecureBoot") == 0 || strcmp(name, "SetupMode") == 0 ||
               strcmp(name, "AuditMode") == 0 || strcmp(name, "DeployedMode") == 0 ||
               strcmp(name, "MokSBState") == 0;
}

/* An EV_EFI_VARIABLE_AUTHORITY value: an EFI_SIGNATURE_DATA (owner + certificate) or a bare certificate. */
static int authority_subject(const struct variable *v, char **ret)
{
        int r;

        r = efi_x509_subject(v->value, v->value_size, ret);
        if (r < 0 || *ret)
                return r;
        if (v->value_size > EFI_GUID_SIZE)
                return efi_x509_subject(v->value + EFI_GUID_SIZE, v->value_size - EFI_GUID_SIZE, ret);
        return 0;
}

static int describe_variable(FILE *f, const struct eventlog_event *ev)
{
        _cleanup_(variable_done) struct variable v = {};
        int r;

        r = variable_decode(ev->data, ev->data_size, &v);
        if (r == -EBADMSG) {
                fprintf(f, "malformed UEFI variable data (%zu bytes)", ev->data_size);
                return 0;
        }
        if (r < 0)
                return r;
        put_escaped(f, v.name);

        if (ev->type == EV_EFI_VARIABLE_AUTHORITY) {
                _cleanup_free_ char *subject = NULL;

                r = authority_subject(&v, &subject);
                if (r < 0)
                        return r;
                if (subject) {
                        fputs(": ", f);
                        put_escaped(f, subject);
                        return 0;
                }
                /* Not a certificate: shim's SbatLevel, for one, is text. */
        }
        if (is_boolean_name(v.name)) {
                if (v.value_size == 1)
                        fprintf(f, " = %u", v.value[0]);
                else
                        fprintf(f, " (%zu bytes, expected 1)", v.value_size);
                return 0;
        }
        if (strcmp(v.name, "BootOrder") == 0) {
                fputs(" =", f);
                for (size_t i = 0; i + 1 < v.value_size; i += 2)
                        fprintf(f, "%s Boot%04X", i ? "," : "", le16(v.value + i));
                if (v.value_size == 0)
                        fputs(" (empty)", f);
                return 0;
        }
        if (is_load_option_name(v.name)) {
                struct efi_load_option o = {};

                r = efi_load_option_decode(v.value, v.value_size, &o);
                if (r == -EBADMSG) {
                        fprintf(f, ": malformed load option (%zu bytes)", v.value_size);
                        return 0;
                }
                if (r < 0)
                        return r;
                fputs(" \"", f);
                put_escaped(f, o.description);
                fputs("\" ", f);
                put_escaped(f, o.device_path);
                efi_load_option_done(&o);
                return 0;
        }
        /* A few bytes are a flag (shim's MokListTrusted = 1), not a signature list. */
        if (is_signature_db_name(v.name) && (v.value_size == 0 || v.value_size >= 28)) {
                struct efi_siglist_summary s;

                efi_signature_lists_summarize(v.value, v.value_size, &s);
                if (v.value_size == 0)
                        fputs(": empty", f);
                else
                        fprintf(f, ": %zu X.509 certificate%s, %zu hash%s%s%s", s.x509,
                                s.x509 == 1 ? "" : "s", s.hashes, s.hashes == 1 ? "" : "es",
                                s.other ? ", other entries" : "", s.malformed ? " (malformed)" : "");
                return 0;
        }
        {
                _cleanup_free_ char *text = NULL;

                r = data_to_text_if_printable(v.value, v.value_size, &text);
                if (r < 0)
                        return r;
                if (text) {
                        fputs(" = ", f);
                        put_escaped(f, text);
                } else if (v.value_size > 0 && v.value_size <= 16) {
                        fputs(" = 0x", f);
                        for (size_t i = 0; i < v.value_size; i++)
                                fprintf(f, "%02x", v.value[i]);
                } else
                        fprintf(f, " (%zu bytes)", v.value_size);
        }
        return 0;
}

static int details_variable(json_object *o, const struct eventlog_event *ev)
{
        _cleanup_(variable_done) struct variable v = {};
        const char *vendor;
        int r;

        r = variable_decode(ev->data, ev->data_size, &v);
        if (r == -EBADMSG)
                return json_add_string(o, "error", "malformed UEFI_VARIABLE_DATA");
        if (r < 0)
                return r;
        r = json_add_guid(o, "variable_guid", v.guid);
        if (r < 0)
                return r;
        vendor = efi_guid_name(v.guid);
        if (vendor && (r = json_add_string(o, "variable_vendor", vendor)) < 0)
                return r;
        if ((r = json_add_string(o, "variable_name", v.name)) < 0 ||
            (r = json_add_int(o, "variable_data_size", (int64_t)v.value_size)) < 0)
                return r;

        if (ev->type == EV_EFI_VARIABLE_AUTHORITY) {
                _cleanup_free_ char *subject = NULL;

                r = authority_subject(&v, &subject);
                if (r < 0)
                        return r;
                if (subject)
                        return json_add_string(o, "certificate_subject", subject);
        }
        if (is_boolean_name(v.name) && v.value_size == 1)
                return json_add(o, "value", json_object_new_int(v.value[0]));
        if (strcmp(v.name, "BootOrder") == 0) {
                json_object *a = json_object_new_array();

                r = json_add(o, "boot_order", a);
                if (r < 0)
                        return r;
                for (size_t i = 0; i + 1 < v.value_size; i += 2) {
                        char buf[16];
                        snprintf(buf, sizeof(buf), "Boot%04X", le16(v.value + i));
                        r = json_array_append(a, json_object_new_string(buf));
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (is_load_option_name(v.name)) {
                struct efi_load_option lo = {};
                json_object *l;

                r = efi_load_option_decode(v.value, v.value_size, &lo);
                if (r == -EBADMSG)
                        return json_add_string(o, "error", "malformed EFI_LOAD_OPTION");
                if (r < 0)
                        return r;
                l = json_object_new_object();
                r = json_add(o, "load_option", l);
                if (r >= 0)
                        r = json_add_int(l, "attributes", lo.attributes);
                if (r >= 0)
                        r = json_add_string(l, "description", lo.description);
                if (r >= 0)
                        r = json_add_string(l, "device_path", lo.device_path);
                if (r >= 0)
                        r = json_add_int(l, "optional_data_size", (int64_t)lo.optional_data_size);
                if (r >= 0 && lo.truncated)
                        r = json_add(l, "truncated", json_object_new_boolean(true));
                efi_load_option_done(&lo);
                return r;
        }
        if (is_signature_db_name(v.name) && (v.value_size == 0 || v.value_size >= 28)) {
                json_object *lists = NULL;

                r = efi_signature_lists_to_json(v.value, v.value_size, &lists);
                if (r < 0)
                        return r;
                return json_add(o, "signature_lists", lists);
        }
        {
                _cleanup_free_ char *text = NULL;

                r = data_to_text_if_printable(v.value, v.value_size, &text);
                if (r < 0)
                        return r;
                if (text)
                        return json_add_string(o, "value_string", text);
        }
        if (v.value_size <= 16)
                return json_add_hex(o, "value_hex", v.value, v.value_size);
        return 0;
}

/* --- UEFI_IMAGE_LOAD_EVENT ------------------------------------------------------------------ */

struct image_load {
        uint64_t location, length, link_address;
        const uint8_t *path;
        size_t path_size;
        bool truncated;
};

static int image_load_decode(const uint8_t *d, size_t n, struct image_load *ret)
{
        uint64_t path_len;

        if (n < 32)
                return -EBADMSG;
        *ret = (struct image_load){.location = le64(d), .length = le64(d + 8), .link_address = le64(d + 16)};
        path_len = le64(d + 24);
        ret->path = d + 32;
        ret->path_size = path_len > n - 32 ? n - 32 : (size_t)path_len;
        ret->truncated = path_len > n - 32;
        return 0;
}

static int describe_image(FILE *f, const struct eventlog_event *ev)
{
        _cleanup_free_ char *path = NULL;
        struct image_load img;
        int r;

        if (image_load_decode(ev->data, ev->data_size, &img) < 0) {
                fprintf(f, "malformed image load event (%zu bytes)", ev->data_size);
                return 0;
        }
        if (img.path_size == 0) {
                fprintf(f, "image at 0x%jx (%ju bytes)", (uintmax_t)img.location, (uintmax_t)img.length);
                return 0;
        }
        r = efi_device_path_to_text(img.path, img.path_size, &path);
        if (r < 0)
                return r;
        put_escaped(f, path);
        if (img.truncated)
                fputs(" <truncated>", f);
        return 0;
}

static int details_image(json_object *o, const struct eventlog_event *ev)
{
        _cleanup_free_ char *path = NULL;
        struct image_load img;
        int r;

        if (image_load_decode(ev->data, ev->data_size, &img) < 0)
                return json_add_string(o, "error", "malformed UEFI_IMAGE_LOAD_EVENT");
        if ((r = json_add_u64hex(o, "image_location", img.location)) < 0 ||
            (r = json_add_int(o, "image_length", (int64_t)img.length)) < 0 ||
            (r = json_add_u64hex(o, "image_link_time_address", img.link_address)) < 0)
                return r;
        r = efi_device_path_to_text(img.path, img.path_size, &path);
        if (r < 0)
                return r;
        if ((r = json_add_string(o, "device_path", path)) < 0)
                return r;
        if (img.truncated)
                return json_add(o, "truncated", json_object_new_boolean(true));
        return 0;
}

/* --- UEFI_GPT_DATA -------------------------------------------------------------------------- */

#define GPT_HEADER_SIZE 92

struct gpt {
        const uint8_t *disk_guid;
        uint64_t n_partitions; /* as recorded */
        size_t entry_size;
        const uint8_t *entries;
        size_t n_present; /* entries actually present in the data */
};

static int gpt_decode(const uint8_t *d, size_t n, uint8_t uintn_size, struct gpt *ret)
{
        size_t esz, nsz;

        if (n < GPT_HEADER_SIZE + 4 || memcmp(d, "EFI PART", 8) != 0)
                return -EBADMSG;
        esz = le32(d + 84);
        if (esz < 128)
                return -EBADMSG;
        /* NumberOfPartitions is a UINTN: 8 bytes unless the Spec ID event says 32-bit. */
        nsz = uintn_size == 1 ? 4 : 8;
        if (n < GPT_HEADER_SIZE + nsz)
                nsz = 4;
        *ret = (struct gpt){
                .disk_guid = d + 56,
                .n_partitions = nsz == 8 ? le64(d + GPT_HEADER_SIZE) : le32(d + GPT_HEADER_SIZE),
                .entry_size = esz,
                .entries = d + GPT_HEADER_SIZE + nsz,
        };
        ret->n_present = (n - GPT_HEADER_SIZE - nsz) / esz;
        if (ret->n_present > ret->n_partitions)
                ret->n_present = (size_t)ret->n_partitions;
        return 0;
}

static int describe_gpt(FILE *f, const struct eventlog *log, const struct eventlog_event *ev)
{
        char guid[EFI_GUID_STRING_MAX];
        struct gpt g;

        if (gpt_decode(ev->data, ev->data_size, log->spec_id.uintn_size, &g) < 0) {
                fprintf(f, "malformed GPT data (%zu bytes)", ev->data_size);
                return 0;
        }
        efi_guid_to_string(g.disk_guid, guid);
        fprintf(f, "GPT disk %s, %ju partition%s", guid, (uintmax_t)g.n_partitions,
                g.n_partitions == 1 ? "" : "s");
        for (size_t i = 0; i < g.n_present; i++) {
                _cleanup_free_ char *name = NULL;
                int r = efi_ucs2_to_utf8(g.entries + i * g.entry_size + 56, 72, &name);

                if (r < 0)
                        return r;
                fputs(i == 0 ? ": " : ", ", f);
                put_escaped(f, *name ? name : "(unnamed)");
        }
        return 0;
}

static int details_gpt(json_object *o, const struct eventlog *log, const struct eventlog_event *ev)
{
        json_object *parts;
        struct gpt g;
        int r;

        if (gpt_decode(ev->data, ev->data_size, log->spec_id.uintn_size, &g) < 0)
                return json_add_string(o, "error", "malformed UEFI_GPT_DATA");
        if ((r = json_add_guid(o, "disk_guid", g.disk_guid)) < 0 ||
            (r = json_add_int(o, "number_of_partitions", (int64_t)g.n_partitions)) < 0)
                return r;
        parts = json_object_new_array();
        if ((r = json_add(o, "partitions", parts)) < 0)
                return r;
        for (size_t i = 0; i < g.n_present; i++) {
                const uint8_t *e = g.entries + i * g.entry_size;
                _cleanup_free_ char *name = NULL;
                json_object *p = json_object_new_object();

                if ((r = json_array_append(parts, p)) < 0)
                        return r;
                if ((r = efi_ucs2_to_utf8(e + 56, 72, &name)) < 0 ||
                    (r = json_add_guid(p, "type_guid", e)) < 0 ||
                    (r = json_add_guid(p, "unique_guid", e + 16)) < 0 ||
                    (r = json_add_int(p, "first_lba", (int64_t)le64(e + 32))) < 0 ||
                    (r = json_add_int(p, "last_lba", (int64_t)le64(e + 40))) < 0 ||
                    (r = json_add_u64hex(p, "attributes", le64(e + 48))) < 0 ||
                    (r = json_add_string(p, "name", name)) < 0)
                        return r;
        }
        return 0;
}

/* --- blobs and handoff tables --------------------------------------------------------------- */

struct described {
        const uint8_t *desc; /* BLOB2 / HANDOFF_TABLES2 description, not NUL-terminated */
        size_t desc_size;
        const uint8_t *body;
        size_t body_size;
};

/* The "2" variants start with a one-byte description size and the description. */
static int split_description(const struct eventlog_event *ev, bool has_description, struct described *ret)
{
        *ret = (struct described){.body = ev->data, .body_size = ev->data_size};
        if (!has_description)
                return 0;
        if (ev->data_size < 1 || ev->data[0] > ev->data_size - 1)
                return -EBADMSG;
        ret->desc = ev->data + 1;
        ret->desc_size = ev->data[0];
        ret->body = ev->data + 1 + ret->desc_size;
        ret->body_size = ev->data_size - 1 - ret->desc_size;
        return 0;
}

static int describe_blob(FILE *f, const struct eventlog_event *ev)
{
        struct described s;

        if (split_description(ev, ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB2, &s) < 0 || s.body_size != 16) {
                fprintf(f, "malformed firmware blob (%zu bytes)", ev->data_size);
                return 0;
        }
        if (s.desc) {
                _cleanup_free_ char *text = NULL;
                int r = efi_bytes_to_utf8(s.desc, s.desc_size, &text);
                if (r < 0)
                        return r;
                put_escaped(f, text);
                fputc(' ', f);
        }
        fprintf(f, "blob at 0x%jx, 0x%jx bytes", (uintmax_t)le64(s.body), (uintmax_t)le64(s.body + 8));
        return 0;
}

static int details_blob(json_object *o, const struct eventlog_event *ev)
{
        struct described s;
        int r;

        if (split_description(ev, ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB2, &s) < 0 || s.body_size != 16)
                return json_add_string(o, "error", "malformed firmware blob");
        if (s.desc) {
                _cleanup_free_ char *text = NULL;
                if ((r = efi_bytes_to_utf8(s.desc, s.desc_size, &text)) < 0 ||
                    (r = json_add_string(o, "blob_description", text)) < 0)
                        return r;
        }
        if ((r = json_add_u64hex(o, "blob_base", le64(s.body))) < 0)
                return r;
        return json_add_int(o, "blob_length", (int64_t)le64(s.body + 8));
}

static int handoff_decode(const struct eventlog_event *ev, struct described *s, uint64_t *ret_count)
{
        if (split_description(ev, ev->type == EV_EFI_HANDOFF_TABLES2, s) < 0 || s->body_size < 8)
                return -EBADMSG;
        *ret_count = le64(s->body);
        if (*ret_count > (s->body_size - 8) / 24)
                return -EBADMSG;
        return 0;
}

static int describe_handoff(FILE *f, const struct eventlog_event *ev)
{
        struct described s;
        uint64_t count;

        if (handoff_decode(ev, &s, &count) < 0) {
                fprintf(f, "malformed handoff tables (%zu bytes)", ev->data_size);
                return 0;
        }
        if (s.desc) {
                _cleanup_free_ char *text = NULL;
                int r = efi_bytes_to_utf8(s.desc, s.desc_size, &text);
                if (r < 0)
                        return r;
                put_escaped(f, text);
                fputs(": ", f);
        }
        fprintf(f, "%ju table%s", (uintmax_t)count, count == 1 ? "" : "s");
        for (uint64_t i = 0; i < count; i++) {
                const uint8_t *g = s.body + 8 + 24 * i;
                const char *name = efi_guid_name(g);
                char guid[EFI_GUID_STRING_MAX];

                efi_guid_to_string(g, guid);
                fprintf(f, "%s%s", i == 0 ? ": " : ", ", name ? name : guid);
        }
        return 0;
}

static int details_handoff(json_object *o, const struct eventlog_event *ev)
{
        struct described s;
        json_object *tables;
        uint64_t count;
        int r;

        if (handoff_decode(ev, &s, &count) < 0)
                return json_add_string(o, "error", "malformed handoff tables");
        if (s.desc) {
                _cleanup_free_ char *text = NULL;
                if ((r = efi_bytes_to_utf8(s.desc, s.desc_size, &text)) < 0 ||
                    (r = json_add_string(o, "table_description", text)) < 0)
                        return r;
        }
        tables = json_object_new_array();
        if ((r = json_add(o, "tables", tables)) < 0)
                return r;
        for (uint64_t i = 0; i < count; i++) {
                const uint8_t *g = s.body + 8 + 24 * i;
                const char *name = efi_guid_name(g);
                json_object *t = json_object_new_object();

                if ((r = json_array_append(tables, t)) < 0 || (r = json_add_guid(t, "vendor_guid", g)) < 0 ||
                    (name && (r = json_add_string(t, "name", name)) < 0) ||
                    (r = json_add_u64hex(t, "address", le64(g + 16))) < 0)
                        return r;
        }
        return 0;
}

/* --- EV_NO_ACTION --------------------------------------------------------------------------- */

static bool no_action_has_signature(const struct eventlog_event *ev, const char *sig)
{
        size_t l = strlen(sig);

        return ev->data_size >= l && memcmp(ev->data, sig, l) == 0;
}

static void put_bank_names(FILE *f, const struct eventlog *log)
{
        for (size_t b = 0; b < log->n_banks; b++) {
                if (b)
                        fputs(", ", f);
                if (log->banks[b].alg)
                        fputs(log->banks[b].alg->name, f);
                else
                        fprintf(f, "0x%04x", log->banks[b].alg_id);
        }
}

static int describe_no_action(FILE *f, const struct eventlog *log, const struct eventlog_event *ev)
{
        if (ev->number == 0 && log->spec_id.present) {
                fputs(log->spec_id.signature, f);
                if (log->format == EVENTLOG_FORMAT_CRYPTO_AGILE) {
                        fputs(": ", f);
                        put_bank_names(f, log);
                }
                return 0;
        }
        if (no_action_has_signature(ev, "StartupLocality") && ev->data_size >= 17) {
                fprintf(f, "StartupLocality %u", ev->data[16]);
                return 0;
        }
        if (no_action_has_signature(ev, "SP800-155 Event3")) {
                fputs("SP800-155 Event3 (reference manifest information, not extended)", f);
                return 0;
        }
        if (no_action_has_signature(ev, "SP800-155 Event")) {
                fputs("SP800-155 Event (reference manifest information, not extended)", f);
                return 0;
        }
        if (ev->data_size >= 16 && ev->data[0] >= 0x20 && ev->data[0] < 0x7f) {
                _cleanup_free_ char *sig = NULL;
                int r = efi_bytes_to_utf8(ev->data, 16, &sig);
                if (r < 0)
                        return r;
                put_escaped(f, sig);
                fputs(" (not extended)", f);
                return 0;
        }
        fprintf(f, "%zu bytes (not extended)", ev->data_size);
        return 0;
}

static int details_no_action(json_object *o, const struct eventlog *log, const struct eventlog_event *ev)
{
        int r;

        if (ev->number == 0 && log->spec_id.present) {
                const struct eventlog_spec_id *s = &log->spec_id;
                json_object *algs;
                char version[16];

                snprintf(version, sizeof(version), "%u.%u", s->version_major, s->version_minor);
                if ((r = json_add_string(o, "kind", "spec-id")) < 0 ||
                    (r = json_add_string(o, "signature", s->signature)) < 0 ||
                    (r = json_add_int(o, "platform_class", s->platform_class)) < 0 ||
                    (r = json_add_string(o, "spec_version", version)) < 0 ||
                    (r = json_add_int(o, "spec_errata", s->errata)) < 0 ||
                    (r = json_add_int(o, "uintn_size", s->uintn_size)) < 0)
                        return r;
                if (log->format == EVENTLOG_FORMAT_CRYPTO_AGILE) {
                        algs = json_object_new_array();
                        if ((r = json_add(o, "algorithms", algs)) < 0)
                                return r;
                        for (size_t b = 0; b < log->n_banks; b++) {
                                json_object *a = json_object_new_object();
                                if ((r = json_array_append(algs, a)) < 0 ||
                                    (r = json_add_int(a, "algorithm_id", log->banks[b].alg_id)) < 0 ||
                                    (log->banks[b].alg &&
                                     (r = json_add_string(a, "algorithm", log->banks[b].alg->name)) < 0) ||
                                    (r = json_add_int(a, "digest_size", log->banks[b].digest_size)) < 0)
                                        return r;
                        }
                }
                if (s->vendor_info)
                        return json_add_hex(o, "vendor_info", s->vendor_info, s->vendor_info_size);
                return 0;
        }
        if (no_action_has_signature(ev, "StartupLocality") && ev->data_size >= 17) {
                if ((r = json_add_string(o, "kind", "startup-locality")) < 0)
                        return r;
                return json_add_int(o, "startup_locality", ev->data[16]);
        }
        if (no_action_has_signature(ev, "SP800-155 Event3"))
                return json_add_string(o, "kind", "sp800-155-event3");
        if (no_action_has_signature(ev, "SP800-155 Event"))
                return json_add_string(o, "kind", "sp800-155-event");
        if (no_action_has_signature(ev, "NvIndexInstance"))
                return json_add_string(o, "kind", "nv-index-instance");
        if (no_action_has_signature(ev, "NvIndexDynamic"))
                return json_add_string(o, "kind", "nv-index-dynamic");
        return json_add_string(o, "kind", "other");
}

/* --- generic text events -------------------------------------------------------------------- */

static int describe_text_or_size(FILE *f, const struct eventlog_event *ev)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = data_to_text_if_printable(ev->data, ev->data_size, &text);
        if (r < 0)
                return r;
        if (text)
                put_escaped(f, text);
        else if (ev->data_size == 0)
                fputs("(no data)", f);
        else {
                fprintf(f, "%zu bytes: ", ev->data_size);
                for (size_t i = 0; i < ev->data_size && i < 16; i++)
                        fprintf(f, "%02x", ev->data[i]);
                if (ev->data_size > 16)
                        fputs("...", f);
        }
        return 0;
}

static int details_text(json_object *o, const struct eventlog_event *ev)
{
        _cleanup_free_ char *text = NULL;
        int r;

        r = data_to_text_if_printable(ev->data, ev->data_size, &text);
        if (r < 0 || !text)
                return r;
        return json_add_string(o, "string", text);
}

static int describe_separator(FILE *f, const struct eventlog_event *ev)
{
        uint32_t v = le32(ev->data);
        _cleanup_free_ char *text = NULL;
        int r;

        /* 0 separates pre-OS from OS measurements; 1 and 0xffffffff signal an error. */
        if (v == 0) {
                fputs("separator", f);
                return 0;
        }
        if (v == 1 || v == UINT32_MAX) {
                fprintf(f, "separator 0x%08x (error)", v);
                return 0;
        }
        /* Windows boot manager uses "WBCL" in PCRs 12-14. */
        r = data_to_text_if_printable(ev->data, ev->data_size, &text);
        if (r < 0)
                return r;
        if (text) {
                fputs("separator \"", f);
                put_escaped(f, text);
                fputc('"', f);
        } else
                fprintf(f, "separator 0x%08x", v);
        return 0;
}

/* TCG_PCClientTaggedEvent: systemd-stub, for one, tags its initrd/cmdline measurements this way. */
static int describe_event_tag(FILE *f, const struct eventlog_event *ev)
{
        struct eventlog_event inner;

        if (ev->data_size < 8 || le32(ev->data + 4) != ev->data_size - 8)
                return describe_text_or_size(f, ev);
        fprintf(f, "tag 0x%08x: ", le32(ev->data));
        inner = *ev;
        inner.data = ev->data + 8;
        inner.data_size = ev->data_size - 8;
        return describe_text_or_size(f, &inner);
}

static int details_event_tag(json_object *o, const struct eventlog_event *ev)
{
        struct eventlog_event inner;
        int r;

        if (ev->data_size < 8 || le32(ev->data + 4) != ev->data_size - 8)
                return details_text(o, ev);
        if ((r = json_add_int(o, "tag_id", le32(ev->data))) < 0 ||
            (r = json_add_int(o, "tag_data_size", le32(ev->data + 4))) < 0)
                return r;
        inner = *ev;
        inner.data = ev->data + 8;
        inner.data_size = ev->data_size - 8;
        return details_text(o, &inner);
}

/* --- dispatch ------------------------------------------------------------------------------- */

static bool is_variable_event(uint32_t type)
{
        return type == EV_EFI_VARIABLE_DRIVER_CONFIG || type == EV_EFI_VARIABLE_BOOT ||
               type == EV_EFI_VARIABLE_BOOT2 || type == EV_EFI_VARIABLE_AUTHORITY;
}

static bool is_image_event(uint32_t type)
{
        return type == EV_EFI_BOOT_SERVICES_APPLICATION || type == EV_EFI_BOOT_SERVICES_DRIVER ||
               type == EV_EFI_RUNTIME_SERVICES_DRIVER;
}

int eventlog_event_describe(const struct eventlog *log, size_t index, char **ret)
{
        const struct eventlog_event *ev = &log->events[index];
        _cleanup_free_ char *buf = NULL;
        size_t len;
        FILE *f;
        int r;

        assert(index < log->n_events);
        f = memstream_open(&buf, &len);
        if (!f)
                return -ENOMEM;

        if (ev->type == EV_NO_ACTION)
                r = describe_no_action(f, log, ev);
        else if (is_variable_event(ev->type))
                r = describe_variable(f, ev);
        else if (is_image_event(ev->type))
                r = describe_image(f, ev);
        else if (ev->type == EV_EFI_GPT_EVENT || ev->type == EV_EFI_GPT_EVENT2)
                r = describe_gpt(f, log, ev);
        else if (ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB || ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB2)
                r = describe_blob(f, ev);
        else if (ev->type == EV_EFI_HANDOFF_TABLES || ev->type == EV_EFI_HANDOFF_TABLES2)
                r = describe_handoff(f, ev);
        else if (ev->type == EV_SEPARATOR && ev->data_size == 4)
                r = describe_separator(f, ev);
        else if (ev->type == EV_EVENT_TAG)
                r = describe_event_tag(f, ev);
        else if ((ev->type == EV_POST_CODE || ev->type == EV_POST_CODE2) && ev->data_size == 16) {
                fprintf(f, "blob at 0x%jx, 0x%jx bytes", (uintmax_t)le64(ev->data),
                        (uintmax_t)le64(ev->data + 8));
                r = 0;
        } else
                r = describe_text_or_size(f, ev);

        if (r < 0) {
                fclose(f);
                return r;
        }
        *ret = memstream_finish(f, &buf);
        return *ret ? 0 : -ENOMEM;
}

int eventlog_event_details(const struct eventlog *log, size_t index, json_object **ret)
{
        const struct eventlog_event *ev = &log->events[index];
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r;

        assert(index < log->n_events);
        if (!o)
                return -ENOMEM;
        if (ev->type == EV_NO_ACTION)
                r = details_no_action(o, log, ev);
        else if (is_variable_event(ev->type))
                r = details_variable(o, ev);
        else if (is_image_event(ev->type))
                r = details_image(o, ev);
        else if (ev->type == EV_EFI_GPT_EVENT || ev->type == EV_EFI_GPT_EVENT2)
                r = details_gpt(o, log, ev);
        else if (ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB || ev->type == EV_EFI_PLATFORM_FIRMWARE_BLOB2)
                r = details_blob(o, ev);
        else if (ev->type == EV_EFI_HANDOFF_TABLES || ev->type == EV_EFI_HANDOFF_TABLES2)
                r = details_handoff(o, ev);
        else if (ev->type == EV_SEPARATOR && ev->data_size == 4)
                r = json_add_int(o, "separator_value", le32(ev->data));
        else if (ev->type == EV_EVENT_TAG)
                r = details_event_tag(o, ev);
        else if ((ev->type == EV_POST_CODE || ev->type == EV_POST_CODE2) && ev->data_size == 16) {
                r = json_add_u64hex(o, "blob_base", le64(ev->data));
                if (r >= 0)
                        r = json_add_int(o, "blob_length", (int64_t)le64(ev->data + 8));
        } else
                r = details_text(o, ev);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* --- the JSON document ---------------------------------------------------------------------- */

static const char *bank_name(const struct eventlog *log, size_t b, char buf[static 8])
{
        if (log->banks[b].alg)
                return log->banks[b].alg->name;
        snprintf(buf, 8, "0x%04x", log->banks[b].alg_id);
        return buf;
}

static bool bank_selected(const struct eventlog *log, size_t b, const struct eventlog_json_options *opts)
{
        return !opts->bank || log->banks[b].alg == opts->bank;
}

/* PCR values worth reporting: extended in this bank, by every event of that PCR, and computable. */
static uint32_t reportable_pcrs(const struct eventlog_bank_pcrs *bp)
{
        return bp->replayed ? bp->touched & ~bp->incomplete : 0;
}

static int pcrs_to_json(const struct eventlog *log, const struct eventlog_pcrs *p, uint32_t only,
                        const struct eventlog_json_options *opts, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        for (size_t b = 0; b < p->n_banks; b++) {
                const struct eventlog_bank_pcrs *bp = &p->banks[b];
                uint32_t mask = reportable_pcrs(bp) & only;
                json_object *bank;

                if (!bank_selected(log, b, opts) || mask == 0)
                        continue;
                bank = json_object_new_object();
                if ((r = json_add(o, bp->alg->name, bank)) < 0)
                        return r;
                for (unsigned i = 0; i < EVENTLOG_MAX_PCRS; i++) {
                        char key[4];

                        if (!(mask & (1u << i)))
                                continue;
                        snprintf(key, sizeof(key), "%u", i);
                        if ((r = json_add_hex(bank, key, bp->values[i], bp->alg->size)) < 0)
                                return r;
                }
        }
        *ret = TAKE_PTR(o);
        return 0;
}

static int banks_mask_names(const struct eventlog *log, uint32_t mask, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        bool first = true;
        FILE *f = memstream_open(&buf, &len);

        if (!f)
                return -ENOMEM;
        for (size_t b = 0; b < log->n_banks; b++) {
                char tmp[8];

                if (!(mask & (1u << b)))
                        continue;
                fprintf(f, "%s%s", first ? "" : ", ", bank_name(log, b, tmp));
                first = false;
        }
        *ret = memstream_finish(f, &buf);
        return *ret ? 0 : -ENOMEM;
}

static int event_to_json(const struct eventlog *log, size_t i, const struct eventlog_json_options *opts,
                         const char *description, json_object **ret)
{
        const struct eventlog_event *ev = &log->events[i];
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *digests = NULL, *details = NULL;
        const char *name = eventlog_type_name(ev->type);
        static const char *const checks[] = {
                [EVENTLOG_DIGEST_UNCHECKED] = "unchecked",
                [EVENTLOG_DIGEST_MATCH] = "match",
                [EVENTLOG_DIGEST_MISMATCH] = "mismatch",
        };
        char unknown[32];
        int r;

        if (!o)
                return -ENOMEM;
        if (!name) {
                snprintf(unknown, sizeof(unknown), "EV_UNKNOWN_0x%08x", ev->type);
                name = unknown;
        }
        if ((r = json_add_int(o, "number", ev->number)) < 0 ||
            (r = json_add_int(o, "offset", (int64_t)ev->offset)) < 0 ||
            (r = json_add_int(o, "pcr", ev->pcr)) < 0 || (r = json_add_string(o, "type", name)) < 0 ||
            (r = json_add_int(o, "type_value", ev->type)) < 0)
                return r;
        digests = json_object_new_object();
        if ((r = json_add(o, "digests", digests)) < 0)
                return r;
        for (size_t b = 0; b < log->n_banks; b++) {
                char tmp[8];

                if (!ev->digests[b] || !bank_selected(log, b, opts))
                        continue;
                if ((r = json_add_hex(digests, bank_name(log, b, tmp), ev->digests[b],
                                      log->banks[b].digest_size)) < 0)
                        return r;
        }
        if ((r = json_add_string(o, "description", description)) < 0 ||
            (r = json_add(o, "extended", json_object_new_boolean(eventlog_event_is_extended(ev)))) < 0 ||
            (r = json_add_string(o, "digest_check", checks[ev->check])) < 0 ||
            (r = json_add_int(o, "data_size", (int64_t)ev->data_size)) < 0 ||
            (r = json_add_hex(o, "data", ev->data, ev->data_size)) < 0)
                return r;
        r = eventlog_event_details(log, i, &details);
        if (r < 0)
                return r;
        if ((r = json_add(o, "details", details)) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int add_warning_json(json_object *warnings, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static int add_warning_json(json_object *warnings, const char *fmt, ...)
{
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        return json_array_append(warnings, json_object_new_string(s));
}

static int ebs_to_json(const struct eventlog *log, const struct eventlog_json_options *opts,
                       json_object *root, json_object *warnings, struct cvm_error *err)
{
        static const char *const names[] = {
                [EVENTLOG_EBS_NOT_APPLICABLE] = "not-applicable",
                [EVENTLOG_EBS_PRESENT] = "present",
                [EVENTLOG_EBS_MISSING] = "missing",
        };
        enum eventlog_ebs_status status = eventlog_ebs_status(log);
        struct eventlog_pcrs alt;
        json_object *ebs = json_object_new_object(), *w, *events, *pcrs = NULL;
        int r;

        if ((r = json_add(root, "ebs", ebs)) < 0 || (r = json_add_string(ebs, "status", names[status])) < 0)
                return r;
        if (status != EVENTLOG_EBS_MISSING)
                return 0;

        r = eventlog_replay(log, EVENTLOG_REPLAY_EBS_WORKAROUND, &alt, err);
        if (r < 0)
                return r;
        w = json_object_new_object();
        if ((r = json_add(root, "ebs_workaround", w)) < 0 ||
            (r = json_add_string(
                     w, "note",
                     "the log has no \"" EVENTLOG_EBS_INVOCATION "\" action in PCR 5; firmware measures "
                     "it (and the return) after the log was copied. These are the PCR 5 values with "
                     "both actions appended; the TPM usually holds these")) < 0)
                return r;
        events = json_object_new_array();
        if ((r = json_add(w, "appended_events", events)) < 0 ||
            (r = json_array_append(events, json_object_new_string(EVENTLOG_EBS_INVOCATION))) < 0 ||
            (r = json_array_append(events, json_object_new_string(EVENTLOG_EBS_SUCCESS))) < 0)
                return r;
        r = pcrs_to_json(log, &alt, 1u << 5, opts, &pcrs);
        if (r < 0)
                return r;
        if ((r = json_add(w, "pcrs", pcrs)) < 0)
                return r;
        return add_warning_json(
                warnings, "PCR 5: the ExitBootServices actions are missing from the log; replayed values "
                          "follow the log, see \"ebs_workaround\" for the values with them appended");
}

int eventlog_to_json(const struct eventlog *log, const struct eventlog_json_options *opts, json_object **ret,
                     struct cvm_error *err)
{
        static const struct eventlog_json_options defaults = {};
        _cleanup_(json_object_putp) json_object *root = json_object_new_object();
        json_object *banks, *pcrs = NULL, *events = NULL, *mismatches, *warnings;
        struct eventlog_pcrs p;
        int r;

        if (!opts)
                opts = &defaults;
        if (!root)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        r = eventlog_replay(log, 0, &p, err);
        if (r < 0)
                return r;

        banks = json_object_new_array();
        if ((r = json_add_string(root, "format",
                                 log->format == EVENTLOG_FORMAT_CRYPTO_AGILE ? "crypto-agile" : "sha1")) <
                    0 ||
            (r = json_add(root, "banks", banks)) < 0)
                goto oom;
        for (size_t b = 0; b < log->n_banks; b++) {
                char tmp[8];
                if ((r = json_array_append(banks, json_object_new_string(bank_name(log, b, tmp)))) < 0)
                        goto oom;
        }
        if ((r = json_add_int(root, "event_count", (int64_t)log->n_events)) < 0)
                goto oom;
        if (p.startup_locality >= 0 && (r = json_add_int(root, "startup_locality", p.startup_locality)) < 0)
                goto oom;
        r = pcrs_to_json(log, &p, UINT32_MAX, opts, &pcrs);
        if (r < 0 || (r = json_add(root, "pcrs", pcrs)) < 0)
                goto oom;

        warnings = json_object_new_array();
        mismatches = json_object_new_array();
        if ((r = json_add(root, "warnings", warnings)) < 0 ||
            (r = json_add(root, "digest_mismatches", mismatches)) < 0)
                goto oom;
        for (size_t i = 0; i < log->n_warnings; i++)
                if ((r = json_array_append(warnings, json_object_new_string(log->warnings[i]))) < 0)
                        goto oom;
        for (size_t b = 0; b < p.n_banks; b++) {
                char tmp[8];
                const struct eventlog_bank_pcrs *bp = &p.banks[b];

                if (!bp->replayed && bp->touched &&
                    (r = add_warning_json(warnings, "bank %s: algorithm not supported, PCRs not replayed",
                                          bank_name(log, b, tmp))) < 0)
                        goto oom;
                if (bp->replayed && (bp->touched & bp->incomplete)) {
                        for (unsigned i = 0; i < EVENTLOG_MAX_PCRS; i++)
                                if ((bp->touched & bp->incomplete & (1u << i)) &&
                                    (r = add_warning_json(
                                             warnings,
                                             "bank %s: PCR %u has events without a %s digest; its "
                                             "value cannot be replayed and is omitted",
                                             bank_name(log, b, tmp), i, bank_name(log, b, tmp))) < 0)
                                        goto oom;
                }
        }

        if (!opts->pcrs_only) {
                events = json_object_new_array();
                if ((r = json_add(root, "events", events)) < 0)
                        goto oom;
        }
        for (size_t i = 0; i < log->n_events; i++) {
                const struct eventlog_event *ev = &log->events[i];
                _cleanup_free_ char *description = NULL;

                if (!events && ev->check != EVENTLOG_DIGEST_MISMATCH)
                        continue;
                if ((r = eventlog_event_describe(log, i, &description)) < 0)
                        goto oom;
                if (events) {
                        json_object *e = NULL;
                        if ((r = event_to_json(log, i, opts, description, &e)) < 0 ||
                            (r = json_array_append(events, e)) < 0)
                                goto oom;
                }
                if (ev->check == EVENTLOG_DIGEST_MISMATCH) {
                        _cleanup_free_ char *bank_list = NULL;
                        const char *name = eventlog_type_name(ev->type);
                        json_object *m = json_object_new_object(), *mb = json_object_new_array();

                        if ((r = json_array_append(mismatches, m)) < 0 ||
                            (r = json_add_int(m, "number", ev->number)) < 0 ||
                            (r = json_add_int(m, "offset", (int64_t)ev->offset)) < 0 ||
                            (r = json_add_int(m, "pcr", ev->pcr)) < 0 ||
                            (r = json_add_string(m, "type", name ? name : "EV_UNKNOWN")) < 0 ||
                            (r = json_add(m, "banks", mb)) < 0 ||
                            (r = json_add_string(m, "description", description)) < 0)
                                goto oom;
                        for (size_t b = 0; b < log->n_banks; b++) {
                                char tmp[8];
                                if ((ev->mismatch_banks & (1u << b)) &&
                                    (r = json_array_append(
                                             mb, json_object_new_string(bank_name(log, b, tmp)))) < 0)
                                        goto oom;
                        }
                        if ((r = banks_mask_names(log, ev->mismatch_banks, &bank_list)) < 0 ||
                            (r = add_warning_json(
                                     warnings,
                                     "event %u at offset 0x%zx (PCR %u, %s): digest does not match the "
                                     "event data (%s); replayed by its digest",
                                     ev->number, ev->offset, ev->pcr, name ? name : "EV_UNKNOWN",
                                     bank_list)) < 0)
                                goto oom;
                }
        }

        r = ebs_to_json(log, opts, root, warnings, err);
        if (r < 0) {
                if (r == -ENOMEM)
                        goto oom;
                return r;
        }

        *ret = TAKE_PTR(root);
        return 0;
oom:
        return cvm_error_set(err, -ENOMEM, "out of memory");
}
