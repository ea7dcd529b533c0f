/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvm-agent monitor: the integrity daemon (cvm-agent.service, Type=notify). An sd-event loop runs
 * one check per interval (with jitter) and sleeps in between:
 *   - a TPM quote with a fresh nonce over the boot-time PCRs and the IMA PCR, and a PCR read
 *     that must reproduce the quoted digest (else a PCR moved in between: retried);
 *   - boot-time PCRs compared with the values of the first check;
 *   - the TCG event log replayed and compared with the quoted PCRs it covers;
 *   - the IMA log read incrementally from the last verified position until its replay meets the
 *     quoted PCR 10 (entries logged after the quote wait for the next check), each new entry
 *     appraised against the policy's IMA part;
 *   - the HCL report (vTPM NV) read and its SNP fields compared with the first ones;
 *   - re-attestation through a pluggable attestor (seam for the verifier backends).
 * Findings go to the journal (MESSAGE_ID, see units/cvm-agent.catalog), to sd_notify STATUS=,
 * to STATE_DIR/status.json (atomic) and optionally to Prometheus textfile metrics; new findings
 * trigger the configured reactions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "backend.h"
#include "canonjson.h"
#include "cleanup.h"
#include "cli.h"
#include "config.h"
#include "eventlog.h"
#include "hashalg.h"
#include "hcl.h"
#include "ima.h"
#include "journal.h"
#include "monitor.h"
#include "policy.h"
#include "tpm.h"
#include "tpmkey.h"
#include "tpmquote.h"
#include "util.h"
#include "volume.h"

#define DEFAULT_EVENTLOG  "/sys/kernel/security/tpm0/binary_bios_measurements"
#define DEFAULT_IMA_LOG   "/sys/kernel/security/ima/binary_runtime_measurements"
#define DEFAULT_STATE_DIR "/run/cvm-agent"
#define IMA_PCR           10
#define QUOTE_ATTEMPTS    4
#define MAX_PENDING_IMA   16 /* IMA findings kept per check; more are summarised */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct hcl_report *, hcl_report_free)

/*
 * Re-attestation: a verifier backend plugs in here (attest with the current evidence, returning
 * a negative errno whose meaning monitor_attest_classify() decides). The built-in attestor is
 * the azure/trustee backend of agent/backends/ configured by --attest-config.
 */
struct monitor_attestor {
        const char *name; /* VERIFIER= in the journal */
        int (*attest)(void *userdata, uint64_t deadline_usec, uint64_t *ret_token_expiry_usec,
                      struct cvm_error *err);
        void *userdata;
};

struct options {
        uint64_t interval_usec, jitter_usec, hook_timeout_usec, reattest_usec, attest_deadline_usec;
        const char *state_dir, *policy, *eventlog, *ima_log, *metrics, *attest_config;
        bool ima_log_explicit;
        bool ima; /* [Monitor] IMA=; an explicit --ima-log forces it on */
        bool interval_set, state_dir_set, reattest_set; /* given on the command line */
        uint32_t boot_pcrs;
        uint16_t bank;
        uint32_t ak_handle;
        bool once;
        struct monitor_reactions reactions;
};

struct pending_ima {
        char *message, *path, *actual;
};

struct ctx {
        struct options o;
        const struct hash_alg *h;
        struct policy *policy;
        struct monitor_status st;
        char *status_path;
        bool dry_run;
        sd_event_source *timer;

        bool have_baseline;
        uint32_t quote_mask, boot_mask;
        uint8_t baseline[TPM_PCR_COUNT][64];
        struct monitor_snp snp_baseline;

        bool ima_pos_valid;
        struct ima_position ima_pos;
        size_t n_pending;
        uint64_t pending_more;
        struct pending_ima pending[MAX_PENDING_IMA];

        const struct monitor_attestor *attestor;
        uint64_t next_attest_usec;

        json_object *attest_cfg; /* --attest-config */
        const char *tcti;        /* cli_tcti() */
        struct monitor_attestor backend_attestor;

        uint64_t now_usec; /* CLOCK_REALTIME timestamp of the running check's findings */
        enum monitor_state last_state;
};

static uint64_t now_clock(clockid_t c)
{
        struct timespec ts;

        clock_gettime(c, &ts);
        return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static const char *msgid_for(enum monitor_class c)
{
        switch (c) {
        case MONITOR_CLASS_PCR:
                return JOURNAL_MSGID_PCR_CHANGED;
        case MONITOR_CLASS_EVENTLOG:
                return JOURNAL_MSGID_EVENTLOG;
        case MONITOR_CLASS_IMA:
                return JOURNAL_MSGID_IMA;
        case MONITOR_CLASS_QUOTE:
                return JOURNAL_MSGID_QUOTE;
        case MONITOR_CLASS_SNP:
                return JOURNAL_MSGID_SNP;
        case MONITOR_CLASS_ATTESTATION:
                return JOURNAL_MSGID_ATTESTATION;
        default:
                return JOURNAL_MSGID_UNAVAILABLE;
        }
}

/* Record a finding; a new one is logged at once (reactions run after the check). */
static int report(struct ctx *c, const struct monitor_finding_spec *f)
{
        int r = monitor_add_finding(&c->st, f, c->now_usec);

        if (r == 1) {
                struct journal_fields jf = {
                        .message_id = msgid_for(f->cls),
                        .pcr = f->pcr,
                        .expected = f->expected,
                        .actual = f->actual,
                        .path = f->path,
                        .verifier = f->verifier,
                        .finding_class = monitor_class_to_string(f->cls),
                };

                journal_log(f->severity == MONITOR_SEVERITY_VIOLATION ? LOG_CRIT : LOG_WARNING, &jf,
                            "%s%s%s%s%s", f->message, f->expected ? ": expected " : "",
                            f->expected ? f->expected : "", f->actual ? ", actual " : "",
                            f->actual ? f->actual : "");
        }
        return r < 0 ? r : 0;
}

static int report_simple(struct ctx *c, enum monitor_class cls, enum monitor_severity sev, const char *path,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int report_simple(struct ctx *c, enum monitor_class cls, enum monitor_severity sev, const char *path,
                         const char *fmt, ...)
{
        char msg[MONITOR_FIELD_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return report(c, &(struct monitor_finding_spec){
                                 .cls = cls, .severity = sev, .message = msg, .pcr = -1, .path = path});
}

static int report_pcr(struct ctx *c, enum monitor_class cls, unsigned pcr, const uint8_t *expected,
                      const uint8_t *actual, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static int report_pcr(struct ctx *c, enum monitor_class cls, unsigned pcr, const uint8_t *expected,
                      const uint8_t *actual, const char *fmt, ...)
{
        char msg[512], e[129], a[129];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        hex_encode_to(e, expected, c->h->size);
        hex_encode_to(a, actual, c->h->size);
        return report(c, &(struct monitor_finding_spec){.cls = cls,
                                                        .severity = MONITOR_SEVERITY_VIOLATION,
                                                        .message = msg,
                                                        .pcr = (int)pcr,
                                                        .path = cls == MONITOR_CLASS_EVENTLOG ? c->o.eventlog
                                                                                              : NULL,
                                                        .expected = e,
                                                        .actual = a});
}

/* ---- IMA ------------------------------------------------------------------------------------ */

static void pending_clear(struct ctx *c)
{
        for (size_t i = 0; i < c->n_pending; i++) {
                free(c->pending[i].message);
                free(c->pending[i].path);
                free(c->pending[i].actual);
        }
        c->n_pending = 0;
        c->pending_more = 0;
}

static int pending_add(struct ctx *c, const struct ima_entry *e, const struct policy_ima_result *res)
{
        struct pending_ima *p;
        const struct hash_alg *da = hash_alg_by_name(e->digest_algo);
        _cleanup_free_ char *hex = NULL;

        if (c->n_pending >= MAX_PENDING_IMA) {
                c->pending_more++;
                return 0;
        }
        p = &c->pending[c->n_pending];
        *p = (struct pending_ima){};
        if (e->digest) {
                hex = hex_encode(e->digest, e->digest_size);
                if (!hex || asprintf(&p->actual, "%s:%s", da ? da->name : e->digest_algo, hex) < 0)
                        return -ENOMEM;
        }
        p->message = strdup(res->message);
        p->path = e->path ? strndup(e->path, MONITOR_FIELD_MAX - 1) : NULL;
        if (!p->message || (e->path && !p->path)) {
                free(p->message);
                free(p->path);
                free(p->actual);
                return -ENOMEM;
        }
        c->n_pending++;
        return 0;
}

static int pending_commit(struct ctx *c)
{
        int r = 0;

        for (size_t i = 0; r >= 0 && i < c->n_pending; i++)
                r = report(c, &(struct monitor_finding_spec){.cls = MONITOR_CLASS_IMA,
                                                             .severity = MONITOR_SEVERITY_VIOLATION,
                                                             .message = c->pending[i].message,
                                                             .pcr = -1,
                                                             .path = c->pending[i].path,
                                                             .actual = c->pending[i].actual});
        if (r >= 0 && c->pending_more > 0)
                r = report_simple(c, MONITOR_CLASS_IMA, MONITOR_SEVERITY_VIOLATION, NULL,
                                  "%" PRIu64
                                  " more IMA entries not allowed by the policy (up to entry %" PRIu64 ")",
                                  c->pending_more, c->ima_pos.entries);
        pending_clear(c);
        return r;
}

static const uint8_t *ima_pos_value(const struct ctx *c, const struct ima_position *p)
{
        return c->h->tpm_id == TPM_ALG_SHA1 ? p->sha1[IMA_PCR] : p->sha256[IMA_PCR];
}

/*
 * Advance the IMA log from the committed position until its replay equals @quoted (PCR 10 as
 * quoted). Return: 1 matched (position committed), 0 no prefix matches (retry with a new
 * quote), < 0 an error already reported as a finding (-EBADMSG, -ESTALE, -EIO).
 */
static int ima_advance(struct ctx *c, const uint8_t *quoted)
{
        _cleanup_(ima_reader_freep) struct ima_reader *rd = NULL;
        struct ima_position start;
        uint8_t running[64];
        const struct ima_entry *e;
        struct cvm_error err = {};
        int fd, r;

        pending_clear(c);
        if (!c->ima_pos_valid)
                ima_position_init(&c->ima_pos);
        start = c->ima_pos;
        memcpy(running, ima_pos_value(c, &start), c->h->size);
        if (memcmp(running, quoted, c->h->size) == 0)
                return 1;

        fd = open(c->o.ima_log, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                report_simple(c, MONITOR_CLASS_UNAVAILABLE, MONITOR_SEVERITY_DEGRADED, c->o.ima_log,
                              "IMA log %s cannot be opened: %s", c->o.ima_log, strerror(-r));
                return r;
        }
        r = ima_reader_new(fd, IMA_FORMAT_AUTO, c->ima_pos_valid ? &start : NULL, &rd, &err);
        if (r == -ESTALE) {
                close(fd);
                c->ima_pos_valid = false;
                report_simple(c, MONITOR_CLASS_IMA, MONITOR_SEVERITY_VIOLATION, c->o.ima_log,
                              "IMA log %s was replaced: %s", c->o.ima_log, err.message);
                return r;
        }
        while (r >= 0) {
                struct policy_ima_result res;

                r = ima_reader_next(rd, &e, &err);
                if (r <= 0)
                        break;
                if (e->pcr == IMA_PCR) {
                        r = hash_extend(c->h, running,
                                        c->h->tpm_id == TPM_ALG_SHA1 ? e->sha1_extended
                                                                     : e->sha256_extended);
                        if (r < 0)
                                break;
                }
                if (c->policy && policy_has_ima(c->policy)) {
                        r = policy_ima_appraise_entry(c->policy, e, &res, &err);
                        if (r < 0)
                                break;
                        if (!res.ok) {
                                r = pending_add(c, e, &res);
                                if (r < 0)
                                        break;
                        }
                }
                if (memcmp(running, quoted, c->h->size) == 0) {
                        ima_reader_position(rd, &c->ima_pos);
                        c->ima_pos_valid = true;
                        c->st.ima_entries = c->ima_pos.entries;
                        close(fd);
                        rd = ima_reader_free(rd);
                        r = pending_commit(c);
                        return r < 0 ? r : 1;
                }
        }
        close(fd);
        pending_clear(c);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report_simple(c, MONITOR_CLASS_IMA, MONITOR_SEVERITY_VIOLATION, c->o.ima_log,
                              "IMA log %s: %s", c->o.ima_log, cvm_error_message(&err, r));
                return r;
        }
        return 0;
}

/* ---- the check ------------------------------------------------------------------------------- */

struct quoted {
        struct tpm_blob attest, sig;
        struct tpm_pcrs pcrs;
};

static void quoted_done(struct quoted *q)
{
        tpm_blob_done(&q->attest);
        tpm_blob_done(&q->sig);
}

/*
 * Verify the quote (signature with the AK, nonce, selection) and that the PCR values read after
 * it reproduce its digest. Return: 1 consistent, 0 a PCR moved between quote and read (retry),
 * -EKEYREJECTED quote invalid (reported), other < 0 errors.
 */
static int verify_quote(struct ctx *c, EVP_PKEY *ak, const struct quoted *q, const uint8_t *nonce,
                        size_t nonce_size)
{
        _cleanup_(tpm_pcr_values_freep) struct tpm_pcr_values *vals = NULL;
        struct tpm_attest a;
        struct tpm_signature sig;
        struct tpm_pcr_check chk;
        struct cvm_error e = {};
        int r;

        r = tpm_attest_parse(q->attest.data, q->attest.size, &a, &e);
        if (r >= 0 && a.type != TPM_ST_ATTEST_QUOTE)
                r = cvm_error_set(&e, -EBADMSG, "attestation type 0x%04x is not a quote", a.type);
        if (r >= 0)
                r = tpm_signature_parse(q->sig.data, q->sig.size, &sig, &e);
        if (r >= 0)
                r = tpm_quote_verify_signature(q->attest.data, q->attest.size, &sig, ak, &e);
        if (r > 0)
                r = tpm_quote_check_nonce(&a, nonce, nonce_size, &e);
        if (r > 0 && (a.quote.n_selections != 1 || a.quote.selections[0].hash_alg != c->h->tpm_id ||
                      tpm_selection_mask(&a.quote.selections[0]) != c->quote_mask))
                r = cvm_error_set(&e, 0, "the quote does not cover the requested PCR selection");
        if (r == -ENOMEM)
                return r;
        if (r <= 0) {
                report_simple(c, MONITOR_CLASS_QUOTE, MONITOR_SEVERITY_VIOLATION, NULL,
                              "TPM quote invalid: %s", cvm_error_message(&e, r ? r : -EKEYREJECTED));
                return -EKEYREJECTED;
        }
        r = tpm_pcr_values_new(&vals);
        for (unsigned i = 0; r >= 0 && i < TPM_PCR_COUNT; i++)
                if (c->quote_mask & (1u << i))
                        r = tpm_pcr_values_set(vals, c->h->tpm_id, i, q->pcrs.digest[i], c->h->size, &e);
        if (r < 0)
                return r;
        r = tpm_quote_check_pcrs(&a, sig.hash_alg, vals, &chk, &e);
        return r < 0 ? r : r > 0;
}

static int check_snp(struct ctx *c, struct tpm *t)
{
        _cleanup_(hcl_report_freep) struct hcl_report *hcl = NULL;
        struct tpm_blob b = {};
        struct monitor_snp now;
        struct cvm_error e = {};
        int r;

        r = tpm_nv_read(t, TPM_AZURE_HCL_REPORT_NV, &b, &e);
        if (r == -ENOENT)
                return 0; /* not an Azure vTPM: nothing to record */
        if (r < 0)
                return report_simple(c, MONITOR_CLASS_UNAVAILABLE, MONITOR_SEVERITY_DEGRADED, NULL,
                                     "HCL report (NV 0x%08x) cannot be read: %s", TPM_AZURE_HCL_REPORT_NV,
                                     e.message);
        r = hcl_report_parse(b.data, b.size, &hcl, &e);
        tpm_blob_done(&b);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return report_simple(c, MONITOR_CLASS_SNP, MONITOR_SEVERITY_VIOLATION, NULL,
                                     "HCL report (NV 0x%08x) does not parse: %s", TPM_AZURE_HCL_REPORT_NV,
                                     e.message);
        monitor_snp_record(&hcl->snp, &now);
        if (!c->snp_baseline.present) {
                c->snp_baseline = now;
                c->st.snp = now;
                return 0;
        }
        r = monitor_snp_compare(&c->st, &c->snp_baseline, &now, c->now_usec);
        return r < 0 ? r : 0;
}

/* The TPM part: quote, PCR read, IMA catch-up, SNP fields. Return < 0 only for -ENOMEM. */
static int check_tpm(struct ctx *c, const struct eventlog_pcrs *el, int el_bank, bool ima)
{
        _cleanup_(tpm_closep) struct tpm *t = NULL;
        _cleanup_(EVP_PKEY_freep) EVP_PKEY *ak = NULL;
        struct tpm_blob pub = {};
        struct quoted q = {};
        struct cvm_error e = {};
        uint8_t nonce[32];
        int r, consistent = 0, ima_ok = !ima;

        r = tpm_open(c->tcti, &t, &e);
        if (r >= 0)
                r = tpm_read_public(t, c->o.ak_handle, &pub, &e);
        if (r >= 0) {
                r = tpmkey_from_tpm_public(pub.data, pub.size, true, &ak, NULL, &e);
                tpm_blob_done(&pub);
        }
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return report_simple(c, MONITOR_CLASS_UNAVAILABLE, MONITOR_SEVERITY_DEGRADED, NULL,
                                     "TPM: %s", e.message);

        /* The kernel may extend a PCR between our quote and read, or log IMA entries after the
           quote: such races are retried with a fresh quote, never reported. */
        for (unsigned attempt = 0; attempt < QUOTE_ATTEMPTS && (!consistent || !ima_ok); attempt++) {
                quoted_done(&q);
                if (RAND_bytes(nonce, sizeof(nonce)) != 1)
                        return -ENOMEM;
                r = tpm_quote(t, c->o.ak_handle, c->h->tpm_id, c->quote_mask, nonce, sizeof(nonce),
                              &q.attest, &q.sig, &e);
                if (r >= 0)
                        r = tpm_pcr_read(t, c->h->tpm_id, c->quote_mask, &q.pcrs, &e);
                if (r < 0) {
                        quoted_done(&q);
                        return r == -ENOMEM ? r
                                            : report_simple(c, MONITOR_CLASS_UNAVAILABLE,
                                                            MONITOR_SEVERITY_DEGRADED, NULL, "TPM: %s",
                                                            e.message);
                }
                consistent = verify_quote(c, ak, &q, nonce, sizeof(nonce));
                if (consistent < 0) {
                        quoted_done(&q);
                        return consistent == -ENOMEM ? consistent : 0;
                }
                if (!consistent)
                        continue;
                if (ima) {
                        ima_ok = ima_advance(c, q.pcrs.digest[IMA_PCR]);
                        if (ima_ok == -ENOMEM) {
                                quoted_done(&q);
                                return ima_ok;
                        }
                        if (ima_ok < 0)
                                break; /* reported */
                }
        }
        quoted_done(&q);
        if (!consistent) {
                report_simple(c, MONITOR_CLASS_UNAVAILABLE, MONITOR_SEVERITY_DEGRADED, NULL,
                              "PCRs kept changing between quote and read (%u attempts)", QUOTE_ATTEMPTS);
                return 0;
        }
        if (ima && ima_ok == 0) {
                char a[129];

                hex_encode_to(a, q.pcrs.digest[IMA_PCR], c->h->size);
                report(c, &(struct monitor_finding_spec){
                                  .cls = MONITOR_CLASS_IMA,
                                  .severity = MONITOR_SEVERITY_VIOLATION,
                                  .message = "IMA log does not replay to the quoted PCR 10",
                                  .pcr = IMA_PCR,
                                  .path = c->o.ima_log,
                                  .actual = a,
                          });
        }

        /* Boot-time PCRs: the first check's authenticated values are the baseline. */
        if (!c->have_baseline) {
                for (unsigned i = 0; i < TPM_PCR_COUNT; i++)
                        if (c->boot_mask & (1u << i))
                                memcpy(c->baseline[i], q.pcrs.digest[i], c->h->size);
                c->have_baseline = true;
        } else {
                for (unsigned i = 0; i < TPM_PCR_COUNT; i++)
                        if ((c->boot_mask & (1u << i)) &&
                            memcmp(c->baseline[i], q.pcrs.digest[i], c->h->size))
                                report_pcr(c, MONITOR_CLASS_PCR, i, c->baseline[i], q.pcrs.digest[i],
                                           "boot-time PCR %u (%s) changed since the first check", i,
                                           c->h->name);
        }

        if (el && el_bank >= 0)
                for (unsigned i = 0; i < TPM_PCR_COUNT; i++)
                        if ((c->quote_mask & el->banks[el_bank].touched & (1u << i)) && i != IMA_PCR &&
                            memcmp(el->banks[el_bank].values[i], q.pcrs.digest[i], c->h->size))
                                report_pcr(c, MONITOR_CLASS_EVENTLOG, i, el->banks[el_bank].values[i],
                                           q.pcrs.digest[i],
                                           "TCG event log does not replay to quoted PCR %u (%s)", i,
                                           c->h->name);
        return check_snp(c, t);
}

/*
 * The backend attestor: a fresh backend per re-attestation (backend_attest() attests once per
 * backend). Refusals and failed checks of the verifier's reply become -EACCES (a finding);
 * everything else that stops an attestation (network, TPM, local evidence) is -EHOSTUNREACH
 * (degraded), so an unknown failure never claims that the verifier refused.
 */
static int backend_attestor_run(void *userdata, uint64_t deadline_usec, uint64_t *ret_expiry,
                                struct cvm_error *err)
{
        struct ctx *c = userdata;
        _cleanup_(backend_freep) struct backend *b = NULL;
        uint64_t now = now_clock(CLOCK_MONOTONIC);
        struct backend_settings set = {
                .tcti = c->tcti,
                .eventlog = c->o.eventlog,
                .deadline_ms = deadline_usec > now ? (unsigned)((deadline_usec - now) / 1000) : 1,
        };
        json_object *exp = NULL;
        int r;

        r = backend_new(c->attest_cfg, &set, &b, err);
        if (r < 0)
                return r == -ENOMEM ? r : -EHOSTUNREACH;
        r = backend_attest(b, err);
        if (r < 0) {
                enum backend_failure f = backend_failure(b);

                if (r == -ENOMEM)
                        return r;
                return f == BACKEND_FAIL_REFUSED || f == BACKEND_FAIL_VERIFY ? -EACCES : -EHOSTUNREACH;
        }
        if (json_object_object_get_ex(backend_claims(b), "exp", &exp) &&
            json_object_is_type(exp, json_type_int) && json_object_get_int64(exp) > 0)
                *ret_expiry = (uint64_t)json_object_get_int64(exp) * 1000000ull;
        return 0;
}

static void check_attestation(struct ctx *c)
{
        struct cvm_error e = {};
        uint64_t now = now_clock(CLOCK_MONOTONIC), expiry = 0;
        int r;

        if (!c->attestor || c->next_attest_usec == UINT64_MAX || now < c->next_attest_usec)
                return;
        /* ReattestInterval=0: attest at the first check only, never refresh. */
        c->next_attest_usec = c->o.reattest_usec ? now + c->o.reattest_usec : UINT64_MAX;
        r = c->attestor->attest(c->attestor->userdata, now + c->o.attest_deadline_usec, &expiry, &e);
        switch (monitor_attest_classify(r)) {
        case MONITOR_ATTEST_OK:
                c->st.last_attestation_usec = c->now_usec;
                c->st.token_expiry_usec = expiry;
                journal_log(LOG_INFO, &(struct journal_fields){.pcr = -1, .verifier = c->attestor->name},
                            "Re-attestation with %s accepted", c->attestor->name);
                break;
        case MONITOR_ATTEST_REFUSED:
                report(c, &(struct monitor_finding_spec){.cls = MONITOR_CLASS_ATTESTATION,
                                                         .severity = MONITOR_SEVERITY_VIOLATION,
                                                         .message = cvm_error_message(&e, r),
                                                         .pcr = -1,
                                                         .verifier = c->attestor->name});
                break;
        case MONITOR_ATTEST_UNREACHABLE:
                report(c, &(struct monitor_finding_spec){.cls = MONITOR_CLASS_UNAVAILABLE,
                                                         .severity = MONITOR_SEVERITY_DEGRADED,
                                                         .message = cvm_error_message(&e, r),
                                                         .pcr = -1,
                                                         .verifier = c->attestor->name});
                /* Try again at the next check rather than a whole re-attestation interval later. */
                c->next_attest_usec = 0;
                break;
        }
}

/* ---- reactions ------------------------------------------------------------------------------- */

static bool is_executable_file(int dfd, const char *name)
{
        struct stat st;

        return fstatat(dfd, name, &st, 0) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

static int name_cmp(const struct dirent **a, const struct dirent **b)
{
        return strcmp((*a)->d_name, (*b)->d_name);
}

/* Run @argv with @envp, waiting at most @timeout_usec; kill it after that. Return: exit status or -errno. */
static int run_bounded(char *const argv[], char *const envp[], uint64_t timeout_usec)
{
        uint64_t deadline = now_clock(CLOCK_MONOTONIC) + timeout_usec;
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                sigset_t all;

                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                int devnull = open("/dev/null", O_RDONLY);
                if (devnull >= 0)
                        dup2(devnull, STDIN_FILENO);
                execve(argv[0], argv, envp);
                _exit(127);
        }
        for (;;) {
                pid_t w = waitpid(pid, &status, WNOHANG);

                if (w == pid)
                        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
                if (w < 0 && errno != EINTR)
                        return -errno;
                if (now_clock(CLOCK_MONOTONIC) >= deadline) {
                        kill(pid, SIGKILL);
                        waitpid(pid, &status, 0);
                        return -ETIMEDOUT;
                }
                nanosleep(&(struct timespec){.tv_nsec = 5 * 1000 * 1000}, NULL);
        }
}

static void reaction_log(const struct monitor_finding *f, const char *action, bool failed, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));
static void reaction_log(const struct monitor_finding *f, const char *action, bool failed, const char *fmt,
                         ...)
{
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        journal_log(failed ? LOG_ERR : LOG_NOTICE,
                    &(struct journal_fields){.message_id = failed ? JOURNAL_MSGID_REACTION_FAILED
                                                                  : JOURNAL_MSGID_REACTION,
                                             .pcr = -1,
                                             .finding_class = monitor_class_to_string(f->cls),
                                             .action = action},
                    "reaction %s to %s finding: %s", action, monitor_class_to_string(f->cls), msg);
}

static void react_hook(struct ctx *c, const struct monitor_finding *f, const char *dir)
{
        struct dirent **list = NULL;
        char **env = NULL;
        int n, dfd;

        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                reaction_log(f, "hook", true, "%s: %m", dir);
                return;
        }
        n = scandir(dir, &list, NULL, name_cmp);
        if (n < 0 || monitor_finding_env(f, monitor_status_state(&c->st), &env) < 0) {
                reaction_log(f, "hook", true, "%s: cannot list or prepare the environment", dir);
                n = n < 0 ? 0 : n;
        }
        for (int i = 0; env && i < n; i++) {
                _cleanup_free_ char *path = NULL;
                int r;

                if (list[i]->d_name[0] == '.' || !is_executable_file(dfd, list[i]->d_name))
                        continue;
                if (asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0)
                        break;
                r = run_bounded((char *[]){path, NULL}, env, c->o.hook_timeout_usec);
                if (r == 0)
                        reaction_log(f, "hook", false, "%s succeeded", path);
                else if (r == -ETIMEDOUT)
                        reaction_log(f, "hook", true, "%s killed after %.1f s", path,
                                     (double)c->o.hook_timeout_usec / 1e6);
                else if (r < 0)
                        reaction_log(f, "hook", true, "%s: %s", path, strerror(-r));
                else
                        reaction_log(f, "hook", true, "%s exited with status %d", path, r);
        }
        for (int i = 0; list && i < n; i++)
                free(list[i]);
        free(list);
        monitor_strv_free(env);
        close(dfd);
}

static void react_close(struct ctx *c, const struct monitor_finding *f, const char *names)
{
        char **protected = NULL, **sel = NULL, **refused = NULL;

        if (volume_protected_names(&protected) < 0 ||
            monitor_close_select(names, (const char *const *)protected, &sel, &refused) < 0) {
                reaction_log(f, "close", true, "cannot select the volumes to close");
                monitor_strv_free(protected);
                return;
        }
        for (size_t i = 0; refused[i]; i++)
                reaction_log(f, "close", true, "%s backs /, /usr or swap and is never closed", refused[i]);
        for (size_t i = 0; sel[i]; i++) {
                struct cvm_error e = {};
                int r;

                if (c->dry_run) {
                        reaction_log(f, "close", false, "would close %s (dry run)", sel[i]);
                        continue;
                }
                r = volume_close(sel[i], &e);
                if (r < 0)
                        reaction_log(f, "close", true, "%s", cvm_error_message(&e, r));
                else
                        reaction_log(f, "close", false, "closed %s", sel[i]);
        }
        monitor_strv_free(protected);
        monitor_strv_free(sel);
        monitor_strv_free(refused);
}

static void react_poweroff(struct ctx *c, const struct monitor_finding *f)
{
        int r;

        if (c->dry_run) {
                reaction_log(f, "poweroff", false, "would power off (dry run)");
                return;
        }
        reaction_log(f, "poweroff", false, "powering off");
        r = run_bounded((char *[]){"/usr/bin/systemctl", "poweroff", NULL},
                        (char *[]){"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL}, 30 * 1000000ull);
        if (r == 0)
                return;
        reaction_log(f, "poweroff", true, "systemctl poweroff failed (%d): powering off directly", r);
        sync();
        reboot(RB_POWER_OFF);
        reaction_log(f, "poweroff", true, "reboot(RB_POWER_OFF): %m");
}

static void react(struct ctx *c, const struct monitor_finding *f)
{
        for (size_t i = 0; i < c->o.reactions.n[f->cls]; i++) {
                const struct monitor_action *a = &c->o.reactions.actions[f->cls][i];

                switch (a->type) {
                case MONITOR_ACTION_LOG:
                        break; /* the finding's own journal entry */
                case MONITOR_ACTION_HOOK:
                        react_hook(c, f, a->arg);
                        break;
                case MONITOR_ACTION_CLOSE:
                        react_close(c, f, a->arg);
                        break;
                case MONITOR_ACTION_POWEROFF:
                        react_poweroff(c, f);
                        break;
                }
        }
}

/* ---- one check, end to end ------------------------------------------------------------------- */

static void notify_status(struct ctx *c, bool ready)
{
        enum monitor_state st = monitor_status_state(&c->st);
        char when[21], line[1400];

        format_rfc3339((time_t)(c->st.last_check_usec / 1000000), when);
        if (st == MONITOR_STATE_HEALTHY)
                snprintf(line, sizeof(line), "healthy; last check %s: %s", when,
                         c->st.last_checked ? c->st.last_checked : "");
        else
                snprintf(line, sizeof(line), "%s (%zu finding%s, latest: %s); last check %s",
                         monitor_state_to_string(st), c->st.n_findings, c->st.n_findings == 1 ? "" : "s",
                         c->st.n_findings ? c->st.findings[c->st.n_findings - 1].message : "", when);
        for (char *p = line; *p; p++)
                if (*p == '\n')
                        *p = ' ';
        (void)sd_notifyf(0, "%sSTATUS=%s", ready ? "READY=1\n" : "", line);
}

static int run_check(struct ctx *c)
{
        _cleanup_free_ uint8_t *log_data = NULL;
        _cleanup_(eventlog_freep) struct eventlog *log = NULL;
        struct eventlog_pcrs el;
        struct cvm_error e = {};
        uint64_t t0 = now_clock(CLOCK_MONOTONIC);
        size_t log_size, cleared = 0;
        bool have_el = false, ima;
        int r, bank = -1;
        char pcrs[96], line[256], ima_text[48];
        enum monitor_state st;

        c->now_usec = now_clock(CLOCK_REALTIME);
        monitor_check_begin(&c->st);

        r = read_file(c->o.eventlog, EVENTLOG_MAX_SIZE, &log_data, &log_size, &e);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                report_simple(c, MONITOR_CLASS_UNAVAILABLE, MONITOR_SEVERITY_DEGRADED, c->o.eventlog,
                              "TCG event log cannot be read: %s", e.message);
        else {
                r = eventlog_parse(log_data, log_size, &log, &e);
                if (r >= 0)
                        r = eventlog_replay(log, 0, &el, &e);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        report_simple(c, MONITOR_CLASS_EVENTLOG, MONITOR_SEVERITY_VIOLATION, c->o.eventlog,
                                      "TCG event log %s: %s", c->o.eventlog, e.message);
                else {
                        bank = eventlog_bank_index(log, c->h->tpm_id);
                        have_el = bank >= 0 && el.banks[bank].replayed;
                        if (!have_el)
                                report_simple(c, MONITOR_CLASS_EVENTLOG, MONITOR_SEVERITY_VIOLATION,
                                              c->o.eventlog, "TCG event log %s has no %s bank",
                                              c->o.eventlog, c->h->name);
                }
        }

        ima = c->o.ima && access(c->o.ima_log, F_OK) == 0;
        if (!ima && c->o.ima_log_explicit)
                report_simple(c, MONITOR_CLASS_UNAVAILABLE, MONITOR_SEVERITY_DEGRADED, c->o.ima_log,
                              "IMA log %s is missing", c->o.ima_log);

        /* The PCR selection is fixed at the first check: boot PCRs plus the IMA PCR. */
        if (c->quote_mask == 0) {
                c->boot_mask = c->o.boot_pcrs
                                       ? c->o.boot_pcrs
                                       : (0xffu | (have_el ? el.banks[bank].touched : 0)) & ~(1u << IMA_PCR);
                c->quote_mask = c->boot_mask | (ima || c->o.ima_log_explicit ? 1u << IMA_PCR : 0);
        }
        if (!(c->quote_mask & (1u << IMA_PCR)))
                ima = false;

        r = check_tpm(c, have_el ? &el : NULL, bank, ima);
        if (r < 0)
                return r;
        check_attestation(c);

        tpm_pcr_list_format(c->quote_mask, pcrs, sizeof(pcrs));
        if (c->o.ima)
                snprintf(ima_text, sizeof(ima_text), "IMA %" PRIu64 " entries", c->st.ima_entries);
        else
                snprintf(ima_text, sizeof(ima_text), "IMA not checked (IMA=no)");
        snprintf(line, sizeof(line), "quote %s:%s, event log %s, %s%s", c->h->name, pcrs,
                 have_el ? "replayed" : "unavailable", ima_text,
                 c->snp_baseline.present ? ", SNP report" : "");
        if (monitor_status_set_checked(&c->st, line) < 0)
                return -ENOMEM;
        monitor_check_end(&c->st, c->now_usec, now_clock(CLOCK_MONOTONIC) - t0, &cleared);

        st = monitor_status_state(&c->st);
        if (cleared > 0 || (st != c->last_state && st == MONITOR_STATE_HEALTHY && c->st.checks > 1))
                journal_log(LOG_NOTICE,
                            &(struct journal_fields){.message_id = JOURNAL_MSGID_CLEARED,
                                                     .pcr = -1,
                                                     .state = monitor_state_to_string(st)},
                            "%zu condition%s cleared; state is %s", cleared, cleared == 1 ? "" : "s",
                            monitor_state_to_string(st));
        c->last_state = st;

        r = monitor_status_write(&c->st, c->status_path, &e);
        if (r < 0)
                journal_log(LOG_ERR, NULL, "Failed to write the status file: %s", cvm_error_message(&e, r));
        if (c->o.metrics) {
                _cleanup_free_ char *text = NULL;

                r = monitor_metrics_render(&c->st, &text);
                if (r >= 0)
                        r = monitor_write_atomic(c->o.metrics, text, strlen(text), &e);
                if (r < 0)
                        journal_log(LOG_ERR, NULL, "Failed to write the metrics file: %s",
                                    cvm_error_message(&e, r));
        }

        /* Reactions last: the finding is in the journal and in the status file before a hook,
           a volume close or a power-off. */
        for (size_t i = 0; i < c->st.n_findings; i++)
                if (c->st.findings[i].first_usec == c->now_usec && c->st.findings[i].count == 1)
                        react(c, &c->st.findings[i]);
        return 0;
}

/* ---- event loop ------------------------------------------------------------------------------ */

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
        struct ctx *c = userdata;
        uint32_t rnd = 0;
        int r;

        (void)usec;
        r = run_check(c);
        if (r < 0) {
                journal_log(LOG_ERR, NULL, "Check failed: %s", strerror(-r));
                return sd_event_exit(sd_event_source_get_event(s), EXIT_INTERNAL);
        }
        notify_status(c, false);
        (void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
        r = sd_event_source_set_time_relative(s,
                                              monitor_next_delay(c->o.interval_usec, c->o.jitter_usec, rnd));
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return r < 0 ? sd_event_exit(sd_event_source_get_event(s), EXIT_INTERNAL) : 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
        (void)userdata;
        journal_log(LOG_INFO, NULL, "Received signal %u, stopping", si->ssi_signo);
        return sd_event_exit(sd_event_source_get_event(s), EXIT_OK);
}

static int exit_for_state(enum monitor_state st)
{
        return st == MONITOR_STATE_HEALTHY    ? EXIT_OK
               : st == MONITOR_STATE_DEGRADED ? EXIT_DEGRADED
                                              : EXIT_VIOLATED;
}

static int run_daemon(struct ctx *c)
{
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        uint64_t wd = 0;
        int r, code = EXIT_OK;

        r = sd_event_new(&e);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_signal, c);
        if (r >= 0)
                r = sd_event_add_signal(e, NULL, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_signal, c);
        /* Pings WATCHDOG=1 at half of $WATCHDOG_USEC between dispatches. */
        if (r >= 0)
                r = sd_event_set_watchdog(e, true);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: cannot set up the event loop: %s\n", strerror(-r));
                return EXIT_INTERNAL;
        }
        if (sd_watchdog_enabled(false, &wd) > 0 && wd / 2 < c->o.hook_timeout_usec)
                journal_log(LOG_WARNING, NULL,
                            "hook timeout %.1f s exceeds half the watchdog interval %.1f s",
                            (double)c->o.hook_timeout_usec / 1e6, (double)wd / 1e6);

        journal_log(LOG_INFO, &(struct journal_fields){.message_id = JOURNAL_MSGID_STARTED, .pcr = -1},
                    "Integrity monitor started: interval %.3f s, status %s",
                    (double)c->o.interval_usec / 1e6, c->status_path);

        /* The first check records the baselines; readiness means they exist. */
        r = run_check(c);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: first check failed: %s\n", strerror(-r));
                return EXIT_INTERNAL;
        }
        notify_status(c, true);

        uint32_t rnd = 0;
        (void)RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
        r = sd_event_add_time_relative(e, &c->timer, CLOCK_MONOTONIC,
                                       monitor_next_delay(c->o.interval_usec, c->o.jitter_usec, rnd),
                                       c->o.interval_usec >= 10 * 1000000ull ? 1000000 : 1000, on_timer, c);
        if (r >= 0)
                r = sd_event_loop(e);
        if (r < 0) {
                fprintf(stderr, "cvm-agent: event loop failed: %s\n", strerror(-r));
                code = EXIT_INTERNAL;
        } else {
                code = r;
        }
        c->timer = sd_event_source_unref(c->timer);
        (void)sd_notify(0, "STOPPING=1");
        journal_log(LOG_INFO, &(struct journal_fields){.message_id = JOURNAL_MSGID_STOPPED, .pcr = -1},
                    "Integrity monitor stopped after %" PRIu64 " checks; state %s", c->st.checks,
                    monitor_state_to_string(monitor_status_state(&c->st)));
        return code;
}

/* ---- command line ---------------------------------------------------------------------------- */

static void help(void)
{
        printf("Usage: cvm-agent [--config FILE] [--tcti SPEC] monitor [OPTIONS]\n"
               "\n"
               "Integrity daemon: every interval, quote the PCRs with a fresh nonce, check that the\n"
               "boot-time PCRs did not change, that the TCG event log and the IMA log replay to them,\n"
               "appraise new IMA entries against the policy and watch the SNP report fields. Findings\n"
               "go to the journal, to sd_notify STATUS= and to STATE_DIR/status.json.\n"
               "\n"
               "Defaults in brackets come from [Monitor] of the configuration file (--config FILE,\n"
               "default " CLI_CONFIG_DEFAULT "); the options override them.\n"
               "\n"
               "Options:\n"
               "  --interval SECONDS   time between checks [Interval=, 60]; fractions allowed, >= 0.01\n"
               "  --jitter SECONDS     random +/- offset of each interval [Jitter=, interval / 10]\n"
               "  --state-dir DIR      status.json goes there [StateDirectory=, " DEFAULT_STATE_DIR "]\n"
               "  --policy FILE        appraisal policy; its \"ima\" part appraises new IMA entries\n"
               "  --eventlog FILE      TCG event log (default " DEFAULT_EVENTLOG ")\n"
               "  --ima-log FILE       IMA log (default " DEFAULT_IMA_LOG ");\n"
               "                       checked unless IMA=no, which naming a file overrides\n"
               "  --pcrs LIST          boot-time PCRs to watch (default 0-7 plus those the event log "
               "extends)\n"
               "  --bank ALG           PCR bank, sha256 (default) or sha1\n"
               "  --ak-handle HANDLE   attestation key (default 0x81000003)\n"
               "  --reaction CLASS=ACTION  on a new finding of CLASS (pcr, eventlog, ima, quote, snp,\n"
               "                       attestation, unavailable, violation, all): log (default),\n"
               "                       hook:DIR, close:NAME[,NAME...] or poweroff; repeatable\n"
               "  --hook-timeout SECONDS  bound on each hook executable (default 10)\n"
               "  --metrics FILE       also write Prometheus textfile metrics there\n"
               "  --attest-config FILE re-attest with this verifier backend ({\"type\": "
               "\"azure\"|\"trustee\",\n"
               "                       ...} as for 'cvm-agent attest --config-json')\n"
               "  --reattest-interval SECONDS  time between re-attestations [ReattestInterval=, 3600]\n"
               "  --attest-deadline SECONDS    bound on one re-attestation (default 60)\n"
               "  --once               one check, then exit with the state's exit code\n"
               "  -h, --help           this help\n"
               "\n"
               "Exit status: 0 healthy, 12 degraded, 13 violated (--once, or the state at SIGTERM is\n"
               "not reflected: a clean stop exits 0), 2 usage, 5 I/O error, 11 invalid policy\n"
               "or configuration file.\n"
               "See cvm-agent-monitor(1).\n");
}

static int parse_seconds(const char *opt, const char *s, double min, uint64_t *ret)
{
        char *end;
        double d;

        errno = 0;
        d = strtod(s, &end);
        if (errno != 0 || end == s || *end || d != d || d < min || d > 86400.0 * 365)
                return cli_usage_error("monitor", "invalid %s '%s' (seconds, at least %g)", opt, s, min);
        *ret = (uint64_t)(d * 1e6 + 0.5);
        return 0;
}

/*
 * [Monitor] of cvm-agent.conf(5) supplies what the command line left unset. Jitter= counts only
 * when a file sets it: its built-in default stands for "a tenth of the interval", which keeps
 * --interval 0.2 without --jitter at a 0.02 s jitter. Return: 0, or the printed exit code.
 */
static int apply_config(struct options *o, bool jitter_set)
{
        const struct config *cfg;
        int r;

        r = cli_config(&cfg);
        if (r != EXIT_OK)
                return r;
        if (!o->interval_set)
                o->interval_usec = config_get_usec(cfg, CONFIG_MONITOR_INTERVAL);
        if (!o->state_dir_set)
                o->state_dir = config_get_string(cfg, CONFIG_MONITOR_STATE_DIRECTORY) ?: DEFAULT_STATE_DIR;
        if (!o->reattest_set)
                o->reattest_usec = config_get_usec(cfg, CONFIG_MONITOR_REATTEST_INTERVAL);
        o->ima = o->ima_log_explicit || config_get_bool(cfg, CONFIG_MONITOR_IMA);
        if (!jitter_set)
                o->jitter_usec = strcmp(config_get_source(cfg, CONFIG_MONITOR_JITTER), "default") != 0
                                         ? config_get_usec(cfg, CONFIG_MONITOR_JITTER)
                                         : o->interval_usec / 10;
        return 0;
}

static int parse_options(int argc, char *argv[], struct options *o)
{
        enum {
                OPT_INTERVAL = 0x100,
                OPT_JITTER,
                OPT_STATE_DIR,
                OPT_POLICY,
                OPT_EVENTLOG,
                OPT_IMA_LOG,
                OPT_PCRS,
                OPT_BANK,
                OPT_AK_HANDLE,
                OPT_REACTION,
                OPT_HOOK_TIMEOUT,
                OPT_METRICS,
                OPT_ONCE,
                OPT_ATTEST_CONFIG,
                OPT_REATTEST_INTERVAL,
                OPT_ATTEST_DEADLINE,
        };
        static const struct option options[] = {
                {"help", no_argument, NULL, 'h'},
                {"interval", required_argument, NULL, OPT_INTERVAL},
                {"jitter", required_argument, NULL, OPT_JITTER},
                {"state-dir", required_argument, NULL, OPT_STATE_DIR},
                {"policy", required_argument, NULL, OPT_POLICY},
                {"eventlog", required_argument, NULL, OPT_EVENTLOG},
                {"ima-log", required_argument, NULL, OPT_IMA_LOG},
                {"pcrs", required_argument, NULL, OPT_PCRS},
                {"bank", required_argument, NULL, OPT_BANK},
                {"ak-handle", required_argument, NULL, OPT_AK_HANDLE},
                {"reaction", required_argument, NULL, OPT_REACTION},
                {"hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT},
                {"metrics", required_argument, NULL, OPT_METRICS},
                {"once", no_argument, NULL, OPT_ONCE},
                {"attest-config", required_argument, NULL, OPT_ATTEST_CONFIG},
                {"reattest-interval", required_argument, NULL, OPT_REATTEST_INTERVAL},
                {"attest-deadline", required_argument, NULL, OPT_ATTEST_DEADLINE},
                {},
        };
        const struct hash_alg *h;
        struct cvm_error err = {};
        bool jitter_set = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return -1;
                case OPT_INTERVAL:
                        r = parse_seconds("--interval", optarg, 0.01, &o->interval_usec);
                        if (r)
                                return r;
                        o->interval_set = true;
                        break;
                case OPT_JITTER:
                        r = parse_seconds("--jitter", optarg, 0, &o->jitter_usec);
                        if (r)
                                return r;
                        jitter_set = true;
                        break;
                case OPT_HOOK_TIMEOUT:
                        r = parse_seconds("--hook-timeout", optarg, 0.01, &o->hook_timeout_usec);
                        if (r)
                                return r;
                        break;
                case OPT_STATE_DIR:
                        o->state_dir = optarg;
                        o->state_dir_set = true;
                        break;
                case OPT_POLICY:
                        o->policy = optarg;
                        break;
                case OPT_EVENTLOG:
                        o->eventlog = optarg;
                        break;
                case OPT_IMA_LOG:
                        o->ima_log = optarg;
                        o->ima_log_explicit = true;
                        break;
                case OPT_METRICS:
                        o->metrics = optarg;
                        break;
                case OPT_PCRS:
                        if (tpm_parse_pcr_list(optarg, &o->boot_pcrs) < 0)
                                return cli_usage_error("monitor", "invalid PCR list '%s' (e.g. 0-7,14)",
                                                       optarg);
                        if (o->boot_pcrs & (1u << IMA_PCR))
                                return cli_usage_error(
                                        "monitor", "PCR %u is the IMA PCR, not a boot-time PCR", IMA_PCR);
                        break;
                case OPT_BANK:
                        h = hash_alg_by_name(optarg);
                        if (!h || (h->tpm_id != TPM_ALG_SHA256 && h->tpm_id != TPM_ALG_SHA1))
                                return cli_usage_error("monitor", "unsupported PCR bank '%s' (sha256, sha1)",
                                                       optarg);
                        o->bank = h->tpm_id;
                        break;
                case OPT_AK_HANDLE:
                        if (tpm_parse_handle(optarg, &o->ak_handle) < 0 || o->ak_handle < 0x81000000u ||
                            o->ak_handle > 0x817fffffu)
                                return cli_usage_error("monitor", "invalid AK handle '%s'", optarg);
                        break;
                case OPT_REACTION:
                        r = monitor_reactions_add(&o->reactions, optarg, &err);
                        if (r == -ENOMEM)
                                return cli_fail(NULL, NULL, r);
                        if (r < 0)
                                return cli_usage_error("monitor", "--reaction %s", err.message);
                        break;
                case OPT_ONCE:
                        o->once = true;
                        break;
                case OPT_ATTEST_CONFIG:
                        o->attest_config = optarg;
                        break;
                case OPT_REATTEST_INTERVAL:
                        r = parse_seconds("--reattest-interval", optarg, 0.01, &o->reattest_usec);
                        if (r)
                                return r;
                        o->reattest_set = true;
                        break;
                case OPT_ATTEST_DEADLINE:
                        r = parse_seconds("--attest-deadline", optarg, 0.1, &o->attest_deadline_usec);
                        if (r)
                                return r;
                        break;
                default:
                        return cli_usage_error("monitor", "unknown option");
                }
        }
        if (optind < argc)
                return cli_usage_error("monitor", "unexpected argument '%s'", argv[optind]);
        return apply_config(o, jitter_set);
}

int cmd_monitor(int argc, char *argv[])
{
        struct ctx c = {
                .o =
                        {
                                .interval_usec = 60 * 1000000ull,
                                .hook_timeout_usec = 10 * 1000000ull,
                                .reattest_usec = 3600 * 1000000ull,
                                .attest_deadline_usec = 60 * 1000000ull,
                                .state_dir = DEFAULT_STATE_DIR,
                                .eventlog = DEFAULT_EVENTLOG,
                                .ima_log = DEFAULT_IMA_LOG,
                                .bank = TPM_ALG_SHA256,
                                .ak_handle = TPM_AZURE_AK_HANDLE,
                        },
        };
        _cleanup_free_ uint8_t *ptext = NULL;
        struct cvm_error err = {};
        struct stat st;
        size_t plen;
        int r;

        r = parse_options(argc, argv, &c.o);
        if (r != 0) {
                monitor_reactions_done(&c.o.reactions);
                return r < 0 ? EXIT_OK : r;
        }
        c.h = hash_alg_by_tpm_id(c.o.bank);
        c.dry_run = getenv("CVM_AGENT_REACTION_DRY_RUN") &&
                    strcmp(getenv("CVM_AGENT_REACTION_DRY_RUN"), "1") == 0;
        monitor_status_init(&c.st);
        c.st.pid = c.o.once ? 0 : (int)getpid();
        c.st.started_usec = now_clock(CLOCK_REALTIME);
        c.st.interval_usec = c.o.interval_usec;

        if (c.o.policy) {
                r = cli_read_input(c.o.policy, POLICY_MAX_SIZE, &ptext, &plen);
                if (r != EXIT_OK)
                        goto out;
                r = policy_parse((const char *)ptext, plen, &c.policy, &err);
                if (r < 0) {
                        r = r == -ENOMEM ? cli_fail(NULL, NULL, r)
                                         : (fprintf(stderr, "cvm-agent: %s: %s\n", c.o.policy, err.message),
                                            EXIT_CONFIG);
                        goto out;
                }
                if (!policy_has_ima(c.policy))
                        journal_log(LOG_WARNING, NULL,
                                    "%s has no \"ima\" part: IMA entries are replayed, not appraised",
                                    c.o.policy);
        }
        r = cli_tcti(&c.tcti);
        if (r != EXIT_OK)
                goto out;
        if (c.o.attest_config) {
                _cleanup_free_ uint8_t *atext = NULL;
                _cleanup_(backend_freep) struct backend *probe = NULL;
                size_t alen;

                r = cli_read_input(c.o.attest_config, 1u << 20, &atext, &alen);
                if (r != EXIT_OK)
                        goto out;
                r = canonjson_parse((const char *)atext, alen, "attestation configuration", &c.attest_cfg,
                                    &err);
                /* Validate now: a configuration mistake is a usage error, not a degraded state. */
                if (r >= 0 && json_object_is_type(c.attest_cfg, json_type_object))
                        r = backend_new(c.attest_cfg, &(struct backend_settings){.tcti = c.tcti}, &probe,
                                        &err);
                else if (r >= 0)
                        r = cvm_error_set(&err, -EINVAL, "not a JSON object");
                if (r < 0) {
                        fprintf(stderr, "cvm-agent: %s: %s\n", c.o.attest_config,
                                cvm_error_message(&err, r));
                        r = r == -ENOMEM ? EXIT_INTERNAL : EXIT_CONFIG;
                        goto out;
                }
                c.backend_attestor = (struct monitor_attestor){
                        .name = backend_type(probe), .attest = backend_attestor_run, .userdata = &c};
                c.attestor = &c.backend_attestor;
        }
        if (stat(c.o.state_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                if (mkdir(c.o.state_dir, 0755) < 0 && errno != EEXIST) {
                        r = cli_fail(c.o.state_dir, &(struct cvm_error){.code = -errno}, -errno);
                        goto out;
                }
        }
        if (asprintf(&c.status_path, "%s/status.json", c.o.state_dir) < 0) {
                r = cli_fail(NULL, NULL, -ENOMEM);
                goto out;
        }

        if (c.o.once) {
                r = run_check(&c);
                r = r < 0 ? cli_fail(NULL, NULL, r) : exit_for_state(monitor_status_state(&c.st));
        } else {
                r = run_daemon(&c);
        }
out:
        pending_clear(&c);
        json_object_put(c.attest_cfg);
        policy_free(c.policy);
        free(c.status_path);
        monitor_status_done(&c.st);
        monitor_reactions_done(&c.o.reactions);
        return r;
}
