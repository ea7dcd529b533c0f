/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cleanup.h"
#include "hashalg.h"
#include "tpm.h"
#include "unlock-ops.h"
#include "unlock.h"
#include "util.h"

#define MAX_MEASURE_BANKS 4

/* One attestation: the backend, and the memfd holding the token's KBS trust anchor (or -1). */
struct backend_session {
        struct backend *b;
        int ca_fd;
};

static const char *const vault_suffixes[] = {
        ".vault.azure.net",     ".managedhsm.azure.net",    ".vault.azure.cn",
        ".managedhsm.azure.cn", ".vault.usgovcloudapi.net", ".managedhsm.usgovcloudapi.net",
};

bool unlock_ops_vault_host_allowed(const char *key_id, const char *extra)
{
        const char *h, *p;
        size_t n, hn;

        if (!key_id || strncmp(key_id, "https://", 8) != 0)
                return false;
        h = key_id + 8;
        n = strcspn(h, "/?#");
        if (n == 0 || memchr(h, '@', n))
                return false;
        /* Public clouds: the default port only. */
        hn = strcspn(h, ":/?#");
        if (hn == n)
                for (size_t i = 0; i < ELEMENTSOF(vault_suffixes); i++) {
                        size_t sl = strlen(vault_suffixes[i]);

                        if (hn > sl && strncasecmp(h + hn - sl, vault_suffixes[i], sl) == 0)
                                return true;
                }
        for (p = extra; p && *p;) {
                size_t w;

                p += strspn(p, " \t,");
                w = strcspn(p, " \t,");
                if (w == n && strncasecmp(p, h, n) == 0)
                        return true;
                p += w;
        }
        return false;
}

bool unlock_ops_rescue_boot(const char *cmdline_path, char *why, size_t n)
{
        static const char *const words[] = {"rescue",
                                            "emergency",
                                            "single",
                                            "s",
                                            "S",
                                            "1",
                                            "-b",
                                            "rd.emergency",
                                            "rd.rescue",
                                            "systemd.unit=rescue.target",
                                            "systemd.unit=emergency.target",
                                            "rd.systemd.unit=rescue.target",
                                            "rd.systemd.unit=emergency.target"};
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;
        char *save = NULL;

        if (read_file(cmdline_path ? cmdline_path : "/proc/cmdline", 1u << 16, &buf, &size, NULL) < 0)
                return false;
        for (char *w = strtok_r((char *)buf, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
                for (size_t i = 0; i < ELEMENTSOF(words); i++)
                        if (strcmp(w, words[i]) == 0) {
                                snprintf(why, n, "kernel command line has \"%s\"", w);
                                return true;
                        }
        return false;
}

/* ---- backend_ops -------------------------------------------------------------------------------- */

/* The backend's failure class as the errno contract of unlock-backend.h; the class is kept too. */
static int map_failure(struct unlock_ops *o, const struct backend *b, int r)
{
        enum backend_failure f = b ? backend_failure(b) : BACKEND_FAIL_CONFIG;

        if (r == -ENOMEM)
                f = BACKEND_FAIL_INTERNAL;
        o->failure = f;
        switch (f) {
        case BACKEND_FAIL_UNREACHABLE:
                switch (-r) {
                case ETIMEDOUT:
                case ENETUNREACH:
                case EHOSTUNREACH:
                case ECONNREFUSED:
                case ECONNRESET:
                        return r;
                default:
                        return -EHOSTUNREACH; /* 5xx / 429 after every retry */
                }
        case BACKEND_FAIL_REFUSED:
                return -EACCES;
        case BACKEND_FAIL_VERIFY:
                return -EKEYREJECTED;
        case BACKEND_FAIL_EVIDENCE:
                return -EPROTO;
        case BACKEND_FAIL_CONFIG:
                return -EINVAL;
        case BACKEND_FAIL_IO:
        case BACKEND_FAIL_TPM:
                return -EIO;
        default:
                return r == -ENOMEM ? r : -EIO;
        }
}

static void session_free(void *userdata, struct backend_session *s)
{
        (void)userdata;
        if (!s)
                return;
        backend_free(s->b);
        if (s->ca_fd >= 0)
                close(s->ca_fd);
        free(s);
}

/* The token's PEM trust anchor as a file the TLS client can read: an anonymous memfd. */
static int pem_memfd(const char *pem, char *path, size_t n)
{
        size_t len = strlen(pem), off = 0;
        int fd;

        fd = memfd_create("cvm-agent-kbs-ca", MFD_CLOEXEC);
        if (fd < 0)
                return -errno;
        while (off < len) {
                ssize_t w = write(fd, pem + off, len - off);

                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0) {
                        close(fd);
                        return -EIO;
                }
                off += (size_t)w;
        }
        snprintf(path, n, "/proc/self/fd/%d", fd);
        return fd;
}

static int add_string(json_object *o, const char *k, const char *v)
{
        json_object *s;

        if (!v)
                return 0;
        s = json_object_new_string(v);
        if (!s || json_object_object_add(o, k, s) < 0) {
                json_object_put(s);
                return -ENOMEM;
        }
        return 0;
}

static int ops_attest(void *userdata, const struct lukstoken *cfg, uint64_t deadline_usec,
                      struct backend_session **ret, struct cvm_error *err)
{
        _cleanup_(json_object_putp) json_object *conf = json_object_new_object();
        struct unlock_ops *o = userdata;
        struct backend_settings bs = {
                .tcti = o->settings.tcti,
                .ca_file = o->settings.ca_file,
                .kv_root = o->settings.kv_root,
                .eventlog = o->settings.eventlog,
        };
        struct backend_session *s;
        char ca_path[64];
        uint64_t now = unlock_now_usec();
        int r;

        o->failure = BACKEND_OK;
        if (!conf)
                return -ENOMEM;
        if (deadline_usec) {
                if (now >= deadline_usec) {
                        o->failure = BACKEND_FAIL_UNREACHABLE;
                        return cvm_error_set(err, -ETIMEDOUT,
                                             "the unlock deadline passed before attestation");
                }
                bs.deadline_ms = (unsigned)((deadline_usec - now + 999) / 1000);
        }
        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->ca_fd = -1;
        if (cfg->backend == LUKSTOKEN_BACKEND_AZURE) {
                if (!unlock_ops_vault_host_allowed(cfg->key_id, o->settings.vault_hosts)) {
                        session_free(o, s);
                        o->failure = BACKEND_FAIL_CONFIG;
                        return cvm_error_set(
                                err, -EACCES,
                                "key id %s: not an Azure Key Vault / Managed HSM host, and not "
                                "listed in the local configuration; no credential is sent there",
                                cfg->key_id);
                }
                r = add_string(conf, "type", "azure");
                if (r >= 0)
                        r = add_string(conf, "maa", cfg->maa_url);
                if (r >= 0)
                        r = add_string(conf, "vault_key", cfg->key_id);
                if (r >= 0)
                        r = add_string(conf, "enc", cfg->enc);
        } else {
                r = add_string(conf, "type", "trustee");
                if (r >= 0)
                        r = add_string(conf, "kbs", cfg->kbs_url);
                if (r >= 0)
                        r = add_string(conf, "resource", cfg->resource_path);
                if (r >= 0 && cfg->kbs_ca) {
                        /* The token pins the KBS's anchor: it replaces the local CA file. */
                        r = s->ca_fd = pem_memfd(cfg->kbs_ca, ca_path, sizeof(ca_path));
                        if (r >= 0) {
                                bs.ca_file = NULL;
                                r = add_string(conf, "ca_file", ca_path);
                        }
                }
        }
        if (r >= 0)
                r = add_string(conf, "imds", o->settings.imds);
        if (r < 0) {
                session_free(o, s);
                return r == -ENOMEM ? r : cvm_error_set(err, r, "KBS trust anchor: %s", strerror(-r));
        }
        r = backend_new(conf, &bs, &s->b, err);
        if (r >= 0)
                r = backend_attest(s->b, err);
        if (r < 0) {
                r = map_failure(o, s->b, r);
                session_free(o, s);
                return r;
        }
        *ret = s;
        return 0;
}

static int ops_release(void *userdata, struct backend_session *s, const struct lukstoken *cfg,
                       uint64_t deadline_usec, struct secret_buf *ret_material,
                       enum lukswrap_material *ret_kind, struct cvm_error *err)
{
        _cleanup_(secret_buf_done) struct secret_buf key = {};
        struct unlock_ops *o = userdata;
        const char *ref;
        int r;

        (void)deadline_usec; /* the backend carries the deadline it was created with */
        o->failure = BACKEND_OK;
        if (cfg->backend == LUKSTOKEN_BACKEND_AZURE) {
                ref = cfg->key_id;
                if (!unlock_ops_vault_host_allowed(ref, o->settings.vault_hosts)) {
                        o->failure = BACKEND_FAIL_CONFIG;
                        return cvm_error_set(err, -EACCES,
                                             "key id %s: host not allowed to receive credentials", ref);
                }
        } else
                ref = cfg->resource_path;
        r = backend_release(s->b, ref, &key, err);
        if (r < 0)
                return map_failure(o, s->b, r);
        *ret_kind = cfg->wrap.alg == LUKSTOKEN_WRAP_RSA_OAEP_256_A256GCM ? LUKSWRAP_MATERIAL_RSA_PRIVATE
                                                                         : LUKSWRAP_MATERIAL_SYMMETRIC;
        *ret_material = key;
        key = (struct secret_buf){};
        return 0;
}

static const struct backend_ops azure_ops = {
        .name = "azure", .attest = ops_attest, .release = ops_release, .session_free = session_free};
static const struct backend_ops trustee_ops = {
        .name = "trustee", .attest = ops_attest, .release = ops_release, .session_free = session_free};

const struct backend_ops *const unlock_ops_backends[] = {&azure_ops, &trustee_ops, NULL};

/* ---- PCR guard and measurement ------------------------------------------------------------------ */

static int tpm_fail(int r, const struct cvm_error *e, struct cvm_error *err, const char *what)
{
        return cvm_error_set(err, r, "%s: %s", what, cvm_error_message(e, r));
}

int unlock_ops_pcr_guard(const char *tcti, unsigned pcr, struct cvm_error *err)
{
        _cleanup_(tpm_closep) struct tpm *t = NULL;
        struct tpm_pcrs v = {};
        struct cvm_error e = {};
        char hex[2 * 32 + 1];
        int r;

        if (pcr >= TPM_PCR_COUNT)
                return cvm_error_set(err, -EINVAL, "PCR %u does not exist", pcr);
        r = tpm_open(tcti, &t, &e);
        if (r >= 0)
                r = tpm_pcr_read(t, TPM_ALG_SHA256, 1u << pcr, &v, &e);
        if (r < 0)
                return tpm_fail(r, &e, err, "PCR guard");
        if (is_all_zero(v.digest[pcr], 32))
                return 0;
        hex_encode_to(hex, v.digest[pcr], 32);
        return cvm_error_set(err, -EPERM,
                             "PCR %u is %s, not in its initial state: a volume was already unlocked in this "
                             "boot (or something else extended it); no automatic release",
                             pcr, hex);
}

int unlock_ops_measure(const char *tcti, unsigned pcr, const char *const *uuids, size_t n,
                       struct cvm_error *err)
{
        static const uint16_t candidates[MAX_MEASURE_BANKS] = {TPM_ALG_SHA1, TPM_ALG_SHA256, TPM_ALG_SHA384,
                                                               TPM_ALG_SHA512};
        _cleanup_(tpm_closep) struct tpm *t = NULL;
        uint16_t algs[MAX_MEASURE_BANKS];
        uint8_t digests[MAX_MEASURE_BANKS][64];
        const uint8_t *ptrs[MAX_MEASURE_BANKS];
        struct cvm_error e = {};
        size_t nb = 0;
        int r;

        if (pcr >= TPM_PCR_COUNT)
                return cvm_error_set(err, -EINVAL, "PCR %u does not exist", pcr);
        r = tpm_open(tcti, &t, &e);
        if (r < 0)
                return tpm_fail(r, &e, err, "PCR measure");
        for (size_t i = 0; i < MAX_MEASURE_BANKS; i++) {
                struct tpm_pcrs v;

                r = tpm_pcr_read(t, candidates[i], 1u << pcr, &v, &e);
                if (r == -EOPNOTSUPP)
                        continue;
                if (r < 0)
                        return tpm_fail(r, &e, err, "PCR measure");
                algs[nb++] = candidates[i];
        }
        if (nb == 0)
                return cvm_error_set(err, -EOPNOTSUPP, "PCR measure: no SHA bank is allocated");
        for (size_t u = 0; u < n; u++) {
                _cleanup_free_ char *text = NULL;

                if (asprintf(&text, "%s%s", UNLOCK_OPS_MEASURE_PREFIX, uuids[u]) < 0)
                        return -ENOMEM;
                for (size_t i = 0; i < nb; i++) {
                        r = hash_digest(hash_alg_by_tpm_id(algs[i]), text, strlen(text), digests[i]);
                        if (r < 0)
                                return cvm_error_set(err, r, "PCR measure: hashing failed");
                        ptrs[i] = digests[i];
                }
                r = tpm_pcr_extend(t, pcr, nb, algs, ptrs, &e);
                if (r < 0)
                        return tpm_fail(r, &e, err, "PCR measure");
        }
        return 0;
}
