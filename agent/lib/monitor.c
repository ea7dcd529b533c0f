/* SPDX-License-Identifier: Apache-2.0 */
/* Integrity monitoring: findings, state, status file, reactions, metrics (see monitor.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "canonjson.h"
#include "cleanup.h"
#include "monitor.h"
#include "util.h"

static const char *const class_names[_MONITOR_CLASS_MAX] = {
        [MONITOR_CLASS_PCR] = "pcr",
        [MONITOR_CLASS_EVENTLOG] = "eventlog",
        [MONITOR_CLASS_IMA] = "ima",
        [MONITOR_CLASS_QUOTE] = "quote",
        [MONITOR_CLASS_SNP] = "snp",
        [MONITOR_CLASS_ATTESTATION] = "attestation",
        [MONITOR_CLASS_UNAVAILABLE] = "unavailable",
};

static const char *const state_names[] = {
        [MONITOR_STATE_HEALTHY] = "healthy",
        [MONITOR_STATE_DEGRADED] = "degraded",
        [MONITOR_STATE_VIOLATED] = "violated",
};

static const char *const action_names[] = {
        [MONITOR_ACTION_LOG] = "log",
        [MONITOR_ACTION_HOOK] = "hook",
        [MONITOR_ACTION_CLOSE] = "close",
        [MONITOR_ACTION_POWEROFF] = "poweroff",
};

const char *monitor_class_to_string(enum monitor_class c)
{
        return (unsigned)c < _MONITOR_CLASS_MAX ? class_names[c] : "unknown";
}

int monitor_class_from_string(const char *s, enum monitor_class *ret)
{
        for (unsigned i = 0; s && i < _MONITOR_CLASS_MAX; i++)
                if (strcmp(s, class_names[i]) == 0) {
                        *ret = (enum monitor_class)i;
                        return 0;
                }
        return -EINVAL;
}

const char *monitor_severity_to_string(enum monitor_severity s)
{
        return s == MONITOR_SEVERITY_VIOLATION ? "violation" : "degraded";
}

static int severity_from_string(const char *s, enum monitor_severity *ret)
{
        if (strcmp(s, "violation") == 0)
                *ret = MONITOR_SEVERITY_VIOLATION;
        else if (strcmp(s, "degraded") == 0)
                *ret = MONITOR_SEVERITY_DEGRADED;
        else
                return -EINVAL;
        return 0;
}

const char *monitor_state_to_string(enum monitor_state s)
{
        return (unsigned)s < ELEMENTSOF(state_names) ? state_names[s] : "unknown";
}

int monitor_state_from_string(const char *s, enum monitor_state *ret)
{
        for (unsigned i = 0; s && i < ELEMENTSOF(state_names); i++)
                if (strcmp(s, state_names[i]) == 0) {
                        *ret = (enum monitor_state)i;
                        return 0;
                }
        return -EINVAL;
}

const char *monitor_action_type_to_string(enum monitor_action_type t)
{
        return (unsigned)t < ELEMENTSOF(action_names) ? action_names[t] : "unknown";
}

/* ---- findings ------------------------------------------------------------------------------ */

void monitor_status_init(struct monitor_status *s)
{
        memset(s, 0, sizeof(*s));
}

static void finding_done(struct monitor_finding *f)
{
        free(f->message);
        free(f->path);
        free(f->expected);
        free(f->actual);
        free(f->verifier);
        memset(f, 0, sizeof(*f));
}

void monitor_status_done(struct monitor_status *s)
{
        for (size_t i = 0; i < s->n_findings; i++)
                finding_done(&s->findings[i]);
        free(s->last_checked);
        monitor_status_init(s);
}

enum monitor_state monitor_status_state(const struct monitor_status *s)
{
        enum monitor_state st = MONITOR_STATE_HEALTHY;

        for (size_t i = 0; i < s->n_findings; i++) {
                if (s->findings[i].severity == MONITOR_SEVERITY_VIOLATION)
                        return MONITOR_STATE_VIOLATED;
                st = MONITOR_STATE_DEGRADED;
        }
        return st;
}

void monitor_check_begin(struct monitor_status *s)
{
        for (size_t i = 0; i < s->n_findings; i++)
                s->findings[i].stale = s->findings[i].severity == MONITOR_SEVERITY_DEGRADED;
        s->found_in_check = false;
}

/* A copy cut at MONITOR_FIELD_MAX - 1 bytes; NULL stays NULL. Return: 0 or -ENOMEM. */
static int field_dup(const char *s, char **ret)
{
        *ret = NULL;
        if (!s)
                return 0;
        *ret = strndup(s, MONITOR_FIELD_MAX - 1);
        return *ret ? 0 : -ENOMEM;
}

/* Compare a spec with a recorded finding as the recorded copy would be (truncated). */
static bool field_eq(const char *stored, const char *spec)
{
        if (!stored || !spec)
                return stored == spec;
        return strncmp(stored, spec, MONITOR_FIELD_MAX - 1) == 0 &&
               (strlen(spec) < MONITOR_FIELD_MAX - 1 || strlen(stored) == MONITOR_FIELD_MAX - 1);
}

int monitor_add_finding(struct monitor_status *s, const struct monitor_finding_spec *f, uint64_t now_usec)
{
        struct monitor_finding n = {};

        if (!f->message || (unsigned)f->cls >= _MONITOR_CLASS_MAX)
                return -EINVAL;
        s->found_in_check = true;
        for (size_t i = 0; i < s->n_findings; i++) {
                struct monitor_finding *o = &s->findings[i];

                if (o->cls != f->cls || o->severity != f->severity || o->pcr != (f->pcr < 0 ? -1 : f->pcr) ||
                    !field_eq(o->message, f->message) || !field_eq(o->path, f->path) ||
                    !field_eq(o->expected, f->expected) || !field_eq(o->actual, f->actual) ||
                    !field_eq(o->verifier, f->verifier))
                        continue;
                o->stale = false;
                o->count++;
                o->last_usec = now_usec;
                return 0;
        }

        s->findings_total[f->cls]++;
        if (s->n_findings >= MONITOR_MAX_FINDINGS) {
                s->findings_dropped++;
                return 1;
        }
        n.cls = f->cls;
        n.severity = f->severity;
        n.pcr = f->pcr < 0 ? -1 : f->pcr;
        n.first_usec = n.last_usec = now_usec;
        n.count = 1;
        if (field_dup(f->message, &n.message) < 0 || field_dup(f->path, &n.path) < 0 ||
            field_dup(f->expected, &n.expected) < 0 || field_dup(f->actual, &n.actual) < 0 ||
            field_dup(f->verifier, &n.verifier) < 0) {
                finding_done(&n);
                s->findings_total[f->cls]--;
                return -ENOMEM;
        }
        s->findings[s->n_findings++] = n;
        return 1;
}

void monitor_check_end(struct monitor_status *s, uint64_t now_usec, uint64_t duration_usec, size_t *cleared)
{
        size_t j = 0, dropped = 0;

        for (size_t i = 0; i < s->n_findings; i++) {
                if (s->findings[i].stale) {
                        finding_done(&s->findings[i]);
                        dropped++;
                        continue;
                }
                s->findings[j++] = s->findings[i];
        }
        for (size_t i = j; i < s->n_findings; i++)
                memset(&s->findings[i], 0, sizeof(s->findings[i]));
        s->n_findings = j;
        s->checks++;
        s->last_check_usec = now_usec;
        s->last_duration_usec = duration_usec;
        if (!s->found_in_check)
                s->last_success_usec = now_usec;
        if (cleared)
                *cleared = dropped;
}

int monitor_status_set_checked(struct monitor_status *s, const char *line)
{
        char *c = NULL;

        if (field_dup(line, &c) < 0)
                return -ENOMEM;
        free(s->last_checked);
        s->last_checked = c;
        return 0;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static int jadd(json_object *o, const char *key, json_object *val)
{
        if (!val || json_object_object_add(o, key, val) < 0) {
                json_object_put(val);
                return -ENOMEM;
        }
        return 0;
}

/* "2024-05-01T12:00:00.123Z", or JSON null for 0. */
static int jadd_time(json_object *o, const char *key, uint64_t usec)
{
        char buf[21], out[32];

        if (usec == 0)
                return json_object_object_add(o, key, NULL) < 0 ? -ENOMEM : 0;
        format_rfc3339((time_t)(usec / 1000000), buf);
        /* buf ends in 'Z': insert the milliseconds before it. */
        snprintf(out, sizeof(out), "%.19s.%03" PRIu64 "Z", buf, (usec / 1000) % 1000);
        return jadd(o, key, json_object_new_string(out));
}

static int jadd_str_opt(json_object *o, const char *key, const char *v)
{
        return v ? jadd(o, key, json_object_new_string(v)) : 0;
}

static int snp_to_json(const struct monitor_snp *p, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        char hex[19];
        int r = 0;

        if (!o)
                return -ENOMEM;
#define U64(name)                                                        \
        do {                                                             \
                snprintf(hex, sizeof(hex), "0x%016" PRIx64, p->name);    \
                if (r >= 0)                                              \
                        r = jadd(o, #name, json_object_new_string(hex)); \
        } while (0)
        if (r >= 0)
                r = jadd(o, "version", json_object_new_int64(p->version));
        if (r >= 0)
                r = jadd(o, "guest_svn", json_object_new_int64(p->guest_svn));
        if (r >= 0)
                r = jadd(o, "vmpl", json_object_new_int64(p->vmpl));
        U64(policy);
        U64(current_tcb);
        U64(reported_tcb);
        U64(committed_tcb);
        U64(launch_tcb);
        U64(platform_info);
#undef U64
        if (r >= 0)
                r = jadd(o, "measurement", json_object_new_string(p->measurement));
        if (r >= 0)
                r = jadd(o, "host_data", json_object_new_string(p->host_data));
        if (r >= 0)
                r = jadd(o, "id_key_digest", json_object_new_string(p->id_key_digest));
        if (r >= 0)
                r = jadd(o, "author_key_digest", json_object_new_string(p->author_key_digest));
        if (r >= 0)
                r = jadd(o, "report_id", json_object_new_string(p->report_id));
        if (r >= 0)
                r = jadd(o, "chip_id", json_object_new_string(p->chip_id));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int finding_to_json(const struct monitor_finding *f, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        int r;

        if (!o)
                return -ENOMEM;
        r = jadd(o, "class", json_object_new_string(monitor_class_to_string(f->cls)));
        if (r >= 0)
                r = jadd(o, "severity", json_object_new_string(monitor_severity_to_string(f->severity)));
        if (r >= 0)
                r = jadd(o, "message", json_object_new_string(f->message));
        if (r >= 0 && f->pcr >= 0)
                r = jadd(o, "pcr", json_object_new_int(f->pcr));
        if (r >= 0)
                r = jadd_str_opt(o, "path", f->path);
        if (r >= 0)
                r = jadd_str_opt(o, "expected", f->expected);
        if (r >= 0)
                r = jadd_str_opt(o, "actual", f->actual);
        if (r >= 0)
                r = jadd_str_opt(o, "verifier", f->verifier);
        if (r >= 0)
                r = jadd_time(o, "first_seen", f->first_usec);
        if (r >= 0)
                r = jadd_time(o, "last_seen", f->last_usec);
        if (r >= 0)
                r = jadd(o, "count", json_object_new_int64((int64_t)f->count));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

int monitor_status_to_json(const struct monitor_status *s, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object(), *fa = json_object_new_array(),
                                                *tot = json_object_new_object();
        json_object *sub = NULL;
        int r = 0;

        if (!o || !fa || !tot)
                return -ENOMEM;
        for (size_t i = 0; r >= 0 && i < s->n_findings; i++) {
                r = finding_to_json(&s->findings[i], &sub);
                if (r >= 0 && json_object_array_add(fa, sub) < 0) {
                        json_object_put(sub);
                        r = -ENOMEM;
                }
        }
        for (unsigned c = 0; r >= 0 && c < _MONITOR_CLASS_MAX; c++)
                r = jadd(tot, class_names[c], json_object_new_int64((int64_t)s->findings_total[c]));
        if (r >= 0)
                r = jadd(o, "version", json_object_new_int(MONITOR_STATUS_VERSION));
        if (r >= 0)
                r = jadd(o, "state",
                         json_object_new_string(monitor_state_to_string(monitor_status_state(s))));
        if (r >= 0)
                r = jadd(o, "pid", json_object_new_int(s->pid));
        if (r >= 0)
                r = jadd_time(o, "started", s->started_usec);
        if (r >= 0)
                r = jadd_time(o, "last_check", s->last_check_usec);
        if (r >= 0)
                r = jadd_time(o, "last_success", s->last_success_usec);
        if (r >= 0)
                r = jadd_time(o, "last_attestation", s->last_attestation_usec);
        if (r >= 0)
                r = jadd_time(o, "token_expiry", s->token_expiry_usec);
        if (r >= 0)
                r = jadd(o, "interval_seconds", json_object_new_double((double)s->interval_usec / 1e6));
        if (r >= 0)
                r = jadd(o, "checks", json_object_new_int64((int64_t)s->checks));
        if (r >= 0)
                r = jadd(o, "last_duration_ms", json_object_new_double((double)s->last_duration_usec / 1e3));
        if (r >= 0)
                r = json_object_object_add(o, "last_checked",
                                           s->last_checked ? json_object_new_string(s->last_checked)
                                                           : NULL) < 0
                            ? -ENOMEM
                            : 0;
        if (r >= 0)
                r = jadd(o, "ima_entries", json_object_new_int64((int64_t)s->ima_entries));
        if (r >= 0)
                r = jadd(o, "findings_total", TAKE_PTR(tot));
        if (r >= 0)
                r = jadd(o, "findings_dropped", json_object_new_int64((int64_t)s->findings_dropped));
        if (r >= 0 && s->snp.present) {
                r = snp_to_json(&s->snp, &sub);
                if (r >= 0)
                        r = jadd(o, "snp", sub);
        } else if (r >= 0) {
                r = json_object_object_add(o, "snp", NULL) < 0 ? -ENOMEM : 0;
        }
        if (r >= 0)
                r = jadd(o, "findings", TAKE_PTR(fa));
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

/* ---- parse --------------------------------------------------------------------------------- */

/* Member @key of @o with type @t; -ENOENT when absent (or null and @nullable), -EBADMSG otherwise. */
static int jget(json_object *o, const char *where, const char *key, json_type t, bool nullable,
                json_object **ret, struct cvm_error *err)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                return -ENOENT;
        if (!v && nullable)
                return -ENOENT;
        if (!json_object_is_type(v, t) && !(t == json_type_double && json_object_is_type(v, json_type_int)))
                return cvm_error_set(err, -EBADMSG, "%s.%s: expected %s", where, key, json_type_to_name(t));
        *ret = v;
        return 0;
}

static int jget_u64(json_object *o, const char *where, const char *key, bool required, uint64_t *ret,
                    struct cvm_error *err)
{
        json_object *v;
        int64_t x;
        int r;

        r = jget(o, where, key, json_type_int, false, &v, err);
        if (r == -ENOENT)
                return required ? cvm_error_set(err, -EBADMSG, "%s.%s: missing", where, key) : 0;
        if (r < 0)
                return r;
        errno = 0;
        x = json_object_get_int64(v);
        if (x < 0 || errno != 0)
                return cvm_error_set(err, -EBADMSG, "%s.%s: out of range", where, key);
        *ret = (uint64_t)x;
        return 0;
}

/* RFC 3339 with optional fraction into microseconds; null/absent -> 0. */
static int jget_time(json_object *o, const char *where, const char *key, uint64_t *ret,
                     struct cvm_error *err)
{
        json_object *v;
        const char *s, *dot;
        time_t t;
        uint64_t frac = 0;
        int r;

        r = jget(o, where, key, json_type_string, true, &v, err);
        if (r == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (r < 0)
                return r;
        s = json_object_get_string(v);
        if (parse_rfc3339(s, &t) < 0 || t <= 0 || (uint64_t)t > UINT64_MAX / 1000000 - 1)
                return cvm_error_set(err, -EBADMSG, "%s.%s: not an RFC 3339 time", where, key);
        dot = strchr(s, '.');
        if (dot) {
                uint64_t scale = 100000;

                for (const char *p = dot + 1; isdigit((unsigned char)*p) && scale > 0; p++, scale /= 10)
                        frac += (uint64_t)(*p - '0') * scale;
        }
        *ret = (uint64_t)t * 1000000 + frac;
        return 0;
}

static int jget_str(json_object *o, const char *where, const char *key, bool required, char **ret,
                    struct cvm_error *err)
{
        json_object *v;
        int r;

        *ret = NULL;
        r = jget(o, where, key, json_type_string, !required, &v, err);
        if (r == -ENOENT)
                return required ? cvm_error_set(err, -EBADMSG, "%s.%s: missing", where, key) : 0;
        if (r < 0)
                return r;
        if ((size_t)json_object_get_string_len(v) >= MONITOR_FIELD_MAX)
                return cvm_error_set(err, -EBADMSG, "%s.%s: longer than %u bytes", where, key,
                                     MONITOR_FIELD_MAX - 1);
        if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
                return cvm_error_set(err, -EBADMSG, "%s.%s: contains a NUL character", where, key);
        *ret = strdup(json_object_get_string(v));
        return *ret ? 0 : -ENOMEM;
}

static int jget_hex_into(json_object *o, const char *key, char *out, size_t size, struct cvm_error *err)
{
        json_object *v;
        const char *s;
        int r;

        r = jget(o, "$.snp", key, json_type_string, false, &v, err);
        if (r == -ENOENT)
                return cvm_error_set(err, -EBADMSG, "$.snp.%s: missing", key);
        if (r < 0)
                return r;
        s = json_object_get_string(v);
        if (strlen(s) != size - 1 || strspn(s, "0123456789abcdef") != size - 1)
                return cvm_error_set(err, -EBADMSG, "$.snp.%s: expected %zu lowercase hex digits", key,
                                     size - 1);
        memcpy(out, s, size);
        return 0;
}

static int jget_hex64(json_object *o, const char *key, uint64_t *ret, struct cvm_error *err)
{
        json_object *v;
        const char *s;
        char *end;
        int r;

        r = jget(o, "$.snp", key, json_type_string, false, &v, err);
        if (r == -ENOENT)
                return cvm_error_set(err, -EBADMSG, "$.snp.%s: missing", key);
        if (r < 0)
                return r;
        s = json_object_get_string(v);
        if (strncmp(s, "0x", 2) != 0 || strlen(s) != 18 || strspn(s + 2, "0123456789abcdef") != 16)
                return cvm_error_set(err, -EBADMSG, "$.snp.%s: expected 0x and 16 hex digits", key);
        *ret = strtoull(s + 2, &end, 16);
        return 0;
}

static int jget_u32(json_object *o, const char *key, uint32_t *ret, struct cvm_error *err)
{
        uint64_t v = 0;
        int r = jget_u64(o, "$.snp", key, true, &v, err);

        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return cvm_error_set(err, -EBADMSG, "$.snp.%s: out of range", key);
        *ret = (uint32_t)v;
        return 0;
}

static int snp_from_json(json_object *o, struct monitor_snp *p, struct cvm_error *err)
{
        int r;

        memset(p, 0, sizeof(*p));
        r = jget_u32(o, "version", &p->version, err);
        if (r >= 0)
                r = jget_u32(o, "guest_svn", &p->guest_svn, err);
        if (r >= 0)
                r = jget_u32(o, "vmpl", &p->vmpl, err);
        if (r >= 0)
                r = jget_hex64(o, "policy", &p->policy, err);
        if (r >= 0)
                r = jget_hex64(o, "current_tcb", &p->current_tcb, err);
        if (r >= 0)
                r = jget_hex64(o, "reported_tcb", &p->reported_tcb, err);
        if (r >= 0)
                r = jget_hex64(o, "committed_tcb", &p->committed_tcb, err);
        if (r >= 0)
                r = jget_hex64(o, "launch_tcb", &p->launch_tcb, err);
        if (r >= 0)
                r = jget_hex64(o, "platform_info", &p->platform_info, err);
        if (r >= 0)
                r = jget_hex_into(o, "measurement", p->measurement, sizeof(p->measurement), err);
        if (r >= 0)
                r = jget_hex_into(o, "host_data", p->host_data, sizeof(p->host_data), err);
        if (r >= 0)
                r = jget_hex_into(o, "id_key_digest", p->id_key_digest, sizeof(p->id_key_digest), err);
        if (r >= 0)
                r = jget_hex_into(o, "author_key_digest", p->author_key_digest, sizeof(p->author_key_digest),
                                  err);
        if (r >= 0)
                r = jget_hex_into(o, "report_id", p->report_id, sizeof(p->report_id), err);
        if (r >= 0)
                r = jget_hex_into(o, "chip_id", p->chip_id, sizeof(p->chip_id), err);
        if (r < 0)
                return r;
        p->present = true;
        return 0;
}

static int finding_from_json(json_object *o, size_t idx, struct monitor_finding *f, struct cvm_error *err)
{
        _cleanup_free_ char *cls = NULL, *sev = NULL;
        char where[48];
        json_object *v;
        int r;

        snprintf(where, sizeof(where), "$.findings[%zu]", idx);
        if (!json_object_is_type(o, json_type_object))
                return cvm_error_set(err, -EBADMSG, "%s: expected an object", where);
        memset(f, 0, sizeof(*f));
        f->pcr = -1;
        r = jget_str(o, where, "class", true, &cls, err);
        if (r >= 0 && monitor_class_from_string(cls, &f->cls) < 0)
                r = cvm_error_set(err, -EBADMSG, "%s.class: unknown class", where);
        if (r >= 0)
                r = jget_str(o, where, "severity", true, &sev, err);
        if (r >= 0 && severity_from_string(sev, &f->severity) < 0)
                r = cvm_error_set(err, -EBADMSG, "%s.severity: expected violation or degraded", where);
        if (r >= 0)
                r = jget_str(o, where, "message", true, &f->message, err);
        if (r >= 0)
                r = jget_str(o, where, "path", false, &f->path, err);
        if (r >= 0)
                r = jget_str(o, where, "expected", false, &f->expected, err);
        if (r >= 0)
                r = jget_str(o, where, "actual", false, &f->actual, err);
        if (r >= 0)
                r = jget_str(o, where, "verifier", false, &f->verifier, err);
        if (r >= 0) {
                r = jget(o, where, "pcr", json_type_int, true, &v, err);
                if (r == 0) {
                        int64_t p = json_object_get_int64(v);

                        if (p < 0 || p > 23)
                                r = cvm_error_set(err, -EBADMSG, "%s.pcr: expected 0..23", where);
                        else
                                f->pcr = (int)p;
                } else if (r == -ENOENT) {
                        r = 0;
                }
        }
        if (r >= 0)
                r = jget_time(o, where, "first_seen", &f->first_usec, err);
        if (r >= 0)
                r = jget_time(o, where, "last_seen", &f->last_usec, err);
        if (r >= 0)
                r = jget_u64(o, where, "count", false, &f->count, err);
        if (r < 0) {
                finding_done(f);
                return r;
        }
        return 0;
}

int monitor_status_parse(const char *text, size_t len, struct monitor_status *ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *doc = NULL;
        struct monitor_status s;
        json_object *v, *fa = NULL;
        enum monitor_state claimed = MONITOR_STATE_HEALTHY;
        uint64_t version = 0, pid = 0;
        int r;

        if (len > MONITOR_STATUS_MAX)
                return cvm_error_set(err, -EBADMSG, "status file larger than %u bytes", MONITOR_STATUS_MAX);
        r = canonjson_parse(text, len, "status file", &doc, err);
        if (r < 0)
                return r;
        if (!json_object_is_type(doc, json_type_object))
                return cvm_error_set(err, -EBADMSG, "$: expected an object");

        monitor_status_init(&s);
        r = jget_u64(doc, "$", "version", true, &version, err);
        if (r >= 0 && version != MONITOR_STATUS_VERSION)
                r = cvm_error_set(err, -EBADMSG, "$.version: unsupported version %" PRIu64, version);
        if (r >= 0)
                r = jget(doc, "$", "state", json_type_string, false, &v, err);
        if (r == -ENOENT)
                r = cvm_error_set(err, -EBADMSG, "$.state: missing");
        if (r >= 0 && monitor_state_from_string(json_object_get_string(v), &claimed) < 0)
                r = cvm_error_set(err, -EBADMSG, "$.state: expected healthy, degraded or violated");
        if (r >= 0)
                r = jget_u64(doc, "$", "pid", false, &pid, err);
        if (r >= 0 && pid > INT32_MAX)
                r = cvm_error_set(err, -EBADMSG, "$.pid: out of range");
        s.pid = (int)pid;
        if (r >= 0)
                r = jget_time(doc, "$", "started", &s.started_usec, err);
        if (r >= 0)
                r = jget_time(doc, "$", "last_check", &s.last_check_usec, err);
        if (r >= 0)
                r = jget_time(doc, "$", "last_success", &s.last_success_usec, err);
        if (r >= 0)
                r = jget_time(doc, "$", "last_attestation", &s.last_attestation_usec, err);
        if (r >= 0)
                r = jget_time(doc, "$", "token_expiry", &s.token_expiry_usec, err);
        if (r >= 0) {
                r = jget(doc, "$", "interval_seconds", json_type_double, true, &v, err);
                if (r == 0) {
                        double d = json_object_get_double(v);

                        if (!(d >= 0 && d < 1e9))
                                r = cvm_error_set(err, -EBADMSG, "$.interval_seconds: out of range");
                        else
                                s.interval_usec = (uint64_t)(d * 1e6 + 0.5);
                } else if (r == -ENOENT) {
                        r = 0;
                }
        }
        if (r >= 0) {
                r = jget(doc, "$", "last_duration_ms", json_type_double, true, &v, err);
                if (r == 0) {
                        double d = json_object_get_double(v);

                        if (!(d >= 0 && d < 1e12))
                                r = cvm_error_set(err, -EBADMSG, "$.last_duration_ms: out of range");
                        else
                                s.last_duration_usec = (uint64_t)(d * 1e3 + 0.5);
                } else if (r == -ENOENT) {
                        r = 0;
                }
        }
        if (r >= 0)
                r = jget_u64(doc, "$", "checks", false, &s.checks, err);
        if (r >= 0)
                r = jget_u64(doc, "$", "ima_entries", false, &s.ima_entries, err);
        if (r >= 0)
                r = jget_u64(doc, "$", "findings_dropped", false, &s.findings_dropped, err);
        if (r >= 0)
                r = jget_str(doc, "$", "last_checked", false, &s.last_checked, err);
        if (r >= 0) {
                r = jget(doc, "$", "findings_total", json_type_object, true, &v, err);
                for (unsigned c = 0; r == 0 && c < _MONITOR_CLASS_MAX; c++)
                        r = jget_u64(v, "$.findings_total", class_names[c], false, &s.findings_total[c],
                                     err);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0) {
                r = jget(doc, "$", "snp", json_type_object, true, &v, err);
                if (r == 0)
                        r = snp_from_json(v, &s.snp, err);
                else if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0) {
                r = jget(doc, "$", "findings", json_type_array, false, &fa, err);
                if (r == -ENOENT)
                        r = cvm_error_set(err, -EBADMSG, "$.findings: missing");
        }
        if (r >= 0 && json_object_array_length(fa) > MONITOR_MAX_FINDINGS)
                r = cvm_error_set(err, -EBADMSG, "$.findings: more than %u findings", MONITOR_MAX_FINDINGS);
        for (size_t i = 0; r >= 0 && i < json_object_array_length(fa); i++) {
                r = finding_from_json(json_object_array_get_idx(fa, i), i, &s.findings[i], err);
                if (r >= 0)
                        s.n_findings++;
        }
        if (r >= 0 && monitor_status_state(&s) != claimed)
                r = cvm_error_set(err, -EBADMSG, "$.state: \"%s\" does not agree with the findings (%s)",
                                  monitor_state_to_string(claimed),
                                  monitor_state_to_string(monitor_status_state(&s)));
        if (r < 0) {
                monitor_status_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

/* ---- files --------------------------------------------------------------------------------- */

int monitor_write_atomic(const char *path, const void *data, size_t size, struct cvm_error *err)
{
        _cleanup_free_ char *tmp = NULL, *dircopy = NULL;
        const uint8_t *p = data;
        int fd, dfd, r = 0;

        if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return cvm_error_set(err, -errno, "%s: cannot create a temporary file: %m", path);
        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = cvm_error_set(err, n < 0 ? -errno : -EIO, "%s: write failed: %m", tmp);
                        break;
                }
                p += n;
                size -= (size_t)n;
        }
        if (r >= 0 && fchmod(fd, 0644) < 0)
                r = cvm_error_set(err, -errno, "%s: chmod failed: %m", tmp);
        if (r >= 0 && fsync(fd) < 0)
                r = cvm_error_set(err, -errno, "%s: fsync failed: %m", tmp);
        if (close(fd) < 0 && r >= 0)
                r = cvm_error_set(err, -errno, "%s: close failed: %m", tmp);
        if (r >= 0 && rename(tmp, path) < 0)
                r = cvm_error_set(err, -errno, "%s: rename failed: %m", path);
        if (r < 0) {
                unlink(tmp);
                return r;
        }
        /* The rename itself must survive a crash too. */
        dircopy = strdup(path);
        if (!dircopy)
                return -ENOMEM;
        dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
        }
        return 0;
}

int monitor_status_write(const struct monitor_status *s, const char *path, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *text;
        int r;

        r = monitor_status_to_json(s, &o);
        if (r < 0)
                return r;
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (!text)
                return -ENOMEM;
        _cleanup_free_ char *buf = NULL;
        if (asprintf(&buf, "%s\n", text) < 0)
                return -ENOMEM;
        return monitor_write_atomic(path, buf, strlen(buf), err);
}

/* ---- SNP ----------------------------------------------------------------------------------- */

void monitor_snp_record(const struct snp_report *r, struct monitor_snp *p)
{
        memset(p, 0, sizeof(*p));
        p->present = true;
        p->version = r->version;
        p->guest_svn = r->guest_svn;
        p->vmpl = r->vmpl;
        p->policy = r->policy;
        p->current_tcb = r->current_tcb;
        p->reported_tcb = r->reported_tcb;
        p->committed_tcb = r->committed_tcb;
        p->launch_tcb = r->launch_tcb;
        p->platform_info = r->platform_info;
        hex_encode_to(p->measurement, r->measurement, sizeof(r->measurement));
        hex_encode_to(p->host_data, r->host_data, sizeof(r->host_data));
        hex_encode_to(p->id_key_digest, r->id_key_digest, sizeof(r->id_key_digest));
        hex_encode_to(p->author_key_digest, r->author_key_digest, sizeof(r->author_key_digest));
        hex_encode_to(p->report_id, r->report_id, sizeof(r->report_id));
        hex_encode_to(p->chip_id, r->chip_id, sizeof(r->chip_id));
}

static int snp_diff(struct monitor_status *s, const char *field, const char *old, const char *now,
                    enum monitor_severity sev, uint64_t now_usec)
{
        char msg[256];
        struct monitor_finding_spec f = {
                .cls = MONITOR_CLASS_SNP,
                .severity = sev,
                .message = msg,
                .pcr = -1,
                .path = NULL,
                .expected = old,
                .actual = now,
        };

        if (strcmp(old, now) == 0)
                return 0;
        snprintf(msg, sizeof(msg), "SNP report field %s changed since the first check%s", field,
                 sev == MONITOR_SEVERITY_DEGRADED ? " (firmware update or live migration?)" : "");
        return monitor_add_finding(s, &f, now_usec);
}

int monitor_snp_compare(struct monitor_status *s, const struct monitor_snp *a, const struct monitor_snp *b,
                        uint64_t now_usec)
{
        struct {
                const char *name;
                uint64_t x, y;
                bool degraded;
        } nums[] = {
                {"version", a->version, b->version, false},
                {"guest_svn", a->guest_svn, b->guest_svn, false},
                {"vmpl", a->vmpl, b->vmpl, false},
                {"policy", a->policy, b->policy, false},
                {"current_tcb", a->current_tcb, b->current_tcb, true},
                {"reported_tcb", a->reported_tcb, b->reported_tcb, true},
                {"committed_tcb", a->committed_tcb, b->committed_tcb, true},
                {"launch_tcb", a->launch_tcb, b->launch_tcb, true},
                {"platform_info", a->platform_info, b->platform_info, true},
        };
        struct {
                const char *name, *x, *y;
        } strs[] = {
                {"measurement", a->measurement, b->measurement},
                {"host_data", a->host_data, b->host_data},
                {"id_key_digest", a->id_key_digest, b->id_key_digest},
                {"author_key_digest", a->author_key_digest, b->author_key_digest},
                {"chip_id", a->chip_id, b->chip_id},
                /* report_id is the guest's identity (fixed at launch; migration keeps it). */
                {"report_id", a->report_id, b->report_id},
        };
        int r, n = 0;

        if (!a->present || !b->present)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(nums); i++) {
                char x[24], y[24];

                snprintf(x, sizeof(x), "0x%016" PRIx64, nums[i].x);
                snprintf(y, sizeof(y), "0x%016" PRIx64, nums[i].y);
                r = snp_diff(s, nums[i].name, x, y,
                             nums[i].degraded ? MONITOR_SEVERITY_DEGRADED : MONITOR_SEVERITY_VIOLATION,
                             now_usec);
                if (r < 0)
                        return r;
                n += r;
        }
        for (size_t i = 0; i < ELEMENTSOF(strs); i++) {
                r = snp_diff(s, strs[i].name, strs[i].x, strs[i].y, MONITOR_SEVERITY_VIOLATION, now_usec);
                if (r < 0)
                        return r;
                n += r;
        }
        return n;
}

/* ---- reactions ----------------------------------------------------------------------------- */

static bool dm_name_valid(const char *s, size_t n)
{
        if (n == 0 || n > 127)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("_.+-", s[i]))
                        return false;
        /* "." and ".." would be paths, not names. */
        return !(n <= 2 && strspn(s, ".") == n);
}

static bool names_valid(const char *list)
{
        const char *p = list;

        for (;;) {
                size_t n = strcspn(p, ",");

                if (!dm_name_valid(p, n))
                        return false;
                if (!p[n])
                        return true;
                p += n + 1;
        }
}

int monitor_reactions_add(struct monitor_reactions *r, const char *spec, struct cvm_error *err)
{
        const char *eq = strchr(spec, '=');
        const char *act;
        struct monitor_action a = {};
        enum monitor_class c;
        uint32_t classes = 0;
        _cleanup_free_ char *cls = NULL;

        if (!eq)
                return cvm_error_set(err, -EINVAL, "'%s': expected CLASS=ACTION", spec);
        cls = strndup(spec, (size_t)(eq - spec));
        if (!cls)
                return -ENOMEM;
        act = eq + 1;
        if (strcmp(cls, "all") == 0)
                classes = (1u << _MONITOR_CLASS_MAX) - 1;
        else if (strcmp(cls, "violation") == 0)
                classes = ((1u << _MONITOR_CLASS_MAX) - 1) & ~(1u << MONITOR_CLASS_UNAVAILABLE);
        else if (monitor_class_from_string(cls, &c) >= 0)
                classes = 1u << c;
        else
                return cvm_error_set(
                        err, -EINVAL,
                        "'%s': unknown class '%s' (pcr, eventlog, ima, quote, snp, attestation, "
                        "unavailable, violation, all)",
                        spec, cls);

        if (strcmp(act, "log") == 0)
                a.type = MONITOR_ACTION_LOG;
        else if (strcmp(act, "poweroff") == 0)
                a.type = MONITOR_ACTION_POWEROFF;
        else if (strncmp(act, "hook:", 5) == 0) {
                a.type = MONITOR_ACTION_HOOK;
                if (act[5] != '/')
                        return cvm_error_set(err, -EINVAL, "'%s': hook needs an absolute directory", spec);
                a.arg = (char *)act + 5;
        } else if (strncmp(act, "close:", 6) == 0) {
                a.type = MONITOR_ACTION_CLOSE;
                if (!names_valid(act + 6))
                        return cvm_error_set(
                                err, -EINVAL,
                                "'%s': close needs device-mapper names ([A-Za-z0-9_.+-], comma-separated)",
                                spec);
                a.arg = (char *)act + 6;
        } else
                return cvm_error_set(
                        err, -EINVAL,
                        "'%s': unknown action '%s' (log, hook:DIR, close:NAME[,NAME...], poweroff)", spec,
                        act);

        for (unsigned i = 0; i < _MONITOR_CLASS_MAX; i++)
                if ((classes & (1u << i)) && r->n[i] >= MONITOR_MAX_ACTIONS)
                        return cvm_error_set(err, -E2BIG, "'%s': class %s has %u reactions already", spec,
                                             class_names[i], MONITOR_MAX_ACTIONS);
        for (unsigned i = 0; i < _MONITOR_CLASS_MAX; i++) {
                struct monitor_action *d;

                if (!(classes & (1u << i)))
                        continue;
                d = &r->actions[i][r->n[i]];
                d->type = a.type;
                d->arg = NULL;
                if (a.arg) {
                        d->arg = strdup(a.arg);
                        if (!d->arg)
                                return -ENOMEM;
                }
                r->n[i]++;
        }
        return 0;
}

void monitor_reactions_done(struct monitor_reactions *r)
{
        for (unsigned i = 0; i < _MONITOR_CLASS_MAX; i++)
                for (size_t j = 0; j < r->n[i]; j++)
                        free(r->actions[i][j].arg);
        memset(r, 0, sizeof(*r));
}

void monitor_strv_free(char **v)
{
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

static bool strv_contains(char *const *v, size_t n, const char *s)
{
        for (size_t i = 0; v && i < n; i++)
                if (strcmp(v[i], s) == 0)
                        return true;
        return false;
}

static int strv_push(char ***v, size_t *n, const char *s, size_t len)
{
        char **nv = realloc(*v, (*n + 2) * sizeof(char *));

        if (!nv)
                return -ENOMEM;
        *v = nv;
        nv[*n] = strndup(s, len);
        if (!nv[*n])
                return -ENOMEM;
        nv[++*n] = NULL;
        return 0;
}

int monitor_close_select(const char *names, const char *const *protected, char ***ret, char ***ret_refused)
{
        char **sel = NULL, **ref = NULL;
        size_t n_sel = 0, n_ref = 0;
        const char *p = names;
        int r = 0;

        if (!names_valid(names))
                return -EINVAL;
        sel = calloc(1, sizeof(char *));
        ref = calloc(1, sizeof(char *));
        if (!sel || !ref)
                r = -ENOMEM;
        while (r >= 0) {
                size_t n = strcspn(p, ",");
                _cleanup_free_ char *name = strndup(p, n);
                bool prot = false;

                if (!name) {
                        r = -ENOMEM;
                        break;
                }
                for (size_t i = 0; protected && protected[i]; i++)
                        if (strcmp(protected[i], name) == 0)
                                prot = true;
                if (prot && !strv_contains(ref, n_ref, name))
                        r = strv_push(&ref, &n_ref, name, n);
                else if (!prot && !strv_contains(sel, n_sel, name))
                        r = strv_push(&sel, &n_sel, name, n);
                if (!p[n])
                        break;
                p += n + 1;
        }
        if (r < 0) {
                monitor_strv_free(sel);
                monitor_strv_free(ref);
                return r;
        }
        *ret = sel;
        if (ret_refused)
                *ret_refused = ref;
        else
                monitor_strv_free(ref);
        return (int)n_sel;
}

static int env_push(char ***v, size_t *n, const char *name, const char *value)
{
        _cleanup_free_ char *s = NULL;
        int r;

        if (!value)
                return 0;
        if (asprintf(&s, "%s=%s", name, value) < 0)
                return -ENOMEM;
        for (char *c = s; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                        *c = '?';
        r = strv_push(v, n, s, strlen(s));
        return r;
}

int monitor_finding_env(const struct monitor_finding *f, enum monitor_state state, char ***ret)
{
        char **v = calloc(1, sizeof(char *));
        char pcr[8];
        size_t n = 0;
        int r;

        if (!v)
                return -ENOMEM;
        snprintf(pcr, sizeof(pcr), "%d", f->pcr);
        r = env_push(&v, &n, "PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        if (r >= 0)
                r = env_push(&v, &n, "CVM_AGENT_CLASS", monitor_class_to_string(f->cls));
        if (r >= 0)
                r = env_push(&v, &n, "CVM_AGENT_SEVERITY", monitor_severity_to_string(f->severity));
        if (r >= 0)
                r = env_push(&v, &n, "CVM_AGENT_STATE", monitor_state_to_string(state));
        if (r >= 0)
                r = env_push(&v, &n, "CVM_AGENT_MESSAGE", f->message);
        if (r >= 0 && f->pcr >= 0)
                r = env_push(&v, &n, "CVM_AGENT_PCR", pcr);
        if (r >= 0)
                r = env_push(&v, &n, "CVM_AGENT_PATH", f->path);
        if (r >= 0)
                r = env_push(&v, &n, "CVM_AGENT_EXPECTED", f->expected);
        if (r >= 0)
                r = env_push(&v, &n, "CVM_AGENT_ACTUAL", f->actual);
        if (r >= 0)
                r = env_push(&v, &n, "CVM_AGENT_VERIFIER", f->verifier);
        if (r < 0) {
                monitor_strv_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

/* ---- attestation, scheduling, metrics ------------------------------------------------------ */

enum monitor_attest_outcome monitor_attest_classify(int r)
{
        if (r >= 0)
                return MONITOR_ATTEST_OK;
        switch (r) {
        case -EACCES:
        case -EPERM:
        case -EKEYREJECTED:
        case -EBADMSG:
        case -ENOENT:
                return MONITOR_ATTEST_REFUSED;
        default:
                return MONITOR_ATTEST_UNREACHABLE;
        }
}

uint64_t monitor_next_delay(uint64_t interval_usec, uint64_t jitter_usec, uint32_t random)
{
        uint64_t floor = interval_usec / 2 > 1000 ? interval_usec / 2 : 1000;
        uint64_t d;

        if (jitter_usec > interval_usec)
                jitter_usec = interval_usec;
        if (jitter_usec == 0)
                d = interval_usec;
        else {
                /* random maps onto [0, 2 * jitter]: offset in [-jitter, +jitter]. */
                uint64_t span = 2 * jitter_usec;
                uint64_t off = (uint64_t)(((unsigned __int128)random * (span + 1)) >> 32);

                d = interval_usec + off >= jitter_usec ? interval_usec + off - jitter_usec : 0;
        }
        return d < floor ? floor : d;
}

int monitor_metrics_render(const struct monitor_status *s, char **ret)
{
        _cleanup_free_ char *buf = NULL;
        enum monitor_state st = monitor_status_state(s);
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);

        if (!f)
                return -ENOMEM;
        fputs("# HELP cvm_agent_monitor_state Current integrity state (1 for the current one).\n"
              "# TYPE cvm_agent_monitor_state gauge\n",
              f);
        for (unsigned i = 0; i < ELEMENTSOF(state_names); i++)
                fprintf(f, "cvm_agent_monitor_state{state=\"%s\"} %d\n", state_names[i],
                        st == (enum monitor_state)i);
        fprintf(f,
                "# HELP cvm_agent_monitor_last_check_timestamp_seconds End of the last check.\n"
                "# TYPE cvm_agent_monitor_last_check_timestamp_seconds gauge\n"
                "cvm_agent_monitor_last_check_timestamp_seconds %.3f\n"
                "# HELP cvm_agent_monitor_last_success_timestamp_seconds End of the last check that found "
                "nothing.\n"
                "# TYPE cvm_agent_monitor_last_success_timestamp_seconds gauge\n"
                "cvm_agent_monitor_last_success_timestamp_seconds %.3f\n"
                "# HELP cvm_agent_monitor_check_duration_seconds Wall time of the last check.\n"
                "# TYPE cvm_agent_monitor_check_duration_seconds gauge\n"
                "cvm_agent_monitor_check_duration_seconds %.6f\n"
                "# HELP cvm_agent_monitor_checks_total Completed checks.\n"
                "# TYPE cvm_agent_monitor_checks_total counter\n"
                "cvm_agent_monitor_checks_total %" PRIu64 "\n"
                "# HELP cvm_agent_monitor_ima_entries IMA entries verified and appraised.\n"
                "# TYPE cvm_agent_monitor_ima_entries gauge\n"
                "cvm_agent_monitor_ima_entries %" PRIu64 "\n",
                (double)s->last_check_usec / 1e6, (double)s->last_success_usec / 1e6,
                (double)s->last_duration_usec / 1e6, s->checks, s->ima_entries);
        fputs("# HELP cvm_agent_monitor_findings Current findings by class.\n"
              "# TYPE cvm_agent_monitor_findings gauge\n",
              f);
        for (unsigned c = 0; c < _MONITOR_CLASS_MAX; c++) {
                size_t n = 0;

                for (size_t i = 0; i < s->n_findings; i++)
                        n += s->findings[i].cls == (enum monitor_class)c;
                fprintf(f, "cvm_agent_monitor_findings{class=\"%s\"} %zu\n", class_names[c], n);
        }
        fputs("# HELP cvm_agent_monitor_findings_total New findings by class since the daemon started.\n"
              "# TYPE cvm_agent_monitor_findings_total counter\n",
              f);
        for (unsigned c = 0; c < _MONITOR_CLASS_MAX; c++)
                fprintf(f, "cvm_agent_monitor_findings_total{class=\"%s\"} %" PRIu64 "\n", class_names[c],
                        s->findings_total[c]);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(buf);
        return 0;
}
