/* SPDX-License-Identifier: Apache-2.0 */
/* Appraisal of evidence against a compiled policy, with one explanation per mismatch. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "policy-internal.h"
#include "util.h"

/* How many allowed digests a one-line message lists before "and N more" (JSON has them all). */
#define MESSAGE_ALLOWED_MAX 4
#define DETAILS_ALLOWED_MAX 256
#define DESCRIPTION_MAX     120

const char *policy_area_to_string(enum policy_area a)
{
        static const char *const names[] = {
                [POLICY_AREA_EVIDENCE] = "evidence", [POLICY_AREA_EVENTLOG] = "eventlog",
                [POLICY_AREA_PCR] = "pcr",           [POLICY_AREA_SNP] = "snp",
                [POLICY_AREA_IMA] = "ima",
        };
        return a < ELEMENTSOF(names) ? names[a] : "unknown";
}

/* --- result building ------------------------------------------------------------------------- */

static int add_mismatch(struct policy_result *res, enum policy_area area, const char *constraint,
                        json_object *details, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int add_mismatch(struct policy_result *res, enum policy_area area, const char *constraint,
                        json_object *details, const char *fmt, ...)
{
        struct policy_mismatch *n, *m;
        char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0) {
                json_object_put(details);
                return -ENOMEM;
        }
        n = realloc(res->mismatches, (res->n_mismatches + 1) * sizeof(*n));
        if (!n) {
                free(msg);
                json_object_put(details);
                return -ENOMEM;
        }
        res->mismatches = n;
        m = &n[res->n_mismatches];
        *m = (struct policy_mismatch){.area = area, .message = msg, .details = details};
        m->constraint = strdup(constraint);
        if (!m->constraint) {
                free(msg);
                json_object_put(details);
                return -ENOMEM;
        }
        res->n_mismatches++;
        return 0;
}

static int add_note(struct policy_result *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int add_note(struct policy_result *res, const char *fmt, ...)
{
        char *msg = NULL, **n;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        n = realloc(res->notes, (res->n_notes + 1) * sizeof(*n));
        if (!n) {
                free(msg);
                return -ENOMEM;
        }
        res->notes = n;
        n[res->n_notes++] = msg;
        return 0;
}

void policy_result_free(struct policy_result *r)
{
        if (!r)
                return;
        for (size_t i = 0; i < r->n_mismatches; i++) {
                free(r->mismatches[i].constraint);
                free(r->mismatches[i].message);
                json_object_put(r->mismatches[i].details);
        }
        free(r->mismatches);
        for (size_t i = 0; i < r->n_notes; i++)
                free(r->notes[i]);
        free(r->notes);
        json_object_put(r->summary);
        free(r);
}

bool policy_result_ok(const struct policy_result *r)
{
        return r->n_mismatches == 0;
}

bool policy_result_allows(const struct policy_result *r, enum policy_mode mode)
{
        return mode == POLICY_MODE_WARN || policy_result_ok(r);
}

/* json-c helpers that turn allocation failures into a flag checked once at the end. */
static void jadd(json_object *o, const char *key, json_object *v, bool *oom)
{
        if (!o || !v || json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                *oom = true;
        }
}

static void jappend(json_object *a, json_object *v, bool *oom)
{
        if (!a || !v || json_object_array_add(a, v) < 0) {
                json_object_put(v);
                *oom = true;
        }
}

static json_object *jhex(const uint8_t *p, size_t n)
{
        char buf[2 * 64 + 1];

        if (n > 64)
                return NULL;
        hex_encode_to(buf, p, n);
        return json_object_new_string(buf);
}

int policy_result_to_json(const struct policy_result *r, json_object **ret)
{
        _cleanup_(json_object_putp) json_object *o = json_object_new_object();
        json_object *mm = json_object_new_array(), *notes = json_object_new_array();
        bool oom = false;

        jadd(o, "result", json_object_new_string(policy_result_ok(r) ? "match" : "mismatch"), &oom);
        jadd(o, "mismatches", mm, &oom);
        jadd(o, "notes", notes, &oom);
        for (size_t i = 0; !oom && i < r->n_mismatches; i++) {
                const struct policy_mismatch *m = &r->mismatches[i];
                json_object *e = json_object_new_object();

                jadd(e, "area", json_object_new_string(policy_area_to_string(m->area)), &oom);
                jadd(e, "constraint", json_object_new_string(m->constraint), &oom);
                jadd(e, "message", json_object_new_string(m->message), &oom);
                if (m->details && e) {
                        json_object_object_foreach (m->details, k, v)
                                jadd(e, k, json_object_get(v), &oom);
                }
                jappend(mm, e, &oom);
        }
        for (size_t i = 0; !oom && i < r->n_notes; i++)
                jappend(notes, json_object_new_string(r->notes[i]), &oom);
        if (r->summary)
                jadd(o, "checked", json_object_get(r->summary), &oom);
        if (oom)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

/* --- helpers for explanations ---------------------------------------------------------------- */

/* "ab12cd34..." list of at most MESSAGE_ALLOWED_MAX entries of @l, "and N more". */
static char *hexlist_summary(const struct hexlist *l)
{
        char *s = NULL;
        size_t n = l->n < MESSAGE_ALLOWED_MAX ? l->n : MESSAGE_ALLOWED_MAX;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);

        if (!f)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                char hex[2 * 64 + 1];

                hex_encode_to(hex, l->v + i * l->size, l->size);
                fprintf(f, "%s%s", i ? ", " : "", hex);
        }
        if (l->n > n)
                fprintf(f, " and %zu more", l->n - n);
        if (fclose(f) != 0) {
                free(s);
                return NULL;
        }
        return s;
}

static json_object *hexlist_json(const struct hexlist *l)
{
        json_object *a = json_object_new_array();
        bool oom = false;

        for (size_t i = 0; a && i < l->n && i < DETAILS_ALLOWED_MAX; i++)
                jappend(a, jhex(l->v + i * l->size, l->size), &oom);
        if (oom) {
                json_object_put(a);
                return NULL;
        }
        return a;
}

/* A short, terminal-safe description of event @idx (the full one is in the JSON details). */
static int short_description(const struct eventlog *log, size_t idx, char **ret_full, char **ret_short)
{
        _cleanup_free_ char *d = NULL;
        char *s;
        size_t n;
        int r;

        r = eventlog_event_describe(log, idx, &d);
        if (r < 0)
                return r;
        n = strlen(d);
        if (n > DESCRIPTION_MAX) {
                n = DESCRIPTION_MAX;
                while (n > 0 && ((unsigned char)d[n] & 0xc0) == 0x80)
                        n--;
                if (asprintf(&s, "%.*s...", (int)n, d) < 0)
                        return -ENOMEM;
        } else {
                s = strdup(d);
                if (!s)
                        return -ENOMEM;
        }
        *ret_full = TAKE_PTR(d);
        *ret_short = s;
        return 0;
}

static const char *type_name(uint32_t type, char buf[static 16])
{
        const char *n = eventlog_type_name(type);

        if (n)
                return n;
        snprintf(buf, 16, "0x%08" PRIx32, type);
        return buf;
}

static json_object *event_json(const struct eventlog *log, size_t idx, const char *description, bool *oom)
{
        const struct eventlog_event *ev = &log->events[idx];
        json_object *o = json_object_new_object();
        char tb[16];

        jadd(o, "number", json_object_new_int64(ev->number), oom);
        jadd(o, "type", json_object_new_string(type_name(ev->type, tb)), oom);
        jadd(o, "description", json_object_new_string(description), oom);
        return o;
}

/* --- event rules ----------------------------------------------------------------------------- */

static bool rule_matches(const struct rule *rule, const struct eventlog_event *ev, int bank, bool relaxed)
{
        if (rule->type != ev->type)
                return false;
        if (relaxed)
                return true;
        if (rule->digests.n > 0 &&
            (!ev->digests[bank] || !hexlist_contains(&rule->digests, ev->digests[bank])))
                return false;
        if (rule->data_prefix) {
                /* Event data is only trusted where it was verified against the digest. */
                if (ev->check != EVENTLOG_DIGEST_MATCH || ev->data_size < rule->data_prefix_len ||
                    memcmp(ev->data, rule->data_prefix, rule->data_prefix_len) != 0)
                        return false;
        }
        return true;
}

/* NFA states of the rule sequence: a[i] "before rule i" (a[m] = all done), b[i] "inside repeat
   rule i after at least one match". */
struct states {
        bool *a, *b;
};

static void closure(const struct pcr_policy *pcr, struct states *s)
{
        for (size_t i = 0; i < pcr->n_rules; i++) {
                if (s->a[i] && pcr->rules[i].optional)
                        s->a[i + 1] = true;
                if (s->b[i])
                        s->a[i + 1] = true;
        }
}

static bool step(const struct pcr_policy *pcr, const struct states *in, struct states *out,
                 const struct eventlog_event *ev, int bank, bool relaxed)
{
        bool any = false;
        size_t m = pcr->n_rules;

        memset(out->a, 0, m + 1);
        memset(out->b, 0, m + 1);
        for (size_t i = 0; i < m; i++) {
                if (!(in->a[i] || in->b[i]) || !rule_matches(&pcr->rules[i], ev, bank, relaxed))
                        continue;
                if (pcr->rules[i].repeat)
                        out->b[i] = true;
                else
                        out->a[i + 1] = true;
                any = true;
        }
        closure(pcr, out);
        return any;
}

struct pcr_ctx {
        const struct policy *pol;
        const struct bank_policy *bank;
        const struct pcr_policy *pcr;
        unsigned index;
        const struct eventlog *log;
        int log_bank;
        struct policy_result *res;
};

/* Whether @rule's label ("event N: DESCRIPTION", as generated) describes @description: then a
   mismatch is most likely the same component with another digest. */
static bool label_describes(const struct rule *rule, const char *description)
{
        const char *l = rule->label, *colon;
        size_t n;

        if (!l || strncmp(l, "event ", 6) != 0 || !(colon = strstr(l, ": ")))
                return false;
        l = colon + 2;
        n = strlen(l);
        if (n >= 3 && strcmp(l + n - 3, "...") == 0)
                return strncmp(l, description, n - 3) == 0;
        return strcmp(l, description) == 0;
}

/* The best rule to explain event @e against: a candidate of the same type whose label names the
   same component, else the most advanced candidate of the same type, else any candidate. */
static const struct rule *explain_rule(const struct pcr_ctx *c, const struct states *s,
                                       const struct eventlog_event *e, const char *description)
{
        const struct rule *any = NULL, *same = NULL;

        for (size_t i = 0; i < c->pcr->n_rules; i++) {
                if (!(s->a[i] || s->b[i]))
                        continue;
                if (c->pcr->rules[i].type == e->type) {
                        if (description && label_describes(&c->pcr->rules[i], description))
                                return &c->pcr->rules[i];
                        same = &c->pcr->rules[i];
                }
                if (!any)
                        any = &c->pcr->rules[i];
        }
        return same ? same : any;
}

/* Where else in this PCR's rules @e's digest is allowed (to say "out of order"). */
static const struct rule *rule_elsewhere(const struct pcr_ctx *c, const struct eventlog_event *e)
{
        for (size_t i = 0; i < c->pcr->n_rules; i++)
                if (rule_matches(&c->pcr->rules[i], e, c->log_bank, false))
                        return &c->pcr->rules[i];
        return NULL;
}

static int report_event(const struct pcr_ctx *c, size_t idx, const struct rule *want,
                        const struct rule *elsewhere)
{
        const struct eventlog_event *e = &c->log->events[idx];
        const struct hash_alg *alg = c->bank->alg;
        _cleanup_free_ char *full = NULL, *desc = NULL, *allowed = NULL;
        _cleanup_(json_object_putp) json_object *d = json_object_new_object();
        char seen[2 * HASH_MAX_SIZE + 1] = "", tb[16], tb2[16];
        bool oom = false;
        int r;

        r = short_description(c->log, idx, &full, &desc);
        if (r < 0)
                return r;
        if (e->digests[c->log_bank])
                hex_encode_to(seen, e->digests[c->log_bank], alg->size);
        jadd(d, "pcr", json_object_new_int(c->index), &oom);
        jadd(d, "bank", json_object_new_string(alg->name), &oom);
        jadd(d, "event", event_json(c->log, idx, full, &oom), &oom);
        if (seen[0])
                jadd(d, "seen", json_object_new_string(seen), &oom);
        else if (d)
                json_object_object_add(d, "seen", NULL);
        if (want) {
                jadd(d, "rule", json_object_new_string(want->path), &oom);
                if (want->label)
                        jadd(d, "rule_label", json_object_new_string(want->label), &oom);
                jadd(d, "allowed", hexlist_json(&want->digests), &oom);
                if (want->data_prefix)
                        jadd(d, "allowed_data_prefix", json_object_new_string(want->data_prefix), &oom);
        }
        if (elsewhere)
                jadd(d, "allowed_at", json_object_new_string(elsewhere->path), &oom);
        if (oom)
                return -ENOMEM;

        if (!seen[0])
                return add_mismatch(c->res, POLICY_AREA_EVENTLOG, want ? want->path : c->pcr->path,
                                    TAKE_PTR(d), "PCR %u (%s): event %" PRIu32 " %s \"%s\" has no %s digest",
                                    c->index, alg->name, e->number, type_name(e->type, tb), desc, alg->name);
        if (!want)
                return add_mismatch(c->res, POLICY_AREA_EVENTLOG, c->pcr->path, TAKE_PTR(d),
                                    "PCR %u (%s): event %" PRIu32
                                    " %s \"%s\" (digest %s) is not allowed: the "
                                    "policy expects no further event in this PCR",
                                    c->index, alg->name, e->number, type_name(e->type, tb), desc, seen);
        if (elsewhere)
                return add_mismatch(
                        c->res, POLICY_AREA_EVENTLOG, want->path, TAKE_PTR(d),
                        "PCR %u (%s): event %" PRIu32 " %s \"%s\" (digest %s) is out of order: it is "
                        "allowed at %s, but %s%s%s is expected here",
                        c->index, alg->name, e->number, type_name(e->type, tb), desc, seen, elsewhere->path,
                        want->path, want->label ? " " : "", want->label ? want->label : "");
        if (want->type != e->type)
                return add_mismatch(c->res, POLICY_AREA_EVENTLOG, want->path, TAKE_PTR(d),
                                    "PCR %u (%s): event %" PRIu32
                                    " %s \"%s\" (digest %s) is not allowed here: "
                                    "expected %s%s%s%s",
                                    c->index, alg->name, e->number, type_name(e->type, tb), desc, seen,
                                    type_name(want->type, tb2), want->label ? " (" : "",
                                    want->label ? want->label : "", want->label ? ")" : "");
        allowed = want->digests.n ? hexlist_summary(&want->digests) : NULL;
        if (want->digests.n && !allowed)
                return -ENOMEM;
        if (want->digests.n && hexlist_contains(&want->digests, e->digests[c->log_bank]))
                /* The digest is fine, so the data prefix was not met. */
                return add_mismatch(
                        c->res, POLICY_AREA_EVENTLOG, want->path, TAKE_PTR(d),
                        "PCR %u (%s): event %" PRIu32 " %s \"%s\": its data does not start with \"%s\" "
                        "or is not bound to its digest",
                        c->index, alg->name, e->number, type_name(e->type, tb), desc, want->data_prefix);
        if (!want->digests.n)
                return add_mismatch(c->res, POLICY_AREA_EVENTLOG, want->path, TAKE_PTR(d),
                                    "PCR %u (%s): event %" PRIu32
                                    " %s \"%s\" (digest %s): its data must start with "
                                    "\"%s\" and match its digest",
                                    c->index, alg->name, e->number, type_name(e->type, tb), desc, seen,
                                    want->data_prefix);
        return add_mismatch(c->res, POLICY_AREA_EVENTLOG, want->path, TAKE_PTR(d),
                            "PCR %u (%s): event %" PRIu32 " %s \"%s\" has digest %s; allowed: %s%s%s%s",
                            c->index, alg->name, e->number, type_name(e->type, tb), desc, seen, allowed,
                            want->label ? " (" : "", want->label ? want->label : "", want->label ? ")" : "");
}

static int report_missing(const struct pcr_ctx *c, const struct states *s, int64_t last_event)
{
        _cleanup_(json_object_putp) json_object *d = json_object_new_object();
        const struct rule *first = NULL;
        size_t missing = 0, start = 0;
        bool oom = false;
        char tb[16];

        /* From the furthest state reached, the required rules that never matched. */
        for (size_t i = 0; i <= c->pcr->n_rules; i++)
                if (s->a[i] || (i < c->pcr->n_rules && s->b[i]))
                        start = i;
        for (size_t i = start; i < c->pcr->n_rules; i++) {
                if (s->b[i] && i == start)
                        continue;
                if (!c->pcr->rules[i].optional) {
                        if (!first)
                                first = &c->pcr->rules[i];
                        missing++;
                }
        }
        if (!first)
                return 0; /* cannot happen: the end state would be reachable */
        jadd(d, "pcr", json_object_new_int(c->index), &oom);
        jadd(d, "bank", json_object_new_string(c->bank->alg->name), &oom);
        jadd(d, "rule", json_object_new_string(first->path), &oom);
        if (first->label)
                jadd(d, "rule_label", json_object_new_string(first->label), &oom);
        jadd(d, "missing_rules", json_object_new_int64((int64_t)missing), &oom);
        jadd(d, "allowed", hexlist_json(&first->digests), &oom);
        if (last_event >= 0)
                jadd(d, "after_event", json_object_new_int64(last_event), &oom);
        if (oom)
                return -ENOMEM;
        if (last_event >= 0)
                return add_mismatch(c->res, POLICY_AREA_EVENTLOG, first->path, TAKE_PTR(d),
                                    "PCR %u (%s): expected %s%s%s%s after event %" PRId64
                                    ", but the log has no "
                                    "such event (%zu required event%s missing)",
                                    c->index, c->bank->alg->name, type_name(first->type, tb),
                                    first->label ? " (" : "", first->label ? first->label : "",
                                    first->label ? ")" : "", last_event, missing, missing == 1 ? "" : "s");
        return add_mismatch(
                c->res, POLICY_AREA_EVENTLOG, first->path, TAKE_PTR(d),
                "PCR %u (%s): expected %s%s%s%s, but the log has no event in this PCR (%zu required "
                "event%s missing)",
                c->index, c->bank->alg->name, type_name(first->type, tb), first->label ? " (" : "",
                first->label ? first->label : "", first->label ? ")" : "", missing, missing == 1 ? "" : "s");
}

/* Advance every state past one rule without consuming an event (a measurement the log lacks). */
static void skip_one(const struct pcr_policy *pcr, const struct states *in, struct states *out)
{
        size_t m = pcr->n_rules;

        memset(out->a, 0, m + 1);
        memset(out->b, 0, m + 1);
        for (size_t i = 0; i < m; i++)
                if (in->a[i] || in->b[i])
                        out->a[i + 1] = true;
        closure(pcr, out);
}

#define MAX_SKIPPED_RULES 16

static int report_skipped(const struct pcr_ctx *c, const struct states *s, size_t skipped, size_t idx)
{
        const struct eventlog_event *e = &c->log->events[idx];
        _cleanup_(json_object_putp) json_object *d = json_object_new_object();
        _cleanup_free_ char *full = NULL, *desc = NULL;
        const struct rule *first = NULL;
        bool oom = false;
        char tb[16];
        int r;

        for (size_t i = 0; i < c->pcr->n_rules && !first; i++)
                if ((s->a[i] || s->b[i]) && !c->pcr->rules[i].optional && !s->b[i])
                        first = &c->pcr->rules[i];
        if (!first)
                return 0;
        r = short_description(c->log, idx, &full, &desc);
        if (r < 0)
                return r;
        jadd(d, "pcr", json_object_new_int(c->index), &oom);
        jadd(d, "bank", json_object_new_string(c->bank->alg->name), &oom);
        jadd(d, "rule", json_object_new_string(first->path), &oom);
        if (first->label)
                jadd(d, "rule_label", json_object_new_string(first->label), &oom);
        jadd(d, "missing_rules", json_object_new_int64((int64_t)skipped), &oom);
        jadd(d, "allowed", hexlist_json(&first->digests), &oom);
        jadd(d, "before_event", event_json(c->log, idx, full, &oom), &oom);
        if (oom)
                return -ENOMEM;
        return add_mismatch(c->res, POLICY_AREA_EVENTLOG, first->path, TAKE_PTR(d),
                            "PCR %u (%s): expected %s%s%s%s before event %" PRIu32
                            " \"%s\", but the log lacks it "
                            "(%zu required measurement%s missing)",
                            c->index, c->bank->alg->name, type_name(first->type, tb),
                            first->label ? " (" : "", first->label ? first->label : "",
                            first->label ? ")" : "", e->number, desc, skipped, skipped == 1 ? "" : "s");
}

static int appraise_sequence(struct pcr_ctx *c, const size_t *events, size_t n)
{
        size_t m = c->pcr->n_rules;
        _cleanup_free_ bool *buf = calloc(8 * (m + 1), sizeof(bool));
        struct states cur, nxt, alt, t1, t2;
        int64_t last = -1;
        int r;

        if (!buf)
                return -ENOMEM;
        cur = (struct states){buf, buf + (m + 1)};
        nxt = (struct states){buf + 2 * (m + 1), buf + 3 * (m + 1)};
        t1 = (struct states){buf + 4 * (m + 1), buf + 5 * (m + 1)};
        t2 = (struct states){buf + 6 * (m + 1), buf + 7 * (m + 1)};
        cur.a[0] = true;
        closure(c->pcr, &cur);

        for (size_t k = 0; k < n; k++) {
                const struct eventlog_event *e = &c->log->events[events[k]];

                if (!step(c->pcr, &cur, &nxt, e, c->log_bank, false)) {
                        _cleanup_free_ char *full = NULL, *desc = NULL;
                        const struct rule *want;
                        bool resolved = false;

                        r = short_description(c->log, events[k], &full, &desc);
                        if (r < 0)
                                return r;
                        want = explain_rule(c, &cur, e, full);
                        if (!want || !label_describes(want, full)) {
                                /* Measurements missing before this event? */
                                memcpy(t1.a, cur.a, m + 1);
                                memcpy(t1.b, cur.b, m + 1);
                                for (size_t skipped = 1; skipped <= MAX_SKIPPED_RULES && !resolved;
                                     skipped++) {
                                        skip_one(c->pcr, &t1, &t2);
                                        alt = t1;
                                        t1 = t2;
                                        t2 = alt;
                                        if (step(c->pcr, &t1, &nxt, e, c->log_bank, false)) {
                                                r = report_skipped(c, &cur, skipped, events[k]);
                                                if (r < 0)
                                                        return r;
                                                resolved = true;
                                        }
                                }
                        }
                        if (!resolved) {
                                r = report_event(c, events[k], want, want ? rule_elsewhere(c, e) : NULL);
                                if (r < 0)
                                        return r;
                                /* Resynchronise: the event either replaces a rule of its type or is
                                   an insertion, so one changed component is one mismatch. */
                                step(c->pcr, &cur, &nxt, e, c->log_bank, true);
                                for (size_t i = 0; i <= m; i++) {
                                        nxt.a[i] = nxt.a[i] || cur.a[i];
                                        nxt.b[i] = nxt.b[i] || cur.b[i];
                                }
                        }
                }
                alt = cur;
                cur = nxt;
                nxt = alt;
                last = e->number;
        }
        if (!cur.a[m])
                return report_missing(c, &cur, last);
        return 0;
}

static int appraise_any_order(struct pcr_ctx *c, const size_t *events, size_t n)
{
        for (size_t k = 0; k < n; k++) {
                const struct eventlog_event *e = &c->log->events[events[k]];
                const struct rule *same_type = NULL;
                bool ok = false;
                int r;

                _cleanup_free_ char *full = NULL, *desc = NULL;

                for (size_t i = 0; i < c->pcr->n_rules && !ok; i++)
                        ok = rule_matches(&c->pcr->rules[i], e, c->log_bank, false);
                if (ok)
                        continue;
                r = short_description(c->log, events[k], &full, &desc);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < c->pcr->n_rules; i++)
                        if (c->pcr->rules[i].type == e->type &&
                            (!same_type || label_describes(&c->pcr->rules[i], full)))
                                same_type = &c->pcr->rules[i];
                r = report_event(c, events[k], same_type, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int appraise_values(struct pcr_ctx *c, const struct eventlog_pcrs *pcrs)
{
        _cleanup_(json_object_putp) json_object *d = NULL;
        _cleanup_free_ char *allowed = NULL;
        const struct hash_alg *alg = c->bank->alg;
        const struct eventlog_bank_pcrs *bp = NULL;
        char seen[2 * HASH_MAX_SIZE + 1];
        _cleanup_free_ char *path = NULL;
        bool oom = false;

        for (size_t i = 0; i < pcrs->n_banks; i++)
                if (pcrs->banks[i].alg_id == alg->tpm_id)
                        bp = &pcrs->banks[i];
        if (asprintf(&path, "%s.values", c->pcr->path) < 0)
                return -ENOMEM;
        if (!bp || !bp->replayed)
                return add_mismatch(c->res, POLICY_AREA_PCR, path, NULL,
                                    "PCR %u (%s): the log cannot be replayed in this bank", c->index,
                                    alg->name);
        if (hexlist_contains(&c->pcr->values, bp->values[c->index]))
                return 0;
        hex_encode_to(seen, bp->values[c->index], alg->size);
        allowed = hexlist_summary(&c->pcr->values);
        d = json_object_new_object();
        jadd(d, "pcr", json_object_new_int(c->index), &oom);
        jadd(d, "bank", json_object_new_string(alg->name), &oom);
        jadd(d, "seen", json_object_new_string(seen), &oom);
        jadd(d, "allowed", hexlist_json(&c->pcr->values), &oom);
        if (oom || !allowed)
                return -ENOMEM;
        return add_mismatch(c->res, POLICY_AREA_PCR, path, TAKE_PTR(d),
                            "PCR %u (%s): value %s is not allowed; allowed: %s", c->index, alg->name, seen,
                            allowed);
}

/* UEFI_VARIABLE_DATA of a SecureBoot measurement: the variable's value, or -1. */
static int secure_boot_value(const struct eventlog_event *ev)
{
        static const uint8_t name[] = {'S', 0, 'e', 0, 'c', 0, 'u', 0, 'r', 0,
                                       'e', 0, 'B', 0, 'o', 0, 'o', 0, 't', 0};
        uint64_t name_len, data_len;

        if (ev->data_size < 32)
                return -2;
        name_len = le64(ev->data + 16);
        data_len = le64(ev->data + 24);
        if (name_len != 10 || ev->data_size < 32 + 20 || memcmp(ev->data + 32, name, 20) != 0)
                return -2; /* not the SecureBoot variable */
        if (data_len != 1 || ev->data_size < 32 + 20 + 1)
                return -1;
        return ev->data[52];
}

static int appraise_eventlog_wide(const struct policy *pol, const struct eventlog *log,
                                  const struct eventlog_pcrs *pcrs, struct policy_result *res)
{
        int r;

        if (pol->require_secure_boot) {
                int value = -3;
                const struct eventlog_event *sb = NULL;

                for (size_t i = 0; i < log->n_events && value == -3; i++) {
                        const struct eventlog_event *ev = &log->events[i];
                        int v;

                        if (ev->pcr != 7 || ev->type != EV_EFI_VARIABLE_DRIVER_CONFIG)
                                continue;
                        v = secure_boot_value(ev);
                        if (v != -2) {
                                value = v;
                                sb = ev;
                        }
                }
                if (!sb)
                        r = add_mismatch(res, POLICY_AREA_EVENTLOG, "$.eventlog.require_secure_boot", NULL,
                                         "Secure Boot is required, but the log has no SecureBoot variable "
                                         "measurement in PCR 7");
                else if (sb->check != EVENTLOG_DIGEST_MATCH)
                        r = add_mismatch(
                                res, POLICY_AREA_EVENTLOG, "$.eventlog.require_secure_boot", NULL,
                                "Secure Boot is required, but the SecureBoot measurement (event %" PRIu32
                                ") is not bound to its digest",
                                sb->number);
                else if (value != 1)
                        r = add_mismatch(res, POLICY_AREA_EVENTLOG, "$.eventlog.require_secure_boot", NULL,
                                         "Secure Boot is required, but event %" PRIu32
                                         " measured SecureBoot = %d",
                                         sb->number, value);
                else
                        r = 0;
                if (r < 0)
                        return r;
        }
        if (!pol->allow_data_mismatch)
                for (size_t i = 0; i < log->n_events; i++) {
                        const struct eventlog_event *ev = &log->events[i];
                        _cleanup_free_ char *full = NULL, *desc = NULL;
                        char tb[16];

                        if (ev->check != EVENTLOG_DIGEST_MISMATCH || !eventlog_event_is_extended(ev))
                                continue;
                        r = short_description(log, i, &full, &desc);
                        if (r >= 0)
                                r = add_mismatch(
                                        res, POLICY_AREA_EVENTLOG, "$.eventlog.allow_data_mismatch", NULL,
                                        "event %" PRIu32 " %s in PCR %" PRIu32 " \"%s\": the recorded "
                                        "digest does not match the event data",
                                        ev->number, type_name(ev->type, tb), ev->pcr, desc);
                        if (r < 0)
                                return r;
                }
        if (pol->startup_locality >= 0) {
                int actual = pcrs->startup_locality < 0 ? 0 : pcrs->startup_locality;

                if (actual != pol->startup_locality) {
                        r = add_mismatch(res, POLICY_AREA_EVENTLOG, "$.eventlog.startup_locality", NULL,
                                         "startup locality is %d, the policy requires %d", actual,
                                         pol->startup_locality);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int appraise_eventlog(const struct policy *pol, const struct policy_evidence *ev,
                             struct policy_result *res, json_object *summary, struct cvm_error *err)
{
        _cleanup_free_ size_t *events = NULL;
        _cleanup_free_ struct eventlog_pcrs *replay = NULL;
        const struct eventlog_pcrs *pcrs = ev->pcrs;
        const struct eventlog *log = ev->log;
        json_object *banks = json_object_new_object(), *s = json_object_new_object();
        uint32_t covered = 0;
        bool oom = false;
        int r;

        jadd(summary, "eventlog", s, &oom);
        jadd(s, "banks", banks, &oom);
        if (oom)
                return -ENOMEM;
        if (!log)
                return add_mismatch(res, POLICY_AREA_EVIDENCE, "$.pcrs", NULL,
                                    "the policy constrains the measured boot, but no event log was given");
        jadd(s, "events", json_object_new_int64((int64_t)log->n_events), &oom);
        if (!pcrs) {
                replay = calloc(1, sizeof(*replay));
                if (!replay)
                        return -ENOMEM;
                r = eventlog_replay(log, 0, replay, err);
                if (r < 0)
                        return r;
                pcrs = replay;
        }
        events = calloc(log->n_events ? log->n_events : 1, sizeof(size_t));
        if (!events)
                return -ENOMEM;

        r = appraise_eventlog_wide(pol, log, pcrs, res);
        if (r < 0)
                return r;

        for (size_t b = 0; b < pol->n_banks; b++) {
                const struct bank_policy *bank = &pol->banks[b];
                int lb = eventlog_bank_index(log, bank->alg->tpm_id);
                json_object *list = json_object_new_array();

                jadd(banks, bank->alg->name, list, &oom);
                if (oom)
                        return -ENOMEM;
                if (lb < 0) {
                        r = add_mismatch(res, POLICY_AREA_EVENTLOG, bank->path, NULL,
                                         "the policy has %s rules, but the event log has no %s bank",
                                         bank->alg->name, bank->alg->name);
                        if (r < 0)
                                return r;
                        continue;
                }
                for (unsigned i = 0; i < EVENTLOG_MAX_PCRS; i++) {
                        const struct pcr_policy *pcr = &bank->pcrs[i];
                        struct pcr_ctx c = {pol, bank, pcr, i, log, lb, res};
                        size_t n = 0;

                        if (!pcr->present)
                                continue;
                        covered |= 1u << i;
                        jappend(list, json_object_new_int((int)i), &oom);
                        if (oom)
                                return -ENOMEM;
                        if (pcr->has_events) {
                                for (size_t k = 0; k < log->n_events; k++)
                                        if (log->events[k].pcr == i &&
                                            eventlog_event_is_extended(&log->events[k]))
                                                events[n++] = k;
                                r = pcr->order_any ? appraise_any_order(&c, events, n)
                                                   : appraise_sequence(&c, events, n);
                                if (r < 0)
                                        return r;
                        }
                        if (pcr->values.n > 0) {
                                r = appraise_values(&c, pcrs);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        if (pol->n_banks > 0)
                for (unsigned i = 0; i < EVENTLOG_MAX_PCRS; i++)
                        if ((pcrs->touched & (1u << i)) && !(covered & (1u << i))) {
                                r = add_note(res,
                                             "PCR %u is extended by the log but not covered by the policy",
                                             i);
                                if (r < 0)
                                        return r;
                        }
        return 0;
}

/* --- SNP ------------------------------------------------------------------------------------- */

static int snp_hex_check(struct policy_result *res, const struct hexlist *allowed, const char *constraint,
                         const char *field, const uint8_t *value)
{
        _cleanup_(json_object_putp) json_object *d = NULL;
        _cleanup_free_ char *list = NULL;
        char seen[2 * 64 + 1];
        bool oom = false;

        if (allowed->n == 0 || hexlist_contains(allowed, value))
                return 0;
        hex_encode_to(seen, value, allowed->size);
        list = hexlist_summary(allowed);
        d = json_object_new_object();
        jadd(d, "field", json_object_new_string(field), &oom);
        jadd(d, "actual", json_object_new_string(seen), &oom);
        jadd(d, "allowed", hexlist_json(allowed), &oom);
        if (oom || !list)
                return -ENOMEM;
        return add_mismatch(res, POLICY_AREA_SNP, constraint, TAKE_PTR(d),
                            "SNP %s %s is not allowed; allowed: %s", field, seen, list);
}

static int snp_value_check(struct policy_result *res, const char *constraint, const char *field,
                           int64_t actual, int64_t required, bool minimum)
{
        _cleanup_(json_object_putp) json_object *d = json_object_new_object();
        bool oom = false;

        if (minimum ? actual >= required : actual == required)
                return 0;
        jadd(d, "field", json_object_new_string(field), &oom);
        jadd(d, "actual", json_object_new_int64(actual), &oom);
        jadd(d, minimum ? "minimum" : "required", json_object_new_int64(required), &oom);
        if (oom)
                return -ENOMEM;
        return add_mismatch(res, POLICY_AREA_SNP, constraint, TAKE_PTR(d),
                            minimum ? "SNP %s is %" PRId64 ", below the minimum %" PRId64
                                    : "SNP %s is %" PRId64 ", the policy requires %" PRId64,
                            field, actual, required);
}

static int snp_tcb_check(struct policy_result *res, const struct snp_report *rep, const char *key,
                         const int min[_TCB_MAX], const char *field, uint64_t raw)
{
        struct snp_tcb t;
        enum snp_tcb_layout layout = snp_report_tcb_layout(rep);
        int r;

        if (layout == SNP_TCB_LAYOUT_UNKNOWN) {
                _cleanup_free_ char *c = NULL;

                if (asprintf(&c, "$.snp.%s", key) < 0)
                        return -ENOMEM;
                return add_mismatch(res, POLICY_AREA_SNP, c, NULL,
                                    "SNP %s 0x%016" PRIx64 " cannot be decoded (unknown product line)",
                                    field, raw);
        }
        snp_tcb_decode(raw, layout, &t);
        for (size_t i = 0; i < _TCB_MAX; i++) {
                const uint8_t v[_TCB_MAX] = {t.bootloader, t.tee, t.snp, t.microcode, t.fmc};
                _cleanup_free_ char *c = NULL, *f = NULL;

                if (min[i] < 0 || (i == TCB_FMC && layout != SNP_TCB_LAYOUT_TURIN))
                        continue;
                if (asprintf(&c, "$.snp.%s.%s", key, policy_tcb_names[i]) < 0 ||
                    asprintf(&f, "%s %s SPL", field, policy_tcb_names[i]) < 0)
                        return -ENOMEM;
                r = snp_value_check(res, c, f, v[i], min[i], true);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int appraise_snp(const struct policy *pol, const struct snp_report *rep, struct policy_result *res,
                        json_object *summary)
{
        const struct snp_policy *s = &pol->snp;
        bool oom = false;
        int r = 0;

        jadd(summary, "snp", json_object_new_boolean(rep != NULL), &oom);
        if (oom)
                return -ENOMEM;
        if (!rep)
                return add_mismatch(res, POLICY_AREA_EVIDENCE, "$.snp", NULL,
                                    "the policy constrains the SNP report, but no report was given");

        r = snp_hex_check(res, &s->measurements, "$.snp.measurements", "measurement", rep->measurement);
        if (r >= 0)
                r = snp_hex_check(res, &s->id_key_digests, "$.snp.id_key_digests", "id_key_digest",
                                  rep->id_key_digest);
        if (r >= 0)
                r = snp_hex_check(res, &s->author_key_digests, "$.snp.author_key_digests",
                                  "author_key_digest", rep->author_key_digest);
        if (r >= 0)
                r = snp_hex_check(res, &s->family_ids, "$.snp.family_ids", "family_id", rep->family_id);
        if (r >= 0)
                r = snp_hex_check(res, &s->image_ids, "$.snp.image_ids", "image_id", rep->image_id);
        if (r >= 0)
                r = snp_hex_check(res, &s->host_data, "$.snp.host_data", "host_data", rep->host_data);
        if (r >= 0 && s->has_min_tcb) {
                r = snp_tcb_check(res, rep, "min_tcb", s->min_tcb, "reported_tcb", rep->reported_tcb);
                if (r >= 0)
                        r = snp_tcb_check(res, rep, "min_tcb", s->min_tcb, "current_tcb", rep->current_tcb);
                if (r >= 0 && rep->has_cpuid)
                        r = snp_tcb_check(res, rep, "min_tcb", s->min_tcb, "committed_tcb",
                                          rep->committed_tcb);
        }
        if (r >= 0 && s->has_min_launch_tcb && rep->has_cpuid)
                r = snp_tcb_check(res, rep, "min_launch_tcb", s->min_launch_tcb, "launch_tcb",
                                  rep->launch_tcb);
        if (r >= 0 && !s->allow_debug && (rep->policy & SNP_POLICY_DEBUG))
                r = add_mismatch(res, POLICY_AREA_SNP, "$.snp.allow_debug", NULL,
                                 "SNP guest policy 0x%" PRIx64
                                 " allows debugging (bit 19), the policy forbids it",
                                 rep->policy);
        if (r >= 0 && !s->allow_migration_agent && (rep->policy & SNP_POLICY_MIGRATE_MA))
                r = add_mismatch(res, POLICY_AREA_SNP, "$.snp.allow_migration_agent", NULL,
                                 "SNP guest policy 0x%" PRIx64
                                 " allows a migration agent (bit 18), the policy "
                                 "forbids it",
                                 rep->policy);
        if (r >= 0 && s->vmpl >= 0)
                r = snp_value_check(res, "$.snp.vmpl", "vmpl", rep->vmpl, s->vmpl, false);
        if (r >= 0 && s->min_guest_svn >= 0)
                r = snp_value_check(res, "$.snp.min_guest_svn", "guest_svn", rep->guest_svn,
                                    s->min_guest_svn, true);
        if (r >= 0 && s->has_policy_mask && (rep->policy & s->policy_mask) != s->policy_value)
                r = add_mismatch(res, POLICY_AREA_SNP, "$.snp.policy_mask", NULL,
                                 "SNP guest policy 0x%" PRIx64 " masked with 0x%" PRIx64 " is 0x%" PRIx64
                                 ", the policy requires 0x%" PRIx64,
                                 rep->policy, s->policy_mask, rep->policy & s->policy_mask, s->policy_value);
        if (r >= 0 && s->signing_keys) {
                unsigned key = SNP_FLAG_SIGNING_KEY(rep->flags);
                unsigned bit = key == SNP_SIGNING_KEY_VCEK ? 1 : key == SNP_SIGNING_KEY_VLEK ? 2 : 0;

                if (!(s->signing_keys & bit))
                        r = add_mismatch(res, POLICY_AREA_SNP, "$.snp.signing_keys", NULL,
                                         "SNP report is signed by %s, which the policy does not allow",
                                         snp_signing_key_name(key));
        }
        return r;
}

/* --- IMA (policy-ima.c has the per-entry logic) ---------------------------------------------- */

static int appraise_ima_log(const struct policy *pol, const struct policy_evidence *ev,
                            struct policy_result *res, json_object *summary, struct cvm_error *err)
{
        _cleanup_(ima_reader_freep) struct ima_reader *rd = NULL;
        json_object *s = json_object_new_object();
        uint64_t counts[POLICY_IMA_INVALID + 1] = {};
        const struct ima_entry *e;
        bool oom = false;
        int r;

        jadd(summary, "ima", s, &oom);
        if (oom)
                return -ENOMEM;
        if (!ev->ima_log)
                return add_mismatch(res, POLICY_AREA_EVIDENCE, "$.ima", NULL,
                                    "the policy constrains IMA, but no IMA log was given");
        r = ima_reader_new_from_memory(ev->ima_log, ev->ima_log_size, IMA_FORMAT_AUTO, NULL, &rd, err);
        if (r < 0)
                return r;
        while ((r = ima_reader_next(rd, &e, err)) > 0) {
                struct policy_ima_result v;

                r = policy_ima_appraise_entry(pol, e, &v, err);
                if (r < 0)
                        return r;
                counts[v.verdict]++;
                if (!v.ok) {
                        _cleanup_(json_object_putp) json_object *d = json_object_new_object();
                        char c[32];

                        jadd(d, "entry", json_object_new_int64((int64_t)e->number), &oom);
                        jadd(d, "path", e->path ? json_object_new_string(e->path) : NULL, &oom);
                        jadd(d, "verdict", json_object_new_string(policy_ima_verdict_to_string(v.verdict)),
                             &oom);
                        if (oom)
                                return -ENOMEM;
                        snprintf(c, sizeof(c), "$.ima");
                        r = add_mismatch(res, POLICY_AREA_IMA, c, TAKE_PTR(d), "%s", v.message);
                        if (r < 0)
                                return r;
                }
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i <= POLICY_IMA_INVALID; i++)
                jadd(s, policy_ima_verdict_to_string(i), json_object_new_int64((int64_t)counts[i]), &oom);
        return oom ? -ENOMEM : 0;
}

int policy_appraise(const struct policy *p, const struct policy_evidence *ev, struct policy_result **ret,
                    struct cvm_error *err)
{
        _cleanup_(policy_result_freep) struct policy_result *res = calloc(1, sizeof(*res));
        int r = 0;

        if (!res)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        res->summary = json_object_new_object();
        if (!res->summary)
                return cvm_error_set(err, -ENOMEM, "out of memory");
        if (policy_has_eventlog(p))
                r = appraise_eventlog(p, ev, res, res->summary, err);
        if (r >= 0 && p->snp.present)
                r = appraise_snp(p, ev->snp, res, res->summary);
        if (r >= 0 && p->ima.present)
                r = appraise_ima_log(p, ev, res, res->summary, err);
        if (r < 0)
                return r == -ENOMEM ? cvm_error_set(err, r, "out of memory") : r;
        *ret = TAKE_PTR(res);
        return 0;
}
